"""Publishers and subscribers for the media tests: aiortc peer connections in the test process, publishing a
synthetic camera and microphone (lavfi) and receiving decoded frames, against any backend with the relay's
interface (media.relay.Relay in process, media.control.WorkerClient for the worker)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media.sources import pattern, player, tone


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["format"]["duration"])


@dataclass
class Publisher:
    pc: RTCPeerConnection
    players: list[Any]

    async def close(self) -> None:
        await self.pc.close()
        for p in self.players:
            for track in (p.audio, p.video):
                if track:
                    track.stop()


async def publish(backend: Any, room: str, name: str, *, size: tuple[int, int] = (640, 360)) -> Publisher:
    pc = RTCPeerConnection()
    players = [player(pattern(*size, 30)), player(tone())]
    pc.addTrack(players[0].video)
    pc.addTrack(players[1].audio)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await backend.publish(room, name, {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    return Publisher(pc, players)


@dataclass
class Subscriber:
    pc: RTCPeerConnection
    subscription: str
    got: dict[str, list[Any]] = field(default_factory=lambda: {"video": [], "audio": []})


async def subscribe(backend: Any, room: str, publisher: str, me: str) -> Subscriber:
    pc = RTCPeerConnection()
    offered = await backend.subscribe(room, publisher, me)
    sub = Subscriber(pc, offered["subscription"])

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def pull() -> None:
            try:
                while True:
                    sub.got[track.kind].append(await track.recv())
            except MediaStreamError:
                pass
        asyncio.ensure_future(pull())

    await pc.setRemoteDescription(RTCSessionDescription(**offered["offer"]))
    await pc.setLocalDescription(await pc.createAnswer())
    await backend.answer(offered["subscription"], {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    return sub


async def until(check: Any, timeout: float = 15.0, what: str = "the condition") -> None:
    for _ in range(int(timeout / 0.05)):
        if await check() if asyncio.iscoroutinefunction(check) else check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
