"""The coordinator's part in media: who may publish and watch in a session's media room, the media backend
(the embedded relay in its worker process), and the recordings' events.

**Who.** A session's media room is open while the session has started and not ended (evaluating or
suspended: a suspended session's venues still see each other). Publishing: a venue's site agent or operator
of a participating venue (the host or a guest with a confirmed offer), as ``<venue code>/<name>`` (a room's
camera or microphone), and a seated expert, as ``<venue code>/seat-<seat>``. Watching: those, and the
session's supervisors and the coordinator admin. Nobody else joins; a guest venue's staff join only once the
session has started (blind pairing holds until then).

**The backend.** :class:`MediaHub` starts the relay worker on first use (media/control.py) and keeps one
control connection to it; a worker that died is started again on the next request (its recorders recover
what a crash left, media/recorder.py). Janus takes its place behind the same interface (media/janus.py).

**Events.** Every manifest line the recorders make durable is logged in an event of the session: a segment
(publisher, track, index, file, SHA-256, bytes, wall-clock span), a gap (a reconnect, or a segment lost in a
crash) or a track's seal. The hub gathers the lines of each session for ``media_event_seconds`` (a seal at once)
and logs them as one ``media.recorded`` event (domain/recording.py), with each segment in the index the replay
serves from (``recording_segments``). Lines gathered and not yet written when the coordinator dies are not
logged, though their segments and manifests are on disk. Ending the session seals the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evalroom.config import Settings
from evalroom.domain.recording import MEDIA_BATCH, batch_payload, line_of
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import State
from evalroom.errors import ApiError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.services.access import can_read_session
from evalroom.services.evaluation import participants
from evalroom.storage.models import CommitteeMember, EvalSession, EventRow, RecordingSegment, Seat, Venue
from evalroom.storage.store import Store, Tx
from media.backend import MediaBackend
from media.control import WorkerClient, WorkerError, WorkerProcess
from media.janus import JanusBackend, JanusError, room_id
from media.manifest import path_name, sha256_file, verify_manifest

__all__ = ["MediaAccess", "MediaHub", "Reconciliation", "media_access", "reconcile", "record_backup",
           "record_media_lines"]

log = logging.getLogger(__name__)
OPEN_STATES = (State.EVALUATING.value, State.SUSPENDED.value)
SEAL_SWEEP_SECONDS = 5.0
MAX_BATCH_LINES = 500
"""Lines that make the hub write a batch at once, whatever the interval."""


@dataclass(frozen=True)
class MediaAccess:
    session_id: str
    publish_as: str | None
    """The publisher name prefix this principal publishes under (None: watch only)."""
    subscriber: str


def media_access(store: Store, principal: Principal, session_id: str) -> MediaAccess:
    """What ``principal`` may do in the session's media room; ``not_found`` outside scope, ``forbidden`` for
    the rest, ``invalid_transition`` while the session is not running."""
    with store.read() as s:
        session = s.get(EvalSession, session_id)
        if session is None:
            raise NotFoundError("session", session_id)
        venues = participants(s, session)
        role = principal.role
        publish_as = None
        if role in (Role.HALL_OPERATOR, Role.SITE_AGENT) and principal.venue_id in venues:
            venue = s.get(Venue, principal.venue_id)
            publish_as = venue.code if venue else None
        elif role is Role.EXPERT:
            member = s.get(CommitteeMember, principal.subject)
            if member is None or member.session_id != session_id or member.state != "seated":
                raise NotFoundError("session", session_id)
            venue, seat = s.get(Venue, member.venue_id), s.get(Seat, member.seat_id) if member.seat_id else None
            publish_as = f"{venue.code if venue else '?'}/seat-{seat.code if seat else member.id[:8]}"
        elif role in (Role.SUPERVISOR, Role.COORDINATOR_ADMIN):
            if not can_read_session(principal, session):
                raise NotFoundError("session", session_id)
        elif role in (Role.HALL_OPERATOR, Role.SITE_AGENT):
            raise NotFoundError("session", session_id)  # a venue outside the session
        else:
            raise ForbiddenError(f"a {role} does not join media rooms")
        if session.state not in OPEN_STATES:
            raise ApiError(ErrorCode.INVALID_TRANSITION, f"the media room is open while the session runs; it is "
                                                         f"{session.state}")
        return MediaAccess(session_id, publish_as, f"{role.value}:{principal.subject}")


def record_backup(tx: Tx, principal: Principal, session_id: str, publisher: str, track: str,
                  entry: dict[str, Any]) -> None:
    """A line of a venue's local backup manifest, as its site agent reported it: an event of the session, so
    the copy the venue hands over later is checked against what was logged at the time."""
    session = tx.session.get(EvalSession, session_id)
    if session is None or principal.venue_id not in participants(tx.session, session):
        raise NotFoundError("session", session_id)
    venue = tx.session.get(Venue, principal.venue_id)
    tx.record(actor=principal.actor, kind="media.backup_recorded", session_id=session_id,
              payload={"venue": venue.code if venue else principal.venue_id, "publisher": publisher, "track": track,
                       "entry": entry})


@dataclass
class Reconciliation:
    segments: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def reconcile(store: Store, session_id: str, venue_code: str, directory: Path) -> Reconciliation:
    """Check a venue's backup recordings, as handed over, against the manifest lines its agent reported during
    the session (``media.backup_recorded``): every logged segment present with its hash, each track's manifest
    chain intact and sealed, nothing there that was not logged."""
    with store.read() as s:
        rows = list(s.scalars(select(EventRow).where(EventRow.session_id == session_id,
                                                     EventRow.kind == "media.backup_recorded")
                              .order_by(EventRow.seq)))
    logged: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.payload.get("venue") == venue_code:
            logged.setdefault(row.payload["track"], []).append(row.payload["entry"])
    result = Reconciliation()
    if not logged:
        result.problems.append(f"no backup of venue {venue_code} was logged for this session")
    for track, entries in sorted(logged.items()):
        folder = directory / path_name(track)
        report = verify_manifest(folder, check_files=False)
        if not report.chain_ok:
            result.problems.append(f"{track}: the manifest's chain is broken: {'; '.join(report.problems)}")
        if not any(e["type"] == "seal" for e in entries):
            result.problems.append(f"{track}: no seal was logged (the backup was not closed)")
        files = set()
        for entry in (e for e in entries if e["type"] == "segment"):
            result.segments += 1
            files.add(entry["file"])
            path = folder / entry["file"]
            if not path.is_file():
                result.problems.append(f"{track}/{entry['file']}: missing")
            elif sha256_file(path) != entry["sha256"]:
                result.problems.append(f"{track}/{entry['file']}: does not match the hash logged at "
                                       f"{entry['wallclock_end']}")
        for extra in sorted(p.name for p in folder.glob("seg-*.webm") if p.name not in files):
            result.problems.append(f"{track}/{extra}: not logged during the session")
    return result


def record_media_lines(store: Store, records: list[dict[str, Any]]) -> int:
    """Durable manifest lines of the recorders (``{"room", "publisher", "track", "entry"}``, in the order they
    were reported) as one ``media.recorded`` event per session whose room they are, with each segment in the
    replay's index; one transaction. The number of events written."""
    by_room: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for record in records:
        line = line_of(record["publisher"], record["track"], record["entry"])
        if line is not None:
            by_room.setdefault(record["room"], []).append(line)
    written = 0
    with store.write() as tx:
        for room, lines in by_room.items():
            if tx.session.get(EvalSession, room) is None:
                continue
            tx.record(actor="system:media", kind=MEDIA_BATCH, session_id=room, payload=batch_payload(lines))
            tx.session.add_all(RecordingSegment(
                session_id=room, publisher_dir=path_name(p["publisher"]), track_dir=path_name(p["track"]),
                file=p["file"], publisher=p["publisher"], track=p["track"], sha256=p["sha256"])
                for kind, p in lines if kind == "media.segment_recorded")
            written += 1
    return written


class _EmbeddedNode:
    """The relay worker on this machine: started on first use, started again if it died."""

    def __init__(self, settings: Settings) -> None:
        self.worker = WorkerProcess(settings.effective_recordings_dir, settings.data_dir / "media",
                                    segment_seconds=settings.media_segment_seconds, ice_servers=settings.ice_servers)
        self.client: WorkerClient | None = None

    def stale(self) -> bool:
        return self.client is None or not self.worker.alive()

    async def connect(self) -> WorkerClient:
        if not self.worker.alive():
            await run_in_threadpool(self.worker.start)
        self.client = await WorkerClient(self.worker.url, self.worker.secret).connect()
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        await run_in_threadpool(self.worker.stop)


class _JanusNode:
    """A Janus node the coordinator drives; its connection made again when it was lost."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings, self.url = settings, url
        self.client: JanusBackend | None = None
        self.lost = False

    def stale(self) -> bool:
        return self.client is None or self.lost

    async def connect(self) -> JanusBackend:
        assert self.settings.janus_recordings_dir is not None
        self.client = await JanusBackend(self.url, self.settings.janus_recordings_dir,
                                         self.settings.effective_recordings_dir,
                                         segment_seconds=self.settings.media_segment_seconds).connect()
        self.lost = False
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()


class MediaHub:
    """The media backends as the coordinator holds them: the embedded relay worker, or Janus nodes (each
    session's room on one node, chosen by its id), connected on first use and again after a loss."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.nodes: list[_EmbeddedNode | _JanusNode] = (
            [_JanusNode(settings, url) for url in settings.janus_urls] if settings.media_backend == "janus"
            else [_EmbeddedNode(settings)])
        self._subscriptions: dict[str, _EmbeddedNode | _JanusNode] = {}
        self._lock = asyncio.Lock()
        self._pumps: list[asyncio.Task[None]] = []

    def node_states(self) -> list[tuple[str, str, bool]]:
        """(backend, node, connected) for each node, from what the hub holds (no request to a node): a Janus
        node named by host:port only, so a URL's user and password are never shown."""
        out = []
        for node in self.nodes:
            url = getattr(node, "url", None)
            if url is None:
                out.append(("embedded", "embedded", not node.stale()))
            else:
                out.append(("janus", urlsplit(url).netloc.rpartition("@")[2] or url, not node.stale()))
        return out

    def node_for(self, room: str) -> _EmbeddedNode | _JanusNode:
        return self.nodes[room_id(room) % len(self.nodes)]

    async def _backend(self, node: _EmbeddedNode | _JanusNode) -> MediaBackend:
        async with self._lock:
            if node.stale():
                client = await node.connect()
                self._pumps.append(asyncio.create_task(self._run(node, client)))
            return node.client

    async def _run(self, node: _EmbeddedNode | _JanusNode, client: MediaBackend) -> None:
        try:
            await asyncio.gather(self._record_events(client), self._seal_ended(client))
        except (WorkerError, JanusError, OSError):
            if isinstance(node, _JanusNode):
                node.lost = True  # the next request connects again

    async def _seal_ended(self, client: MediaBackend) -> None:
        """Seal the rooms of sessions that ended (by the host, or sealed after a fault) or were deleted."""
        while True:
            await asyncio.sleep(SEAL_SWEEP_SECONDS)
            for room in await client.rooms():
                if not await run_in_threadpool(self._running, room):
                    await client.close_room(room)

    def _running(self, session_id: str) -> bool:
        with self.store.read() as s:
            session = s.get(EvalSession, session_id)
            return session is not None and session.state in OPEN_STATES

    async def call(self, op: str, *args: Any) -> Any:
        """A relay operation on the node of the room (or of the subscription); a backend that was lost is
        connected again (a dead worker started again) once and the operation retried."""
        node = self._subscriptions.get(args[0]) if op in ("answer", "unsubscribe") else self.node_for(args[0])
        if node is None:
            raise ApiError(ErrorCode.NOT_FOUND, f"media: no subscription {args[0]}")
        for attempt in range(2):
            client = await self._backend(node)
            try:
                result = await getattr(client, op)(*args)
            except (WorkerError, JanusError) as exc:
                lost = ((isinstance(exc, JanusError) and "gone" in str(exc))
                        or (isinstance(node, _EmbeddedNode) and not node.worker.alive()))
                if isinstance(node, _JanusNode) and lost:
                    node.lost = True
                if not lost or attempt:
                    code = ErrorCode.NOT_FOUND if str(exc).startswith("no ") else ErrorCode.CONFLICT
                    raise ApiError(code, f"media: {exc}") from None
                continue
            if op == "subscribe":
                self._subscriptions[result["subscription"]] = node
            elif op == "unsubscribe":
                self._subscriptions.pop(args[0], None)
            return result
        raise AssertionError("unreachable")

    async def _record_events(self, client: MediaBackend) -> None:
        """Gather the backend's manifest lines and log them in batches: every ``media_event_seconds``, at once
        for a seal (a sealed track is what the end of a session waits for) or when many have come."""
        loop = asyncio.get_running_loop()
        pending: list[dict[str, Any]] = []
        due: float | None = None
        try:
            while True:
                timeout = None if due is None else max(0.0, due - loop.time())
                try:
                    record = await asyncio.wait_for(client.records(), timeout)
                except TimeoutError:
                    record = None
                else:
                    pending.append(record)
                    due = due or loop.time() + self.settings.media_event_seconds
                if pending and (record is None or record.get("entry", {}).get("type") == "seal"
                                or len(pending) >= MAX_BATCH_LINES):
                    batch, pending, due = pending, [], None
                    await self._write(batch)
        finally:
            if pending:  # shutting down: what was gathered is written before the hub goes
                await asyncio.shield(self._write(pending))

    async def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            await run_in_threadpool(record_media_lines, self.store, batch)
        except Exception:  # lines that cannot be written must not stop the pump; the manifests have them
            log.exception("logging %d recording lines failed", len(batch))

    async def close_room(self, session_id: str) -> list[str]:
        node = self.node_for(session_id)
        if node.stale():
            return []
        return await self.call("close_room", session_id)

    async def close(self) -> None:
        for task in self._pumps:
            task.cancel()
        for node in self.nodes:
            await node.close()
