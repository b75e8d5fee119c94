"""The unit of work: every change and its events in one transaction.

``store.write()`` opens a write transaction and lets the caller change rows and :meth:`Tx.record` events. Just
before it commits, it appends the events to their chains (domain/events.py: one per session, one for the
coordinator's own records): it locks the heads of the chains the transaction wrote to, in one sorted order
(so that two writers never wait for each other in a circle), links each event to its chain's head, and commits
rows and events together, or neither. Writes to different sessions therefore do not wait for each other; only
the short append at the end is serialised, per chain.

Then the event gets its place in the coordinator-wide order, ``seq``, the order streams, cursors and the
transparency log follow:

- **inline** (SQLite, one writer at a time anyway): in the same transaction, from the ``event_head`` row;
- **deferred** (PostgreSQL): right after the commit, in a short transaction of its own
  (:meth:`Store.sequence_pending`) that numbers every committed event that has no ``seq`` yet, in the order
  they were inserted — which keeps every chain's order, since a chain's next event is inserted only once its
  previous one has committed. Writers that commit together wait for one another only there, and the first to
  get the head numbers the others' events too (group sequencing); the write returns once its events have their
  ``seq``, so a client that reads after its write sees it. Should a process die between its commit and the
  numbering, the leading coordinator's sequencer does it (api/cluster.py).

An event is announced (the commit listeners, a ``NOTIFY`` on PostgreSQL) only once it has its ``seq``: nothing
is delivered that could still be rolled back, and every stream sees one order.

``store.read()`` is a read-only session (WAL readers never block the writer on SQLite).

On PostgreSQL a write also sends ``NOTIFY`` inside its transaction, so other coordinator processes hear of it
exactly when it commits and never of a rollback: :data:`EVENTS_CHANNEL` (events numbered up to the payload's
``seq``) and :data:`REVOKED_CHANNEL` (the token ids it revoked).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evalroom.clock import Clock, format_time
from evalroom.domain.events import (
    CHAINED,
    GENESIS_HASH,
    ChainBroken,
    Event,
    chain_of,
    chained_event,
    validate_event,
    verify_chain_segment,
    verify_events,
)
from evalroom.errors import ConflictError
from evalroom.storage.db import WRITE, is_sqlite
from evalroom.storage.models import EventChain, EventHead, EventRow, EventVenue, RevokedToken
from signing.canonical import canonical_json

__all__ = ["EVENTS_CHANNEL", "REVOKED_CHANNEL", "SEQUENCE_BATCH", "Sequencing", "Store", "Tx", "read_events",
           "read_venue_events", "row_to_event", "verify_stored_chain"]

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "evalroom_events"
"""PostgreSQL notification channel: the payload is the last sequence number given to committed events."""
REVOKED_CHANNEL = "evalroom_revoked"
"""PostgreSQL notification channel: the payload is the comma-separated token ids a transaction revoked."""
SEQUENCE_BATCH = 1000
"""Events the sequencer numbers in one transaction at most."""
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")
_LOCK_HEAD = text("SELECT seq FROM event_head WHERE id = 1 FOR UPDATE")
_SEQUENCE = text("""
WITH todo AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM events
    WHERE seq IS NULL
      AND NOT EXISTS (SELECT 1 FROM events WHERE id = CAST(:until AS bigint) AND seq IS NOT NULL)
    ORDER BY id LIMIT :limit),
numbered AS (
    UPDATE events SET seq = CAST(:head AS bigint) + todo.n FROM todo WHERE events.id = todo.id
    RETURNING events.seq, events.hash),
newest AS (SELECT seq, hash FROM numbered ORDER BY seq DESC LIMIT 1),
moved AS (
    UPDATE event_head SET seq = newest.seq, hash = newest.hash FROM newest WHERE event_head.id = 1
    RETURNING event_head.seq)
SELECT (SELECT count(*) FROM numbered) AS numbered, moved.seq AS last,
       CASE WHEN CAST(:channel AS text) IS NOT NULL AND moved.seq IS NOT NULL THEN pg_notify(:channel, moved.seq::text) END AS notified
FROM (SELECT 1) AS one LEFT JOIN moved ON true""")
"""PostgreSQL: number the unsequenced events after ``head`` (the locked head's seq), in insertion order, move
the head to the last of them, and notify; nothing when ``until`` (an event id) is numbered already."""

Sequencing = Literal["inline", "deferred"]


@dataclass
class _Pending:
    actor: str
    kind: str
    session_id: str | None
    payload: dict[str, Any]
    recorded_at: str
    venue_ids: tuple[str, ...]
    on_appended: Callable[[Event], None] | None


@dataclass
class Tx:
    """One write transaction: the ORM session, and the events it records (appended when it commits)."""

    session: Session
    clock: Clock
    sequencing: Sequencing = "inline"
    events: list[Event] = field(default_factory=list)
    """The events as appended (after the commit: with their chain positions, and ``seq`` when inline)."""
    revoked: list[str] = field(default_factory=list)
    """Token ids revoked in this transaction: announced to the streams they opened once it commits."""
    lock_wait: float = 0.0
    """Seconds spent waiting for the chain heads' locks (metrics)."""
    _pending: list[_Pending] = field(default_factory=list)
    _rows: list[EventRow] = field(default_factory=list)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def recorded(self) -> int:
        """How many events this transaction has recorded so far."""
        return len(self._pending)

    def record(self, *, actor: str, kind: str, payload: Mapping[str, Any], session_id: str | None = None,
               venue_ids: Iterable[str] = (), on_appended: Callable[[Event], None] | None = None) -> None:
        """Record an event in this transaction (it is appended to its chain at commit). ``venue_ids``: the
        venues whose site agents receive it (their feed, see services/site_link.py); routing only, not part of
        the hashed event. ``on_appended(event)`` is called with the appended event, before the commit (to
        refer to it from a row of the same transaction). Raises ``ValueError`` for an event that cannot be."""
        validate_event(actor=actor, kind=kind, payload=payload)
        frozen = json.loads(canonical_json(dict(payload)))  # as hashed, and unchanged by the caller from here
        self._pending.append(_Pending(actor, kind, session_id, frozen, format_time(self.clock.now()),
                                      tuple(dict.fromkeys(venue_ids)), on_appended))

    def revoke_token(self, jti: str, expires_at: datetime) -> None:
        """Revoke a token until ``expires_at``: refused from now on, and its open streams closed at commit."""
        if self.session.get(RevokedToken, jti) is None:
            self.session.add(RevokedToken(jti=jti, expires_at=expires_at))
        self.revoked.append(jti)

    def _append(self) -> None:
        """Link the recorded events to their chains' heads (locked in sorted order) and insert them."""
        if not self._pending:
            return
        started = time.perf_counter()
        heads = {chain: _lock_chain(self.session, chain)
                 for chain in sorted({chain_of(p.session_id) for p in self._pending})}
        head = _lock_head(self.session) if self.sequencing == "inline" else None
        self.lock_wait = time.perf_counter() - started
        routed: list[tuple[EventRow, tuple[str, ...]]] = []
        for p in self._pending:
            chain = heads[chain_of(p.session_id)]
            ev = chained_event(chain=chain.chain, prev_position=chain.position, prev_hash=chain.hash,
                               recorded_at=p.recorded_at, actor=p.actor, kind=p.kind, session_id=p.session_id,
                               payload=p.payload, seq=head.seq + 1 if head is not None else None)
            chain.position, chain.hash = ev.position, ev.hash  # type: ignore[assignment]
            if head is not None:
                head.seq, head.hash = ev.seq, ev.hash  # type: ignore[assignment]
            row = EventRow(seq=ev.seq, chain=ev.chain, position=ev.position, version=CHAINED,
                           recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind, session_id=ev.session_id,
                           payload=dict(ev.payload), prev_hash=ev.prev_hash, hash=ev.hash)
            self.session.add(row)
            self._rows.append(row)
            self.events.append(ev)
            if p.venue_ids:
                routed.append((row, p.venue_ids))
            if p.on_appended is not None:
                p.on_appended(ev)
        if routed:
            self.session.flush()  # the event rows first: the routing rows refer to them
            self.session.add_all(EventVenue(venue_id=v, event_id=row.id) for row, venues in routed for v in venues)


def _inserted_ids(tx: Tx) -> int | None:
    """The id of the last event row ``tx`` inserted (known once flushed), or None."""
    return tx._rows[-1].id if tx._rows else None


def _lock_chain(session: Session, chain: str) -> EventChain:
    """The chain's head, locked for this transaction (made at its genesis if it has none yet)."""
    locked = select(EventChain).where(EventChain.chain == chain).with_for_update()
    head = session.execute(locked).scalar_one_or_none()
    if head is None:  # a chain's first event; another writer may be making it too
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(dialect.insert(EventChain).values(chain=chain, position=0, hash=GENESIS_HASH)
                        .on_conflict_do_nothing(index_elements=["chain"]))
        head = session.execute(locked).scalar_one()
    return head


def _lock_head(session: Session) -> EventHead:
    return session.execute(select(EventHead).where(EventHead.id == 1).with_for_update()).scalar_one()


class Store:
    def __init__(self, engine: Engine, clock: Clock, sequencing: Sequencing | None = None) -> None:
        """``sequencing``: how committed events get their ``seq`` (module docstring); by default inline on
        SQLite and deferred on PostgreSQL."""
        self.engine = engine
        self.clock = clock
        self.sequencing: Sequencing = sequencing or ("inline" if is_sqlite(engine) else "deferred")
        if self.sequencing == "deferred" and is_sqlite(engine):
            raise ValueError("deferred sequencing needs PostgreSQL (SQLite has one writer: it sequences inline)")
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=engine.execution_options(**WRITE), expire_on_commit=False)
        self._listeners: list[Callable[[int], None]] = []
        self._revocation_listeners: list[Callable[[list[str]], None]] = []
        self._write_listeners: list[Callable[[float, float], None]] = []
        self._notify = not is_sqlite(engine)

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(last_seq)`` after events were committed with their ``seq``."""
        self._listeners.append(listener)

    def on_write(self, listener: Callable[[float, float], None]) -> None:
        """Call ``listener(seconds, lock_wait_seconds)`` after every committed write transaction (metrics)."""
        self._write_listeners.append(listener)

    def on_revoke(self, listener: Callable[[list[str]], None]) -> None:
        """Call ``listener(jtis)`` after a committed write revoked tokens (:meth:`Tx.revoke_token`, :meth:`revoked`)."""
        self._revocation_listeners.append(listener)

    def revoked(self, jtis: list[str]) -> None:
        """Announce tokens revoked by a committed write that is not a :class:`Tx` (to this process, and on
        PostgreSQL to the others; should this notification be lost, their periodic check finds it)."""
        self._announce(self._revocation_listeners, jtis)
        if self._notify:
            with self._write() as session:
                session.execute(_NOTIFY, {"channel": REVOKED_CHANNEL, "payload": ",".join(jtis)})
                session.commit()

    @staticmethod
    def _announce(listeners: Iterable[Callable[..., None]], *args: Any) -> None:
        for listener in listeners:
            try:
                listener(*args)
            except Exception:  # a listener's failure must not turn a committed write into an error
                log.exception("commit listener failed")

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Tx]:
        started = time.perf_counter()
        with self._write() as session:
            try:
                tx = Tx(session, self.clock, self.sequencing)
                yield tx
                tx._append()
                if self._notify and tx.events and self.sequencing == "inline":
                    session.execute(_NOTIFY, {"channel": EVENTS_CHANNEL, "payload": str(tx.events[-1].seq)})
                if self._notify and tx.revoked:
                    session.execute(_NOTIFY, {"channel": REVOKED_CHANNEL, "payload": ",".join(tx.revoked)})
                session.commit()
            except IntegrityError as exc:
                session.rollback()
                # Services check what they can first and raise precise errors; this is the backstop for races
                # and for constraints only the database knows.
                log.info("write refused by a database constraint: %s", exc.orig)
                raise ConflictError("the change conflicts with existing data") from None
            except BaseException:
                session.rollback()
                raise
        if tx.events:
            if self.sequencing == "inline":
                self._announce(self._listeners, tx.events[-1].seq)
            else:
                try:
                    while self.sequence_pending(until=_inserted_ids(tx)) == SEQUENCE_BATCH:
                        pass
                except Exception:  # committed all the same: the leader's sequencer numbers them (api/cluster.py)
                    log.warning("numbering the events of a committed write failed", exc_info=True)
        self._announce(self._write_listeners, time.perf_counter() - started, tx.lock_wait)
        if tx.revoked:
            self._announce(self._revocation_listeners, tx.revoked)

    @contextmanager
    def write_quiet(self) -> Iterator[Session]:
        """A write that records no event and takes no chain lock: only for observations that are not state
        changes, such as the time of a venue's last heartbeat. Anything that changes what the coordinator
        decides goes through :meth:`write`."""
        with self._write() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def sequence_pending(self, limit: int = SEQUENCE_BATCH, until: int | None = None) -> int:
        """Give the committed events that have no ``seq`` theirs, in the order they were inserted, at most
        ``limit`` in one transaction; return how many. Deferred sequencing only; the head's lock serialises
        those who run it at once. ``until``: the writer's own last event id — when another writer numbered it
        while this one waited for the lock, there is nothing left to do for it.

        Every write runs this right after its commit, so it is three round trips, not one per step: the lock,
        then one statement that numbers, moves the head and notifies (read after the lock was granted, so it
        sees what the previous holder numbered), then the commit."""
        with self._write() as session:
            head = session.execute(_LOCK_HEAD).scalar_one()
            numbered, last, _ = session.execute(_SEQUENCE, {
                "head": head, "limit": limit, "until": until, "channel": EVENTS_CHANNEL if self._notify else None,
            }).one()
            session.commit()
        if numbered:
            self._announce(self._listeners, last)
        return numbered

    def head(self) -> tuple[int, str]:
        """The last sequenced event's ``seq`` and hash."""
        with self.read() as s:
            head = s.get(EventHead, 1)
            return (head.seq, head.hash) if head else (0, GENESIS_HASH)


def row_to_event(row: EventRow) -> Event:
    return Event(seq=row.seq, recorded_at=row.recorded_at, actor=row.actor, kind=row.kind, session_id=row.session_id,
                 payload=row.payload, prev_hash=row.prev_hash, hash=row.hash, chain=row.chain, position=row.position,
                 version=row.version)


def read_events(session: Session, *, after_seq: int = 0, session_id: str | None = None, limit: int = 1000) -> list[Event]:
    """Sequenced events with ``seq > after_seq`` in order, optionally only those of one evaluation session."""
    q = select(EventRow).where(EventRow.seq > after_seq).order_by(EventRow.seq).limit(limit)
    if session_id is not None:
        q = q.where(EventRow.session_id == session_id)
    return [row_to_event(r) for r in session.execute(q).scalars()]


def read_venue_events(session: Session, venue_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[Event]:
    """Sequenced events routed to a venue (``Tx.record(venue_ids=...)``) with ``seq > after_seq``, in order."""
    q = (select(EventRow).join(EventVenue, EventVenue.event_id == EventRow.id)
         .where(EventVenue.venue_id == venue_id, EventRow.seq > after_seq).order_by(EventRow.seq).limit(limit))
    return [row_to_event(r) for r in session.execute(q).scalars()]


def verify_stored_chain(store: Store, *, batch: int = 5000) -> int:
    """Verify every stored event and return how many there are: the sequenced record in ``seq`` order (the
    format-1 prefix as one chain, each format-2 chain from position 1, ``seq`` without gaps), the events still
    waiting for their ``seq`` as the continuation of their chains, and that ``event_head`` and every chain's
    head name the last event there is.

    Reads one consistent snapshot (SQLite's WAL snapshot; REPEATABLE READ on PostgreSQL), so writers may go on
    meanwhile. Raises :class:`ChainBroken` at the first problem, including events missing at the end.
    """
    with store.read() as s:
        if not is_sqlite(store.engine):
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = s.get(EventHead, 1)

        def sequenced() -> Iterator[Event]:
            seq = 0
            while events := read_events(s, after_seq=seq, limit=batch):
                yield from events
                seq = events[-1].seq or seq

        verified = verify_events(sequenced())
        last = s.execute(select(EventRow.seq, EventRow.hash).where(EventRow.seq.is_not(None))
                         .order_by(EventRow.seq.desc()).limit(1)).first()
        if head is None or (head.seq, head.hash) != ((last.seq, last.hash) if last else (0, GENESIS_HASH)):
            raise ChainBroken((last.seq if last else 0) + 1,
                              f"the head names seq {head.seq if head else None} but the record ends at "
                              f"{last.seq if last else 0}")
        chains = dict(verified.chains)
        unsequenced = [row_to_event(r) for r in s.scalars(select(EventRow).where(EventRow.seq.is_(None))
                                                          .order_by(EventRow.id))]
        for ev in unsequenced:
            position, prev = chains.get(ev.chain, (0, GENESIS_HASH))
            chains[ev.chain] = verify_chain_segment([ev], chain=ev.chain, after_position=position, after_hash=prev)
        stored = {row.chain: (row.position, row.hash) for row in s.scalars(select(EventChain))}
        for chain in sorted(set(stored) | set(chains)):
            if stored.get(chain, (0, GENESIS_HASH)) != chains.get(chain, (0, GENESIS_HASH)):
                at = chains.get(chain, (0, ""))[0] + 1
                raise ChainBroken(at, f"the chain's head names position {stored.get(chain, (0,))[0]} but the chain "
                                      f"ends at {at - 1}", chain)
        return verified.events + len(unsequenced)
