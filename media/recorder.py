"""Recording one track into closed, hashed segments, without re-encoding.

:class:`TrackRecorder` takes the track's encoded packets as they arrive (``av.Packet``: VP8 frames or Opus
packets, with RTP timestamps as ``pts``) and muxes them, as they are, into WebM segments of about
``segment_seconds``. A video segment starts at a key frame: once a segment is long enough the recorder asks
for one (:attr:`TrackRecorder.wants_keyframe`; the relay turns that into a PLI to the publisher) and cuts there.

Crash safety: the open segment is written as ``seg-NNNNNN.webm.part``; closing it flushes and fsyncs the file,
renames it, fsyncs the directory, hashes it, and appends its line to the manifest (fsynced) — only then is the
segment recorded. A SIGKILL loses at most the open segment; the next recorder on the directory finds the
``.part`` and marks the time it covered as a ``lost`` gap (media/manifest.py). A publisher's reconnect is a
``reconnect`` gap. The manifest is sealed at the end.

Each segment's timestamps start at 0 in its own file; the manifest keeps the RTP ``first_pts``/``last_pts``
and the wall-clock arrival of the first and last packets, which place it on the session's one timeline.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.manifest import ManifestWriter, fsync_path, sha256_file

__all__ = ["TrackRecorder", "vp8_keyframe_size", "wall_clock"]

SEGMENT_SECONDS = 4.0


def vp8_keyframe_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 key frame's header (RFC 6386 §9.1), or None if not a key frame."""
    if len(data) < 10 or data[0] & 0x01 or data[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(data[6:8], "little") & 0x3FFF, int.from_bytes(data[8:10], "little") & 0x3FFF


def wall_clock() -> dt.datetime:
    """The machine's clock in UTC: the media clock in production. Media servers (Janus) stamp packets with the
    machine's clock too, and venues' anchors line up only on one synchronised (NTP) timeline; tests inject
    their own clock instead."""
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Segment:
    def __init__(self, path: Path, kind: str, codec: str, time_base: Fraction, size: tuple[int, int] | None,
                 first_pts: int, arrival: dt.datetime) -> None:
        self.path, self.first_pts, self.last_pts = path, first_pts, first_pts
        self.wallclock_start = self.wallclock_end = arrival
        self.time_base = time_base
        self.packets = 0
        self.container = av.open(str(path), "w", format="webm")
        if kind == "video":
            self.stream = self.container.add_stream("libvpx" if codec == "vp8" else codec, rate=30)
            assert size is not None
            self.stream.width, self.stream.height = size
        else:
            self.stream = self.container.add_stream("libopus", rate=48000)
            self.stream.layout = "stereo"
        self.stream.time_base = time_base

    def write(self, data: bytes, pts: int, keyframe: bool, arrival: dt.datetime) -> None:
        packet = av.Packet(data)
        packet.pts = packet.dts = pts - self.first_pts
        packet.time_base = self.time_base
        packet.stream = self.stream
        if keyframe:
            packet.is_keyframe = True
        self.container.mux(packet)
        self.last_pts, self.wallclock_end = pts, arrival
        self.packets += 1

    def seconds(self, pts: int) -> float:
        return float((pts - self.first_pts) * self.time_base)

    def close(self) -> Path:
        self.container.close()
        fsync_path(self.path)
        final = self.path.with_suffix("")  # seg-NNNNNN.webm.part -> seg-NNNNNN.webm
        os.replace(self.path, final)
        fsync_path(final.parent)
        return final


class TrackRecorder:
    """Records one track of one publisher into ``directory`` (its segments and manifest)."""

    def __init__(self, directory: Path, *, publisher: str, kind: str, codec: str, clock_rate: int,
                 segment_seconds: float = SEGMENT_SECONDS,
                 now: Callable[[], dt.datetime] = wall_clock,
                 on_entry: Callable[[dict[str, Any]], None] | None = None) -> None:
        """``on_entry`` is told every manifest line once it is durable (a closed segment, a gap, the seal)."""
        self.directory, self.kind, self.codec = directory, kind, codec
        self.on_entry = on_entry or (lambda _: None)
        self.time_base = Fraction(1, clock_rate)
        self.segment_seconds, self.now = segment_seconds, now
        self.manifest = ManifestWriter(directory, {"publisher": publisher, "kind": kind, "codec": codec,
                                                   "clock_rate": clock_rate})
        self._segment: _Segment | None = None
        self._index = max((e["index"] for e in self.manifest.segments()), default=0)
        self._recover()
        self.last_arrival: dt.datetime | None = None

    def _recover(self) -> None:
        """A ``.part`` left by a crash: the time it covered is a ``lost`` gap; the file is kept beside."""
        for part in sorted(self.directory.glob("seg-*.webm.part")):
            lost = part.with_name(part.name.replace(".part", ".lost"))
            os.replace(part, lost)
            last = next((e for e in reversed(self.manifest.entries) if e["type"] == "segment"), None)
            self._append({"type": "gap", "reason": "lost", "from": last["wallclock_end"] if last else None,
                                  "to": _iso(self.now()), "file": lost.name, "bytes": lost.stat().st_size})
            self._index = max(self._index, int(part.name[4:10]))

    @property
    def wants_keyframe(self) -> bool:
        """A video segment is long enough and waits for a key frame to cut at (ask the publisher for one)."""
        seg = self._segment
        return self.kind == "video" and seg is not None and seg.seconds(seg.last_pts) >= self.segment_seconds

    def write(self, data: bytes, pts: int, *, keyframe: bool = False, arrival: dt.datetime | None = None) -> None:
        arrival = arrival or self.now()
        self.last_arrival = arrival
        if self.kind == "video":
            size = vp8_keyframe_size(data) if self.codec == "vp8" else None
            keyframe = keyframe or size is not None
        else:
            size, keyframe = None, True
        seg = self._segment
        if seg is not None and pts < seg.last_pts:
            self.close_segment()  # the publisher's clock started again (a new stream): a new segment
            seg = None
        if seg is not None and keyframe and seg.seconds(pts) >= self.segment_seconds:
            self.close_segment()
            seg = None
        if seg is None:
            if self.kind == "video" and size is None:
                return  # a video segment must begin with a key frame; wants_keyframe asks for one
            self._index += 1
            seg = self._segment = _Segment(self.directory / f"seg-{self._index:06d}.webm.part", self.kind,
                                           self.codec, self.time_base, size, pts, arrival)
        seg.write(data, pts, keyframe, arrival)

    @property
    def waiting_for_keyframe(self) -> bool:
        return self.kind == "video" and self._segment is None

    def close_segment(self) -> dict[str, Any] | None:
        seg, self._segment = self._segment, None
        if seg is None:
            return None
        final = seg.close()
        return self._append({
            "type": "segment", "index": self._index, "file": final.name, "sha256": sha256_file(final),
            "bytes": final.stat().st_size, "packets": seg.packets, "first_pts": seg.first_pts,
            "last_pts": seg.last_pts, "time_base": f"1/{self.time_base.denominator}",
            "wallclock_start": _iso(seg.wallclock_start), "wallclock_end": _iso(seg.wallclock_end)})

    def gap(self, reason: str, start: dt.datetime | None, end: dt.datetime) -> dict[str, Any]:
        """Mark time without media (a reconnect); the open segment is closed first."""
        self.close_segment()
        return self._append({"type": "gap", "reason": reason, "from": _iso(start) if start else None,
                                     "to": _iso(end)})

    def seal(self) -> dict[str, Any]:
        self.close_segment()
        line = self.manifest.seal()
        self.on_entry(line)
        return line

    def _append(self, entry: dict[str, Any]) -> dict[str, Any]:
        line = self.manifest.append(entry)
        self.on_entry(line)
        return line
