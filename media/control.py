"""The coordinator's side of the media worker: start it (:class:`WorkerProcess`) and talk to it
(:class:`WorkerClient`, the control protocol of media/worker.py).

The client is the relay's interface seen from outside the process — ``publish``, ``subscribe``, ``answer``,
``unpublish``, ``unsubscribe``, ``feeds``, ``close_room`` — plus :meth:`WorkerClient.records`, the manifest lines
the recorders made durable, which the coordinator turns into events. The Janus backend offers the same methods.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from media.backend import RecordQueue

__all__ = ["WorkerClient", "WorkerError", "WorkerProcess"]


class WorkerError(Exception):
    """The worker refused a request (its message says why) or is gone."""


class WorkerProcess:
    """``python -m media.worker`` as a child process, with a fresh secret in a 0600 file."""

    def __init__(self, recordings: Path, state_dir: Path, *, segment_seconds: float = 4.0,
                 ice_servers: list[dict[str, Any]] | None = None) -> None:
        self.recordings, self.state_dir = recordings, state_dir
        self.segment_seconds, self.ice_servers = segment_seconds, ice_servers or []
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.secret = ""

    def start(self, timeout: float = 30) -> int:
        if self.alive():
            raise WorkerError("the media worker is running already")
        self._release()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.secret = secrets.token_urlsafe(32)
        secret_file = self.state_dir / "media-worker.secret"
        secret_file.touch(mode=0o600)
        os.chmod(secret_file, 0o600)
        secret_file.write_text(self.secret, encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "media.worker", "--recordings", str(self.recordings), "--secret-file",
             str(secret_file), "--segment-seconds", str(self.segment_seconds),
             "--ice-servers", json.dumps(self.ice_servers)],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(f"the media worker did not start (exit {self.process.wait(timeout)})")
        self.port = int(json.loads(line)["port"])
        return self.port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: what a crash looks like (tests)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self._release()

    def _release(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM: the worker seals what it recorded and exits."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._release()


class WorkerClient(RecordQueue):
    def __init__(self, url: str, secret: str) -> None:
        super().__init__()
        self.url, self.secret = url, secret
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def connect(self) -> WorkerClient:
        self._ws = await connect(self.url, max_size=1 << 20)
        await self._ws.send(json.dumps({"secret": self.secret}))
        self._reader = asyncio.ensure_future(self._read())
        await self.call("ping")
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if message.get("event") == "record":
                    self._records.put_nowait(message)
                elif (future := self._pending.pop(message.get("id"), None)) is not None and not future.done():
                    future.set_result(message)
        except ConnectionClosed:
            pass
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WorkerError("the media worker closed the connection"))
        self._pending.clear()

    async def call(self, op: str, **args: Any) -> Any:
        if self._ws is None:
            raise WorkerError("not connected")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._ws.send(json.dumps({"id": request_id, "op": op, **args}))
        except ConnectionClosed:
            self._pending.pop(request_id, None)
            raise WorkerError("the media worker is gone") from None
        reply = await future
        if not reply["ok"]:
            raise WorkerError(reply["error"])
        return reply["result"]

    # The relay's interface.
    async def publish(self, room: str, publisher: str, offer: dict[str, str]) -> dict[str, str]:
        return await self.call("publish", room=room, publisher=publisher, offer=offer)

    async def unpublish(self, room: str, publisher: str) -> None:
        await self.call("unpublish", room=room, publisher=publisher)

    async def subscribe(self, room: str, publisher: str, subscriber: str) -> dict[str, Any]:
        return await self.call("subscribe", room=room, publisher=publisher, subscriber=subscriber)

    async def answer(self, subscription: str, answer: dict[str, str]) -> None:
        await self.call("answer", subscription=subscription, answer=answer)

    async def unsubscribe(self, subscription: str) -> None:
        await self.call("unsubscribe", subscription=subscription)

    async def feeds(self, room: str) -> list[dict[str, Any]]:
        return await self.call("feeds", room=room)

    async def rooms(self) -> list[str]:
        return await self.call("rooms")

    async def close_room(self, room: str) -> list[str]:
        return await self.call("close_room", room=room)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader
