"""Rooms, seats and their devices; venue credentials. The registry below a venue.

Rooms and seats come from two sides. Admins and the venue's own operators register them and mark them
faulty (a person's judgement: "the projector in room 2 is broken"). The venue's site agent reports its rooms,
seats and the state of each seat's five devices (sites/devices.py); a report creates rooms and seats the
coordinator does not know yet and updates device states, but never clears a fault a person set. A seat the
agent no longer reports gets its devices set to ``unknown`` — not usable — rather than deleted, since
bookings refer to it.

Each change is an event routed to the venue, so the venue's agent hears of faults marked at the coordinator.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ConflictError, ErrorCode, NotFoundError
from evalroom.schemas import CredentialCreate, RoomCreate, RoomPublic, SeatCreate, SeatPublic
from evalroom.services import evaluation
from evalroom.storage.models import Room, Seat, Venue, VenueCredential
from evalroom.storage.store import Store, Tx
from sites.devices import DEVICES, DeviceState, unusable_reasons
from sites.protocol import Inventory, credential_id

__all__ = [
    "check_venue_scope",
    "create_room",
    "create_seat",
    "credential_public_key",
    "list_credentials",
    "list_rooms",
    "mark_room",
    "mark_seat",
    "register_credential",
    "report_inventory",
    "revoke_credential",
    "seat_devices",
    "seat_public",
]


def check_venue_scope(principal: Principal, venue_id: str) -> None:
    """Admins reach every venue; operators and site agents only their own (404 otherwise, as if absent)."""
    if principal.role is not Role.COORDINATOR_ADMIN and principal.venue_id != venue_id:
        raise NotFoundError("venue", venue_id)


def _venue(s: Session, principal: Principal, venue_id: str) -> Venue:
    check_venue_scope(principal, venue_id)
    venue = s.get(Venue, venue_id)
    if venue is None:
        raise NotFoundError("venue", venue_id)
    return venue


def _room(s: Session, principal: Principal, room_id: str) -> Room:
    room = s.get(Room, room_id)
    if room is None or (principal.role is not Role.COORDINATOR_ADMIN and principal.venue_id != room.venue_id):
        raise NotFoundError("room", room_id)
    return room


def seat_devices(seat: Seat) -> dict[str, str]:
    return {d: getattr(seat, d) for d in DEVICES}


def seat_public(seat: Seat, room: Room) -> SeatPublic:
    reasons = unusable_reasons(seat_devices(seat), seat_fault=seat.fault, room_fault=room.fault)
    return SeatPublic(id=seat.id, room_id=seat.room_id, code=seat.code, devices=seat_devices(seat),
                      devices_reported_at=seat.devices_reported_at, fault=seat.fault, usable=not reasons,
                      unusable_reasons=reasons)


def _room_payload(room: Room) -> dict[str, object]:
    return {"room_id": room.id, "venue_id": room.venue_id, "code": room.code, "name": room.name, "kind": room.kind}


def _new_room(tx: Tx, actor: str, venue_id: str, code: str, name: str, kind: str) -> Room:
    room = Room(id=str(uuid.uuid4()), venue_id=venue_id, code=code, name=name, kind=kind, created_at=tx.now())
    tx.session.add(room)
    tx.record(actor=actor, kind="room.created", payload=_room_payload(room), venue_ids=[venue_id])
    return room


def _new_seat(tx: Tx, actor: str, room: Room, code: str, devices: dict[str, str] | None = None,
              reported_at: datetime | None = None) -> Seat:
    devices = devices or {d: DeviceState.UNKNOWN.value for d in DEVICES}
    seat = Seat(id=str(uuid.uuid4()), room_id=room.id, venue_id=room.venue_id, code=code, created_at=tx.now(),
                devices_reported_at=reported_at, **devices)
    tx.session.add(seat)
    tx.record(actor=actor, kind="seat.created", venue_ids=[room.venue_id],
              payload={"seat_id": seat.id, "room_id": room.id, "venue_id": room.venue_id, "code": code,
                       "devices": devices})
    return seat


def create_room(tx: Tx, principal: Principal, venue_id: str, data: RoomCreate) -> Room:
    _venue(tx.session, principal, venue_id)
    if tx.session.scalar(select(Room.id).where(Room.venue_id == venue_id, Room.code == data.code)) is not None:
        raise ConflictError(f"the venue already has a room {data.code!r}")
    return _new_room(tx, principal.actor, venue_id, data.code, data.name, data.kind)


def create_seat(tx: Tx, principal: Principal, room_id: str, data: SeatCreate) -> tuple[Seat, Room]:
    room = _room(tx.session, principal, room_id)
    if tx.session.scalar(select(Seat.id).where(Seat.room_id == room_id, Seat.code == data.code)) is not None:
        raise ConflictError(f"the room already has a seat {data.code!r}")
    return _new_seat(tx, principal.actor, room, data.code), room


def mark_room(tx: Tx, principal: Principal, room_id: str, fault: str | None) -> Room:
    room = _room(tx.session, principal, room_id)
    if room.fault != fault:
        room.fault = fault
        tx.record(actor=principal.actor, kind="room.fault_marked" if fault else "room.fault_cleared",
                  venue_ids=[room.venue_id], payload={"room_id": room.id, "venue_id": room.venue_id, "fault": fault})
    return room


def mark_seat(tx: Tx, principal: Principal, seat_id: str, fault: str | None) -> tuple[Seat, Room]:
    seat = tx.session.get(Seat, seat_id)
    if seat is None:
        raise NotFoundError("seat", seat_id)
    room = _room(tx.session, principal, seat.room_id)
    if seat.fault != fault:
        seat.fault = fault
        tx.record(actor=principal.actor, kind="seat.fault_marked" if fault else "seat.fault_cleared",
                  venue_ids=[seat.venue_id], payload={"seat_id": seat.id, "venue_id": seat.venue_id, "fault": fault})
    return seat, room


def list_rooms(store: Store, principal: Principal, venue_id: str) -> list[RoomPublic]:
    with store.read() as s:
        _venue(s, principal, venue_id)
        rooms = list(s.scalars(select(Room).where(Room.venue_id == venue_id).order_by(Room.code)))
        seats = list(s.scalars(select(Seat).where(Seat.venue_id == venue_id).order_by(Seat.code)))
    by_room: dict[str, list[SeatPublic]] = {r.id: [] for r in rooms}
    rooms_by_id = {r.id: r for r in rooms}
    for seat in seats:
        by_room[seat.room_id].append(seat_public(seat, rooms_by_id[seat.room_id]))
    return [RoomPublic(id=r.id, venue_id=r.venue_id, code=r.code, name=r.name, kind=r.kind, fault=r.fault,
                       seats=by_room[r.id]) for r in rooms]


def report_inventory(tx: Tx, settings: Settings, actor: str, venue_id: str, report: Inventory) -> int:
    """Apply a site agent's report; return how many events it caused (0 when nothing changed). A seat of a
    seated expert that stops working is the venue's media down for that session (services/evaluation.py)."""
    before = tx.recorded
    now = tx.now()
    rooms = {r.code: r for r in tx.session.scalars(select(Room).where(Room.venue_id == venue_id))}
    seats = {(s.room_id, s.code): s for s in tx.session.scalars(select(Seat).where(Seat.venue_id == venue_id))}
    reported: set[str] = set()
    codes = [r.code for r in report.rooms]
    if len(codes) != len(set(codes)):
        raise ApiError(ErrorCode.VALIDATION_FAILED, "inventory: a room code appears twice")
    for room_report in report.rooms:
        room = rooms.get(room_report.code)
        if room is None:
            room = rooms[room_report.code] = _new_room(tx, actor, venue_id, room_report.code, room_report.name,
                                                       room_report.kind.value)
        elif room.kind != room_report.kind.value:
            raise ApiError(ErrorCode.INVALID_INPUT, f"inventory: room {room.code} is {room.kind} at the coordinator; "
                                                    "a room's kind is changed by an admin, not by a report")
        seat_codes = [s.code for s in room_report.seats]
        if len(seat_codes) != len(set(seat_codes)):
            raise ApiError(ErrorCode.VALIDATION_FAILED, f"inventory: a seat code appears twice in room {room.code}")
        for seat_report in room_report.seats:
            devices = {d: seat_report.devices.get(d, DeviceState.UNKNOWN).value for d in DEVICES}
            seat = seats.get((room.id, seat_report.code))
            if seat is None:
                seat = _new_seat(tx, actor, room, seat_report.code, devices, now)
            else:
                _set_devices(tx, actor, seat, devices, now)
            reported.add(seat.id)
    unknown = {d: DeviceState.UNKNOWN.value for d in DEVICES}
    for seat in seats.values():
        if seat.id not in reported:
            _set_devices(tx, actor, seat, unknown, now)
    if tx.recorded > before:
        by_id = {r.id: r for r in rooms.values()}
        unusable = {seat.id: why for seat in seats.values() if (why := unusable_reasons(
            seat_devices(seat), seat_fault=seat.fault, room_fault=by_id[seat.room_id].fault))}
        evaluation.media_check(tx, settings, venue_id, unusable)
    return tx.recorded - before


def _set_devices(tx: Tx, actor: str, seat: Seat, devices: dict[str, str], now: datetime) -> None:
    seat.devices_reported_at = now
    old = seat_devices(seat)
    if old != devices:
        for d, state in devices.items():
            setattr(seat, d, state)
        tx.record(actor=actor, kind="seat.devices_changed", venue_ids=[seat.venue_id],
                  payload={"seat_id": seat.id, "venue_id": seat.venue_id, "devices": devices,
                           "changed": sorted(d for d in DEVICES if old[d] != devices[d])})


# --- credentials ------------------------------------------------------------------------------------------
def _raw_key(text: str) -> ed25519.Ed25519PublicKey:
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(text + "="))
    except ValueError:
        raise ApiError(ErrorCode.INVALID_INPUT, "public_key is not an Ed25519 public key") from None


def register_credential(tx: Tx, actor: str, venue_id: str, data: CredentialCreate) -> VenueCredential:
    if tx.session.get(Venue, venue_id) is None:
        raise NotFoundError("venue", venue_id)
    kid = credential_id(_raw_key(data.public_key))
    if tx.session.get(VenueCredential, kid) is not None:
        raise ConflictError("this key is already registered")
    cred = VenueCredential(id=kid, venue_id=venue_id, public_key=data.public_key, label=data.label,
                           created_at=tx.now())
    tx.session.add(cred)
    tx.record(actor=actor, kind="venue.credential_registered", venue_ids=[venue_id],
              payload={"venue_id": venue_id, "credential_id": kid, "label": data.label})
    return cred


def revoke_credential(tx: Tx, actor: str, venue_id: str, credential_id_: str) -> VenueCredential:
    cred = tx.session.get(VenueCredential, credential_id_)
    if cred is None or cred.venue_id != venue_id:
        raise NotFoundError("credential", credential_id_)
    if cred.revoked_at is not None:
        raise ConflictError("the credential is already revoked")
    cred.revoked_at = tx.now()
    tx.record(actor=actor, kind="venue.credential_revoked", venue_ids=[venue_id],
              payload={"venue_id": venue_id, "credential_id": cred.id, "revoked_at": format_time(cred.revoked_at)})
    return cred


def list_credentials(store: Store, venue_id: str) -> list[VenueCredential]:
    with store.read() as s:
        if s.get(Venue, venue_id) is None:
            raise NotFoundError("venue", venue_id)
        return list(s.scalars(select(VenueCredential).where(VenueCredential.venue_id == venue_id)
                              .order_by(VenueCredential.created_at)))


def credential_public_key(store: Store, kid: str) -> tuple[Venue, ed25519.Ed25519PublicKey] | None:
    """The venue and key of a live (unrevoked) credential, or None."""
    with store.read() as s:
        cred = s.get(VenueCredential, kid)
        if cred is None or cred.revoked_at is not None:
            return None
        return s.get(Venue, cred.venue_id), _raw_key(cred.public_key)
