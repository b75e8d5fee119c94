"""The transparency log, public and read-only: anyone may fetch checkpoints, leaves and proofs and check them
with ``evalroom verify-log`` or any RFC 6962 verifier (docs/protocols.md, "Transparency log")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from evalroom.api.deps import Ctx
from evalroom.errors import ApiError, ErrorCode
from evalroom.schemas import MAX_POSITION
from evalroom.services import tlog

router = APIRouter(prefix="/log", tags=["transparency log"])
MAX_LEAVES = 1000


@router.get("/checkpoint", response_class=PlainTextResponse,
            summary="The newest signed checkpoint (C2SP tlog-checkpoint in a signed note), or ?size=")
def checkpoint(ctx: Ctx, size: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None) -> PlainTextResponse:
    return PlainTextResponse(tlog.checkpoint(ctx.store, size).note)


@router.get("/key", response_class=PlainTextResponse, summary="The log's verifier key (name+id+key)")
def key(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.log_key.signer.verifier.vkey + "\n")


@router.get("/leaves", summary="Leaves [start, end), at most 1,000")
def leaves(ctx: Ctx, start: Annotated[int, Query(ge=0, le=MAX_POSITION)],
           end: Annotated[int, Query(ge=1, le=MAX_POSITION)]) -> list[dict[str, Any]]:
    if not start < end <= start + MAX_LEAVES:
        raise ApiError(ErrorCode.INVALID_INPUT, f"end must lie after start, at most {MAX_LEAVES} on")
    return tlog.leaves(ctx.store, start, end)


@router.get("/proofs/inclusion", summary="That leaf `index` is in the tree of `size`")
def inclusion(ctx: Ctx, index: Annotated[int, Query(ge=0, le=MAX_POSITION)],
              size: Annotated[int, Query(ge=1, le=MAX_POSITION)]) -> dict[str, Any]:
    return tlog.proof_inclusion(ctx.store, index, size)


@router.get("/proofs/consistency", summary="That the tree of `from` is a prefix of the tree of `to`")
def consistency(ctx: Ctx, from_: Annotated[int, Query(alias="from", ge=1, le=MAX_POSITION)],
                to: Annotated[int, Query(ge=1, le=MAX_POSITION)]) -> dict[str, Any]:
    return tlog.proof_consistency(ctx.store, from_, to)
