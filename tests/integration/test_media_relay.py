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
        # About 4 s of media, however long a loaded machine takes to encode it (a fixed 4 s sleep recorded 2.9 s
        # of video when both cores were busy).
        await until(lambda: len(sub.got["video"]) >= 115 and len(sub.got["audio"]) >= 190, timeout=60,
                    what="about 4 s of media at the subscriber")
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


def test_a_venue_source_encodes_once_records_locally_and_answers_key_frame_requests(tmp_path: Path) -> None:
    """media/publisher.py's EncodedSource: the packets it sends are the packets it records as the venue's
    backup; the relay's key-frame requests (a subscriber joining, segment cuts) reach its encoder, whose own
    key frames come only every 3,000 frames."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from media.publisher import EncodedSource, SourceSpec
    from media.recorder import TrackRecorder

    async def scenario() -> tuple[int, int]:
        relay = Relay(tmp_path / "host", segment_seconds=1.0)
        backup = TrackRecorder(tmp_path / "guest" / "cam", publisher="XA/R1/cam", kind="video", codec="vp8",
                               clock_rate=90000, segment_seconds=1.0)
        source = EncodedSource(SourceSpec("R1/cam", "video", "testsrc2=size=640x360:rate=30", 640, 360, 30),
                               backup)
        pc = RTCPeerConnection()
        sender = pc.addTrack(source)
        await pc.setLocalDescription(await pc.createOffer())
        answer = await relay.publish("s", "XA/R1/cam", {"sdp": pc.localDescription.sdp,
                                                         "type": pc.localDescription.type})
        await pc.setRemoteDescription(RTCSessionDescription(**answer))

        async def forward_plis() -> None:
            from media.passthrough import keyframe_requested
            while True:
                if keyframe_requested(sender):
                    source.request_keyframe()
                await asyncio.sleep(0.05)

        plis = asyncio.ensure_future(forward_plis())
        await until(lambda: relay.feeds("s") and relay.feeds("s")[0]["packets"] > 0, what="packets at the relay")
        sub = await subscribe(relay, "s", "XA/R1/cam", "JN")
        await until(lambda: len(sub.got["video"]) > 60 and source.sent > 100 and relay.feeds("s")[0]["packets"] > 0,
                    timeout=60, what="the subscriber's frames and the encoder's packets")
        await asyncio.sleep(1.5)  # a segment cut or two more, at requested key frames
        plis.cancel()
        await relay.close_room("s")
        await pc.close()
        source.stop()
        backup.seal()
        await sub.pc.close()
        return len(sub.got["video"]), source.sent

    frames, sent = asyncio.run(scenario())
    assert frames > 60 and sent > 100
    host = verify_manifest(tmp_path / "host" / "s" / "XA_R1_cam" / "video-1")
    guest = verify_manifest(tmp_path / "guest" / "cam")
    assert host.ok and guest.ok
    assert host.segments >= 3 and guest.segments >= 3  # cut at requested key frames, not every 100 s


def test_a_publisher_that_reconnects_continues_its_recording_after_a_marked_gap(tmp_path: Path) -> None:
    async def scenario() -> None:
        relay = Relay(tmp_path, segment_seconds=1.0)
        first = await publish(relay, "s", "XA/R1/cam")
        await until(lambda: relay.feeds("s") and all(f["packets"] > 30 for f in relay.feeds("s")),
                    what="media before the drop")
        await first.close()  # the venue's link drops
        await asyncio.sleep(1.0)
        again = await publish(relay, "s", "XA/R1/cam")
        await until(lambda: relay.feeds("s") and all(f["packets"] > 30 for f in relay.feeds("s")),
                    what="media after the reconnect")
        await relay.close_room("s")
        await again.close()

    asyncio.run(scenario())
    for track in ("video-1", "audio-1"):
        entries = read_manifest(tmp_path / "s" / "XA_R1_cam" / track)
        gaps = [e for e in entries if e["type"] == "gap"]
        assert [g["reason"] for g in gaps] == ["reconnect"], entries
        before = [e for e in entries if e["type"] == "segment" and e["seq"] < gaps[0]["seq"]]
        after = [e for e in entries if e["type"] == "segment" and e["seq"] > gaps[0]["seq"]]
        assert before and after and gaps[0]["from"] <= gaps[0]["to"] <= after[0]["wallclock_start"]
        assert verify_manifest(tmp_path / "s" / "XA_R1_cam" / track).ok
