"""The coordinator's state at a glance, for its admin's status page (/admin): the database, the keys and when
each was made, the media nodes, the transparency log with its newest cosigned checkpoint, and the venues' links.

Everything here is read from what the process already holds or from one short read of the database; nothing asks
a media node or a venue. Key files are named and dated, never read out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from evalroom.api.deps import Admin, Ctx
from evalroom.auth.sealing import SEALING_KEY_FILE
from evalroom.clock import format_time
from evalroom.services.tlog import KEY_FILE as LOG_KEY_FILE
from evalroom.services.tlog import log_state, witnessed
from evalroom.storage import migrate
from evalroom.storage.models import Venue

router = APIRouter(prefix="/admin", tags=["admin"])


def _made(path: Path) -> str | None:
    """When a key file was written (its modification time: these keys carry no date of their own), or None
    when there is none."""
    try:
        return format_time(datetime.fromtimestamp(path.stat().st_mtime, UTC))
    except OSError:
        return None


def _kid_time(kid: str) -> str | None:
    """A token key's id begins with the moment it was made, on the coordinator's clock (auth/keys.py)."""
    try:
        return format_time(datetime.strptime(kid[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC))
    except ValueError:
        return None


@router.get("/status", summary="The coordinator's database, keys, media nodes, log and venue links (admins)")
async def status(ctx: Ctx, _admin: Admin, request: Request) -> dict[str, Any]:
    key_dir = ctx.settings.effective_key_dir
    ring = ctx.keyring.current()

    def read() -> dict[str, Any]:
        with ctx.store.read() as s:
            log = log_state(s)
            venues = list(s.scalars(select(Venue).order_by(Venue.code)))
            seen = witnessed(s)
        return {
            "database": {"backend": ctx.engine.url.get_backend_name(), "schema": migrate.head_revision(),
                         "chain_head": ctx.store.head()[0]},
            "log": {"size": log.size, "cursor": log.cursor,
                    "checkpoint_at": format_time(log.checkpoint_at) if log.checkpoint_at else None,
                    "cosigned_size": log.cosigned_size,
                    "cosigned_at": format_time(log.cosigned_at) if log.cosigned_at else None,
                    "cosignatures": log.cosignatures},
            "venues": [{"id": v.id, "code": v.code, "name": v.name, "online": v.online,
                        "last_heartbeat_at": format_time(v.last_heartbeat_at) if v.last_heartbeat_at else None,
                        "witnessed_size": seen[v.code][0] if v.code in seen else None,
                        "witnessed_at": format_time(seen[v.code][1]) if v.code in seen else None}
                       for v in venues],
        }

    state = await run_in_threadpool(read)
    state["keys"] = (
        [{"kind": "token", "id": kid, "active": kid == ring.active.kid, "made_at": _kid_time(kid)}
         for kid in ring.kids]
        + [{"kind": "sealing", "id": SEALING_KEY_FILE, "active": True, "made_at": _made(key_dir / SEALING_KEY_FILE)},
           {"kind": "log", "id": LOG_KEY_FILE, "active": True, "made_at": _made(key_dir / LOG_KEY_FILE)}])
    state["media"] = {"backend": ctx.settings.media_backend,
                      "nodes": [{"backend": b, "node": n, "connected": up}
                                for b, n, up in request.app.state.media.node_states()]}
    state["now"] = format_time(ctx.clock.now())
    return state
