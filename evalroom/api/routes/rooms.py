"""Rooms and seats: add seats, mark rooms and seats faulty, and search for free, working seats.

Faults are a person's judgement and stay until a person clears them; device states come from the site agent.
Another venue's operator gets 404 for a room or seat, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from evalroom.api.deps import Ctx, aware, require
from evalroom.api.params import FromTime, ToTime
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import FaultMark, RoomPublic, SearchResult, SeatCreate, SeatPublic, Specialty
from evalroom.services import inventory, offers

router = APIRouter(tags=["rooms and seats"])
Manager = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
RoomId = Annotated[str, Path(max_length=64)]


@router.post("/rooms/{room_id}/seats", status_code=201, summary="Add a seat to a room (its devices start unknown)")
def create_seat(ctx: Ctx, principal: Manager, room_id: RoomId, body: SeatCreate) -> SeatPublic:
    with ctx.store.write() as tx:
        seat, room = inventory.create_seat(tx, principal, room_id, body)
        return inventory.seat_public(seat, room)


@router.patch("/rooms/{room_id}", summary="Mark a room faulty (with the reason) or clear the mark")
def mark_room(ctx: Ctx, principal: Manager, room_id: RoomId, body: FaultMark) -> RoomPublic:
    with ctx.store.write() as tx:
        room = inventory.mark_room(tx, principal, room_id, body.fault)
    return next(r for r in inventory.list_rooms(ctx.store, principal, room.venue_id) if r.id == room.id)


@router.patch("/seats/{seat_id}", summary="Mark a seat faulty (with the reason) or clear the mark")
def mark_seat(ctx: Ctx, principal: Manager, seat_id: Annotated[str, Path(max_length=64)], body: FaultMark) -> SeatPublic:
    with ctx.store.write() as tx:
        seat, room = inventory.mark_seat(tx, principal, seat_id, body.fault)
        return inventory.seat_public(seat, room)


@router.get("/seats/search", summary="Venues that can serve N seats with these specialties in a window")
def search(ctx: Ctx, principal: Manager, seats: Annotated[int, Query(ge=1, le=500)],
           start: FromTime, end: ToTime,
           specialty: Annotated[list[Specialty], Query(max_length=50)] = []) -> SearchResult:  # noqa: B006
    count, venues = offers.search(ctx.store, ctx.settings, principal, seats=seats, specialties=specialty,
                                  start=aware(start, "from"), end=aware(end, "to"))
    return SearchResult(count=count, venues=venues)
