"""The event chains: every state change as a hash-linked record.

Every change of state in evalroom is also an :class:`Event`, appended in the same database transaction as the
change (evalroom.storage.store). Since schema 0015 each evaluation session has a **chain** of its own, and the
coordinator's own records (accounts, regions, venues, pools) one more (:data:`COORDINATOR_CHAIN`): events of a
chain are numbered without gaps from 1 (``position``) and each carries the hash of the one before it in the
chain, so deleting, reordering or editing an event breaks every hash after it in its chain; :func:`verify_chain_segment`
finds the first break. Writes to different sessions therefore never wait for each other. Across chains the
events have one order too, ``seq``: gapless from 1, given once an event is committed (at once on SQLite, by
the sequencer on PostgreSQL; storage/store.py); streams and cursors follow it, and the transparency log,
whose leaves commit to each event's hash and ``seq``, anchors every chain in one public order.

Format 2 (per chain) — the hash is SHA-256 over the canonical JSON (signing.canonical) of::

    {"v": 2, "chain": ..., "position": N, "actor": ..., "kind": ..., "payload": {...}, "prev_hash": ...,
     "recorded_at": ..., "session_id": ... | null}

Format 1 (before 0015: one chain for the whole coordinator, linked in ``seq`` order) stays verifiable with its
hash over ``{"actor", "kind", "payload", "prev_hash", "recorded_at", "seq", "session_id"}``; a database that
was upgraded holds a prefix of format-1 events and then format-2 chains that start at position 1.

Pure: no database, no clock (the caller passes ``recorded_at``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signing.canonical import canonical_json, sha256_hex

__all__ = ["COORDINATOR_CHAIN", "GENESIS_HASH", "ChainBroken", "Event", "chain_event_hash", "chain_of",
           "chained_event", "event_hash", "next_event", "validate_event", "verify_chain", "verify_chain_segment",
           "verify_events"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of the first event of a chain."""
COORDINATOR_CHAIN = "coordinator"
"""The chain of the events that belong to no session."""
LEGACY, CHAINED = 1, 2
"""Event formats: 1 — one coordinator-wide chain in ``seq`` order; 2 — a chain per session."""

_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True)
class Event:
    seq: int | None
    """The coordinator-wide order, from 1, without gaps; None until the event is sequenced (storage/store.py)."""
    recorded_at: str
    """When the coordinator recorded it, in the canonical form of evalroom.clock.format_time."""
    actor: str
    """Who caused it, ``role:subject`` or ``system``."""
    kind: str
    """What happened, dotted and past tense: ``venue.created``, ``session.updated``."""
    session_id: str | None
    """The evaluation session it belongs to, if any; session streams are filtered on it."""
    payload: Mapping[str, Any]
    """The facts of the change; JSON without floats."""
    prev_hash: str
    hash: str
    chain: str = COORDINATOR_CHAIN
    """The session's id, or :data:`COORDINATOR_CHAIN`."""
    position: int | None = None
    """Place in its chain, from 1, without gaps (format 2; None for format 1)."""
    version: int = CHAINED

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "chain": self.chain,
            "position": self.position,
            "version": self.version,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "kind": self.kind,
            "session_id": self.session_id,
            "payload": dict(self.payload),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    def computed_hash(self) -> str:
        """The hash its content gives, in its format."""
        if self.version == LEGACY:
            if self.seq is None:
                raise ValueError("a format-1 event has a seq")
            return event_hash(seq=self.seq, recorded_at=self.recorded_at, actor=self.actor, kind=self.kind,
                              session_id=self.session_id, payload=self.payload, prev_hash=self.prev_hash)
        if self.position is None:
            raise ValueError("a format-2 event has a position")
        return chain_event_hash(chain=self.chain, position=self.position, recorded_at=self.recorded_at,
                                actor=self.actor, kind=self.kind, session_id=self.session_id, payload=self.payload,
                                prev_hash=self.prev_hash)


class ChainBroken(Exception):
    """A chain does not verify. ``seq`` is the first event that fails: its ``seq`` in the format-1 chain, its
    position in a format-2 ``chain``."""

    def __init__(self, seq: int, reason: str, chain: str | None = None) -> None:
        where = f"chain {chain} at position {seq}" if chain is not None else f"seq {seq}"
        super().__init__(f"event chain broken at {where}: {reason}")
        self.seq = seq
        self.chain = chain
        self.reason = reason


def chain_of(session_id: str | None) -> str:
    return session_id if session_id is not None else COORDINATOR_CHAIN


def event_hash(*, seq: int, recorded_at: str, actor: str, kind: str, session_id: str | None,
               payload: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of a format-1 event (before schema 0015)."""
    body = {"seq": seq, "recorded_at": recorded_at, "actor": actor, "kind": kind, "session_id": session_id,
            "payload": dict(payload), "prev_hash": prev_hash}
    return sha256_hex(canonical_json(body))


def chain_event_hash(*, chain: str, position: int, recorded_at: str, actor: str, kind: str, session_id: str | None,
                     payload: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of a format-2 event."""
    body = {"v": CHAINED, "chain": chain, "position": position, "recorded_at": recorded_at, "actor": actor,
            "kind": kind, "session_id": session_id, "payload": dict(payload), "prev_hash": prev_hash}
    return sha256_hex(canonical_json(body))


def validate_event(*, actor: str, kind: str, payload: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for an event that may not be recorded: a kind not dotted, no actor, a payload that
    is not canonical JSON."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"'kind' must be dotted lower-case words like 'venue.created' (got {kind!r})")
    if not actor:
        raise ValueError("'actor' must not be empty")
    try:
        canonical_json(dict(payload))
    except TypeError as exc:
        raise ValueError(f"payload of {kind!r} is not canonical JSON: {exc}") from None


def chained_event(*, chain: str, prev_position: int, prev_hash: str, recorded_at: str, actor: str, kind: str,
                  session_id: str | None, payload: Mapping[str, Any], seq: int | None = None) -> Event:
    """The format-2 event that follows ``(prev_position, prev_hash)`` in ``chain``. Validates; raises
    ``ValueError``."""
    validate_event(actor=actor, kind=kind, payload=payload)
    if chain != chain_of(session_id):
        raise ValueError(f"an event of session {session_id!r} belongs to its chain, not {chain!r}")
    fields = dict(chain=chain, position=prev_position + 1, recorded_at=recorded_at, actor=actor, kind=kind,
                  session_id=session_id, payload=dict(payload), prev_hash=prev_hash)
    return Event(seq=seq, hash=chain_event_hash(**fields), version=CHAINED, **fields)  # type: ignore[arg-type]


def next_event(*, prev_seq: int, prev_hash: str, recorded_at: str, actor: str, kind: str, session_id: str | None,
               payload: Mapping[str, Any]) -> Event:
    """The format-1 event that follows ``(prev_seq, prev_hash)`` in the coordinator-wide chain (kept to build and
    check the events of databases from before schema 0015)."""
    validate_event(actor=actor, kind=kind, payload=payload)
    seq = prev_seq + 1
    fields = dict(seq=seq, recorded_at=recorded_at, actor=actor, kind=kind, session_id=session_id,
                  payload=dict(payload), prev_hash=prev_hash)
    return Event(**fields, hash=event_hash(**fields), chain=chain_of(session_id), version=LEGACY)  # type: ignore[arg-type]


def verify_chain(events: Iterable[Event], *, after_seq: int = 0, after_hash: str = GENESIS_HASH) -> int:
    """Check that format-1 ``events`` continue the coordinator-wide chain from ``(after_seq, after_hash)``;
    return the last seq. Raises :class:`ChainBroken` at the first gap, reordering, broken link or hash that does
    not match the content."""
    seq, prev = after_seq, after_hash
    for ev in events:
        if ev.seq != seq + 1:
            raise ChainBroken(ev.seq or 0, f"expected seq {seq + 1} (gap or reordering)")
        if ev.prev_hash != prev:
            raise ChainBroken(ev.seq, "prev_hash does not match the previous event's hash")
        if event_hash(seq=ev.seq, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind, session_id=ev.session_id,
                      payload=ev.payload, prev_hash=ev.prev_hash) != ev.hash:
            raise ChainBroken(ev.seq, "content does not match its hash (edited after the fact)")
        seq, prev = ev.seq, ev.hash
    return seq


def verify_chain_segment(events: Iterable[Event], *, chain: str, after_position: int = 0,
                         after_hash: str = GENESIS_HASH) -> tuple[int, str]:
    """Check that format-2 ``events`` continue ``chain`` from ``(after_position, after_hash)``, in order; return
    the last (position, hash). Raises :class:`ChainBroken` at the first event of another chain, gap,
    reordering, broken link or altered content."""
    position, prev = after_position, after_hash
    for ev in events:
        if ev.version != CHAINED or ev.chain != chain:
            raise ChainBroken(position + 1, f"an event of another chain ({ev.chain}) or format in it", chain)
        if ev.position != position + 1:
            raise ChainBroken(ev.position or 0, f"expected position {position + 1} (gap or reordering)", chain)
        if ev.prev_hash != prev:
            raise ChainBroken(ev.position, "prev_hash does not match the previous event's hash", chain)
        if ev.computed_hash() != ev.hash:
            raise ChainBroken(ev.position, "content does not match its hash (edited after the fact)", chain)
        position, prev = ev.position, ev.hash
    return position, prev


@dataclass(frozen=True)
class Verified:
    legacy: int
    """Format-1 events checked (the coordinator-wide chain, from seq 1)."""
    chains: dict[str, tuple[int, str]]
    """Each format-2 chain's last (position, hash)."""

    @property
    def events(self) -> int:
        return self.legacy + sum(p for p, _ in self.chains.values())


def verify_events(events: Iterable[Event], *, complete: bool = True) -> Verified:
    """Check a coordinator's whole record in ``seq`` order (an export, or the database read page by page): the
    format-1 events from seq 1, each format-2 chain from position 1, and ``seq`` without gaps. With
    ``complete=False`` the events may start anywhere (an excerpt): each chain is checked from its first event
    given, and the seq only for order."""
    legacy, last_seq = 0, None
    legacy_at: tuple[int, str] | None = None
    chains: dict[str, tuple[int, str]] = {}
    for ev in events:
        if last_seq is None:
            if complete and ev.seq != 1:
                raise ChainBroken(ev.seq or 0, "the record does not start at seq 1")
        elif ev.seq is None or ev.seq <= last_seq or (complete and ev.seq != last_seq + 1):
            raise ChainBroken(ev.seq or 0, f"expected seq {last_seq + 1} (gap or reordering)")
        if ev.version == LEGACY:
            if chains:
                raise ChainBroken(ev.seq or 0, "a format-1 event after format-2 ones")
            if legacy_at is None:
                legacy_at = (0, GENESIS_HASH) if complete else ((ev.seq or 1) - 1, ev.prev_hash)
            verify_chain([ev], after_seq=legacy_at[0], after_hash=legacy_at[1])
            legacy_at, legacy = (ev.seq or 0, ev.hash), legacy + 1
        else:
            start = chains.get(ev.chain) or ((0, GENESIS_HASH) if complete else ((ev.position or 1) - 1, ev.prev_hash))
            chains[ev.chain] = verify_chain_segment([ev], chain=ev.chain, after_position=start[0], after_hash=start[1])
        last_seq = ev.seq
    return Verified(legacy, chains)
