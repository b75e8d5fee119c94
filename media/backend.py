"""What every media backend offers the coordinator: the relay's interface (media/relay.py) over a process or
network boundary — the embedded relay's worker (media/control.py) or a Janus node (media/janus.py) — plus the
stream of manifest lines its recorders made durable."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

__all__ = ["MediaBackend", "RecordQueue"]


class RecordQueue:
    """The manifest lines a backend reported, in order: ``{"event": "record", "room", "publisher", "track",
    "entry"}``."""

    def __init__(self) -> None:
        self._records: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def records(self) -> dict[str, Any]:
        """The next line, waiting for one."""
        return await self._records.get()

    def pending_records(self) -> list[dict[str, Any]]:
        """Every line reported and not taken yet."""
        out = []
        while not self._records.empty():
            out.append(self._records.get_nowait())
        return out


class MediaBackend(Protocol):
    async def publish(self, room: str, publisher: str, offer: dict[str, str]) -> dict[str, str]: ...
    async def unpublish(self, room: str, publisher: str) -> None: ...
    async def subscribe(self, room: str, publisher: str, subscriber: str) -> dict[str, Any]: ...
    async def answer(self, subscription: str, answer: dict[str, str]) -> None: ...
    async def unsubscribe(self, subscription: str) -> None: ...
    async def feeds(self, room: str) -> list[dict[str, Any]]: ...
    async def rooms(self) -> list[str]: ...
    async def close_room(self, room: str) -> list[str]: ...
    async def records(self) -> dict[str, Any]: ...
    def pending_records(self) -> list[dict[str, Any]]: ...
    async def close(self) -> None: ...
