"""Publishing a venue's cameras and microphones: the site agent's side of the media room.

:class:`EncodedSource` is a track that encodes itself: it reads a source through PyAV (a lavfi pattern or
tone, a capture device, an RTSP camera URL, a file), encodes VP8 (libvpx, real-time) or Opus, paces the
frames in real time, and yields ``av.Packet``s, which aiortc's sender sends as they are. Because the packets
exist here, the venue records exactly what it sent, as its local backup (media/recorder.py), and a key frame
the relay asks for (a subscriber joined, a segment is to be cut) is made by this encoder.

:class:`RoomPublisher` joins a session's media room on the coordinator (``/sessions/{id}/media/ws``, with a
token the site link gave the agent) and publishes the sources, one peer connection per source; when the
connection drops it publishes again (the relay marks the gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fractions
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import av
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from media.passthrough import keyframe_requested
from media.recorder import TrackRecorder
from media.relay import CODECS

__all__ = ["EncodedSource", "RoomPublisher", "SourceSpec"]

log = logging.getLogger(__name__)
LAVFI = ("testsrc", "testsrc2", "sine", "smptebars", "color")


@dataclass(frozen=True)
class SourceSpec:
    """One camera or microphone of a venue: ``name`` (e.g. ``R1/cam``), ``kind`` and where it comes from."""

    name: str
    kind: str
    source: str
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate: int = 1_500_000


def _open(source: str) -> av.container.InputContainer:
    if source.startswith(LAVFI):
        return av.open(source, format="lavfi")
    if source.startswith("/dev/video"):
        return av.open(source, format="v4l2")
    return av.open(source, options={"rtsp_transport": "tcp"} if source.startswith("rtsp://") else {})


class EncodedSource(MediaStreamTrack):
    """A source encoded here, in real time, as ``av.Packet``s; each also written to ``recorder`` if given."""

    def __init__(self, spec: SourceSpec, recorder: TrackRecorder | None = None) -> None:
        super().__init__()
        self.kind = spec.kind
        self.spec, self.recorder = spec, recorder
        self._force_key = False
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize=64)
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def request_keyframe(self) -> None:
        self._force_key = True

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._produce())

    async def _produce(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._encode_loop, loop)
        finally:
            self._offer(None)

    def _encode_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Decode the source, encode, pace to real time; runs in a thread (encoding must not hold the loop)."""
        spec = self.spec
        video = spec.kind == "video"
        encoder = av.CodecContext.create("libvpx" if video else "libopus", "w")
        if video:
            encoder.width, encoder.height, encoder.pix_fmt = spec.width, spec.height, "yuv420p"
            encoder.time_base = fractions.Fraction(1, 90000)
            encoder.bit_rate = spec.bitrate
            encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "g": "3000",
                               "error-resilient": "1"}
            resampler = None
        else:
            encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
            encoder.time_base = fractions.Fraction(1, 48000)
            resampler = av.AudioResampler(format="s16", layout="stereo", rate=48000, frame_size=960)
        container = _open(spec.source)
        started, produced = time.monotonic(), 0
        try:
            for frame in container.decode(video=0) if video else container.decode(audio=0):
                if self.readyState != "live":
                    return
                if video:
                    frame = frame.reformat(width=spec.width, height=spec.height, format="yuv420p")
                    frame.pts, frame.time_base = produced * 90000 // spec.fps, fractions.Fraction(1, 90000)
                    if self._force_key:
                        self._force_key = False
                        frame.pict_type = av.video.frame.PictureType.I
                    chunks, due = [frame], produced / spec.fps
                    produced += 1
                else:
                    chunks = []
                    for chunk in resampler.resample(frame):  # type: ignore[union-attr]
                        chunk.pts = produced
                        produced += chunk.samples
                        chunks.append(chunk)
                    due = produced / 48000
                for chunk in chunks:
                    for packet in encoder.encode(chunk):
                        if packet.pts is None or packet.pts < 0:
                            continue
                        self._deliver(loop, packet)
                wait = started + due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        finally:
            container.close()

    def _deliver(self, loop: asyncio.AbstractEventLoop, packet: av.Packet) -> None:
        data = bytes(packet)
        if self.recorder is not None:
            try:
                self.recorder.write(data, int(packet.pts), keyframe=packet.is_keyframe,
                                    arrival=dt.datetime.now(dt.UTC))
                if self.recorder.wants_keyframe:  # the local segment is long enough: cut at the next frame
                    self._force_key = True
            except Exception:  # the backup must never stop the publishing
                log.exception("local recording of %s failed", self.spec.name)
        out = av.Packet(data)
        out.pts, out.time_base, out.is_keyframe = packet.pts, packet.time_base, packet.is_keyframe
        with contextlib.suppress(RuntimeError):  # the loop closed: the agent is stopping
            loop.call_soon_threadsafe(self._offer, out)

    def _offer(self, packet: av.Packet | None) -> None:
        """Queue a packet for the sender without ever holding up the encoder (and with it the venue's
        backup): while nobody sends — the coordinator unreachable — the oldest packets make room."""
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        self._start()
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        self.sent += 1
        return packet

    def stop(self) -> None:
        super().stop()


class RoomPublisher:
    """Keeps ``sources`` published in one session's media room until :meth:`stop`."""

    def __init__(self, url: str, token: Callable[[], Awaitable[str]], sources: list[EncodedSource],
                 ice_servers: list[dict[str, Any]] | None = None) -> None:
        self.url, self.token, self.sources = url, token, sources
        self.ice_servers = ice_servers
        self._stop = asyncio.Event()
        self.connections = 0
        self.last_error: str | None = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                await self._session()
                backoff = 0.5
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError, RuntimeError, ValueError) as exc:
                self.last_error = str(exc)
                log.warning("media room %s: %s; publishing again in %.1f s", self.url, exc, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), backoff)
            backoff = min(backoff * 2, 10)

    async def _session(self) -> None:
        async with connect(self.url, open_timeout=10) as ws:
            await ws.send(json.dumps({"type": "join", "token": await self.token()}))
            joined = json.loads(await ws.recv())
            if joined.get("type") != "joined":
                raise RuntimeError(f"the media room refused: {joined.get('error')}")
            ice = self.ice_servers if self.ice_servers is not None else joined.get("ice_servers", [])
            config = RTCConfiguration(iceServers=[RTCIceServer(**s) for s in ice])
            pcs: list[tuple[RTCPeerConnection, RTCRtpSender, EncodedSource]] = []
            self.connections += 1
            try:
                for i, source in enumerate(self.sources, 1):
                    pc = RTCPeerConnection(config)
                    sender = pc.addTrack(source)
                    for t in pc.getTransceivers():
                        t.setCodecPreferences([c for c in RTCRtpSender.getCapabilities(t.kind).codecs
                                               if c.mimeType == CODECS[t.kind]])
                    pcs.append((pc, sender, source))
                    await pc.setLocalDescription(await pc.createOffer())
                    await ws.send(json.dumps({"type": "publish", "id": i, "name": source.spec.name, "offer": {
                        "sdp": pc.localDescription.sdp, "type": pc.localDescription.type}}))
                    reply = json.loads(await ws.recv())
                    while reply.get("id") != i:
                        reply = json.loads(await ws.recv())
                    if reply.get("type") != "answer":
                        raise RuntimeError(f"publishing {source.spec.name} refused: {reply.get('error')}")
                    await pc.setRemoteDescription(RTCSessionDescription(**reply["answer"]))
                waiter = asyncio.ensure_future(ws.wait_closed())
                while not self._stop.is_set() and not waiter.done():
                    for _, sender, source in pcs:  # a PLI from the relay asks this encoder for a key frame
                        if keyframe_requested(sender):
                            source.request_keyframe()
                    await asyncio.sleep(0.05)
                waiter.cancel()
            finally:
                for pc, _, _ in pcs:
                    await pc.close()
