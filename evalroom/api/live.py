"""Wakes websocket streams when new events are committed, by this process or by another one.

Two sources feed it: the store's commit listener (immediate, for writes made in this process) and a poll of
the chain head every ``event_poll_seconds`` (for writes by other coordinator processes on a shared PostgreSQL,
and as a safety net). Streams then read the events themselves from the database, which stays the only
source of truth: nothing is delivered that is not committed, and a reconnecting client resumes by sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from evalroom.api.periodic import Periodic
from evalroom.storage.store import Store

__all__ = ["EventBroadcaster"]

log = logging.getLogger(__name__)


class EventBroadcaster:
    def __init__(self, store: Store, poll_seconds: float) -> None:
        self._store = store
        self._poll_seconds = poll_seconds
        self._head = 0
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller = Periodic("event-head-poll", poll_seconds, store.head, lambda head: self._advance(head[0]))

    @property
    def head(self) -> int:
        return self._head

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._head = (await run_in_threadpool(self._store.head))[0]
        self._store.on_commit(self.notify_threadsafe)
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()

    def notify_threadsafe(self, seq: int) -> None:
        """Called after a commit, from whatever thread committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._advance, seq)

    def _advance(self, seq: int) -> None:
        if seq > self._head:
            self._head = seq
            # Wake every current waiter, then give later waiters a fresh, unset event.
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_beyond(self, seq: int, timeout: float) -> int:
        """Wait until the head passes ``seq`` or ``timeout`` seconds pass; return the head."""
        if self._head <= seq:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self._head
