"""Several coordinator processes on one PostgreSQL: how each hears of the others' writes, which one runs the
background jobs, and the sequencer that gives committed events their place in the coordinator-wide order.

- **Notifications.** Every write that records events or revokes tokens sends ``NOTIFY`` in its own transaction
  (storage/store.py), so it is delivered exactly when the write commits. Each process ``LISTEN``\\ s on a
  connection of its own (:class:`Listener`, a thread) and hands the sequence numbers and token ids to its
  notifier (api/live.py), which reads the new batch once and routes it to its streams. The notifier's poll of
  the chain head stays as the safety net (a dropped listening connection, a notification lost in a restart).
- **Leadership.** The background jobs that must run once across the coordinators (the transparency log's
  batches, housekeeping, expiries) run in the process that holds a session-level advisory lock
  (:class:`Leadership`). When that process dies, PostgreSQL releases the lock with its connection, and the
  next process to ask takes it: the jobs move within one round of their interval. On SQLite there is one
  coordinator process, and it always leads.

- **Sequencing.** On PostgreSQL a write appends its events to their sessions' chains and then numbers them
  (storage/store.py). Should a process die between the two, its events wait in the database without a
  ``seq``: the leading process's :class:`Sequencer` looks for such events every half second and numbers them.

Each piece opens a psycopg connection of its own, outside the SQLAlchemy pool: a session-level lock and a
``LISTEN`` belong to one connection for its whole life.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
from sqlalchemy import Engine

from evalroom.storage.db import is_sqlite
from evalroom.storage.store import EVENTS_CHANNEL, REVOKED_CHANNEL, SEQUENCE_BATCH, Store

__all__ = ["LEADER_LOCK", "Leadership", "Listener", "Sequencer"]

log = logging.getLogger(__name__)

LEADER_LOCK = 0x65766C72_6F6F6D31
"""The advisory lock key the leading coordinator holds ("evlroom1")."""
_RECONNECT_SECONDS = 1.0


def _libpq_url(engine: Engine) -> str:
    """The engine's URL for psycopg itself (without SQLAlchemy's driver suffix)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """LISTENs for other processes' commits and revocations, in a thread; nothing on SQLite."""

    def __init__(self, engine: Engine, on_events: Callable[[int], None], on_revoked: Callable[[list[str]], None],
                 on_connected: Callable[[], None]) -> None:
        """``on_connected`` is called after every (re)connection: notifications sent while no connection
        listened are lost, so the notifier should look at the head then."""
        self._url = None if is_sqlite(engine) else _libpq_url(engine)
        self._on_events, self._on_revoked, self._on_connected = on_events, on_revoked, on_connected
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.notifications = 0

    def start(self) -> None:
        if self._url is not None:
            self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self._url is not None
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    for channel in (EVENTS_CHANNEL, REVOKED_CHANNEL):
                        conn.execute(f"LISTEN {channel}")
                    self._on_connected()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.notifications += 1
                            if note.channel == EVENTS_CHANNEL:
                                self._on_events(int(note.payload))
                            elif note.channel == REVOKED_CHANNEL:
                                self._on_revoked([j for j in note.payload.split(",") if j])
            except (psycopg.Error, ValueError):
                if not self._stopping.is_set():
                    log.warning("listening for other coordinators' commits failed; reconnecting", exc_info=True)
                    self._stopping.wait(_RECONNECT_SECONDS)


class Leadership:
    """Whether this process runs the coordinator-wide background jobs: it holds :data:`LEADER_LOCK`."""

    def __init__(self, engine: Engine, *, eligible: bool = True, check_seconds: float = 2.0) -> None:
        """``eligible``: whether this process may lead at all (setting ``background_jobs``)."""
        self._eligible = eligible
        self._url = None if is_sqlite(engine) else _libpq_url(engine)
        self._conn: psycopg.Connection | None = None
        self._held = False
        self._lock = threading.Lock()
        self._checked = 0.0
        self._check_seconds = check_seconds
        self.changes = 0
        """How often leadership was taken or lost (metrics)."""

    @property
    def leading(self) -> bool:
        """Whether this process held the lock when last asked (no database round trip)."""
        return self._eligible and (self._url is None or self._held)

    def is_leader(self) -> bool:
        """True while this process holds the lock; tries to take it when it does not. Thread-safe; called by
        each background job before a round (a leader checks its connection at most every ``check_seconds``)."""
        if not self._eligible or self._url is None:
            return self._eligible
        with self._lock:
            if self._held and time.monotonic() - self._checked < self._check_seconds:
                return True
            try:
                if self._conn is None or self._conn.closed:
                    self._held = False
                    self._conn = psycopg.connect(self._url, autocommit=True)
                if self._held:
                    self._conn.execute("SELECT 1")  # still connected, so still holding the lock
                else:
                    row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
                    if row and row[0]:
                        self._held = True
                        self.changes += 1
                        log.info("this coordinator now runs the background jobs (leader)")
                self._checked = time.monotonic()
            except psycopg.Error:
                if self._held:
                    log.warning("lost the connection that held the coordinators' leadership")
                    self.changes += 1
                self._close()
            return self._held

    def _close(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def close(self) -> None:
        """Give the leadership up (shutdown): another process takes it at its next round."""
        with self._lock:
            self._close()


class Sequencer:
    """Numbers committed events left without a ``seq`` (deferred sequencing; a writer that died between its
    commit and its numbering): in the leading process only, every ``safety_seconds``."""

    def __init__(self, store: Store, leadership: Leadership, *, safety_seconds: float = 0.5) -> None:
        self._store, self._leadership, self._safety = store, leadership, safety_seconds
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sequencer")
        self.sequenced = 0
        """Events this process gave their ``seq`` (metrics)."""

    async def start(self) -> None:
        if self._store.sequencing == "deferred":
            self._task = asyncio.create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._safety)
            try:
                if await loop.run_in_executor(self._thread, self._leadership.is_leader):
                    while (n := await loop.run_in_executor(self._thread, self._store.sequence_pending)) > 0:
                        self.sequenced += n
                        if n < SEQUENCE_BATCH:
                            break
            except Exception:  # the database briefly away: the next round tries again
                log.warning("sequencing committed events failed", exc_info=True)
