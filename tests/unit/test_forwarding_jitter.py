"""The relay's jitter buffer (media/passthrough.py): a video frame is handed on at its last packet (the RTP
marker bit), not when the next frame begins; a frame whose marker was lost is complete when the next frame
starts; a gap holds what follows until it is filled; an audio packet goes at once."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from media.passthrough import ForwardingJitterBuffer


def rtp(seq: int, ts: int, data: bytes, marker: bool = False) -> RtpPacket:
    packet = RtpPacket(sequence_number=seq, timestamp=ts, marker=int(marker))
    packet._data = data  # type: ignore[attr-defined]  # the depayloaded bytes, as aiortc's receiver sets them
    return packet


def test_a_video_frame_goes_at_its_marker() -> None:
    jb = ForwardingJitterBuffer(64, is_video=True)
    assert jb.add(rtp(100, 3000, b"a"))[1] is None
    frame = jb.add(rtp(101, 3000, b"b", marker=True))[1]
    assert frame is not None and (frame.data, frame.timestamp) == (b"ab", 3000)
    assert jb.add(rtp(102, 6000, b"c", marker=True))[1].data == b"c"  # type: ignore[union-attr]


def test_a_lost_marker_and_a_gap() -> None:
    jb = ForwardingJitterBuffer(64, is_video=True)
    jb.add(rtp(10, 100, b"x"))  # its marker packet never comes
    frame = jb.add(rtp(11, 200, b"y"))[1]  # the next frame begins: the first is complete as it stands
    assert frame is not None and frame.data == b"x"
    assert jb.add(rtp(13, 200, b"w", marker=True))[1] is None  # 12 is missing: wait for it
    late = jb.add(rtp(12, 200, b"z"))[1]
    assert late is not None and late.data == b"yzw"


def test_audio_packets_go_at_once() -> None:
    jb = ForwardingJitterBuffer(64, is_video=False)
    assert jb.add(rtp(1, 960, b"o1"))[1].data == b"o1"  # type: ignore[union-attr]
    assert jb.add(rtp(2, 1920, b"o2"))[1].data == b"o2"  # type: ignore[union-attr]
