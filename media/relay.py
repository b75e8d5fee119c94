"""The embedded relay: a selective forwarding unit on aiortc that neither decodes nor encodes.

A **publisher** (a venue's site agent, a browser at a seat) sends its tracks to the relay on one peer
connection; the relay answers with VP8 and Opus only. Each incoming track becomes a :class:`Feed`: its encoded
packets (media/passthrough.py) go to the track's recorder (media/recorder.py) and to every subscriber's
:class:`ForwardTrack`, which aiortc's sender packetizes as they are. A **subscriber** (another venue, a
supervisor) gets one peer connection per publisher, offered by the relay (the Janus videoroom pattern, so
both backends share one interface).

Key frames: the relay asks the publisher for one (RTCP PLI) when a subscriber joins — a new subscriber's
track waits for it before passing video on — when a subscriber's decoder asks (its PLI reaches the relay's
sender), and when the recorder wants to cut a segment.

Recording never blocks the event loop: each feed writes through a single-thread executor of its own (muxing,
and at each segment's close the fsyncs and the hash), which also keeps its packets in order. Every manifest
line (closed segment, gap, seal) is reported through ``on_record`` on the event loop's thread.

Recordings are laid out as ``<recordings>/<room>/<publisher>/<kind>-<n>/`` (the n-th track of that kind
the publisher sent); a publisher who reconnects continues its directories, with the time between marked as a
``reconnect`` gap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.manifest import track_directory
from media.passthrough import keep_encoded, keyframe_requested, request_keyframe
from media.recorder import SEGMENT_SECONDS, TrackRecorder, wall_clock

__all__ = ["ForwardTrack", "Relay", "RelayError"]

log = logging.getLogger(__name__)
CODECS = {"video": "video/VP8", "audio": "audio/opus"}
KEYFRAME_INTERVAL = 1.0
"""At most one key-frame request per feed per second."""


class RelayError(Exception):
    """A request the relay cannot serve (unknown room, publisher or subscription; bad SDP)."""



def _only(pc: RTCPeerConnection, capabilities: type[RTCRtpReceiver] | type[RTCRtpSender]) -> None:
    """Restrict every transceiver to VP8 (with its retransmissions) or Opus: what the recorder writes and what
    every browser and Janus speak."""
    for transceiver in pc.getTransceivers():
        kind = transceiver.kind
        codecs = [c for c in capabilities.getCapabilities(kind).codecs
                  if c.mimeType == CODECS[kind] or (kind == "video" and c.mimeType == "video/rtx")]
        transceiver.setCodecPreferences(codecs)


class ForwardTrack(MediaStreamTrack):
    """What one subscriber receives of one feed: the publisher's encoded packets, from a key frame on."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize=256)
        self._waiting_for_key = kind == "video"

    def put(self, packet: av.Packet | None) -> None:
        if packet is not None and self._waiting_for_key:
            if not packet.is_keyframe:
                return
            self._waiting_for_key = False
        if self._queue.full():  # a subscriber that cannot keep up loses old packets, never stalls the feed
            self._queue.get_nowait()
            self._waiting_for_key = self.kind == "video"
            return
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


@dataclass
class Feed:
    """One published track: its packets to the recorder and to every subscriber."""

    room: str
    publisher: str
    kind: str
    name: str
    track: MediaStreamTrack
    receiver: RTCRtpReceiver
    recorder: TrackRecorder
    pool: ThreadPoolExecutor
    now: Callable[[], dt.datetime]
    """The relay's media clock: each packet's arrival time, the wall-clock anchor of its segment."""
    subscribers: dict[str, tuple[ForwardTrack, RTCRtpSender]] = field(default_factory=dict)
    packets: int = 0
    _last_pli: float = 0.0

    async def keyframe(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.kind == "video" and (force or now - self._last_pli >= KEYFRAME_INTERVAL):
            self._last_pli = now
            await request_keyframe(self.receiver)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                packet = await self.track.recv()
            except MediaStreamError:
                break
            arrival = self.now()
            self.packets += 1
            loop.run_in_executor(self.pool, self._record, bytes(packet), packet.pts, packet.is_keyframe, arrival)
            for forward, _ in self.subscribers.values():
                forward.put(packet)
            if self.recorder.wants_keyframe or self.recorder.waiting_for_keyframe or any(
                    keyframe_requested(sender) for _, sender in self.subscribers.values()):
                await self.keyframe()
        for forward, _ in self.subscribers.values():
            forward.put(None)

    def _record(self, data: bytes, pts: int, keyframe: bool, arrival: dt.datetime) -> None:
        try:
            self.recorder.write(data, pts, keyframe=keyframe, arrival=arrival)
        except Exception:  # a recording failure must not stop the forwarding; it shows as a gap in the manifest
            log.exception("recording %s/%s/%s failed", self.room, self.publisher, self.name)


@dataclass
class _Publisher:
    pc: RTCPeerConnection
    feeds: list[Feed] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass
class _Subscription:
    room: str
    publisher: str
    subscriber: str
    pc: RTCPeerConnection
    feeds: list[Feed]


class Relay:
    """The relay's state and its operations; media/worker.py runs it in a process of its own."""

    def __init__(self, recordings: Path, *, segment_seconds: float = SEGMENT_SECONDS,
                 ice_servers: list[dict[str, Any]] | None = None,
                 on_record: Callable[[dict[str, Any]], None] | None = None,
                 now: Callable[[], dt.datetime] = wall_clock) -> None:
        """``now`` is the media clock that anchors every recorded segment and gap: the machine's clock by default,
        as Janus's own recordings are, so that tracks of every backend and venue line up on one (NTP) timeline."""
        self.recordings = recordings
        self.now = now
        self.segment_seconds = segment_seconds
        self.config = RTCConfiguration(iceServers=[RTCIceServer(**s) for s in ice_servers or []])
        self.on_record = on_record or (lambda _: None)
        self.publishers: dict[tuple[str, str], _Publisher] = {}
        self.subscriptions: dict[str, _Subscription] = {}
        self.recorders: dict[tuple[str, str, str], tuple[TrackRecorder, ThreadPoolExecutor]] = {}

    # --- publishing ----------------------------------------------------------------------------------------
    def _recorder(self, room: str, publisher: str, name: str, kind: str, codec: str, clock_rate: int
                  ) -> tuple[TrackRecorder, ThreadPoolExecutor]:
        key = (room, publisher, name)
        if key not in self.recorders:
            loop = asyncio.get_running_loop()
            info = {"room": room, "publisher": publisher, "track": name}

            def report(entry: dict[str, Any]) -> None:
                loop.call_soon_threadsafe(self.on_record, {**info, "entry": entry})

            recorder = TrackRecorder(track_directory(self.recordings, room, publisher, name), publisher=publisher,
                                     kind=kind, codec=codec, clock_rate=clock_rate,
                                     segment_seconds=self.segment_seconds, now=self.now, on_entry=report)
            self.recorders[key] = (recorder, ThreadPoolExecutor(1, thread_name_prefix=f"rec-{name}"))
        return self.recorders[key]

    async def publish(self, room: str, publisher: str, offer: dict[str, str]) -> dict[str, str]:
        """Take a publisher's offer (its tracks); answer. A publisher publishing again replaces its connection,
        and its recordings continue with the time between marked as a gap."""
        old = self.publishers.pop((room, publisher), None)
        gap_from = None
        if old is not None:
            gap_from = max((f.recorder.last_arrival for f in old.feeds if f.recorder.last_arrival), default=None)
            await self._close_publisher(old)
        pc = RTCPeerConnection(self.config)
        pub = self.publishers[(room, publisher)] = _Publisher(pc)
        counts: dict[str, int] = {}

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            keep_encoded(track, receiver)
            counts[track.kind] = counts.get(track.kind, 0) + 1
            name = f"{track.kind}-{counts[track.kind]}"
            codec, rate = ("vp8", 90000) if track.kind == "video" else ("opus", 48000)
            recorder, pool = self._recorder(room, publisher, name, track.kind, codec, rate)
            if gap_from is not None:
                pool.submit(recorder.gap, "reconnect", gap_from, self.now())
            feed = Feed(room, publisher, track.kind, name, track, receiver, recorder, pool, self.now)
            pub.feeds.append(feed)
            pub.tasks.append(asyncio.ensure_future(feed.run()))

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type=offer["type"]))
        except (ValueError, KeyError) as exc:
            await pc.close()
            self.publishers.pop((room, publisher), None)
            raise RelayError(f"not a usable offer: {exc}") from None
        _only(pc, RTCRtpReceiver)
        await pc.setLocalDescription(await pc.createAnswer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def _close_publisher(self, pub: _Publisher) -> None:
        await pub.pc.close()
        if pub.tasks:
            await asyncio.gather(*pub.tasks, return_exceptions=True)

    async def unpublish(self, room: str, publisher: str) -> None:
        pub = self.publishers.pop((room, publisher), None)
        if pub is None:
            raise RelayError(f"no publisher {publisher} in room {room}")
        await self._close_publisher(pub)
        for feed in pub.feeds:
            feed.pool.submit(feed.recorder.close_segment)

    def rooms(self) -> list[str]:
        """Rooms with a publisher or an unsealed recording."""
        return sorted({k[0] for k in self.publishers} | {k[0] for k in self.recorders})

    def feeds(self, room: str) -> list[dict[str, Any]]:
        return [{"publisher": p, "track": f.name, "kind": f.kind, "packets": f.packets}
                for (r, p), pub in self.publishers.items() if r == room for f in pub.feeds]

    # --- subscribing ---------------------------------------------------------------------------------------
    async def subscribe(self, room: str, publisher: str, subscriber: str) -> dict[str, Any]:
        """Offer a subscriber a publisher's tracks; the subscriber answers with :meth:`answer`."""
        pub = self.publishers.get((room, publisher))
        if pub is None or not pub.feeds:
            raise RelayError(f"no publisher {publisher} with tracks in room {room}")
        pc = RTCPeerConnection(self.config)
        sid = str(uuid.uuid4())
        for feed in pub.feeds:
            forward = ForwardTrack(feed.kind)
            sender = pc.addTrack(forward)
            feed.subscribers[sid] = (forward, sender)
        _only(pc, RTCRtpSender)
        self.subscriptions[sid] = _Subscription(room, publisher, subscriber, pc, list(pub.feeds))
        await pc.setLocalDescription(await pc.createOffer())
        for feed in pub.feeds:
            await feed.keyframe(force=True)
        return {"subscription": sid, "offer": {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}}

    async def answer(self, subscription: str, answer: dict[str, str]) -> None:
        sub = self.subscriptions.get(subscription)
        if sub is None:
            raise RelayError(f"no subscription {subscription}")
        try:
            await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        except (ValueError, KeyError) as exc:
            raise RelayError(f"not a usable answer: {exc}") from None
        for feed in sub.feeds:
            await feed.keyframe(force=True)

    async def unsubscribe(self, subscription: str) -> None:
        sub = self.subscriptions.pop(subscription, None)
        if sub is None:
            raise RelayError(f"no subscription {subscription}")
        for feed in sub.feeds:
            entry = feed.subscribers.pop(subscription, None)
            if entry:
                entry[0].put(None)
        await sub.pc.close()

    # --- the end ---------------------------------------------------------------------------------------------
    async def close_room(self, room: str) -> list[Path]:
        """Close the room's connections and seal every recording of it; the sealed track directories."""
        for sid in [s for s, sub in self.subscriptions.items() if sub.room == room]:
            await self.unsubscribe(sid)
        for key in [k for k in self.publishers if k[0] == room]:
            await self._close_publisher(self.publishers.pop(key))
        sealed = []
        loop = asyncio.get_running_loop()
        for key in [k for k in self.recorders if k[0] == room]:
            recorder, pool = self.recorders.pop(key)
            await loop.run_in_executor(pool, recorder.seal)
            pool.shutdown()
            sealed.append(recorder.directory)
        return sealed

    async def close(self) -> None:
        for room in {k[0] for k in self.publishers} | {k[0] for k in self.recorders}:
            await self.close_room(room)
