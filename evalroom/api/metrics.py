"""What an operator watches a coordinator by: ``GET /metrics`` in the Prometheus text format, and the one
middleware that observes every HTTP request (its id, docs/api.md "Errors"; its latency).

**What it must never do.** A metric's labels come from small sets fixed by the code or the configuration —
HTTP method, route *template*, status class, stream kind, media node — never from a user, a token, a session
or venue id, a path as sent, or any free text: every label value is a time series kept for weeks, and a label
fed by clients is both unbounded memory and a leak of who did what (四不知 holds for the operators too). Nothing
here writes to the database, and a scrape never blocks the event loop on it: the few values that come from the
database are read in two short read transactions, on a thread of its own, under a timeout
(:meth:`Metrics.render`).

**One registry per app** (``app.state.metrics``), never the library's global default: the tests build many
apps in one process, and each app's numbers are its own. Three kinds of values:

- observed as things happen, in the registry: HTTP request latency (:class:`RequestMiddleware`), write
  transactions (the store's ``on_write`` listener), stream delivery (:meth:`Metrics.observe_delivery`);
- read from memory at scrape time, on the event loop that owns that state: open streams by kind and state, the
  notifier's counters, leadership and the PostgreSQL listener, the media nodes;
- read from the database at scrape time, in a thread: the event chain's head (``Store.head``), the
  transparency log's size, cursor, newest checkpoint and newest witness cosignature (one read).

The reference, every name with its type, labels and meaning, is docs/operations.md "Metrics and logs".
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evalroom import __version__
from evalroom.config import Settings
from evalroom.errors import ForbiddenError
from evalroom.logs import REQUEST_ID, request_id_from
from evalroom.services.tlog import COSIGN_WINDOW, log_state
from evalroom.storage.store import Store

if TYPE_CHECKING:
    from evalroom.api.cluster import Leadership, Listener
    from evalroom.api.live import Notifier
    from evalroom.services.media import MediaHub

__all__ = ["METRICS_PATH", "Metrics", "RequestMiddleware", "router"]

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
DATABASE_TIMEOUT_SECONDS = 5.0
"""A scrape waits this long for its database read; past it, it answers without those values
(``evalroom_metrics_database_up 0``) and the read, still running, is shared by the next scrape."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STREAM_KINDS = {"session": "session", "venue": "site_link"}
"""The notifier's topic kinds (api/live.py) by the name the metrics give them."""


@dataclass(frozen=True)
class _DatabaseValues:
    chain_head: int
    log_size: int
    log_cursor: int
    checkpoint_age: float | None
    """Seconds since the newest checkpoint was signed; None: no checkpoint yet."""
    cosigned_age: float | None
    """Seconds since the newest checkpoint that carries a witness cosignature was signed (cosignatures hold no
    time of their own); +Inf: none among the newest :data:`COSIGN_WINDOW`; None: no checkpoint yet."""
    cosignatures: int
    """Witness cosignatures on that checkpoint."""
    seconds: float


class _Exposition(Collector):
    """One scrape's view: the registry's instruments and the values read for this scrape."""

    def __init__(self, registry: CollectorRegistry, families: list[Metric]) -> None:
        self._registry, self._families = registry, families

    def collect(self) -> Iterable[Metric]:
        yield from self._registry.collect()
        yield from self._families


def _status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status <= 599 else "5xx"


def _route_template(scope: Scope, root_path: str) -> str:
    """The route the request matched as written in the code (``/api/v1/sessions/{session_id}``), never the path as
    sent; a mount (``/static``) as ``<mount>/{path}``; ``unmatched`` for anything else."""
    # FastAPI >= 0.16x keeps an included router's routes as written (without the prefix) and notes the route
    # with its full path here; older versions copied each route with the prefix into scope["route"].
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = getattr(context, "path", None)
    if isinstance(path, str):
        return path
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    mounted = scope.get("root_path", root_path)
    if mounted != root_path:
        return f"{mounted[len(root_path):]}/{{path}}"
    return "unmatched"


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


class Metrics:
    """The app's metrics: its registry, the instruments fed as things happen, and the scrape."""

    def __init__(self, settings: Settings, store: Store, *, notifier: Notifier, leadership: Leadership,
                 listener: Listener, media: MediaHub) -> None:
        self.settings, self.store = settings, store
        self.notifier, self.leadership, self.listener, self.media = notifier, leadership, listener, media
        self.registry = CollectorRegistry()
        r = self.registry
        self.http = Histogram("evalroom_http_request_duration_seconds",
                              "HTTP requests, from the first byte received to the last sent, by method, route "
                              "template and status class (websockets not included)",
                              ["method", "route", "status_class"], registry=r, buckets=_LATENCY_BUCKETS)
        self.write = Histogram("evalroom_write_seconds",
                               "Committed write transactions (Store.write), as long as the caller waited for them",
                               registry=r, buckets=_WRITE_BUCKETS)
        self.write_lock_wait = Histogram("evalroom_write_lock_wait_seconds",
                                         "Of each committed write transaction, the time spent waiting for the locks "
                                         "of the event chains it appends to (other writers holding them)",
                                         registry=r, buckets=_WRITE_BUCKETS)
        self.delivery = Histogram("evalroom_event_delivery_seconds",
                                  "From an event's commit to its send on a stream (session event stream or site "
                                  "link)", registry=r, buckets=_WRITE_BUCKETS)
        # The standard process_* and python_* series (CPU, memory, open files, garbage collection).
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self._executor: ThreadPoolExecutor | None = None
        self._reading: tuple[asyncio.AbstractEventLoop, asyncio.Future[_DatabaseValues]] | None = None

    # --- fed as things happen ---------------------------------------------------------------------------
    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http.labels(method if method in _METHODS else "other", route, _status_class(status)).observe(seconds)

    def observe_write(self, seconds: float, lock_wait_seconds: float) -> None:
        """The store's ``on_write`` listener. Never raises: it runs after a commit, which must stay a success."""
        try:
            self.write.observe(seconds)
            self.write_lock_wait.observe(lock_wait_seconds)
        except Exception:
            log.exception("observing a write failed")

    def observe_delivery(self, seconds: float) -> None:
        """One live message sent on a stream ``seconds`` after this process learned of its event's commit (the
        store's commit listener in this process, the PostgreSQL notification for another's): the notifier
        (api/live.py) calls it once per message sent. Not measured from the event's ``recorded_at``, which is the
        coordinator's injected clock. Thread-safe, never raises, costs a lock and an add."""
        try:
            self.delivery.observe(max(0.0, seconds))
        except Exception:
            log.exception("observing a delivery failed")

    # --- the scrape ---------------------------------------------------------------------------------------------
    def check_access(self, request: Request) -> None:
        """``metrics_access``: raise 404 when off, 403 ``forbidden`` for a client that may not read them."""
        access = self.settings.metrics_access
        if access == "off":
            raise StarletteHTTPException(404)  # answered like any unknown path
        if access == "loopback":
            if not _loopback(request.client.host if request.client else None):
                raise ForbiddenError("metrics are served to this machine only (metrics_access = loopback)")
            return
        expected = self.settings.metrics_token
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if expected is None or scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), expected.get_secret_value().encode()):
            raise ForbiddenError("metrics need the metrics token as a bearer token (metrics_access = token)")

    async def render(self) -> bytes:
        """The exposition: memory read here on the event loop, the database in the metrics thread, the text
        generated in the thread pool."""
        families, routed_head = self._memory()
        values = await self._database()
        families += self._database_families(values, routed_head)
        return await run_in_threadpool(generate_latest, _Exposition(self.registry, families))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._reading = None

    def _memory(self) -> tuple[list[Metric], int]:
        """What the running coordinator holds in memory (only read on the event loop that changes it)."""
        out: list[Metric] = []
        info = GaugeMetricFamily("evalroom_build_info", "The coordinator's version (always 1)", labels=["version"])
        info.add_metric([__version__], 1)
        out.append(info)

        streams = GaugeMetricFamily("evalroom_streams", "Open streams (websockets) by kind (session: a session's "
                                    "event stream; site_link: a venue's site link) and state (live: fed from memory; "
                                    "catching_up: reading its backlog from the database)", labels=["kind", "state"])
        counts = self.notifier.count()
        kinds = dict(_STREAM_KINDS)
        kinds.update({k: k for k, _ in counts if k not in kinds})  # a kind added later shows under its own name
        for topic_kind, kind in kinds.items():
            for behind, state in ((False, "live"), (True, "catching_up")):
                streams.add_metric([kind, state], counts.get((topic_kind, behind), 0))
        out.append(streams)

        head = self.notifier.head
        out.append(CounterMetricFamily("evalroom_notifier_routed_messages", "Messages the notifier handed to "
                                       "streams since start", value=self.notifier.routed))
        out.append(GaugeMetricFamily("evalroom_notifier_head_seq", "The last event sequence number the notifier "
                                     "has routed", value=head))
        out.append(GaugeMetricFamily("evalroom_cluster_leader", "1 while this process runs the coordinator-wide "
                                     "background jobs (always on SQLite)", value=int(self.leadership.leading)))
        out.append(CounterMetricFamily("evalroom_cluster_leadership_changes", "Times this process took or lost the "
                                       "leadership", value=self.leadership.changes))
        out.append(CounterMetricFamily("evalroom_cluster_notifications", "PostgreSQL notifications received from "
                                       "coordinator processes (commits, revocations); 0 on SQLite",
                                       value=self.listener.notifications))

        nodes = GaugeMetricFamily("evalroom_media_node_up", "1 while the coordinator holds a working connection to "
                                  "the media node (the embedded relay worker alive, a Janus node not lost); 0 before "
                                  "its first use and after a loss, until the next request connects again",
                                  labels=["backend", "node"])
        try:  # what MediaHub (services/media.py) knows without a request to a node: whether it is connected
            for backend, node, up in self.media.node_states():
                nodes.add_metric([backend, node], int(up))
            out.append(nodes)
        except Exception:  # the rest of the scrape is worth more than this gauge
            log.warning("metrics: reading the media nodes failed", exc_info=True)
        return out, head

    async def _database(self) -> _DatabaseValues | None:
        """This scrape's database values, or None (unreachable, or slower than the timeout). Scrapes that
        overlap share one read; there is never more than one on the metrics thread."""
        loop = asyncio.get_running_loop()
        if self._reading is None or self._reading[0] is not loop or self._reading[1].done():
            if self._executor is None:
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="metrics")
            self._reading = (loop, loop.run_in_executor(self._executor, self._read_database))
        try:
            return await asyncio.wait_for(asyncio.shield(self._reading[1]), DATABASE_TIMEOUT_SECONDS)
        except TimeoutError:
            log.warning("metrics: the database read took longer than %.0f s", DATABASE_TIMEOUT_SECONDS)
        except Exception:
            log.warning("metrics: reading the database failed", exc_info=True)
        return None

    def _read_database(self) -> _DatabaseValues:
        """In the metrics thread: the chain's head as the store gives it, and one short read of the log's tables."""
        started = time.perf_counter()
        chain_head = self.store.head()[0]
        with self.store.read() as s:
            state = log_state(s)
        now = self.store.clock.now()
        checkpoint_age = cosigned_age = None
        if state.checkpoint_at is not None:
            checkpoint_age = max(0.0, (now - state.checkpoint_at).total_seconds())
            cosigned_age = math.inf
            if state.cosigned_at is not None:
                cosigned_age = max(0.0, (now - state.cosigned_at).total_seconds())
        return _DatabaseValues(
            chain_head=chain_head, log_size=state.size, log_cursor=state.cursor,
            checkpoint_age=checkpoint_age, cosigned_age=cosigned_age, cosignatures=state.cosignatures,
            seconds=time.perf_counter() - started)

    @staticmethod
    def _database_families(values: _DatabaseValues | None, routed_head: int) -> list[Metric]:
        out: list[Metric] = [GaugeMetricFamily("evalroom_metrics_database_up", "1 if this scrape read the database "
                                               "in time (else the database values below are missing)",
                                               value=int(values is not None))]
        if values is None:
            return out
        out += [
            GaugeMetricFamily("evalroom_metrics_database_read_seconds", "How long this scrape's database read took",
                              value=values.seconds),
            GaugeMetricFamily("evalroom_chain_head_seq", "The last sequence number of the coordinator-wide order of "
                              "events in the database (all coordinator processes' writes)", value=values.chain_head),
            GaugeMetricFamily("evalroom_notifier_lag_events", "Events committed but not yet routed to this process's "
                              "streams (chain head minus notifier head)",
                              value=max(0, values.chain_head - routed_head)),
            GaugeMetricFamily("evalroom_tlog_leaves", "The transparency log's size (leaves)", value=values.log_size),
            GaugeMetricFamily("evalroom_tlog_pending_events", "Events the transparency log has not examined yet "
                              "(chain head minus the log's cursor)",
                              value=max(0, values.chain_head - values.log_cursor)),
        ]
        if values.checkpoint_age is not None:
            out.append(GaugeMetricFamily("evalroom_tlog_checkpoint_age_seconds", "Seconds since the log's newest "
                                         "checkpoint was signed", value=values.checkpoint_age))
        if values.cosigned_age is not None:
            out.append(GaugeMetricFamily("evalroom_tlog_cosigned_checkpoint_age_seconds", "Seconds since the newest "
                                         "checkpoint a venue's witness cosigned was signed; +Inf when none of the "
                                         f"newest {COSIGN_WINDOW} checkpoints is cosigned", value=values.cosigned_age))
            out.append(GaugeMetricFamily("evalroom_tlog_cosigned_checkpoint_cosignatures", "Witness cosignatures on "
                                         "that checkpoint", value=values.cosignatures))
        return out


class RequestMiddleware:
    """Every HTTP request: gives it its id (``scope["state"]["request_id"]``, :data:`evalroom.logs.REQUEST_ID`
    while it runs, the ``X-Request-ID`` response header) and times it into
    ``evalroom_http_request_duration_seconds``. Websockets pass through untouched: a stream's lifetime is not a
    latency, and they are counted by ``evalroom_streams``.

    A pure ASGI middleware (not ``BaseHTTPMiddleware``, which runs the app in another task: the request id's
    context would not reach it, and streamed bodies would be buffered). It goes outermost of the app's own
    middlewares, so that the body limit's refusals carry the id too. The 500 answer for an unexpected exception is
    sent by Starlette outside every middleware: api/errors.py adds the header and the id to that one itself.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", ()) if k.lower() == b"x-request-id"), None)
        rid = request_id_from(incoming.decode("latin-1") if incoming is not None else None)
        scope.setdefault("state", {})["request_id"] = rid
        root_path = scope.get("root_path", "")
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        token = REQUEST_ID.set(rid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500  # Starlette's outermost handler answers it
            raise
        finally:
            REQUEST_ID.reset(token)
            if status:  # not for a request cancelled before it was answered (the client went away)
                self.metrics.observe_request(scope["method"], _route_template(scope, root_path), status,
                                             time.perf_counter() - started)


router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (docs/operations.md "Metrics and logs"); who may read them: ``metrics_access``."""
    m: Metrics = request.app.state.metrics
    m.check_access(request)
    return Response(await m.render(), media_type=CONTENT_TYPE_LATEST)
