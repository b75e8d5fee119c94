"""Writing a session's evidence bundle at the coordinator (``evalroom export SESSION``; layout in docs/formats.md).

The session must have ended: its recordings are sealed and its report signed, so the bundle is the whole
record. The log is brought up to date first (``tlog.append_pending``, the log's own writer) and everything
is then read in one database snapshot: the head, its checkpoint, and the session's events up to the last one
the log examined — so every event in the bundle has its leaf under the bundled checkpoint.

The zip is written beside the target as ``.part``, fsynced and renamed, so a bundle that exists is complete.
Recording segments are stored (they are compressed media); text is deflated.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from evalroom.clock import format_time, parse_time
from evalroom.config import Settings
from evalroom.domain.recording import media_lines
from evalroom.domain.session_states import State
from evalroom.errors import ConflictError, NotFoundError
from evalroom.evidence import (
    CHECKPOINT,
    EVENTS,
    FORMAT,
    INDEX,
    INDEX_SIGNATURE,
    LOG_KEY,
    PROOFS,
    SESSION,
    SIGNATURES,
    index_note_text,
    progress,
)
from evalroom.services import tlog
from evalroom.services.replay import recorded_track
from evalroom.services.signatures import report_pdf, signature_view
from evalroom.services.trust import export_bundle as export_trust
from evalroom.storage.models import EvalSession, LogCheckpoint, LogHead, Report, ScoreSheet, SignatureRecord, Venue
from evalroom.storage.store import Store, read_events
from media.manifest import MANIFEST, path_name
from signing.canonical import canonical_json
from signing.note import sign_note
from signing.trust import RegionAnchors

__all__ = ["ExportResult", "export_session"]

ENDED = (State.ENDED.value, State.ARCHIVED.value)
EVENT_PAGE = 5000


@dataclass
class ExportResult:
    path: Path
    files: int = 0
    bytes: int = 0
    events: int = 0
    leaves: int = 0
    checkpoint_size: int = 0
    problems: list[str] = field(default_factory=list)
    """What the coordinator could not put in (a segment file missing on its disk): the bundle says so too."""


@dataclass
class _Entry:
    name: str
    data: bytes | None = None
    path: Path | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size  # type: ignore[union-attr]


def _jsonl(rows: Iterable[Any]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def export_session(store: Store, settings: Settings, log_key: tlog.LogKey, own: RegionAnchors, session_id: str,
                   out: Path) -> ExportResult:
    """Write the bundle of an ended session to ``out`` (docs/formats.md)."""
    tlog.append_pending(store, log_key)
    result = ExportResult(out)
    entries: list[_Entry] = []
    with store.read() as s:
        session = s.get(EvalSession, session_id)
        if session is None:
            raise NotFoundError("session", session_id)
        if session.state not in ENDED:
            raise ConflictError(f"a session's evidence is exported once it has ended (it is {session.state})")
        head = s.get(LogHead, 1)
        checkpoint = s.get(LogCheckpoint, head.size) if head else None
        if head is None or checkpoint is None:
            raise ConflictError("the transparency log has no checkpoint yet")
        events = []
        while True:
            page = read_events(s, after_seq=events[-1].seq if events else 0, session_id=session_id, limit=EVENT_PAGE)
            events.extend(e for e in page if e.seq <= head.cursor_seq)
            if len(page) < EVENT_PAGE or page[-1].seq > head.cursor_seq:
                break
        proofs = tlog.session_proofs(s, session_id, head.size)
        host = s.get(Venue, session.host_venue_id)
        entries.append(_Entry(SESSION, _json({
            "id": session.id, "code": session.code, "title": session.title,
            "host_venue": host.code if host else session.host_venue_id, "state": session.state,
            "started_at": session.started_at and format_time(session.started_at),
            "ended_at": session.ended_at and format_time(session.ended_at), "end_reason": session.end_reason})))
        signatures = list(s.scalars(select(SignatureRecord).where(SignatureRecord.session_id == session_id)
                                    .order_by(SignatureRecord.created_at, SignatureRecord.revision)))
        entries.append(_Entry(SIGNATURES, _json([signature_view(r) for r in signatures])))
        for record in (r for r in signatures if r.document_kind == "sheet"):
            sheet = s.get(ScoreSheet, record.document_ref)
            assert sheet is not None
            name = f"sheets/{sheet.phase}-{record.member_id}-v{sheet.version}.json"
            entries += [_Entry(name, canonical_json(sheet.content)), _Entry(name + ".p7s", record.content)]
        for report in s.scalars(select(Report).where(Report.session_id == session_id).order_by(Report.version)):
            entries += [_Entry(f"report/report-v{report.version}.json", report.json_bytes),
                        _Entry(f"report/report-v{report.version}.pdf", report_pdf(s, report))]
        note = checkpoint.note
    entries += [_Entry(EVENTS, _jsonl(e.as_dict() for e in events)), _Entry(CHECKPOINT, note.encode()),
                _Entry(LOG_KEY, (log_key.signer.verifier.vkey + "\n").encode()), _Entry(PROOFS, _jsonl(proofs))]
    entries += _recordings(settings, session_id, events, result)
    with tempfile.TemporaryDirectory() as tmp:
        export_trust(store, Path(tmp), own)
        entries += [_Entry(f"trust/{p.relative_to(tmp).as_posix()}", p.read_bytes())
                    for p in sorted(Path(tmp).rglob("*")) if p.is_file()]
    result.events, result.leaves, result.checkpoint_size = len(events), len(proofs), checkpoint.size
    _write(out, session_id, format_time(store.clock.now()), entries, log_key, result)
    return result


def _recordings(settings: Settings, session_id: str, events: list[Any], result: ExportResult) -> list[_Entry]:
    """Each recorded track's manifest and the segments its events logged, as the coordinator has them."""
    tracks: dict[tuple[str, str], list[str]] = {}
    for kind, p in (line for ev in events for line in media_lines(ev.kind, ev.payload)):
        files = tracks.setdefault((p["publisher"], p["track"]), [])
        if kind == "media.segment_recorded":
            files.append(p["file"])
    entries = []
    for (publisher, track), files in sorted(tracks.items()):
        directory = recorded_track(settings, session_id, publisher, track)
        base = f"recordings/{path_name(publisher)}/{path_name(track)}"
        for name in [MANIFEST, *files]:
            if (directory / name).is_file():
                entries.append(_Entry(f"{base}/{name}", path=directory / name))
            else:
                result.problems.append(f"{base}/{name}: not on this coordinator's disk ({directory})")
    return entries


def _write(out: Path, session_id: str, exported_at: str, entries: list[_Entry], log_key: tlog.LogKey,
           result: ExportResult) -> None:
    index: dict[str, dict[str, Any]] = {}
    stamp = parse_time(exported_at).timetuple()[:6]  # zip times have no zone: UTC, as in the index
    part = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    with progress(f"exporting {out.name}", sum(e.size for e in entries)) as advance, \
            zipfile.ZipFile(part, "w") as zf:
        for entry in entries:
            digest = hashlib.sha256()
            media = entry.name.startswith("recordings/") and not entry.name.endswith(MANIFEST)
            info = zipfile.ZipInfo(entry.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED if media else zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as dst:
                chunks = [entry.data] if entry.data is not None else _chunks(entry.path)  # type: ignore[arg-type]
                size = 0
                for chunk in chunks:
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                    advance(len(chunk))
            index[entry.name] = {"sha256": digest.hexdigest(), "bytes": size}
            result.bytes += size
        body = _json({"format": FORMAT, "session_id": session_id, "exported_at": exported_at,
                      "checkpoint_size": result.checkpoint_size,
                      "log_origin": log_key.origin, "incomplete": result.problems, "files": index})
        zf.writestr(INDEX, body)
        zf.writestr(INDEX_SIGNATURE, sign_note(index_note_text(session_id, hashlib.sha256(body).hexdigest()),
                                               log_key.signer))
    with part.open("rb") as f:
        os.fsync(f.fileno())
    part.replace(out)
    result.files = len(index)


def _chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as f:
        yield from iter(lambda: f.read(1 << 20), b"")
