"""Live events: each committed batch is read once and routed, in memory, to the streams it concerns.

The model is Synapse's notifier. Streams (a session's event websocket, a venue's site link) register a
:class:`Subscription` on a topic — a session with the kind of reader (services/access.py ``ReaderKind``), or a
venue. When events are committed, the notifier reads the new batch once, in a thread of its own, and prepares
every message once per topic and reader kind (the view, its JSON text); on the event loop it then appends the
prepared message to the queue of each subscription of that topic. A commit therefore costs in proportion to
the audience of what it changed, not to every stream of the coordinator, and no stream touches the database
while it follows the live events.

What wakes the notifier: the store's commit listener (a write of this process), a notification from another
coordinator process (PostgreSQL ``LISTEN``, :mod:`evalroom.api.cluster`), and a poll of the chain head every
``event_poll_seconds`` as a safety net. The database stays the only source of truth: nothing is routed that is
not committed, and a stream that is behind (new, or too slow for its queue) catches up from the database by
sequence number, with the same view function, before it takes its queue again (:meth:`Notifier.next`).

A slow consumer never holds anything up: its queue is bounded (:data:`MAX_PENDING`); past that it is dropped
to catching up, which reads only its own backlog. Revocations are pushed to the streams of that token
(:meth:`Notifier.revoke`), from this process's commits, other processes' notifications, and a periodic check.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from evalroom.api.periodic import Periodic
from evalroom.config import Settings
from evalroom.errors import ApiError, ErrorCode
from evalroom.services.access import ReaderKind
from evalroom.services.offers import guest_event_view
from evalroom.services.sessions import event_view
from evalroom.storage.models import EvalSession, EventRow, EventVenue, RevokedToken
from evalroom.storage.store import Store, read_events

__all__ = ["MAX_PENDING", "Notifier", "Subscription", "session_message", "venue_topic", "session_topic"]

log = logging.getLogger(__name__)

MAX_PENDING = 1000
"""Messages a subscription may have waiting before it is dropped to catching up from the database."""
READ_BATCH = 500
REVOCATION_CHECK_SECONDS = 5.0
"""How often the open streams' tokens are checked against the revocation list, in one query: the safety net
under revocations pushed by commits and notifications."""

Topic = tuple[str, str]
Item = tuple[int, Any]
"""A message for a stream: the event's sequence number and what to send (a session stream's JSON text, a
venue feed's item)."""
Live = tuple[int, Any, float | None]
"""An :data:`Item` as the notifier hands it on, with the monotonic time this process learned of its commit
(None for what a stream read from the database): what the delivery lag is measured from."""


def session_topic(session_id: str) -> Topic:
    return ("session", session_id)


def venue_topic(venue_id: str) -> Topic:
    return ("venue", venue_id)


def session_message(view: dict[str, Any]) -> str:
    """The session stream's frame for an event view (one serialisation per view, shared by every reader)."""
    return json.dumps({"type": "event", "event": view}, ensure_ascii=False, separators=(",", ":"))


@dataclass(eq=False)
class Subscription:
    """One stream's place in the fan-out. It starts *behind*: the stream first catches up from the database."""

    topic: Topic
    reader: ReaderKind | None
    jti: str | None
    limit: int = MAX_PENDING
    pending: deque[Live] = field(default_factory=deque)
    behind: bool = True
    closed: ApiError | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, item: Live) -> None:
        if self.behind:
            return
        if len(self.pending) >= self.limit:  # too slow: drop its queue; it reads its backlog from the database
            self.pending.clear()
            self.behind = True
        else:
            self.pending.append(item)
        self.ready.set()

    def close(self, error: ApiError) -> None:
        self.closed = error
        self.ready.set()


@dataclass
class _Batch:
    head: int
    items: list[tuple[int, Topic, dict[ReaderKind | None, Any]]]
    """In order: (seq, topic, message by reader kind) for every topic with subscribers."""


class Notifier:
    def __init__(self, store: Store, settings: Settings, *, max_pending: int = MAX_PENDING,
                 on_delivery: Callable[[float], None] | None = None) -> None:
        """``on_delivery(seconds)`` is told, for every live message a stream sent, how long after this process
        learned of its commit it went out (metrics)."""
        self._store = store
        self._max_pending = max_pending
        self.on_delivery = on_delivery
        self._learned: list[tuple[int, float]] = []
        """(sequence number, monotonic time) of each announcement not yet routed, in order."""
        self._settings = settings
        # One thread reads the batches; streams catching up use their own pool. Neither is the pool the HTTP
        # handlers run in, so a burst of events or reconnecting streams never makes a request wait.
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="notifier")
        self.streams = ThreadPoolExecutor(4, thread_name_prefix="streams")
        self._topics: dict[Topic, set[Subscription]] = defaultdict(set)
        self._by_jti: dict[str, set[Subscription]] = defaultdict(set)
        self._head = 0
        self._target = 0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: asyncio.Task[None] | None = None
        self._poller = Periodic("event-head-poll", settings.event_poll_seconds, store.head,
                                lambda head: self._announce(head[0]))
        self._checker: asyncio.Task[None] | None = None
        self.routed = 0
        """Messages handed to subscriptions since start (for metrics)."""

    # --- lifecycle --------------------------------------------------------------------------------------
    @property
    def head(self) -> int:
        """The last sequence number routed: every event up to it has been handed to its subscribers."""
        return self._head

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._head = self._target = (await self.run(self._store.head))[0]
        self._store.on_commit(self.notify_threadsafe)
        self._store.on_revoke(self.revoke_threadsafe)
        self._pump = asyncio.create_task(self._route_forever(), name="notifier")
        self._checker = asyncio.create_task(self._check_revocations(), name="revocation-check")
        self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()
        for task in (self._pump, self._checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reader.shutdown(wait=True)
        self.streams.shutdown(wait=True)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work for a stream (a database read) in the streams' pool."""
        return await asyncio.get_running_loop().run_in_executor(self.streams, lambda: fn(*args))

    # --- what wakes it ---------------------------------------------------------------------------------
    def notify_threadsafe(self, seq: int) -> None:
        """A write committed up to ``seq`` (from any thread: the store's commit listener, a notification)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._announce, seq)

    def poll_threadsafe(self) -> None:
        """Look at the chain head now (after missing notifications, e.g. a listener that reconnected)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._poll_once()))

    async def _poll_once(self) -> None:
        with contextlib.suppress(Exception):
            self._announce((await self.run(self._store.head))[0])

    def revoke_threadsafe(self, jtis: list[str]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.revoke, jtis)

    def _announce(self, seq: int) -> None:
        if seq > self._target:
            self._target = seq
            self._learned.append((seq, time.monotonic()))
            self._wake.set()

    # --- subscriptions -----------------------------------------------------------------------------------
    def subscribe(self, topic: Topic, reader: ReaderKind | None = None, jti: str | None = None) -> Subscription:
        sub = Subscription(topic, reader, jti, self._max_pending)
        self._topics[topic].add(sub)
        if jti is not None:
            self._by_jti[jti].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._topics.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._topics[sub.topic]
        if sub.jti is not None and (same := self._by_jti.get(sub.jti)) is not None:
            same.discard(sub)
            if not same:
                del self._by_jti[sub.jti]

    def count(self) -> dict[tuple[str, bool], int]:
        """Open subscriptions by topic kind and whether they are catching up from the database (metrics)."""
        counts: dict[tuple[str, bool], int] = defaultdict(int)
        for (kind, _), subs in self._topics.items():
            for sub in subs:
                counts[kind, sub.behind] += 1
        return dict(counts)

    def revoke(self, jtis: Iterable[str]) -> None:
        """Close the streams opened with these tokens."""
        for jti in jtis:
            for sub in list(self._by_jti.get(jti, ())):
                sub.close(ApiError(ErrorCode.TOKEN_REVOKED, "the token was revoked"))

    async def _check_revocations(self) -> None:
        """The safety net under pushed revocations: the open streams' tokens checked in one query now and then."""
        while True:
            await asyncio.sleep(REVOCATION_CHECK_SECONDS)
            jtis = list(self._by_jti)
            if jtis:
                try:
                    self.revoke(await self.run(self._revoked_among, jtis))
                except Exception:  # the database briefly away: the next round tries again
                    log.warning("checking the streams' tokens failed", exc_info=True)

    def _revoked_among(self, jtis: list[str]) -> list[str]:
        revoked: list[str] = []
        with self._store.read() as s:
            for i in range(0, len(jtis), 500):
                revoked += s.scalars(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis[i:i + 500])))
        return revoked

    async def next(self, sub: Subscription, cursor: int, backlog: Callable[[int], list[Item]],
                   timeout: float) -> list[Live]:
        """What ``sub``'s stream sends next after ``cursor``, in order; waits up to ``timeout`` seconds for it
        (an empty list when nothing came). ``backlog(cursor)`` reads, from the database, the stream's items
        after ``cursor`` (in order, a bounded batch): used while the subscription is behind. Raises the error
        the subscription was closed with (a revoked token)."""
        if sub.closed is not None:
            raise sub.closed
        if sub.behind:
            head = self._head
            items = await self.run(backlog, cursor)
            if len(items) < READ_BATCH and self._head == head:
                # Everything up to the routed head is in hand, and nothing was routed while reading: from
                # here on the live messages follow on from it.
                sub.behind = False
            elif not items:
                await asyncio.sleep(0)
            return [(seq, message, None) for seq, message in items]
        if not sub.pending:
            sub.ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sub.ready.wait(), timeout)
            if sub.closed is not None:
                raise sub.closed
            if sub.behind:
                return []
        items = list(sub.pending)
        sub.pending.clear()
        return items

    # --- routing -----------------------------------------------------------------------------------------
    async def _route_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._target > self._head:
                wanted = self._wanted()
                try:
                    batch = await loop.run_in_executor(self._reader, self._read, self._head, wanted)
                except Exception:  # the database briefly away: the poll wakes us again
                    log.warning("reading the newest events failed", exc_info=True)
                    break
                before = self._head
                self._route(batch)
                if self._head <= before:  # announced but not visible here (yet): the next wake tries again
                    break

    def _wanted(self) -> dict[Topic, frozenset[ReaderKind | None]]:
        """The topics that have subscribers, and the reader kinds among them (a snapshot for the reader)."""
        return {topic: frozenset(s.reader for s in subs) for topic, subs in self._topics.items() if subs}

    def _read(self, after: int, wanted: dict[Topic, frozenset[ReaderKind | None]]) -> _Batch:
        """In the notifier's thread: the events after ``after``, each message prepared once per wanted topic and
        reader kind."""
        settings = self._settings
        with self._store.read() as s:
            events = read_events(s, after_seq=after, limit=READ_BATCH)
            if not events:
                return _Batch(self._store.head()[0], [])
            sessions = {e.session_id for e in events if e.session_id and session_topic(e.session_id) in wanted}
            rows = {r.id: r for r in s.scalars(select(EvalSession).where(EvalSession.id.in_(sessions)))} \
                if sessions else {}
            venues = [t[1] for t in wanted if t[0] == "venue"]
            routes: dict[int, list[str]] = defaultdict(list)
            if venues:
                for seq, venue_id in s.execute(
                        select(EventRow.seq, EventVenue.venue_id).join(EventVenue, EventVenue.event_id == EventRow.id)
                        .where(EventRow.seq > after, EventRow.seq <= events[-1].seq, EventVenue.venue_id.in_(venues))):
                    routes[seq].append(venue_id)
        items: list[tuple[int, Topic, dict[ReaderKind | None, Any]]] = []
        for ev in events:
            if ev.session_id in rows:
                topic = session_topic(ev.session_id)
                items.append((ev.seq, topic, {reader: session_message(event_view(reader, settings, rows[ev.session_id], ev))
                                              for reader in wanted[topic] if reader is not None}))
            if ev.seq in routes:
                item = guest_event_view(settings, ev)
                items += [(ev.seq, venue_topic(v), {None: item}) for v in routes[ev.seq]]
        return _Batch(events[-1].seq, items)

    def _route(self, batch: _Batch) -> None:
        learned = self._learned
        for seq, topic, messages in batch.items:
            # When this process learned of it: the first announcement that covers it.
            at = bisect.bisect_left(learned, (seq, 0.0))
            since = learned[at][1] if at < len(learned) else None
            for sub in self._topics.get(topic, ()):
                message = messages.get(sub.reader)
                if message is None:  # subscribed after the batch was prepared: it catches up instead
                    sub.behind = True
                    sub.ready.set()
                else:
                    sub.push((seq, message, since))
                    self.routed += 1
        self._head = max(self._head, batch.head)
        del learned[:bisect.bisect_right(learned, (self._head, float("inf")))]

    def delivered(self, since: float | None) -> None:
        if since is not None and self.on_delivery is not None:
            self.on_delivery(time.monotonic() - since)


async def stream_until_closed(notifier: Notifier, sub: Subscription, cursor: int,
                              backlog: Callable[[int], list[Item]], send: Callable[[Any], Awaitable[None]],
                              check: Callable[[], float], closed: asyncio.Future[Any] | asyncio.Task[Any]) -> int:
    """Send ``sub``'s messages after ``cursor`` until ``closed`` completes; return the last sequence sent.
    ``check()`` raises to end the stream (an expired token) and returns how long the stream may wait now."""
    while not closed.done():
        wait = check()
        nxt = asyncio.ensure_future(notifier.next(sub, cursor, backlog, wait))
        await asyncio.wait({nxt, closed}, return_when=asyncio.FIRST_COMPLETED)
        if not nxt.done():
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await nxt
            break
        items = nxt.result()
        if items:
            check()  # nothing goes out on a token that expired while the stream waited
        for seq, message, since in items:
            if seq > cursor:
                await send(message)
                cursor = seq
                notifier.delivered(since)
    return cursor
