"""The site agent's media: the venue's cameras and microphones published into each running session it takes
part in, and recorded locally as the venue's backup.

The sources are listed in a JSON file (``--media FILE``, docs/formats.md "Venue media sources")::

    [{"name": "R1/cam", "kind": "video", "source": "testsrc2=size=1280x720:rate=30"},
     {"name": "R1/mic", "kind": "audio", "source": "sine=frequency=440"}]

(a lavfi pattern or tone, a capture device such as ``/dev/video0``, an RTSP URL, a file). When the agent hears
that a session started (or resumed), it asks the coordinator for a media token over the site link and keeps
the sources published in that session's media room (media/publisher.py); when it hears the session ended it
stops and seals the backup. Each source is recorded as sent into ``<state>/recordings/<session>/<name>/``, and
every line of those manifests is reported over the site link as it becomes durable (``backup_record``), so the
copy the venue hands to the host afterwards is checked against hashes logged at the time
(``evalroom media reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media.manifest import path_name
from media.publisher import EncodedSource, RoomPublisher, SourceSpec
from media.recorder import TrackRecorder

__all__ = ["Refused", "VenueMedia", "load_sources"]

log = logging.getLogger("evalroom.site_agent.media")
Request = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class Refused(Exception):
    """The coordinator answered a request over the site link with an error."""


def load_sources(path: Path) -> list[SourceSpec]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        specs = [SourceSpec(**item) for item in items]
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"media sources {path}: {exc}") from None
    for spec in specs:
        if spec.kind not in ("video", "audio") or not spec.name:
            raise ValueError(f"media sources {path}: {spec.name!r}: kind is video or audio, and a name is needed")
    return specs


@dataclass
class _Running:
    publisher: RoomPublisher
    task: asyncio.Task[None]
    recorders: list[TrackRecorder] = field(default_factory=list)


class VenueMedia:
    """Publishing and local recording per running session; ``request`` goes over the current site link."""

    def __init__(self, venue: str, coordinator_ws: str, specs: list[SourceSpec], recordings: Path) -> None:
        self.venue, self.base, self.specs, self.recordings = venue, coordinator_ws, specs, recordings
        self.request: Request | None = None
        self.running: dict[str, _Running] = {}
        self._reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reporter: asyncio.Task[None] | None = None

    async def _token(self, session_id: str) -> str:
        if self.request is None:
            raise RuntimeError("no site link at the moment")
        return (await self.request("media_token", {"session_id": session_id}))["token"]

    def resume(self, inbox: list[dict[str, Any]]) -> None:
        """After a restart: publish again in the sessions whose last state heard was running."""
        last: dict[str, str] = {}
        for item in inbox:
            if item["kind"] == "session.state_changed" and item.get("session_id"):
                last[item["session_id"]] = item["data"].get("state", "")
        for session_id, state in last.items():
            if state in ("evaluating", "suspended") and session_id not in self.running:
                self._start(session_id)

    def on_session_event(self, item: dict[str, Any]) -> None:
        session_id, state = item.get("session_id"), item["data"].get("state")
        if item["kind"] != "session.state_changed" or not session_id or not self.specs:
            return
        if state == "evaluating" and session_id not in self.running:
            self._start(session_id)
        elif state in ("ended", "archived") and session_id in self.running:
            asyncio.ensure_future(self.stop(session_id))

    def _start(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        if self._reporter is None:
            self._reporter = asyncio.ensure_future(self._report())
        running_recorders, sources = [], []
        for spec in self.specs:
            directory = self.recordings / path_name(session_id) / path_name(spec.name)
            codec, rate = ("vp8", 90000) if spec.kind == "video" else ("opus", 48000)
            info = {"session_id": session_id, "publisher": f"{self.venue}/{spec.name}", "track": spec.name}

            def report(entry: dict[str, Any], info: dict[str, Any] = info) -> None:
                loop.call_soon_threadsafe(self._reports.put_nowait, {**info, "entry": entry})

            recorder = TrackRecorder(directory, publisher=info["publisher"], kind=spec.kind, codec=codec,
                                     clock_rate=rate, on_entry=report)
            running_recorders.append(recorder)
            sources.append(EncodedSource(spec, recorder))
        publisher = RoomPublisher(f"{self.base}/api/v1/sessions/{session_id}/media/ws",
                                  lambda: self._token(session_id), sources)
        self.running[session_id] = _Running(publisher, asyncio.ensure_future(publisher.run()), running_recorders)
        log.info("publishing %d source(s) in session %s", len(sources), session_id)

    async def stop(self, session_id: str) -> None:
        run = self.running.pop(session_id, None)
        if run is None:
            return
        run.publisher.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await run.task
        for source in run.publisher.sources:
            source.stop()
        await asyncio.sleep(0.2)  # the encoders' threads see the stop
        for recorder in run.recorders:
            await asyncio.get_running_loop().run_in_executor(None, recorder.seal)

    async def _report(self) -> None:
        """Send each backup manifest line over the site link, in order, waiting out a link that is down."""
        while True:
            record = await self._reports.get()
            while True:
                try:
                    if self.request is None:
                        raise RuntimeError("no site link")
                    await self.request("backup_record", record)
                    break
                except Refused as exc:
                    log.warning("the coordinator refused a backup record of %s: %s", record["publisher"], exc)
                    break
                except Exception as exc:  # the link is down: try again; the manifest keeps the line anyway
                    log.debug("backup record not sent yet: %s", exc)
                    await asyncio.sleep(1)

    async def close(self) -> None:
        for session_id in list(self.running):
            await self.stop(session_id)
        if self._reporter is not None:
            self._reporter.cancel()
