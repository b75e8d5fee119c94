"""Expert pools: import (all or nothing), list, read and change one expert. Coordinator admins only: the
pools are the coordinator's, and staff at venues must not know who the experts are (四不知)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import ExpertImport, ExpertPublic, ExpertUpdate, ImportResult
from evalroom.services import experts

router = APIRouter(tags=["experts"])
RegionId = Annotated[str, Path(max_length=64)]
ExpertId = Annotated[str, Path(max_length=64)]


def _today(ctx: Ctx) -> date:
    """Today where the coordinator is, for 'recent evaluations'."""
    return ctx.clock.now().astimezone(ctx.settings.zone).date()


@router.post("/regions/{region_id}/experts/import",
             summary="Import a region's expert pool from CSV or JSON (docs/formats.md); nothing on any error")
def import_(ctx: Ctx, admin: Admin, region_id: RegionId, body: ExpertImport) -> ImportResult:
    with ctx.store.write() as tx:
        return experts.import_experts(tx, ctx.sealer, ctx.committee.tree, admin.actor, region_id,
                                      body.content.encode(), body.format)


@router.get("/regions/{region_id}/experts", summary="A region's expert pool (identity numbers masked)")
def list_(ctx: Ctx, _admin: Admin, region_id: RegionId) -> list[ExpertPublic]:
    return experts.list_experts(ctx.store, region_id, _today(ctx))


@router.get("/experts/{expert_id}", summary="One expert, with recent evaluations")
def get(ctx: Ctx, _admin: Admin, expert_id: ExpertId) -> ExpertPublic:
    return experts.get_expert(ctx.store, expert_id, _today(ctx))


@router.patch("/experts/{expert_id}", summary="Change an expert's credit status, punishment record or availability")
def update(ctx: Ctx, admin: Admin, expert_id: ExpertId, body: ExpertUpdate) -> ExpertPublic:
    with ctx.store.write() as tx:
        experts.update_expert(tx, admin.actor, expert_id, body)
    return experts.get_expert(ctx.store, expert_id, _today(ctx))
