"""Replay: a session's recordings and events on one clock, for the supervisors' player.

**The timeline** (:func:`timeline`) is built from the session's events alone — the recorders' durable manifest
lines (logged in ``media.recorded`` batches, domain/recording.py) and the markers — so any coordinator
process can answer it, and what the player is given is what was logged. Every segment carries its wall-clock
anchors (the arrival times of its first and last packets, media/manifest.py); the timeline's origin ``t0`` is the
earliest of them and of the session's start, and every segment, gap and marker is placed at
``offset = anchor − t0`` seconds. Tracks of different venues recorded at the same moment therefore line up,
whatever their RTP clocks did. A player seeks to a moment ``t`` by taking, in each track, the segment with
``offset ≤ t < offset + duration`` and seeking ``t − offset`` into it; each segment starts on a key frame
(video) and plays on its own.

**Segments** are served by :func:`segment_path` (route ``GET …/recordings/{publisher}/{track}/{file}``) only if an
event of the session logged them (the ``recording_segments`` index) — no path is built from unchecked input — with the
logged SHA-256 in a header so a player can check what it got. HTTP range requests are honoured, so a player
can seek inside a segment without fetching it whole.

**Markers** are the events a supervisor navigates by: state changes (start, suspension, resumption, end),
phases, faults, sheets submitted, flags, the chair's election, the report, signatures, and the supervisors' own
marks. Who may replay: the coordinator admin and the session's supervisors.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evalroom.clock import format_time, parse_time
from evalroom.config import Settings
from evalroom.domain.events import Event
from evalroom.domain.recording import media_lines
from evalroom.domain.roles import Principal
from evalroom.errors import ForbiddenError, NotFoundError
from evalroom.services.access import check_can_read_session, is_overseer
from evalroom.storage.models import EvalSession, EventRow, RecordingSegment
from evalroom.storage.store import Store, row_to_event
from media.manifest import path_name, track_directory

__all__ = ["MARKER_KINDS", "segment_path", "recorded_track", "timeline"]

MARKER_KINDS = frozenset({
    "session.state_changed", "session.phase_changed", "session.fault", "session.fault_closed", "session.extended",
    "committee.member_checked_in", "chair.elected", "sheet.submitted", "sheet.corrected", "sheets.revealed",
    "flag.raised", "flag.explained", "flag.confirmed", "dissent.recorded", "report.produced", "report.sealed",
    "signing.sheet_signed", "signing.report_signed", "supervision.annotated", "supervision.warning",
    "supervision.expert_flagged",
})
SEGMENT_FILE = re.compile(r"^seg-\d{6}\.(webm|opus)$")
MEDIA_TYPES = {"webm": {"video": "video/webm", "audio": "audio/webm"}, "opus": {"audio": "audio/ogg"}}


def recorded_track(settings: Settings, session_id: str, publisher: str, track: str) -> Path:
    """The directory of a track this coordinator recorded (media.manifest.track_directory, the recorders' rule)."""
    return track_directory(settings.effective_recordings_dir, session_id, publisher, track)


def _check_overseer(s: Any, principal: Principal, session_id: str) -> EvalSession:
    session = check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
    if not is_overseer(principal, session_id):
        raise ForbiddenError("only the coordinator admin and the session's supervisors replay a session")
    return session


def _seconds(t: datetime, t0: datetime) -> float:
    return round((t - t0).total_seconds(), 3)


def _label(ev: Event) -> str:
    p = ev.payload
    detail = p.get("action") or p.get("to") or p.get("phase") if ev.kind.startswith("session.") else None
    detail = detail or p.get("text") or p.get("cause") or p.get("kind")
    return f"{ev.kind}: {detail}" if isinstance(detail, str) else ev.kind


def timeline(store: Store, principal: Principal, session_id: str) -> dict[str, Any]:
    """Every recorded track of every venue on one clock, with the session's markers (module docstring)."""
    with store.read() as s:
        session = _check_overseer(s, principal, session_id)
        rows = s.scalars(select(EventRow).where(EventRow.session_id == session_id).order_by(EventRow.seq))
        events = [row_to_event(r) for r in rows]
    tracks: dict[tuple[str, str], dict[str, Any]] = {}
    anchors = [session.started_at] if session.started_at else []
    for kind, p in (line for ev in events for line in media_lines(ev.kind, ev.payload)):
        key = (p["publisher"], p["track"])
        track = tracks.setdefault(key, {"publisher": p["publisher"], "venue": p["publisher"].split("/")[0],
                                        "track": p["track"], "kind": p["track"].split("-")[0], "segments": [],
                                        "gaps": [], "sealed": False})
        if kind == "media.segment_recorded":
            track["segments"].append(p)
            anchors.append(parse_time(p["wallclock_start"]))
        elif kind == "media.gap":
            track["gaps"].append(p)
        else:
            track["sealed"] = True
    if not anchors:
        anchors.append(session.created_at)
    t0 = min(anchors)
    end = max([parse_time(seg["wallclock_end"]) for t in tracks.values() for seg in t["segments"]]
              + [session.ended_at or t0])
    return {
        "session_id": session_id, "t0": format_time(t0), "duration": _seconds(end, t0),
        "tracks": [_placed(session_id, t, t0) for _, t in sorted(tracks.items())],
        "markers": [{"seq": ev.seq, "at": ev.recorded_at, "offset": _seconds(parse_time(ev.recorded_at), t0),
                     "kind": ev.kind, "label": _label(ev)} for ev in events if ev.kind in MARKER_KINDS],
    }


def _placed(session_id: str, track: dict[str, Any], t0: datetime) -> dict[str, Any]:
    base = f"/api/v1/sessions/{session_id}/recordings/{path_name(track['publisher'])}/{path_name(track['track'])}"
    segments = []
    for seg in track["segments"]:
        start, stop = parse_time(seg["wallclock_start"]), parse_time(seg["wallclock_end"])
        segments.append({"index": seg["index"], "offset": _seconds(start, t0), "duration": _seconds(stop, start),
                         "from": seg["wallclock_start"], "to": seg["wallclock_end"], "sha256": seg["sha256"],
                         "bytes": seg["bytes"], "url": f"{base}/{seg['file']}"})
    gaps = [{"offset": _seconds(parse_time(g["from"]), t0) if g.get("from") else None,
             "to_offset": _seconds(parse_time(g["to"]), t0) if g.get("to") else None, "reason": g["reason"]}
            for g in track["gaps"]]
    return {**{k: track[k] for k in ("publisher", "venue", "track", "kind", "sealed")}, "segments": segments,
            "gaps": gaps}


def segment_path(store: Store, settings: Settings, principal: Principal, session_id: str, publisher_dir: str,
                 track: str, file: str) -> tuple[Path, str, str]:
    """The file of a logged segment, its logged SHA-256 and its media type; 404 for anything not logged."""
    if not SEGMENT_FILE.match(file):
        raise NotFoundError("recording segment", file)
    with store.read() as s:
        _check_overseer(s, principal, session_id)
        logged = s.get(RecordingSegment, (session_id, publisher_dir, track, file))
    if logged is None:
        raise NotFoundError("recording segment", f"{publisher_dir}/{track}/{file}")
    path = recorded_track(settings, session_id, logged.publisher, logged.track) / file
    if not path.is_file():
        raise NotFoundError("recording segment (the file is not on this coordinator)", file)
    kind = logged.track.split("-")[0]
    return path, logged.sha256, MEDIA_TYPES[file.rsplit(".", 1)[1]].get(kind, "application/octet-stream")
