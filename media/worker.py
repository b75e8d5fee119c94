"""The media worker: the embedded relay in a process of its own, so the coordinator's event loop never waits on
media, and a crash of either leaves the other running.

``python -m media.worker --recordings DIR --secret-file FILE [--port 0] [--segment-seconds 4]
[--ice-servers JSON]`` listens on loopback and prints one line, ``{"port": N}``, once it is ready.

The control protocol (docs/protocols.md, "Media worker") is JSON over one websocket, authenticated by the first
message, ``{"secret": ...}`` (the contents of FILE, which the coordinator writes with mode 0600). Then requests
``{"id", "op", ...}`` get ``{"id", "ok": true, "result"}`` or ``{"id", "ok": false, "error"}``; the ops are the
relay's: ``publish {room, publisher, offer}``, ``unpublish {room, publisher}``, ``subscribe {room, publisher,
subscriber}``, ``answer {subscription, answer}``, ``unsubscribe {subscription}``, ``feeds {room}``, ``rooms``,
``close_room {room}``, ``ping``. Every manifest line the recorders make durable is pushed to every control
connection as ``{"event": "record", "room", "publisher", "track", "entry"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from media.relay import Relay, RelayError

__all__ = ["main", "serve_worker"]

log = logging.getLogger("media.worker")


async def serve_worker(recordings: Path, secret: str, *, port: int = 0, segment_seconds: float = 4.0,
                       ice_servers: list[dict[str, Any]] | None = None,
                       ready: asyncio.Future[int] | None = None) -> None:
    connections: set[ServerConnection] = set()

    def on_record(record: dict[str, Any]) -> None:
        message = json.dumps({"event": "record", **record})
        for ws in list(connections):
            asyncio.ensure_future(_send(ws, message))

    relay = Relay(recordings, segment_seconds=segment_seconds, ice_servers=ice_servers, on_record=on_record)
    ops = {
        "publish": lambda m: relay.publish(m["room"], m["publisher"], m["offer"]),
        "unpublish": lambda m: relay.unpublish(m["room"], m["publisher"]),
        "subscribe": lambda m: relay.subscribe(m["room"], m["publisher"], m["subscriber"]),
        "answer": lambda m: relay.answer(m["subscription"], m["answer"]),
        "unsubscribe": lambda m: relay.unsubscribe(m["subscription"]),
        "close_room": lambda m: _sealed(relay, m["room"]),
    }

    async def handle(ws: ServerConnection) -> None:
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (TimeoutError, ValueError, ConnectionClosed):
            return
        if not isinstance(hello, dict) or not hmac.compare_digest(str(hello.get("secret", "")), secret):
            await ws.close(4401, "unauthorised")
            return
        connections.add(ws)
        try:
            async for raw in ws:
                asyncio.ensure_future(_answer(ws, raw, ops, relay))
        except ConnectionClosed:
            pass
        finally:
            connections.discard(ws)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):
            pass
    async with serve(handle, "127.0.0.1", port, max_size=1 << 20) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        if ready is not None:
            ready.set_result(bound)
        else:
            print(json.dumps({"port": bound}), flush=True)
        await stop
    await relay.close()  # a stop (not a crash) seals what was recorded


async def _sealed(relay: Relay, room: str) -> list[str]:
    return [str(p) for p in await relay.close_room(room)]


async def _send(ws: ServerConnection, message: str) -> None:
    try:
        await ws.send(message)
    except ConnectionClosed:
        pass


async def _answer(ws: ServerConnection, raw: str | bytes, ops: dict[str, Any], relay: Relay) -> None:
    message: Any = {}
    try:
        message = json.loads(raw)
        op = message["op"]
        if op == "ping":
            result: Any = "pong"
        elif op == "feeds":
            result = relay.feeds(message["room"])
        elif op == "rooms":
            result = relay.rooms()
        elif op in ops:
            result = await ops[op](message)
        else:
            raise RelayError(f"unknown op {op!r}")
        reply = {"id": message.get("id"), "ok": True, "result": result}
    except (RelayError, KeyError, TypeError, ValueError) as exc:
        reply = {"id": message.get("id") if isinstance(message, dict) else None, "ok": False,
                 "error": str(exc) or type(exc).__name__}
    await _send(ws, json.dumps(reply))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m media.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--secret-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--segment-seconds", type=float, default=4.0)
    parser.add_argument("--ice-servers", default="[]", help="RTCIceServer list as JSON (STUN/TURN)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    secret = args.secret_file.read_text(encoding="utf-8").strip()
    asyncio.run(serve_worker(args.recordings, secret, port=args.port, segment_seconds=args.segment_seconds,
                             ice_servers=json.loads(args.ice_servers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
