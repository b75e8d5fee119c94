"""The embedded relay over loopback (media/relay.py): a publisher's synthetic camera and microphone reach a
subscriber through the relay without being decoded or re-encoded there, and are recorded into segments whose
hashes match the chained manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from media_world import ffprobe_duration, publish, subscribe, until

from media.manifest import read_manifest, verify_manifest
from media.relay import Relay

pytestmark = pytest.mark.timeout(120)


def test_a_publisher_reaches_a_subscriber_and_is_recorded(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = []

    async def scenario() -> tuple[dict[str, list[Any]], list[Path]]:
        relay = Relay(tmp_path, segment_seconds=1.0, on_record=records.append)
        pub = await publish(relay, "session-1", "venue-JN/room-R1")
        await until(lambda: len(relay.feeds("session-1")) == 2, what="both tracks at the relay")
        sub = await subscribe(relay, "session-1", "venue-JN/room-R1", "venue-XA")
        await asyncio.sleep(4)
        sealed = await relay.close_room("session-1")
        await pub.close()
        await sub.pc.close()
        return sub.got, sealed

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
