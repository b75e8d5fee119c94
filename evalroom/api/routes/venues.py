"""Venues (trading centres). Admins manage them; a venue's own operators and site agent may read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from evalroom.api.deps import Admin, Ctx, require
from evalroom.domain.roles import Principal, Role
from evalroom.errors import NotFoundError
from evalroom.schemas import VenueCreate, VenuePublic
from evalroom.services import registry

router = APIRouter(prefix="/venues", tags=["registry"])
VenueReader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT))]
VenueId = Annotated[str, Path(max_length=64)]


@router.post("", status_code=201, summary="Register a venue in a region")
def create(ctx: Ctx, admin: Admin, body: VenueCreate) -> VenuePublic:
    with ctx.store.write() as tx:
        venue = registry.create_venue(tx, admin.actor, body)
    return VenuePublic.model_validate(venue)


@router.get("", summary="List venues")
def list_(ctx: Ctx, _admin: Admin) -> list[VenuePublic]:
    return [VenuePublic.model_validate(v) for v in registry.list_venues(ctx.store)]


@router.get("/{venue_id}", summary="One venue; operators and site agents see only their own")
def get(ctx: Ctx, principal: VenueReader, venue_id: VenueId) -> VenuePublic:
    if principal.role is not Role.COORDINATOR_ADMIN and principal.venue_id != venue_id:
        raise NotFoundError("venue", venue_id)
    return VenuePublic.model_validate(registry.get_venue(ctx.store, venue_id))
