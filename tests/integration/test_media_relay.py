"""The embedded relay over loopback (media/relay.py): a publisher's synthetic camera and microphone reach a
subscriber through the relay without being decoded or re-encoded there, and are recorded into segments whose
hashes match the chained manifest."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media.manifest import read_manifest, verify_manifest
from media.relay import Relay
from media.sources import pattern, player, tone

pytestmark = pytest.mark.timeout(120)


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["format"]["duration"])


async def publish(relay: Relay, room: str, name: str) -> tuple[RTCPeerConnection, list[Any]]:
    pc = RTCPeerConnection()
    players = [player(pattern(640, 360, 30)), player(tone())]
    pc.addTrack(players[0].video)
    pc.addTrack(players[1].audio)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.publish(room, name, {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    await pc.setRemoteDescription(RTCSessionDescription(**answer))
    return pc, players


async def subscribe(relay: Relay, room: str, publisher: str, me: str) -> tuple[RTCPeerConnection, dict[str, list[Any]]]:
    pc = RTCPeerConnection()
    got: dict[str, list[Any]] = {"video": [], "audio": []}

    @pc.on("track")
    def on_track(track: Any) -> None:
        async def pull() -> None:
            try:
                while True:
                    got[track.kind].append(await track.recv())
            except MediaStreamError:
                pass
        asyncio.ensure_future(pull())

    offered = await relay.subscribe(room, publisher, me)
    await pc.setRemoteDescription(RTCSessionDescription(**offered["offer"]))
    await pc.setLocalDescription(await pc.createAnswer())
    await relay.answer(offered["subscription"], {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
    return pc, got


def test_a_publisher_reaches_a_subscriber_and_is_recorded(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []

    async def scenario() -> tuple[dict[str, list[Any]], list[Path]]:
        relay = Relay(tmp_path, segment_seconds=1.0, on_record=records.append)
        pub, players = await publish(relay, "session-1", "venue-JN/room-R1")
        for _ in range(100):
            if len(relay.feeds("session-1")) == 2:
                break
            await asyncio.sleep(0.05)
        sub, got = await subscribe(relay, "session-1", "venue-JN/room-R1", "venue-XA")
        await asyncio.sleep(4)
        sealed = await relay.close_room("session-1")
        for pc in (pub, sub):
            await pc.close()
        for p in players:
            for t in (p.audio, p.video):
                if t:
                    t.stop()
        return got, sealed

    got, sealed = asyncio.run(scenario())
    # Decoded at the subscriber: the relay forwarded what the publisher encoded, untouched.
    assert len(got["video"]) > 60, len(got["video"])  # ~4 s at 30 fps, minus the start
    assert got["video"][-1].width == 640 and got["video"][-1].height == 360
    assert len(got["audio"]) > 100
    assert {p.name for p in sealed} == {"video-1", "audio-1"}
    for directory in sealed:
        report = verify_manifest(directory)
        assert report.ok and report.sealed and report.segments >= 3, (directory, report)
        segments = [e for e in read_manifest(directory) if e["type"] == "segment"]
        total = sum(ffprobe_duration(directory / s["file"]) for s in segments)
        assert 3.0 < total < 6.0, total
    kinds = [r["entry"]["type"] for r in records]
    assert kinds.count("seal") == 2 and kinds.count("segment") >= 6
