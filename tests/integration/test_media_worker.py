"""The relay in its own process (media/worker.py, media/control.py): the same publishing and subscribing over
the control protocol, segment records pushed as they become durable, and a SIGKILL of the worker mid-session:
every closed segment intact and verifiable, at most the open segment per track lost and marked as a gap."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from media_world import publish, subscribe, until

from media.control import WorkerClient, WorkerError, WorkerProcess
from media.manifest import read_manifest, verify_manifest

pytestmark = pytest.mark.timeout(180)
ROOM, VENUE = "session-9", "venue-JN/room-R1"


def test_a_sigkill_loses_at_most_the_open_segment(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    worker = WorkerProcess(recordings, tmp_path / "state", segment_seconds=1.0)
    try:
        _kill_and_restart(worker, recordings)
    finally:  # a failed assertion must not leave a worker running after the test
        worker.kill()


def _kill_and_restart(worker: WorkerProcess, recordings: Path) -> None:
    worker.start()
    before_kill: list[dict[str, Any]] = []

    async def first_life() -> int:
        client = await WorkerClient(worker.url, worker.secret).connect()
        refused = WorkerClient(worker.url, "not the secret")
        with pytest.raises((WorkerError, ConnectionError)):  # the wrong secret: closed at once
            await asyncio.wait_for(refused.connect(), 5)
        pub = await publish(client, ROOM, VENUE)
        sub = await subscribe(client, ROOM, VENUE, "venue-XA")
        await asyncio.sleep(3.5)  # a few 1 s segments closed; then enough frames, however slow the machine
        await until(lambda: len(sub.got["video"]) > 40, timeout=30, what="40 frames at the subscriber")
        feeds = await client.feeds(ROOM)
        assert {f["track"] for f in feeds} == {"video-1", "audio-1"}
        before_kill.extend(client.pending_records())
        worker.kill()  # SIGKILL, mid-segment
        with pytest.raises(WorkerError):
            await client.feeds(ROOM)
        await pub.close()
        await sub.pc.close()
        return len(before_kill)

    asyncio.run(first_life())
    assert not worker.alive()
    closed = {(r["track"], r["entry"]["file"]) for r in before_kill if r["entry"]["type"] == "segment"}
    assert len(closed) >= 4
    tracks = {d.name: d for d in (recordings / ROOM / "venue-JN_room-R1").iterdir()}
    assert set(tracks) == {"video-1", "audio-1"}
    for directory in tracks.values():
        assert verify_manifest(directory).ok  # every segment reported before the kill is intact
        assert len(list(directory.glob("*.part"))) <= 1  # only the open one was cut short

    # A new worker on the same recordings: the publisher comes back, the lost time is a marked gap.
    worker.start()

    async def second_life() -> list[str]:
        client = await WorkerClient(worker.url, worker.secret).connect()
        pub = await publish(client, ROOM, VENUE)
        await asyncio.sleep(2.5)
        sealed = await client.close_room(ROOM)
        await pub.close()
        await client.close()
        return sealed

    sealed = asyncio.run(second_life())
    worker.stop()
    assert {Path(p).name for p in sealed} == {"video-1", "audio-1"}
    for directory in tracks.values():
        entries = read_manifest(directory)
        report = verify_manifest(directory)
        assert report.ok and report.sealed, report.problems
        lost = [e for e in entries if e["type"] == "gap" and e["reason"] == "lost"]
        assert len(lost) <= 1  # at most the segment that was open
        before = {e["file"] for e in entries if e["type"] == "segment"}
        assert {f for t, f in closed if t == directory.name} <= before  # nothing acknowledged was lost
        assert sum(e["type"] == "segment" for e in entries) > len([1 for t, _ in closed if t == directory.name])
