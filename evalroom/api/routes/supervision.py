"""Supervision of a session: marks (annotations, warnings, flagged experts), complaints, and replay.

Who (docs/api.md has the table): the session's supervisors mark the session and record complaints; only the
primary supervisor rules on and decides complaints; the coordinator admin and the session's supervisors read
marks and complaints and replay the session (services/supervision.py, complaints.py, replay.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse

from evalroom.api.deps import Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import (
    AnnotationCreate,
    ComplaintCreate,
    ComplaintDecision,
    ComplaintRuling,
    ExpertFlagCreate,
    WarningCreate,
)
from evalroom.services import complaints, replay, supervision
from evalroom.services.supervision import mark_view

router = APIRouter(prefix="/sessions/{session_id}", tags=["supervision"])
Supervisor = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
Overseer = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.SUPERVISOR))]
SessionId = Annotated[str, Path(max_length=64)]
PathPart = Annotated[str, Path(max_length=120)]
View = dict[str, Any]


@router.post("/annotations", status_code=201, summary="Annotate a moment of the session (its supervisors)")
def annotate(ctx: Ctx, principal: Supervisor, session_id: SessionId, body: AnnotationCreate) -> View:
    with ctx.store.write() as tx:
        return mark_view(supervision.annotate(tx, principal, session_id, body))


@router.post("/warnings", status_code=201, summary="Send a warning every venue of the running session sees")
def warn(ctx: Ctx, principal: Supervisor, session_id: SessionId, body: WarningCreate) -> View:
    with ctx.store.write() as tx:
        return mark_view(supervision.warn(tx, principal, session_id, body))


@router.post("/expert-flags", status_code=201, summary="Flag a member of the committee (its supervisors)")
def flag_expert(ctx: Ctx, principal: Supervisor, session_id: SessionId, body: ExpertFlagCreate) -> View:
    with ctx.store.write() as tx:
        return mark_view(supervision.flag_expert(tx, principal, session_id, body))


@router.get("/marks", summary="The supervisors' marks on the session, oldest first")
def marks(ctx: Ctx, principal: Overseer, session_id: SessionId) -> list[View]:
    return supervision.list_marks(ctx.store, principal, session_id)


@router.post("/complaints", status_code=201, summary="Record a complaint received (its supervisors)")
def file_complaint(ctx: Ctx, principal: Supervisor, session_id: SessionId, body: ComplaintCreate) -> View:
    with ctx.store.write() as tx:
        return complaints.file_complaint(tx, ctx.settings, principal, session_id, body)


@router.get("/complaints", summary="The session's complaints with their deadlines and what is overdue")
def list_complaints(ctx: Ctx, principal: Overseer, session_id: SessionId) -> list[View]:
    return complaints.list_complaints(ctx.store, ctx.settings, principal, session_id)


@router.post("/complaints/{complaint_id}/ruling", summary="Accept or refuse a complaint (the primary supervisor)")
def rule(ctx: Ctx, principal: Supervisor, session_id: SessionId, complaint_id: PathPart,
         body: ComplaintRuling) -> View:
    with ctx.store.write() as tx:
        return complaints.rule(tx, ctx.settings, principal, session_id, complaint_id, body)


@router.post("/complaints/{complaint_id}/decision", summary="Decide an accepted complaint (the primary supervisor)")
def decide(ctx: Ctx, principal: Supervisor, session_id: SessionId, complaint_id: PathPart,
           body: ComplaintDecision) -> View:
    with ctx.store.write() as tx:
        return complaints.decide(tx, ctx.settings, principal, session_id, complaint_id, body)


@router.get("/replay", summary="Every track of every venue on one clock, with the session's events as markers")
def timeline(ctx: Ctx, principal: Overseer, session_id: SessionId) -> View:
    return replay.timeline(ctx.store, principal, session_id)


@router.get("/recordings/{publisher}/{track}/{file}", response_class=FileResponse,
            summary="A recorded segment, as logged (HTTP ranges honoured; X-Content-SHA256 is the logged hash)")
def segment(ctx: Ctx, principal: Overseer, session_id: SessionId, publisher: PathPart, track: PathPart,
            file: PathPart) -> FileResponse:
    path, sha256, media_type = replay.segment_path(ctx.store, ctx.settings, principal, session_id, publisher,
                                                   track, file)
    return FileResponse(path, media_type=media_type, headers={"X-Content-SHA256": sha256,
                                                              "Cache-Control": "private, max-age=86400"})
