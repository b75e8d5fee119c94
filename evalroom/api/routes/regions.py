"""Regions: each with its own certificate authority and expert pool; admins only."""

from __future__ import annotations

from fastapi import APIRouter

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import RegionCreate, RegionPublic
from evalroom.services import registry

router = APIRouter(prefix="/regions", tags=["registry"])


@router.post("", status_code=201, summary="Register a region")
def create(ctx: Ctx, admin: Admin, body: RegionCreate) -> RegionPublic:
    with ctx.store.write() as tx:
        region = registry.create_region(tx, admin.actor, body)
    return RegionPublic.model_validate(region)


@router.get("", summary="List regions")
def list_(ctx: Ctx, _admin: Admin) -> list[RegionPublic]:
    return [RegionPublic.model_validate(r) for r in registry.list_regions(ctx.store)]
