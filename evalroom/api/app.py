"""The FastAPI application factory.

``create_app(settings)`` builds the coordinator's context (engine, migrations, keys) synchronously, so a
misconfiguration fails before a port is opened, and returns an app whose lifespan starts the event
notifier (api/live.py) and disposes of the engine at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from evalroom import __version__
from evalroom.api.cluster import Leadership, Listener, Sequencer
from evalroom.api.context import AppContext, build_context
from evalroom.api.errors import install_error_handlers
from evalroom.api.limits import BodyLimitMiddleware
from evalroom.api.live import Notifier
from evalroom.api.metrics import Metrics, RequestMiddleware
from evalroom.api.metrics import router as metrics_router
from evalroom.api.periodic import Periodic
from evalroom.api.routes import (
    accounts,
    admin,
    analysis,
    auth,
    committee,
    events,
    evidence,
    experts,
    fees,
    health,
    offers,
    pages,
    publications,
    ratings,
    regions,
    rooms,
    sessions,
    signing,
    site,
    supervision,
    venues,
)
from evalroom.api.routes import evaluation as evaluation_routes
from evalroom.api.routes import log as log_routes
from evalroom.api.routes import media as media_routes
from evalroom.clock import Clock
from evalroom.config import Settings
from evalroom.schemas import ERROR_RESPONSES
from evalroom.services import committee as committee_service
from evalroom.services import evaluation, site_link, tlog
from evalroom.services.media import MediaHub
from evalroom.web import STATIC

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def create_app(settings: Settings, clock: Clock | None = None, *, context: AppContext | None = None) -> FastAPI:
    ctx = context or build_context(settings, clock)
    notifier = Notifier(ctx.store, ctx.settings)
    # Other coordinator processes on the same PostgreSQL: their commits and revocations, and who leads.
    leadership = Leadership(ctx.engine, eligible=ctx.settings.background_jobs)
    sequencer = Sequencer(ctx.store, leadership)
    listener = Listener(ctx.engine, notifier.notify_threadsafe, notifier.revoke_threadsafe, notifier.poll_threadsafe)
    media = MediaHub(ctx.settings, ctx.store)
    log_key = tlog.load_or_create_log_key(ctx.settings)
    # This app's own registry (api/metrics.py): never the process-wide default, which every app built in one
    # process (the tests) would share.
    metrics = Metrics(ctx.settings, ctx.store, notifier=notifier, leadership=leadership, listener=listener,
                      media=media)
    ctx.store.on_write(metrics.observe_write)
    notifier.on_delivery = metrics.observe_delivery

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await notifier.start()
        await sequencer.start()
        listener.start()
        # Expires overdue offers, marks silent venues offline (suspending their sessions), finishes draws a
        # crash interrupted and seals sessions whose fault outlasted the limit. Only the leading coordinator
        # process runs it (api/cluster.py); the work is idempotent and done under the write lock anyway.
        def housekeep() -> int:
            if not leadership.is_leader():
                return 0
            return (site_link.housekeep(ctx.store, ctx.settings)
                    + committee_service.complete_pending_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings)
                    + evaluation.expire_faults(ctx.store, ctx.settings))

        housekeeper = Periodic("housekeeping", ctx.settings.housekeeping_seconds, housekeep)
        housekeeper.start()
        # The transparency log's only writer, in the leading process: the public facts recorded since its last
        # batch, one checkpoint.
        logger = Periodic("transparency log", ctx.settings.log_batch_seconds,
                          lambda: tlog.append_pending(ctx.store, log_key) if leadership.is_leader() else None)
        logger.start()
        log.info("coordinator ready (database: %s)", ctx.engine.url.get_backend_name())
        try:
            yield
        finally:
            await housekeeper.stop()
            await logger.stop()
            await sequencer.stop()
            leadership.close()
            listener.stop()
            await media.close()
            await notifier.stop()
            metrics.close()
            ctx.close()

    app = FastAPI(
        title="evalroom coordinator",
        version=__version__,
        description="Remote cross-region bid evaluation (远程异地评标). Errors are "
                    '`{"error": {"code", "message", "request_id"}}` with codes listed in docs/api.md; the '
                    "request id is also in every response's `X-Request-ID` header.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.notifier = notifier
    app.state.leadership = leadership
    app.state.listener = listener
    app.state.sequencer = sequencer
    app.state.media = media
    app.state.log_key = log_key
    app.state.metrics = metrics
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=ctx.settings.max_body_bytes)
    app.add_middleware(RequestMiddleware, metrics=metrics)  # added last: outermost, so every answer has its id
    for module in (health, auth, accounts, admin, regions, experts, venues, rooms, sessions, offers, committee,
                   evaluation_routes, signing, supervision, publications, fees, ratings, analysis, evidence,
                   media_routes, log_routes, site, events):
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(pages.config_router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(pages.router)
    app.include_router(publications.page_router)
    app.include_router(metrics_router)  # /metrics, outside /api/v1: for Prometheus, by address or metrics token
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
