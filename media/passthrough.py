"""Receiving encoded frames from aiortc without decoding them: the adapter the relay stands on.

aiortc's ``RTCRtpReceiver`` re-assembles frames in its jitter buffer and hands each to ``decoder_worker``, a
thread that decodes it and queues the decoded frames on the ``RemoteStreamTrack``. The relay has no use for
decoded frames: it forwards and records what the publisher encoded. For a track marked with
:func:`keep_encoded` (in the ``track`` event, before the receiver starts), the worker installed here queues each
encoded frame as an ``av.Packet`` instead — ``pts`` the frame's RTP timestamp (aiortc maps each stream to start
at 0), ``time_base`` 1/clock rate, VP8 key frames flagged — and every other track is decoded as before.
aiortc's ``RTCRtpSender`` sends an ``av.Packet`` it receives from a track by packetizing it without encoding
(``encoder.pack``), so a relay built on this neither decodes nor encodes.

For the same reason the receiver's jitter buffer is replaced (:class:`ForwardingJitterBuffer`): a relay passes
a frame on when its last packet is in, not when the next frame begins.

The patch reaches into aiortc's internals, so it is pinned: :data:`AIORTC_VERSION` is the version it was
written and tested against, and :func:`install` refuses any other (tests/integration/test_media_relay.py
shows it working end to end).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import weakref
from fractions import Fraction
from typing import Any

import aiortc
import av
from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamTrack

__all__ = ["AIORTC_VERSION", "ForwardingJitterBuffer", "install", "keep_encoded", "keyframe_requested",
           "request_keyframe"]

AIORTC_VERSION = "1.16.0"
_decoded_worker = rtcrtpreceiver.decoder_worker
_encoded_queues: weakref.WeakSet[asyncio.Queue[Any]] = weakref.WeakSet()
_installed = False


def _worker(loop: asyncio.AbstractEventLoop, input_q: queue.Queue[Any], output_q: asyncio.Queue[Any],
            decode_error: threading.Event) -> None:
    if output_q not in _encoded_queues:
        _decoded_worker(loop, input_q, output_q, decode_error)
        return
    while True:
        task = input_q.get()
        if task is None:
            asyncio.run_coroutine_threadsafe(output_q.put(None), loop)
            return
        codec, frame = task
        packet = av.Packet(frame.data)
        packet.pts = packet.dts = frame.timestamp
        packet.time_base = Fraction(1, codec.clockRate)
        if codec.name.upper() == "VP8" and frame.data and not frame.data[0] & 0x01:
            packet.is_keyframe = True
        asyncio.run_coroutine_threadsafe(output_q.put(packet), loop)


class ForwardingJitterBuffer(JitterBuffer):
    """Hands a frame on as soon as it is complete — a video frame at its last packet (the RTP marker bit), an
    audio packet at once — where aiortc's buffer waits for the next frame's first packet (a frame interval,
    33 ms at 30 fps) and prefetches audio for its decoder. A packet missing still holds the frames behind it
    until it arrives or the buffer gives up on it, as before."""

    def __init__(self, capacity: int, *, is_video: bool) -> None:
        super().__init__(capacity, prefetch=0, is_video=is_video)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self.capacity]  # type: ignore[operator]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:  # the frame ended without its marker (lost): it is complete
                self.remove(count)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
            packets.append(packet)
            if packet.marker or not self._is_video:
                self.remove(count + 1)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
        return None


def install() -> None:
    """Put the pass-through worker in place (idempotent). Refuses an aiortc it was not written for."""
    global _installed
    if aiortc.__version__ != AIORTC_VERSION:
        raise RuntimeError(f"media.passthrough is written for aiortc {AIORTC_VERSION}, not {aiortc.__version__}: "
                           "check RTCRtpReceiver's decoder_worker and RTCRtpSender's pack path, then update the pin")
    if not _installed:
        rtcrtpreceiver.decoder_worker = _worker  # type: ignore[assignment]
        _installed = True


def keep_encoded(track: MediaStreamTrack, receiver: aiortc.RTCRtpReceiver | None = None) -> None:
    """Have this remote track yield encoded ``av.Packet``s. Call it in the ``track`` event; given its
    receiver, frames are also handed on as soon as they are complete (:class:`ForwardingJitterBuffer`)."""
    install()
    _encoded_queues.add(track._queue)  # type: ignore[attr-defined]
    if receiver is not None:
        video = track.kind == "video"
        receiver._RTCRtpReceiver__jitter_buffer = ForwardingJitterBuffer(  # type: ignore[attr-defined]
            512 if video else 64, is_video=video)


async def request_keyframe(receiver: aiortc.RTCRtpReceiver) -> bool:
    """Ask the publisher for a key frame (RTCP PLI to each active source); False if none is active yet."""
    sources = receiver.getSynchronizationSources()
    for source in sources:
        await receiver._send_rtcp_pli(source.source)  # noqa: SLF001 — the one way to send a PLI in aiortc
    return bool(sources)


def keyframe_requested(sender: aiortc.RTCRtpSender) -> bool:
    """Whether a subscriber asked this sender for a key frame (a PLI or FIR), clearing the request: aiortc sets
    the flag for its encoder, which a forwarding sender does not use."""
    flag = "_RTCRtpSender__force_keyframe"
    if getattr(sender, flag, False):
        setattr(sender, flag, False)
        return True
    return False
