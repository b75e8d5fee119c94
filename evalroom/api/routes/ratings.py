"""Rating a session's experts (0–100) after it ended: the host's operators for the host, the tenderer's
representative on the committee for the tenderer; read by the admin, the host's operators and the session's
supervisors. services/ratings.py holds the rules; an expert's ratings show in ``GET /experts/{id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from evalroom.api.deps import Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import RatingCreate
from evalroom.services import ratings

router = APIRouter(prefix="/sessions/{session_id}", tags=["ratings"])
Rater = Annotated[Principal, Depends(require(Role.HALL_OPERATOR, Role.EXPERT))]
Reader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR))]
SessionId = Annotated[str, Path(max_length=64)]


@router.post("/ratings", status_code=201, summary="Rate an expert of the ended session (host, or tenderer)")
def rate(ctx: Ctx, principal: Rater, session_id: SessionId, body: RatingCreate) -> dict[str, Any]:
    with ctx.store.write() as tx:
        return ratings.rate(tx, ctx.settings, principal, session_id, body)


@router.get("/ratings", summary="The session's ratings, and until when they are taken")
def list_(ctx: Ctx, principal: Reader, session_id: SessionId) -> dict[str, Any]:
    return ratings.list_ratings(ctx.store, ctx.settings, principal, session_id)
