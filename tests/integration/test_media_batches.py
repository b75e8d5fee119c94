"""The media hub logs recording lines in batches (services/media.py): one ``media.recorded`` event per session per
interval, a track's seal at once, every segment in the replay's index, nothing lost or reordered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from committee_world import build
from conftest import SQLITE_ONLY
from sqlalchemy import select

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.recording import MEDIA_BATCH, media_lines
from evalroom.services.media import MediaHub
from evalroom.storage.models import RecordingSegment
from evalroom.storage.store import read_events
from media.backend import RecordQueue


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "media_event_seconds": 0.5})


def _segment(room: str, i: int) -> dict[str, Any]:
    return {"event": "record", "room": room, "publisher": "JN/R1/cam", "track": "video-1",
            "entry": {"type": "segment", "seq": i + 2, "index": i, "file": f"seg-{i:06d}.webm", "sha256": f"{i:064x}",
                      "bytes": 100, "wallclock_start": "s", "wallclock_end": "e", "hash": "h" * 64}}


@SQLITE_ONLY
def test_lines_of_each_session_are_logged_together_and_a_seal_at_once(ctx: AppContext, client: Any) -> None:
    first = build(ctx, client).session_id
    second = build(ctx, client).session_id
    hub = MediaHub(ctx.settings, ctx.store)
    queue = RecordQueue()

    async def scenario() -> None:
        pump = asyncio.create_task(hub._record_events(queue))  # type: ignore[arg-type]
        for i in range(6):
            queue._records.put_nowait(_segment(first if i % 2 else second, i))
        await asyncio.sleep(1.0)  # one interval: a batch per session
        queue._records.put_nowait(_segment(first, 6))
        queue._records.put_nowait({"event": "record", "room": first, "publisher": "JN/R1/cam", "track": "video-1",
                                   "entry": {"type": "seal", "seq": 9}})
        await asyncio.sleep(0.1)  # the seal does not wait for the interval
        pump.cancel()

    asyncio.run(scenario())
    with ctx.store.read() as s:
        batches = {sid: [e for e in read_events(s, session_id=sid, limit=1000) if e.kind == MEDIA_BATCH]
                   for sid in (first, second)}
        indexed = s.scalars(select(RecordingSegment.file).where(RecordingSegment.session_id == first)).all()
    assert [len(b.payload["lines"]) for b in batches[first]] == [3, 2]  # the interval's, then the seal's
    assert [len(b.payload["lines"]) for b in batches[second]] == [3]
    lines = [line for b in batches[first] for line in media_lines(b.kind, b.payload)]
    assert [p.get("index") for _, p in lines] == [1, 3, 5, 6, None] and lines[-1][0] == "media.track_sealed"
    assert sorted(indexed) == [f"seg-{i:06d}.webm" for i in (1, 3, 5, 6)]
