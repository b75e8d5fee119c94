"""Background work that runs every few seconds in a worker thread, and stops without leaving work behind.

Stopping sets a flag and waits for the current round to finish instead of cancelling the task: a cancelled
task would abandon its worker thread mid-query, and the engine could then be disposed under a connection
that is still checked out (on PostgreSQL: a leaked connection at shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str, interval: float, work: Callable[[], Any],
                 on_result: Callable[[Any], None] | None = None) -> None:
        self.name, self.interval, self.work, self.on_result = name, interval, work, on_result
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval)
                return
            except TimeoutError:
                pass
            try:
                result = await run_in_threadpool(self.work)
            except Exception:  # e.g. the database briefly unreachable: the next round tries again
                log.warning("%s failed", self.name, exc_info=True)
                continue
            if self.on_result is not None:
                self.on_result(result)
