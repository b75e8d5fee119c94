"""Venues (trading centres): the registry, their rooms, calendar and site-agent credentials.

Admins manage venues and credentials; a venue's own operators manage its rooms; its operators and site agent
read its rooms and calendar; its operators, the sessions it lends seats to once their check-in has opened.
Another venue's operator gets 404 for all of it, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from evalroom.api.deps import Admin, Ctx, aware, require
from evalroom.api.params import FromTime, ToTime
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import (
    BookingPublic,
    CredentialCreate,
    CredentialPublic,
    RoomCreate,
    RoomPublic,
    VenueCreate,
    VenuePublic,
)
from evalroom.services import inventory, offers, registry, sessions

router = APIRouter(prefix="/venues", tags=["registry"])
VenueReader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT))]
VenueManager = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
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
    inventory.check_venue_scope(principal, venue_id)
    return VenuePublic.model_validate(registry.get_venue(ctx.store, venue_id))


@router.post("/{venue_id}/rooms", status_code=201, summary="Register a room (admins; the venue's operators)")
def create_room(ctx: Ctx, principal: VenueManager, venue_id: VenueId, body: RoomCreate) -> RoomPublic:
    with ctx.store.write() as tx:
        room = inventory.create_room(tx, principal, venue_id, body)
    return RoomPublic(id=room.id, venue_id=room.venue_id, code=room.code, name=room.name, kind=room.kind,
                      fault=room.fault, seats=[])


@router.get("/{venue_id}/rooms", summary="Rooms and seats with device states and whether each seat is usable")
def list_rooms(ctx: Ctx, principal: VenueReader, venue_id: VenueId) -> list[RoomPublic]:
    return inventory.list_rooms(ctx.store, principal, venue_id)


@router.get("/{venue_id}/guest-sessions",
            summary="Sessions this venue lends seats to, from their check-in on, as the venue takes part (its operators)")
def guest_sessions(ctx: Ctx, principal: VenueManager, venue_id: VenueId) -> list[dict[str, Any]]:
    return sessions.guest_sessions(ctx.store, principal, venue_id)


@router.get("/{venue_id}/calendar", summary="Live seat bookings overlapping a period (at most 92 days)")
def calendar(ctx: Ctx, principal: VenueReader, venue_id: VenueId, start: FromTime,
             end: ToTime) -> list[BookingPublic]:
    return offers.venue_calendar(ctx.store, principal, venue_id, aware(start, "from"), aware(end, "to"))


@router.post("/{venue_id}/credentials", status_code=201, summary="Register a site-agent key (Ed25519 public key)")
def register_credential(ctx: Ctx, admin: Admin, venue_id: VenueId, body: CredentialCreate) -> CredentialPublic:
    with ctx.store.write() as tx:
        return CredentialPublic.model_validate(inventory.register_credential(tx, admin.actor, venue_id, body))


@router.get("/{venue_id}/credentials", summary="The venue's site-agent keys")
def list_credentials(ctx: Ctx, _admin: Admin, venue_id: VenueId) -> list[CredentialPublic]:
    return [CredentialPublic.model_validate(c) for c in inventory.list_credentials(ctx.store, venue_id)]


@router.delete("/{venue_id}/credentials/{credential_id}", summary="Revoke a site-agent key; its links close")
def revoke_credential(ctx: Ctx, admin: Admin, venue_id: VenueId,
                      credential_id: Annotated[str, Path(max_length=64)]) -> CredentialPublic:
    with ctx.store.write() as tx:
        return CredentialPublic.model_validate(inventory.revoke_credential(tx, admin.actor, venue_id, credential_id))

