"""Recording a track into closed, hashed segments (media/recorder.py, media/manifest.py): the segments play in
ffprobe with the expected duration, every hash matches the chained manifest, a change to any segment or line
is found, a crash loses at most the open segment and leaves a marked gap, a reconnect is a marked gap."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
from timebase import T0

from evalroom.clock import format_time
from media.manifest import MANIFEST, ManifestError, read_manifest, verify_manifest
from media.recorder import TrackRecorder, vp8_keyframe_size
from media.sources import opus_packets, vp8_packets


def ffprobe_duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["format"]["duration"])


def decoded_frames(path: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "0", "-show_entries",
                          "stream=nb_read_frames", "-of", "json", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def record_video(directory: Path, seconds: float, **kwargs: object) -> TrackRecorder:
    rec = TrackRecorder(directory, publisher="venue-A/cam1", kind="video", codec="vp8", clock_rate=90000,
                        segment_seconds=2.0, **kwargs)  # type: ignore[arg-type]
    for data, pts, _ in vp8_packets(seconds, keyframe_every=30):
        rec.write(data, pts, arrival=T0 + dt.timedelta(seconds=pts / 90000))
    return rec


def test_video_is_cut_at_key_frames_into_segments_that_play(tmp_path: Path) -> None:
    rec = record_video(tmp_path, 7.0)
    rec.seal()
    segments = [e for e in read_manifest(tmp_path) if e["type"] == "segment"]
    assert len(segments) == 4  # 0-2, 2-4, 4-6, 6-7 s: cut at the key frame every second after 2 s
    for seg in segments:
        path = tmp_path / seg["file"]
        assert vp8_keyframe_size(path.read_bytes()) is None  # a WebM container, not a raw frame
        frames = decoded_frames(path)
        assert frames == seg["packets"]  # every frame decodes: each segment starts at a key frame
        expected = (seg["last_pts"] - seg["first_pts"]) / 90000 + 1 / 30
        assert ffprobe_duration(path) == pytest.approx(expected, abs=0.05)
    assert sum(s["packets"] for s in segments) == 210
    assert segments[0]["wallclock_start"] == format_time(T0)
    report = verify_manifest(tmp_path)
    assert report.ok and report.sealed and report.segments == 4, report.problems


def test_audio_segments_play_with_the_expected_duration(tmp_path: Path) -> None:
    rec = TrackRecorder(tmp_path, publisher="venue-A/mic1", kind="audio", codec="opus", clock_rate=48000,
                        segment_seconds=2.0)
    for data, pts in opus_packets(5.0):
        rec.write(data, pts, arrival=T0 + dt.timedelta(seconds=pts / 48000))
    rec.seal()
    segments = [e for e in read_manifest(tmp_path) if e["type"] == "segment"]
    assert len(segments) == 3
    total = sum(ffprobe_duration(tmp_path / s["file"]) for s in segments)
    assert total == pytest.approx(5.0, abs=0.1)
    assert verify_manifest(tmp_path).ok


def test_a_changed_segment_or_manifest_line_is_found(tmp_path: Path) -> None:
    record_video(tmp_path, 5.0).seal()
    segments = [e for e in read_manifest(tmp_path) if e["type"] == "segment"]
    victim = tmp_path / segments[1]["file"]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    report = verify_manifest(tmp_path)
    assert not report.files_ok and report.problems == [f"{segments[1]['file']}: does not match its hash"]
    # A line dropped from the manifest breaks the chain even with the files put right.
    lines = (tmp_path / MANIFEST).read_text().splitlines()
    (tmp_path / MANIFEST).write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    assert not verify_manifest(tmp_path).chain_ok


def test_a_crash_loses_at_most_the_open_segment_and_marks_it(tmp_path: Path) -> None:
    rec = record_video(tmp_path, 5.0)  # segments 1 and 2 closed; segment 3 (4-5 s) open, never closed
    rec._segment.container.close()  # what the kernel leaves of a killed process: a file that is not a segment
    del rec
    closed = [e for e in read_manifest(tmp_path) if e["type"] == "segment"]
    assert len(closed) == 2 and (tmp_path / "seg-000003.webm.part").exists()
    after = TrackRecorder(tmp_path, publisher="venue-A/cam1", kind="video", codec="vp8", clock_rate=90000,
                          segment_seconds=2.0, now=lambda: T0 + dt.timedelta(seconds=9))
    gap = read_manifest(tmp_path)[-1]
    assert gap["type"] == "gap" and gap["reason"] == "lost" and gap["file"] == "seg-000003.webm.lost"
    assert gap["from"] == closed[-1]["wallclock_end"] and gap["to"] == format_time(T0 + dt.timedelta(seconds=9))
    for data, pts, _ in vp8_packets(2.5, keyframe_every=30):  # the publisher again, its clock from 0
        after.write(data, pts, arrival=T0 + dt.timedelta(seconds=10 + pts / 90000))
    after.seal()
    entries = read_manifest(tmp_path)
    assert [e["index"] for e in entries if e["type"] == "segment"] == [1, 2, 4, 5]
    report = verify_manifest(tmp_path)
    assert report.ok and report.gaps == 1 and report.sealed


def test_a_reconnect_is_a_marked_gap_and_a_sealed_manifest_takes_nothing_more(tmp_path: Path) -> None:
    rec = record_video(tmp_path, 3.0)
    rec.gap("reconnect", rec.last_arrival, T0 + dt.timedelta(seconds=20))
    for data, pts, _ in vp8_packets(1.0, keyframe_every=30):
        rec.write(data, pts, arrival=T0 + dt.timedelta(seconds=20 + pts / 90000))
    rec.seal()
    kinds = [e["type"] for e in read_manifest(tmp_path)]
    assert kinds == ["segment", "segment", "gap", "segment", "seal"]
    with pytest.raises(ManifestError):
        TrackRecorder(tmp_path, publisher="venue-A/cam1", kind="video", codec="vp8", clock_rate=90000)
