"""An ended session's evidence bundle (docs/formats.md, "The evidence bundle") as a download, for the people
who keep or check it: the coordinator's admins, the host venue's operators, and the session's supervisors.

The bundle is the one ``evalroom export`` writes (evalroom/evidence/export.py): written to a temporary file
under the data directory (it holds the recordings, so it is not built in memory), sent, and removed. Each
download is recorded as an event, so the session's record says who took its evidence away and when.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from evalroom.api.deps import Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.evidence.export import export_session
from evalroom.services.sessions import get_session

router = APIRouter(tags=["evidence"])
Keeper = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR))]


@router.get("/sessions/{session_id}/evidence", response_class=FileResponse,
            summary="The ended session's evidence bundle (zip; the same as `evalroom export`)",
            responses={200: {"content": {"application/zip": {}}}})
def evidence(ctx: Ctx, principal: Keeper, request: Request,
             session_id: Annotated[str, PathParam(max_length=64)]) -> FileResponse:
    session = get_session(ctx.store, principal, session_id)  # 404 outside the caller's scope
    folder = ctx.settings.data_dir / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="evidence-", suffix=".zip", dir=folder)
    os.close(handle)
    try:
        result = export_session(ctx.store, ctx.settings, request.app.state.log_key, ctx.seal().anchors,
                                session_id, Path(name))
        with ctx.store.write() as tx:
            tx.record(actor=principal.actor, kind="session.evidence_exported", session_id=session_id,
                      payload={"files": result.files, "bytes": result.bytes, "events": result.events,
                               "checkpoint_size": result.checkpoint_size, "incomplete": len(result.problems)})
    except BaseException:
        os.unlink(name)
        raise
    return FileResponse(name, media_type="application/zip", filename=f"evidence-{session.code}.zip",
                        background=BackgroundTask(os.unlink, name),
                        headers={"X-Evidence-Incomplete": str(len(result.problems))})
