"""Expert fee batches: issue them for an ended session (the host's operators or the admin), list them, and read
one as JSON, CSV or XLSX (also the paying venue's operators). services/fees.py holds the rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from evalroom.api.deps import Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.services import fees

router = APIRouter(tags=["fees"])
Manager = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
Ident = Annotated[str, Path(max_length=64)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.post("/sessions/{session_id}/fee-batches", status_code=201,
             summary="Price the ended session's experts and store a batch per paying venue (201 if any is new)")
def issue(ctx: Ctx, principal: Manager, session_id: Ident) -> JSONResponse:
    with ctx.store.write() as tx:
        views, created = fees.issue(tx, ctx.settings, principal, session_id)
    return JSONResponse(views, status_code=201 if created else 200)


@router.get("/sessions/{session_id}/fee-batches", summary="The newest batch of each paying venue")
def list_(ctx: Ctx, principal: Manager, session_id: Ident) -> list[dict[str, Any]]:
    return fees.list_batches(ctx.store, principal, session_id)


@router.get("/fee-batches/{batch_id}", summary="One batch as JSON, CSV or XLSX (?format=)",
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def get(ctx: Ctx, principal: Manager, batch_id: Ident,
        format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json") -> Response:  # noqa: A002
    row = fees.get_batch(ctx.store, principal, batch_id)
    if format == "json":
        return JSONResponse(fees.batch_view(row))
    doc = row.content
    name = f"fees-{doc['session']['code']}-{doc['payer']['code']}-v{row.version}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": row.sha256}
    if format == "csv":
        return Response(fees.batch_csv(row, ctx.settings), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(fees.batch_xlsx(row, ctx.settings), media_type=XLSX, headers=headers)
