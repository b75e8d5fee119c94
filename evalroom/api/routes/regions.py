"""Regions: each with its own certificate authority and expert pool; admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from evalroom.api.deps import Admin, Ctx
from evalroom.schemas import RegionCreate, RegionPublic, RegionUpdate
from evalroom.services import registry

router = APIRouter(prefix="/regions", tags=["registry"])


@router.post("", status_code=201, summary="Register a region")
def create(ctx: Ctx, admin: Admin, body: RegionCreate) -> RegionPublic:
    with ctx.store.write() as tx:
        return registry.create_region(tx, admin.actor, body)


@router.get("", summary="List regions")
def list_(ctx: Ctx, _admin: Admin) -> list[RegionPublic]:
    return registry.list_regions(ctx.store)


@router.patch("/{region_id}", summary="Change a region's CA name or the specialties its expert pool covers")
def update(ctx: Ctx, admin: Admin, region_id: Annotated[str, Path(max_length=64)], body: RegionUpdate) -> RegionPublic:
    with ctx.store.write() as tx:
        return registry.update_region(tx, admin.actor, region_id, body)
