"""The hash-chained manifest of one recorded track: what a recording is, provably, after the fact.

A track's recording is a directory of closed segments (a few seconds each, written without re-encoding) and
``manifest.jsonl``, one JSON object per line, each line chained to the one before:

- ``{"type": "segment", "index", "file", "sha256", "bytes", "first_pts", "last_pts", "time_base",
  "wallclock_start", "wallclock_end", "keyframe_start", ...}`` — a closed segment. ``wallclock_*`` are the
  UTC arrival times (ISO 8601, microseconds) of its first and last packets: the anchor that puts every track
  of every venue on one timeline.
- ``{"type": "gap", "from", "to", "reason"}`` — time with no media: a publisher's reconnect, or a segment lost
  in a crash (``reason: "lost"``, with the bytes that were found half-written). A gap is marked, not hidden.
- ``{"type": "seal", "segments", "gaps", "last_sha256"}`` — the end: nothing may follow.

Every line carries ``seq`` (1, 2, ...), ``prev`` (the previous line's ``hash``; 64 zeros for the first) and
``hash`` = SHA-256 of the line's canonical JSON without ``hash``. Changing, dropping, reordering or inserting a
line, or changing a segment file, is found by :func:`verify_manifest`. The first line also names the track
(``track``: publisher, kind, codec).

Plain Python: no aiortc, no PyAV; the recorder (media/recorder.py) writes with :class:`ManifestWriter`, which
fsyncs each line before the segment counts as recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "MANIFEST", "path_name", "ManifestError", "ManifestReport", "ManifestWriter", "entry_hash", "fsync_path",
           "read_manifest", "sha256_file", "track_directory", "verify_manifest"]

GENESIS = "0" * 64
MANIFEST = "manifest.jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def path_name(name: str) -> str:
    """A room, publisher or track name as a directory name (``JN-GGZY/R1/cam`` → ``JN-GGZY_R1_cam``): the one
    rule the relay, Janus, the venues' backups and their reconciliation share."""
    return _UNSAFE.sub("_", name)[:80] or "_"


def track_directory(root: Path, room: str, publisher: str, track: str) -> Path:
    """Where a recorder keeps a track of a room (a session), embedded relay and Janus alike:
    ``root/<room>/<publisher>/<track>``, each part through :func:`path_name`."""
    return root / path_name(room) / path_name(publisher) / path_name(track)


class ManifestError(Exception):
    """The manifest cannot be appended to (sealed, or its chain is broken)."""


def _canonical(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory, so that a rename or a new file in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(directory: Path) -> list[dict[str, Any]]:
    """The manifest's lines. A last line cut short by a crash (no newline, not JSON) is not a line."""
    path = directory / MANIFEST
    if not path.exists():
        return []
    entries = []
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            entries.append(json.loads(raw))
        except ValueError:
            break  # a torn final write; verify_manifest reports the chain as it stands
    return entries


class ManifestWriter:
    """Appends chained lines to a track's manifest, each fsynced before :meth:`append` returns."""

    def __init__(self, directory: Path, track: Mapping[str, Any]) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.entries = read_manifest(directory)
        report = verify_manifest(directory, check_files=False)
        if not report.chain_ok:
            raise ManifestError(f"{directory}: the manifest's chain is broken: {report.problems}")
        if self.entries and self.entries[-1]["type"] == "seal":
            raise ManifestError(f"{directory}: the manifest is sealed")
        self.track = dict(track)
        path = directory / MANIFEST
        if path.exists() and not path.read_bytes().endswith(b"\n"):  # drop a torn last line
            good = b"".join(_canonical(e) + b"\n" for e in self.entries)
            path.write_bytes(good)
            fsync_path(path)

    @property
    def last_hash(self) -> str:
        return self.entries[-1]["hash"] if self.entries else GENESIS

    @property
    def sealed(self) -> bool:
        return bool(self.entries) and self.entries[-1]["type"] == "seal"

    def segments(self) -> Iterator[dict[str, Any]]:
        return (e for e in self.entries if e["type"] == "segment")

    def append(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        if self.sealed:
            raise ManifestError("the manifest is sealed")
        line: dict[str, Any] = {**entry, "seq": len(self.entries) + 1, "prev": self.last_hash}
        if not self.entries:
            line["track"] = self.track
        line["hash"] = entry_hash(line)
        path = self.directory / MANIFEST
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, _canonical(line) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        if len(self.entries) == 0:
            fsync_path(self.directory)
        self.entries.append(line)
        return line

    def seal(self) -> dict[str, Any]:
        segments = [e for e in self.entries if e["type"] == "segment"]
        return self.append({"type": "seal", "segments": len(segments),
                            "gaps": sum(e["type"] == "gap" for e in self.entries),
                            "last_sha256": segments[-1]["sha256"] if segments else None})


@dataclass
class ManifestReport:
    entries: int = 0
    segments: int = 0
    gaps: int = 0
    sealed: bool = False
    chain_ok: bool = True
    files_ok: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain_ok and self.files_ok


def verify_manifest(directory: Path, *, check_files: bool = True) -> ManifestReport:
    """Check the chain line by line and, with ``check_files``, every segment file against its hash and size."""
    report = ManifestReport()
    prev = GENESIS
    entries = read_manifest(directory)
    for i, entry in enumerate(entries, 1):
        report.entries += 1
        if entry.get("seq") != i or entry.get("prev") != prev or entry.get("hash") != entry_hash(entry):
            report.chain_ok = False
            report.problems.append(f"line {i}: the chain is broken (changed, dropped, inserted or reordered)")
            break
        prev = entry["hash"]
        if report.sealed:
            report.chain_ok = False
            report.problems.append(f"line {i}: follows the seal")
        kind = entry.get("type")
        if kind == "segment":
            report.segments += 1
            if check_files:
                path = directory / entry["file"]
                if not path.is_file():
                    report.files_ok = False
                    report.problems.append(f"{entry['file']}: missing")
                elif path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
                    report.files_ok = False
                    report.problems.append(f"{entry['file']}: does not match its hash")
        elif kind == "gap":
            report.gaps += 1
        elif kind == "seal":
            report.sealed = True
    return report
