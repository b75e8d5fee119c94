"""Synthetic media, so that nothing needs a camera: lavfi test patterns and tones (FFmpeg's, through PyAV).

- :func:`player` — an aiortc ``MediaPlayer`` on a lavfi pattern and tone, what a venue without a camera (the
  demo, the tests) publishes; a device or an RTSP URL goes through the same ``MediaPlayer``.
- :func:`vp8_packets`, :func:`opus_packets` — encoded packets with RTP-clock timestamps, as the relay
  receives them, for testing and measuring the recorder alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
from aiortc.contrib.media import MediaPlayer

__all__ = ["opus_packets", "pattern", "player", "tone", "vp8_packets"]


def pattern(width: int = 1280, height: int = 720, fps: int = 30) -> str:
    """A moving test pattern with a running timestamp (lavfi ``testsrc2``)."""
    return f"testsrc2=size={width}x{height}:rate={fps}"


def tone(frequency: int = 440) -> str:
    return f"sine=frequency={frequency}:sample_rate=48000"


def player(source: str) -> MediaPlayer:
    """A ``MediaPlayer`` on a lavfi source (a pattern or a tone; aiortc paces it in real time), a device or a
    URL (``rtsp://...``)."""
    if source.startswith(("testsrc", "sine", "smptebars", "color")):
        return MediaPlayer(source, format="lavfi")
    return MediaPlayer(source)


def vp8_packets(seconds: float, *, width: int = 640, height: int = 360, fps: int = 30,
                keyframe_every: int = 60) -> Iterator[tuple[bytes, int, bool]]:
    """(VP8 frame, 90 kHz pts, key frame) for ``seconds`` of the test pattern."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 90000)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "g": str(keyframe_every)}
    source = av.open(pattern(width, height, fps), format="lavfi")
    total = int(seconds * fps)
    try:
        for i, frame in enumerate(source.decode(video=0)):
            if i >= total:
                break
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i * 90000 // fps, Fraction(1, 90000)
            for packet in encoder.encode(frame):
                yield bytes(packet), int(packet.pts), not (bytes(packet)[0] & 0x01)
    finally:
        source.close()


def opus_packets(seconds: float, source: str | None = None) -> Iterator[tuple[bytes, int]]:
    """(Opus packet of 20 ms, 48 kHz pts) for ``seconds`` of a tone (or another lavfi audio ``source``)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = Fraction(1, 48000)
    resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
    source_ = av.open(source or tone(), format="lavfi")
    samples, total = 0, int(seconds * 48000)
    try:
        for frame in source_.decode(audio=0):
            for chunk in resampler.resample(frame):
                chunk.pts = samples
                samples += chunk.samples
                for packet in encoder.encode(chunk):
                    if packet.pts is not None and packet.pts >= 0:
                        yield bytes(packet), int(packet.pts)
            if samples >= total:
                break
    finally:
        source_.close()
