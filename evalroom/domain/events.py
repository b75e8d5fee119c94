"""The event chain: every state change as a hash-linked record.

Every change of state in evalroom is also an :class:`Event`, appended in the same database transaction as the
change (evalroom.storage.store). Events are numbered without gaps from 1 and each one carries the hash of the
one before, so deleting, reordering or editing any event breaks every hash after it; :func:`verify_chain`
finds the first break. Public facts additionally go into the transparency log (signing), which can prove the
chain's content to outsiders; this chain is the coordinator's own audit trail.

The hash of an event is SHA-256 over the canonical JSON (signing.canonical) of all its fields but the hash::

    {"actor": ..., "kind": ..., "payload": {...}, "prev_hash": ..., "recorded_at": ...,
     "seq": N, "session_id": ... | null}

Pure: no database, no clock (the caller passes ``recorded_at``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from signing.canonical import canonical_json, sha256_hex

__all__ = ["GENESIS_HASH", "ChainBroken", "Event", "event_hash", "next_event", "verify_chain"]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of event 1."""

_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@dataclass(frozen=True)
class Event:
    seq: int
    """Position in the chain, from 1, without gaps."""
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            "kind": self.kind,
            "session_id": self.session_id,
            "payload": dict(self.payload),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class ChainBroken(Exception):
    """The chain does not verify; ``seq`` is the first event that fails."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"event chain broken at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


def event_hash(
    *,
    seq: int,
    recorded_at: str,
    actor: str,
    kind: str,
    session_id: str | None,
    payload: Mapping[str, Any],
    prev_hash: str,
) -> str:
    body = {
        "seq": seq,
        "recorded_at": recorded_at,
        "actor": actor,
        "kind": kind,
        "session_id": session_id,
        "payload": dict(payload),
        "prev_hash": prev_hash,
    }
    return sha256_hex(canonical_json(body))


def next_event(
    *,
    prev_seq: int,
    prev_hash: str,
    recorded_at: str,
    actor: str,
    kind: str,
    session_id: str | None,
    payload: Mapping[str, Any],
) -> Event:
    """The event that follows ``(prev_seq, prev_hash)``. Validates kind and payload; raises ``ValueError``."""
    if not _KIND.fullmatch(kind):
        raise ValueError(f"'kind' must be dotted lower-case words like 'venue.created' (got {kind!r})")
    if not actor:
        raise ValueError("'actor' must not be empty")
    try:
        canonical_json(dict(payload))
    except TypeError as exc:
        raise ValueError(f"payload of {kind!r} is not canonical JSON: {exc}") from None
    seq = prev_seq + 1
    fields = dict(seq=seq, recorded_at=recorded_at, actor=actor, kind=kind, session_id=session_id,
                  payload=dict(payload), prev_hash=prev_hash)
    return Event(**fields, hash=event_hash(**fields))


def verify_chain(events: Iterable[Event], *, after_seq: int = 0, after_hash: str = GENESIS_HASH) -> int:
    """Check that ``events`` continue the chain from ``(after_seq, after_hash)``; return the last seq.

    Raises :class:`ChainBroken` at the first gap, reordering, broken link or hash that does not match the
    content.
    """
    seq, prev = after_seq, after_hash
    for ev in events:
        if ev.seq != seq + 1:
            raise ChainBroken(ev.seq, f"expected seq {seq + 1} (gap or reordering)")
        if ev.prev_hash != prev:
            raise ChainBroken(ev.seq, "prev_hash does not match the previous event's hash")
        recomputed = event_hash(seq=ev.seq, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind,
                                session_id=ev.session_id, payload=ev.payload, prev_hash=ev.prev_hash)
        if recomputed != ev.hash:
            raise ChainBroken(ev.seq, "content does not match its hash (edited after the fact)")
        seq, prev = ev.seq, ev.hash
    return seq
