"""The second media backend, for scale: Janus Gateway (Debian's ``janus``) driven over its websocket API.

:class:`JanusBackend` offers the embedded relay's interface (``publish``, ``subscribe``, ``answer``,
``unpublish``, ``unsubscribe``, ``feeds``, ``rooms``, ``close_room``, ``records``) on one Janus node: a session's
room is a VideoRoom room; a publisher is a VideoRoom publisher (its display name the publisher's name); a
subscription is a subscriber handle.

Recording: Janus records each publisher's streams as raw RTP (``.mjr``). The backend turns that into the same
closed, hashed segments and manifests as the embedded relay (media/recorder.py, media/manifest.py): every
``segment_seconds`` it stops the publisher's recording and starts the next file (VideoRoom asks the publisher
for a key frame when a recording starts), then converts each closed ``.mjr`` with ``janus-pp-rec`` without
transcoding (VP8 into WebM, Opus into Ogg), hashes it and appends it to the track's manifest, with
the wall-clock anchor from the recording's own header. The ``.mjr`` files are kept beside, as Janus wrote them.

:class:`JanusServer` starts a Janus node on this machine with a generated configuration (the tests, the
benchmark, or a node next to the coordinator): only the VideoRoom plugin and the websocket transport, on
loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from media.backend import RecordQueue
from media.manifest import ManifestWriter, path_name, sha256_file, track_directory
from media.recorder import wall_clock

__all__ = ["JanusBackend", "JanusError", "JanusServer", "room_id"]

log = logging.getLogger(__name__)
PLUGIN = "janus.plugin.videoroom"
KEEPALIVE_SECONDS = 20.0
JANUS_PLUGINS = Path("/usr/lib/x86_64-linux-gnu/janus")
_EXTENSION = {"video": "webm", "audio": "opus"}


class JanusError(Exception):
    """Janus refused a request, or is gone."""


def room_id(room: str) -> int:
    """A session's VideoRoom id: 48 bits of the SHA-256 of its id (VideoRoom ids are integers)."""
    return int.from_bytes(hashlib.sha256(room.encode()).digest()[:6], "big")



def _iso(micros: int) -> str:
    seconds, rest = divmod(micros, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:06d}Z"


# --- a local Janus node ---------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JanusServer:
    """``janus`` with a configuration of our own in ``workdir``: VideoRoom and websockets only, on loopback."""

    def __init__(self, workdir: Path, *, port: int | None = None, rtp_ports: str = "20000-40000") -> None:
        self.workdir, self.port, self.rtp_ports = workdir, port or _free_port(), rtp_ports
        self.conf = workdir / "conf"
        self.recordings = workdir / "mjr"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _configure(self) -> None:
        self.conf.mkdir(parents=True, exist_ok=True)
        self.recordings.mkdir(parents=True, exist_ok=True)
        plugins = sorted(p.name for p in (JANUS_PLUGINS / "plugins").glob("*.so") if "videoroom" not in p.name)
        transports = sorted(p.name for p in (JANUS_PLUGINS / "transports").glob("*.so") if "websockets" not in p.name)
        (self.conf / "janus.jcfg").write_text(f"""general: {{
    configs_folder = "{self.conf}"
    plugins_folder = "{JANUS_PLUGINS / 'plugins'}"
    transports_folder = "{JANUS_PLUGINS / 'transports'}"
    events_folder = "{JANUS_PLUGINS / 'events'}"
    loggers_folder = "{JANUS_PLUGINS / 'loggers'}"
    debug_level = 3
    protected_folders = ["/bin", "/boot", "/dev", "/etc", "/proc", "/sbin", "/sys", "/usr"]
}}
media: {{
    rtp_port_range = "{self.rtp_ports}"
}}
nat: {{
    ice_ignore_list = "vmnet"
}}
plugins: {{
    disable = "{','.join(plugins)}"
}}
transports: {{
    disable = "{','.join(transports)}"
}}
""", encoding="utf-8")
        (self.conf / "janus.transport.websockets.jcfg").write_text(f"""general: {{
    json = "compact"
    ws = true
    ws_port = {self.port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = false
}}
""", encoding="utf-8")
        (self.conf / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n", encoding="utf-8")

    def start(self, timeout: float = 30) -> None:
        if shutil.which("janus") is None:
            raise JanusError("janus is not installed (Debian package janus)")
        self._configure()
        self.log = (self.workdir / "janus.log").open("ab")
        self.process = subprocess.Popen(["janus", "-F", str(self.conf), "-C", str(self.conf / "janus.jcfg")],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise JanusError(f"janus exited: see {self.workdir / 'janus.log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.1)
        raise JanusError("janus did not open its websocket port in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log.close()
            self.process = None


# --- the backend ----------------------------------------------------------------------------------------------
@dataclass
class _Track:
    name: str
    kind: str
    manifest: ManifestWriter


@dataclass
class _Publisher:
    room: str
    name: str
    handle: int
    janus_id: int
    index: int = 0
    recording: str | None = None
    tracks: dict[str, _Track] = field(default_factory=dict)
    rotator: asyncio.Task[None] | None = None
    conversions: list[asyncio.Task[None]] = field(default_factory=list)
    last_end: str | None = None


class JanusBackend(RecordQueue):
    """One Janus node as a media backend (the interface of media.control.WorkerClient)."""

    def __init__(self, url: str, janus_recordings: Path, recordings: Path, *, segment_seconds: float = 4.0,
                 now: Callable[[], dt.datetime] = wall_clock) -> None:
        """``now`` stamps the gaps this backend marks itself; Janus stamps the recordings with the machine's
        clock, so anything but the wall clock is for tests."""
        super().__init__()
        self.now = now
        self.url, self.janus_recordings, self.recordings = url, janus_recordings, recordings
        self.segment_seconds = segment_seconds
        self._ws: ClientConnection | None = None
        self._session = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._rooms: set[str] = set()
        self._publishers: dict[tuple[str, str], _Publisher] = {}
        self._subscriptions: dict[str, tuple[str, int]] = {}
        self._manifests: dict[tuple[str, str, str], ManifestWriter] = {}
        self._convert_lock = asyncio.Lock()

    # --- the Janus API ------------------------------------------------------------------------------------
    async def connect(self) -> JanusBackend:
        self._ws = await connect(self.url, subprotocols=["janus-protocol"], max_size=1 << 22)  # type: ignore[list-item]
        self._tasks.append(asyncio.ensure_future(self._read()))
        self._session = (await self._call({"janus": "create"}))["data"]["id"]
        self._tasks.append(asyncio.ensure_future(self._keepalive()))
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if message.get("janus") == "ack":
                    continue
                future = self._pending.pop(message.get("transaction", ""), None)
                if future is not None and not future.done():
                    future.set_result(message)
        except ConnectionClosed:
            pass
        for future in self._pending.values():
            if not future.done():
                future.set_exception(JanusError("the Janus connection closed"))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            with contextlib.suppress(JanusError):
                await self._call({"janus": "keepalive", "session_id": self._session})

    async def _call(self, message: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
        if self._ws is None:
            raise JanusError("not connected")
        transaction = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        try:
            await self._ws.send(json.dumps({**message, "transaction": transaction}))
        except ConnectionClosed:
            raise JanusError("Janus is gone") from None
        reply = await asyncio.wait_for(future, timeout)
        if reply.get("janus") == "error":
            raise JanusError(reply["error"].get("reason", "error"))
        return reply

    async def _attach(self) -> int:
        return int((await self._call({"janus": "attach", "session_id": self._session, "plugin": PLUGIN}))["data"]["id"])

    async def _message(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None
                       ) -> tuple[dict[str, Any], dict[str, str] | None]:
        request: dict[str, Any] = {"janus": "message", "session_id": self._session, "handle_id": handle,
                                   "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        reply = await self._call(request)
        data = reply.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise JanusError(str(data["error"]))
        return data, reply.get("jsep")

    async def _detach(self, handle: int) -> None:
        with contextlib.suppress(JanusError, TimeoutError):
            await self._call({"janus": "detach", "session_id": self._session, "handle_id": handle})

    # --- rooms and publishers -----------------------------------------------------------------------------
    async def _ensure_room(self, room: str, handle: int) -> None:
        if room in self._rooms:
            return
        data, _ = await self._message(handle, {"request": "exists", "room": room_id(room)})
        if not data.get("exists"):
            await self._message(handle, {"request": "create", "room": room_id(room), "publishers": 64,
                                         "videocodec": "vp8", "audiocodec": "opus",
                                         "rec_dir": str(self.janus_recordings), "description": room[:64]})
        self._rooms.add(room)

    async def publish(self, room: str, publisher: str, offer: dict[str, str]) -> dict[str, str]:
        old = self._publishers.pop((room, publisher), None)
        if old is not None:
            await self._end_publisher(old)
        handle = await self._attach()
        try:
            await self._ensure_room(room, handle)
            data, jsep = await self._message(handle, {"request": "joinandconfigure", "ptype": "publisher",
                                                      "room": room_id(room), "display": publisher[:100]}, offer)
        except JanusError:
            await self._detach(handle)
            raise
        if jsep is None:
            await self._detach(handle)
            raise JanusError("Janus gave no answer")
        pub = self._publishers[(room, publisher)] = _Publisher(room, publisher, handle, int(data["id"]))
        if old is not None and old.last_end is not None:
            pub.last_end = old.last_end
            self._gap_all(room, publisher, old.last_end)
        pub.rotator = asyncio.ensure_future(self._rotate(pub))
        return {"sdp": jsep["sdp"], "type": jsep["type"]}

    def _base(self, pub: _Publisher) -> str:
        return f"{room_id(pub.room)}-{path_name(pub.name)}-{pub.index:06d}"

    async def _rotate(self, pub: _Publisher) -> None:
        """Record in ``segment_seconds`` files: start one, wait, start the next, convert the one closed."""
        try:
            while True:
                closed = pub.recording
                pub.index += 1
                pub.recording = self._base(pub)
                if closed is not None:
                    await self._message(pub.handle, {"request": "configure", "record": False})
                await self._message(pub.handle, {"request": "configure", "record": True, "filename": pub.recording})
                if closed is not None:
                    pub.conversions.append(asyncio.ensure_future(self._convert(pub, closed)))
                await asyncio.sleep(self.segment_seconds)
        except (JanusError, TimeoutError, asyncio.CancelledError):
            return

    def _manifest(self, room: str, publisher: str, track: str, kind: str) -> ManifestWriter:
        key = (room, publisher, track)
        if key not in self._manifests:
            codec, rate = ("vp8", 90000) if kind == "video" else ("opus", 48000)
            self._manifests[key] = ManifestWriter(track_directory(self.recordings, room, publisher, track),
                                                  {"publisher": publisher, "kind": kind, "codec": codec,
                                                   "clock_rate": rate, "backend": "janus"})
        return self._manifests[key]

    def _emit(self, room: str, publisher: str, track: str, line: dict[str, Any]) -> None:
        self._records.put_nowait({"event": "record", "room": room, "publisher": publisher, "track": track,
                                  "entry": line})

    async def _convert(self, pub: _Publisher, base: str) -> None:
        """Turn the closed recording ``base-*.mjr`` into hashed segments (janus-pp-rec, no transcoding)."""
        async with self._convert_lock:  # in order, so the manifests' lines follow the segments' order
            files = sorted(self.janus_recordings.glob(f"{base}-*.mjr"))
            counts: dict[str, int] = {}
            for mjr in files:
                kind = "video" if "-video-" in mjr.name else "audio"
                counts[kind] = counts.get(kind, 0) + 1
                track = f"{kind}-{counts[kind]}"
                manifest = self._manifest(pub.room, pub.name, track, kind)
                index = int(base.rsplit("-", 1)[1])
                out = manifest.directory / f"seg-{index:06d}.{_EXTENSION[kind]}"
                header = await _run("janus-pp-rec", "-e", "-j", str(mjr))
                try:
                    info = json.loads(header)
                except ValueError:
                    continue
                packets = info.get("extended", {}).get("packets", 0)
                if not packets:
                    continue  # a recording that got no media (the publisher had just left)
                part = out.with_name(f"{out.stem}.part{out.suffix}")  # janus-pp-rec goes by the extension
                await _run("janus-pp-rec", str(mjr), str(part))
                if not part.exists():
                    continue
                with part.open("rb") as f:
                    os.fsync(f.fileno())
                os.replace(part, out)
                duration = float(info["extended"].get("duration", 0))
                start = int(info["u"])
                end = start + int(duration * 1_000_000)
                line = manifest.append({
                    "type": "segment", "index": index, "file": out.name, "sha256": sha256_file(out),
                    "bytes": out.stat().st_size, "packets": packets, "source": mjr.name,
                    "wallclock_start": _iso(start), "wallclock_end": _iso(end)})
                pub.last_end = line["wallclock_end"]
                self._emit(pub.room, pub.name, track, line)

    def _gap_all(self, room: str, publisher: str, since: str) -> None:
        now = _iso(int(self.now().timestamp() * 1_000_000))
        for (r, p, track), manifest in self._manifests.items():
            if (r, p) == (room, publisher) and not manifest.sealed:
                self._emit(room, publisher, track, manifest.append({"type": "gap", "reason": "reconnect",
                                                                    "from": since, "to": now}))

    async def _end_publisher(self, pub: _Publisher) -> None:
        if pub.rotator is not None:
            pub.rotator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pub.rotator
        with contextlib.suppress(JanusError, TimeoutError):
            await self._message(pub.handle, {"request": "configure", "record": False})
        await self._detach(pub.handle)
        await asyncio.gather(*pub.conversions, return_exceptions=True)
        if pub.recording is not None:
            await self._convert(pub, pub.recording)

    async def unpublish(self, room: str, publisher: str) -> None:
        pub = self._publishers.pop((room, publisher), None)
        if pub is None:
            raise JanusError(f"no publisher {publisher} in room {room}")
        await self._end_publisher(pub)

    async def subscribe(self, room: str, publisher: str, subscriber: str) -> dict[str, Any]:
        pub = self._publishers.get((room, publisher))
        if pub is None:
            raise JanusError(f"no publisher {publisher} with tracks in room {room}")
        handle = await self._attach()
        deadline = time.monotonic() + 15
        while True:
            try:
                _, jsep = await self._message(handle, {"request": "join", "ptype": "subscriber",
                                                       "room": room_id(room), "streams": [{"feed": pub.janus_id}]})
                break
            except JanusError as exc:
                # A publisher whose connection is still being set up is not a feed yet.
                if "No such feed" not in str(exc) or time.monotonic() > deadline:
                    await self._detach(handle)
                    raise
                await asyncio.sleep(0.2)
        if jsep is None:
            await self._detach(handle)
            raise JanusError("Janus gave no offer")
        sid = f"janus-{handle}"
        self._subscriptions[sid] = (room, handle)
        return {"subscription": sid, "offer": {"sdp": jsep["sdp"], "type": jsep["type"]}}

    async def answer(self, subscription: str, answer: dict[str, str]) -> None:
        entry = self._subscriptions.get(subscription)
        if entry is None:
            raise JanusError(f"no subscription {subscription}")
        await self._message(entry[1], {"request": "start"}, answer)

    async def unsubscribe(self, subscription: str) -> None:
        entry = self._subscriptions.pop(subscription, None)
        if entry is None:
            raise JanusError(f"no subscription {subscription}")
        await self._detach(entry[1])

    async def feeds(self, room: str) -> list[dict[str, Any]]:
        return [{"publisher": p, "janus_id": pub.janus_id} for (r, p), pub in self._publishers.items() if r == room]

    async def rooms(self) -> list[str]:
        unsealed = {key[0] for key, manifest in self._manifests.items() if not manifest.sealed}
        return sorted({r for r, _ in self._publishers} | unsealed | self._rooms)

    async def close_room(self, room: str) -> list[str]:
        for sid in [s for s, (r, _) in self._subscriptions.items() if r == room]:
            await self.unsubscribe(sid)
        for key in [k for k in self._publishers if k[0] == room]:
            await self._end_publisher(self._publishers.pop(key))
        sealed = []
        for (r, p, track), manifest in list(self._manifests.items()):
            if r == room and not manifest.sealed:
                self._emit(r, p, track, manifest.seal())
                sealed.append(str(manifest.directory))
        if room in self._rooms:
            handle = await self._attach()
            with contextlib.suppress(JanusError):
                await self._message(handle, {"request": "destroy", "room": room_id(room)})
            await self._detach(handle)
            self._rooms.discard(room)
        return sealed

    async def close(self) -> None:
        for room in sorted({r for r, _ in self._publishers}):
            await self.close_room(room)
        for task in self._tasks:
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(JanusError, TimeoutError):
                await self._call({"janus": "destroy", "session_id": self._session}, timeout=5)
            await self._ws.close()


async def _run(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode(errors="replace")
