"""The Janus backend against a real Janus (Debian's janus, started by the test): the same publishing and
subscribing as the embedded relay, and the recording turned by janus-pp-rec into the same hashed segments
and manifests, which play in ffprobe."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from media_world import ffprobe_duration, publish, subscribe

from media.janus import JanusBackend, JanusServer
from media.manifest import read_manifest, verify_manifest

pytestmark = pytest.mark.timeout(180)


def test_janus_forwards_and_records_the_same_hashed_segments(tmp_path: Path) -> None:
    server = JanusServer(tmp_path / "janus")
    server.start()
    records: list[dict[str, Any]] = []

    async def scenario() -> tuple[dict[str, list[Any]], list[str]]:
        backend = await JanusBackend(server.url, server.recordings, tmp_path / "recordings",
                                     segment_seconds=1.5).connect()
        pub = await publish(backend, "session-7", "JN/R1/cam")
        sub = await subscribe(backend, "session-7", "JN/R1/cam", "XA")
        await asyncio.sleep(5)
        assert [f["publisher"] for f in await backend.feeds("session-7")] == ["JN/R1/cam"]
        sealed = await backend.close_room("session-7")
        records.extend(backend.pending_records())
        await pub.close()
        await sub.pc.close()
        await backend.close()
        return sub.got, sealed

    try:
        got, sealed = asyncio.run(scenario())
    finally:
        server.stop()
    assert len(got["video"]) > 60 and got["video"][-1].width == 640
    assert len(got["audio"]) > 100
    assert sorted(Path(p).name for p in sealed) == ["audio-1", "video-1"]
    for directory in map(Path, sealed):
        report = verify_manifest(directory)
        assert report.ok and report.sealed and report.segments >= 3, (directory, report.problems)
        segments = [e for e in read_manifest(directory) if e["type"] == "segment"]
        total = sum(ffprobe_duration(directory / s["file"]) for s in segments)
        # About the 5 s the publisher sent; a loaded machine (a full run under faketime measured 3.0 s) delivers
        # less of it to Janus, never more.
        assert 2.0 < total < 7.0, total
        assert all(s["wallclock_start"] <= s["wallclock_end"] for s in segments)
    kinds = [r["entry"]["type"] for r in records]
    assert kinds.count("seal") == 2 and kinds.count("segment") >= 6
