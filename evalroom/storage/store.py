"""The unit of work: every change and its event in one transaction.

``store.write()`` opens a write transaction, locks the head of the event chain (so writers are serialised the
same way on SQLite and PostgreSQL, and take their locks in the same order, which rules out deadlocks), lets the
caller change rows and :meth:`Tx.record` events, and commits both or neither. Only after the commit has
returned are the commit listeners told the new last sequence number: that is what lets a websocket push an
event, and it guarantees that nothing is announced that could still be rolled back.

``store.read()`` is a read-only session (WAL readers never block the writer on SQLite).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evalroom.clock import Clock, format_time
from evalroom.domain.events import GENESIS_HASH, ChainBroken, Event, next_event, verify_chain
from evalroom.errors import ConflictError
from evalroom.storage.db import WRITE, is_sqlite
from evalroom.storage.models import EventHead, EventRow, EventVenue

__all__ = ["Store", "Tx", "read_events", "read_venue_events", "row_to_event", "verify_stored_chain"]

log = logging.getLogger(__name__)


class Tx:
    """One write transaction: the ORM session plus the event chain head it has locked."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.events: list[Event] = []
        self._head = session.execute(select(EventHead).where(EventHead.id == 1).with_for_update()).scalar_one()

    def now(self) -> datetime:
        return self.clock.now()

    def record(self, *, actor: str, kind: str, payload: Mapping[str, Any], session_id: str | None = None,
               venue_ids: Iterable[str] = ()) -> Event:
        """Append an event to the chain, in this transaction. ``venue_ids``: the venues whose site agents
        receive it (their feed, see services/site_link.py); routing only, not part of the hashed event."""
        ev = next_event(prev_seq=self._head.seq, prev_hash=self._head.hash, recorded_at=format_time(self.clock.now()),
                        actor=actor, kind=kind, session_id=session_id, payload=payload)
        self.session.add(EventRow(seq=ev.seq, recorded_at=ev.recorded_at, actor=ev.actor, kind=ev.kind,
                                  session_id=ev.session_id, payload=dict(ev.payload), prev_hash=ev.prev_hash,
                                  hash=ev.hash))
        venues = tuple(dict.fromkeys(venue_ids))
        if venues:
            self.session.flush()  # the event row first: the routing rows refer to it
            self.session.add_all(EventVenue(venue_id=v, seq=ev.seq) for v in venues)
        self._head.seq, self._head.hash = ev.seq, ev.hash
        self.events.append(ev)
        return ev


class Store:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=engine.execution_options(**WRITE), expire_on_commit=False)
        self._listeners: list[Callable[[int], None]] = []

    def on_commit(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(last_seq)`` after every committed write that recorded events."""
        self._listeners.append(listener)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._write() as session:
            try:
                tx = Tx(session, self.clock)
                yield tx
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
            last = tx.events[-1].seq
            for listener in self._listeners:
                try:
                    listener(last)
                except Exception:  # a listener's failure must not turn a committed write into an error
                    log.exception("commit listener failed")

    @contextmanager
    def write_quiet(self) -> Iterator[Session]:
        """A write that records no event and does not take the chain lock: only for observations that are
        not state changes, such as the time of a venue's last heartbeat. Anything that changes what the
        coordinator decides goes through :meth:`write`."""
        with self._write() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def head(self) -> tuple[int, str]:
        with self.read() as s:
            head = s.get(EventHead, 1)
            return (head.seq, head.hash) if head else (0, GENESIS_HASH)


def row_to_event(row: EventRow) -> Event:
    return Event(seq=row.seq, recorded_at=row.recorded_at, actor=row.actor, kind=row.kind, session_id=row.session_id,
                 payload=row.payload, prev_hash=row.prev_hash, hash=row.hash)


def read_events(session: Session, *, after_seq: int = 0, session_id: str | None = None, limit: int = 1000) -> list[Event]:
    """Events with ``seq > after_seq`` in order, optionally only those of one evaluation session."""
    q = select(EventRow).where(EventRow.seq > after_seq).order_by(EventRow.seq).limit(limit)
    if session_id is not None:
        q = q.where(EventRow.session_id == session_id)
    return [row_to_event(r) for r in session.execute(q).scalars()]


def read_venue_events(session: Session, venue_id: str, *, after_seq: int = 0, limit: int = 1000) -> list[Event]:
    """Events routed to a venue (``Tx.record(venue_ids=...)``) with ``seq > after_seq``, in order."""
    q = (select(EventRow).join(EventVenue, EventVenue.seq == EventRow.seq)
         .where(EventVenue.venue_id == venue_id, EventRow.seq > after_seq).order_by(EventRow.seq).limit(limit))
    return [row_to_event(r) for r in session.execute(q).scalars()]


def verify_stored_chain(store: Store, *, batch: int = 5000) -> int:
    """Verify every stored event and that the head names the last one; return the number of events.

    Reads one consistent snapshot (SQLite's WAL snapshot; REPEATABLE READ on PostgreSQL), so writers may go on
    meanwhile. Raises :class:`ChainBroken` at the first problem, including events missing at the end.
    """
    with store.read() as s:
        if not is_sqlite(store.engine):
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = s.get(EventHead, 1)
        seq, prev = 0, GENESIS_HASH
        while events := read_events(s, after_seq=seq, limit=batch):
            seq = verify_chain(events, after_seq=seq, after_hash=prev)
            prev = events[-1].hash
        if head is None or (head.seq, head.hash) != (seq, prev):
            raise ChainBroken(seq + 1, f"the head names seq {head.seq if head else None} but the chain ends at {seq}")
        return seq
