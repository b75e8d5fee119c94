"""Liveness and readiness, for load balancers and operators."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from evalroom import __version__
from evalroom.api.deps import Ctx
from evalroom.errors import ApiError, ErrorCode
from evalroom.storage import migrate

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/ready", summary="Readiness: database reachable, schema current, keys loaded")
async def ready(ctx: Ctx) -> dict[str, object]:
    def check() -> dict[str, str]:
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise ApiError(ErrorCode.NOT_READY, f"database unreachable: {type(exc).__name__}") from None
        if migrate.pending(ctx.engine):
            raise ApiError(ErrorCode.NOT_READY, "database schema is not current; run 'evalroom db upgrade'")
        return {"database": ctx.engine.url.get_backend_name(), "schema": migrate.head_revision(),
                "signing_key": ctx.keyring.active.kid}

    return {"status": "ready", "checks": await run_in_threadpool(check)}
