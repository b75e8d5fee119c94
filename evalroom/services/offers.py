"""Seat search, offers (要约) between venues, bookings, and proposals of guest venues.

The rules live in ``sites`` (sites/offers.py for states and views, sites/calendar.py for windows and seat
choice, sites/pairing.py for proposals); this module applies them to the database. Every transition is one
write transaction with its event. Offer events carry the full offer record and are recorded against the
session (so supervisors and the audit see everything) and routed to the guest venue (its site agent's feed);
what each reader is shown of them is cut down by :func:`event_view_for` and ``guest_view``.

Double booking is refused twice: here, by reading the live bookings before inserting (a precise error), and
by the database (exclusion constraint / triggers, migration 0002) for writers that race past the first check.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evalroom.auth.sealing import Sealer
from evalroom.clock import format_time, parse_time
from evalroom.committee_config import load_committee_config
from evalroom.config import Settings
from evalroom.domain.events import Event
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ConflictError, ErrorCode, ForbiddenError, NotFoundError, domain_rules
from evalroom.schemas import BookingPublic, OfferChange, OfferCreate, VenueCapacity
from evalroom.services import draws
from evalroom.services.access import ReaderKind, check_host_or_admin
from evalroom.services.experts import covering_regions
from evalroom.services.inventory import check_venue_scope
from evalroom.storage.models import Draw, EvalSession, Offer, Room, Seat, SeatBooking, Venue
from evalroom.storage.store import Store, Tx
from sites.calendar import FreeSeat, Window, check_window, choose_seats
from sites.devices import DEVICES, DeviceState
from sites.errors import RuleViolation
from sites.offers import OfferAction, OfferState, guest_view, host_view, next_state, response_deadline
from sites.pairing import Candidate, least_recently_used_first, rank

__all__ = [
    "cancel_offer",
    "change_offer",
    "confirm_offer",
    "create_offer",
    "decline_offer",
    "event_view_for",
    "expire_due",
    "get_offer_view",
    "guest_event_view",
    "list_guest_offers",
    "list_session_offers",
    "offer_view_for",
    "perform_guest_draw",
    "request_drawn_offer",
    "search",
    "venue_calendar",
]

SYSTEM = "system:coordinator"


def _window(start: datetime, end: datetime) -> Window:
    with domain_rules():
        return Window(start, end)


def _check_window(settings: Settings, window: Window, now: datetime) -> None:
    with domain_rules():
        check_window(window, now=now, zone=settings.zone, may_cross_midnight=settings.booking_may_cross_midnight)


def _deadline(settings: Settings, now: datetime, window: Window, requested: datetime | None) -> datetime:
    with domain_rules():
        return response_deadline(now=now, window_start=window.start, requested=requested,
                                 default=timedelta(minutes=settings.offer_response_minutes))


# --- free seats and search --------------------------------------------------------------------------------
_USABLE = and_(Seat.fault.is_(None), Room.fault.is_(None),
               *(getattr(Seat, d) == DeviceState.OK.value for d in DEVICES))


def free_seats(s: Session, venue_ids: Sequence[str], window: Window, *, session_id: str | None) -> dict[str, list[FreeSeat]]:
    """Usable seats of each venue with no live booking overlapping ``window``; in single-project rooms, also
    none by another session. ``session_id``: the session asking (its own room bookings do not block it)."""
    live = and_(SeatBooking.released_at.is_(None), SeatBooking.starts_at < window.end,
                window.start < SeatBooking.ends_at)
    seat_taken = exists().where(SeatBooking.seat_id == Seat.id, live)
    room_taken = exists().where(SeatBooking.room_id == Room.id, SeatBooking.room_exclusive.is_(True),
                                SeatBooking.session_id != (session_id or ""), live)
    q = (select(Seat, Room).join(Room, Room.id == Seat.room_id)
         .where(Seat.venue_id.in_(list(venue_ids)), _USABLE, ~seat_taken,
                or_(Room.kind != "single", ~room_taken)))
    result: dict[str, list[FreeSeat]] = {v: [] for v in venue_ids}
    for seat, room in s.execute(q):
        result[seat.venue_id].append(FreeSeat(seat_id=seat.id, room_id=room.id, room_code=room.code,
                                              seat_code=seat.code))
    return result


def _covering_venues(s: Session, settings: Settings, seats: int, specialties: Sequence[str]) -> list[Venue]:
    """Venues whose region's expert pool can send ``seats`` experts with these specialties."""
    venues = list(s.scalars(select(Venue).order_by(Venue.code)))
    tree = load_committee_config(settings).tree
    able = covering_regions(s, tree, {v.region_id for v in venues}, specialties, seats)
    return [v for v in venues if v.region_id in able]


def _capacities(s: Session, settings: Settings, seats: int, specialties: Sequence[str], window: Window, *,
                session_id: str | None, exclude: Iterable[str] = ()) -> list[tuple[Venue, int]]:
    excluded = set(exclude)
    venues = [v for v in _covering_venues(s, settings, seats, specialties) if v.id not in excluded]
    free = free_seats(s, [v.id for v in venues], window, session_id=session_id)
    return [(v, len(free[v.id])) for v in venues if len(free[v.id]) >= seats]


def search(store: Store, settings: Settings, principal: Principal, *, seats: int, specialties: Sequence[str],
           start: datetime, end: datetime) -> tuple[int, list[VenueCapacity] | None]:
    """Venues that can serve "``seats`` seats, these specialties, this window", least recently used first.
    Host operators get only the count while blind pairing is on: which venues could serve is the
    coordinator's knowledge, and the guest is drawn, not chosen (两随机)."""
    window = _window(start, end)
    _check_window(settings, window, store.clock.now())
    with store.read() as s:
        found = _capacities(s, settings, seats, specialties, window, session_id=None,
                            exclude=[principal.venue_id] if principal.venue_id else [])
    ordered = sorted(found, key=lambda vc: (*least_recently_used_first(vc[0].last_lent_at), vc[0].code))
    if principal.role is not Role.COORDINATOR_ADMIN and settings.blind_pairing:
        return len(ordered), None
    return len(ordered), [VenueCapacity(venue_id=v.id, code=v.code, name=v.name, city=v.city, region_id=v.region_id,
                                        free_seats=n, online=v.online, last_lent_at=v.last_lent_at)
                          for v, n in ordered]


# --- records and views ------------------------------------------------------------------------------------
def _live_bookings(s: Session, offer_id: str) -> list[tuple[SeatBooking, Seat, Room]]:
    q = (select(SeatBooking, Seat, Room).join(Seat, Seat.id == SeatBooking.seat_id).join(Room, Room.id == Seat.room_id)
         .where(SeatBooking.offer_id == offer_id, SeatBooking.released_at.is_(None))
         .order_by(Room.code, Seat.code))
    return [tuple(row) for row in s.execute(q)]  # type: ignore[misc]


def offer_record(s: Session, offer: Offer) -> dict[str, Any]:
    """Every fact of an offer, as recorded in its events."""
    booked = _live_bookings(s, offer.id)
    return {
        "offer_id": offer.id, "session_id": offer.session_id, "host_venue_id": offer.host_venue_id,
        "guest_venue_id": offer.guest_venue_id, "state": offer.state, "version": offer.version,
        "seats": offer.seats, "specialties": list(offer.specialties), "starts_at": format_time(offer.starts_at),
        "ends_at": format_time(offer.ends_at), "respond_by": format_time(offer.respond_by),
        "proposed_by": offer.proposed_by, "reason": offer.reason,
        "seat_ids": [b.seat_id for b, _, _ in booked],
        "seat_codes": [f"{room.code}/{seat.code}" for _, seat, room in booked],
    }


def host_may_see_guest(settings: Settings, session: EvalSession) -> bool:
    """四不知: while blind pairing holds, a host venue learns its guests only when check-in opens."""
    return not settings.blind_pairing or session.check_in_opened_at is not None


def offer_view_for(principal: Principal, settings: Settings, record: Mapping[str, Any],
                   session: EvalSession) -> dict[str, Any] | None:
    """What ``principal`` may see of an offer, or None if nothing (then the caller answers 404)."""
    match principal.role:
        case Role.COORDINATOR_ADMIN:
            return dict(record)
        case Role.SUPERVISOR if principal.supervises(session.id):
            return dict(record)
        case Role.HALL_OPERATOR | Role.SITE_AGENT if principal.venue_id == record["guest_venue_id"]:
            return guest_view(record, settings.zone)
        case Role.HALL_OPERATOR if principal.venue_id == record["host_venue_id"]:
            return host_view(record, reveal_guest=host_may_see_guest(settings, session))
    return None


_PROPOSAL_HIDDEN = ("candidates", "chosen")
_GUEST_ANSWERS = ("offer.confirmed", "offer.declined")
"""Offer events whose actor is the guest venue (its operator or site agent): while blind, the host is not
told who that is; an operator's user name or an agent's credential id would name the guest."""


def event_view_for(reader: ReaderKind, settings: Settings, session: EvalSession, event: Event) -> dict[str, Any]:
    """An event of ``session`` as a ``reader`` may see it: host operators see offer events without the
    guest's identity while blind pairing holds (marked ``redacted``; the hash is of the full event)."""
    data = {"redacted": False, **event.as_dict()}
    if reader is ReaderKind.OPERATOR and not host_may_see_guest(settings, session):
        if event.kind.startswith("offer.") and "offer" in event.payload:
            data["payload"] = {**event.payload, "offer": host_view(event.payload["offer"], reveal_guest=False)}
            if event.kind in _GUEST_ANSWERS:
                data["actor"] = "guest-venue"
            data["redacted"] = True
        elif event.kind == "offer.guest_drawn":
            data["payload"] = {k: v for k, v in event.payload.items() if k not in _PROPOSAL_HIDDEN}
            data["redacted"] = True
    return data


def guest_event_view(settings: Settings, event: Event) -> dict[str, Any]:
    """An event routed to a venue, as that venue's site agent receives it: offers in their guest view, the
    venue's own registry and link events as they are."""
    payload = dict(event.payload)
    if "offer" in payload:
        payload = {"offer": guest_view(payload["offer"], settings.zone)}
    item = {"seq": event.seq, "kind": event.kind, "at": event.recorded_at, "data": payload}
    if event.kind.startswith("session.") and event.session_id:
        # Routed to the venues only from the start on: the agent needs the id to join the media room.
        item["session_id"] = event.session_id
    return item


def _record_offer_event(tx: Tx, actor: str, kind: str, offer: Offer, **extra: Any) -> Event:
    return tx.record(actor=actor, kind=kind, session_id=offer.session_id, venue_ids=[offer.guest_venue_id],
                     payload={"offer": offer_record(tx.session, offer), **extra})


# --- creating offers --------------------------------------------------------------------------------------
def _terms(tx: Tx, settings: Settings, principal: Principal, session_id: str,
           data: OfferCreate) -> tuple[EvalSession, Window, datetime]:
    """The session asked for, the window and the response deadline of a new offer, checked."""
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    if session.state != "waiting":
        raise ConflictError(f"offers are made while the session is waiting (it is {session.state})")
    now = tx.now()
    window = _window(data.starts_at or session.scheduled_start, data.ends_at or session.scheduled_end)
    _check_window(settings, window, now)
    return session, window, _deadline(settings, now, window, data.respond_by)


def _new_offer(tx: Tx, session: EvalSession, guest_id: str, seats: int, specialties: Sequence[str], window: Window,
               respond_by: datetime, proposed_by: str) -> Offer:
    now = tx.now()
    offer = Offer(id=str(uuid.uuid4()), session_id=session.id, host_venue_id=session.host_venue_id,
                  guest_venue_id=guest_id, state=OfferState.PENDING.value, version=1, seats=seats,
                  specialties=sorted(set(specialties)), starts_at=window.start, ends_at=window.end,
                  respond_by=respond_by, proposed_by=proposed_by, created_at=now, updated_at=now)
    tx.session.add(offer)
    tx.session.flush()  # the live-offer unique index speaks now, before events are built on it
    return offer


def _asked(tx: Tx, session: EvalSession) -> set[str]:
    """Venues not to draw for the session: the host, and every venue asked before (whatever it answered)."""
    return set(tx.session.scalars(select(Offer.guest_venue_id).where(Offer.session_id == session.id))) | {
        session.host_venue_id}


def create_offer(tx: Tx, settings: Settings, principal: Principal, session_id: str, data: OfferCreate) -> Offer:
    """An offer to the guest venue the caller names: the coordinator admin, or a host operator when blind
    pairing is off. Without a name the coordinator draws the guest (:func:`request_drawn_offer`)."""
    if data.guest_venue_id is None:
        raise ValueError("create_offer needs guest_venue_id; a drawn guest goes through request_drawn_offer")
    session, window, respond_by = _terms(tx, settings, principal, session_id, data)
    if settings.blind_pairing and principal.role is not Role.COORDINATOR_ADMIN:
        raise ForbiddenError("blind pairing (四不知) is on: the coordinator draws the guest venue; "
                             "leave guest_venue_id out")
    guest = tx.session.get(Venue, data.guest_venue_id)
    if guest is None:
        raise NotFoundError("venue", data.guest_venue_id)
    if guest.id == session.host_venue_id:
        raise ApiError(ErrorCode.INVALID_INPUT, "the guest venue must not be the host venue")
    offer = _new_offer(tx, session, guest.id, data.seats, data.specialties, window, respond_by, "host")
    _record_offer_event(tx, principal.actor, "offer.created", offer)
    return offer


def _request_record(data: OfferCreate, window: Window, respond_by: datetime) -> dict[str, Any]:
    return {"seats": data.seats, "specialties": sorted(set(data.specialties)), "starts_at": format_time(window.start),
            "ends_at": format_time(window.end), "respond_by": format_time(respond_by)}


def request_drawn_offer(store: Store, settings: Settings, sealer: Sealer, principal: Principal, session_id: str,
                        data: OfferCreate) -> Offer:
    """两随机: the coordinator draws the guest venue with the committee's commit-then-reveal mechanism
    (services/draws.py): the seed's commitment is logged with the request before the candidates are read;
    the candidates are ranked least recently used first, ties by ``HMAC-SHA256(seed, venue id)``
    (sites/pairing.py); the seed is revealed after the offer is made. A request no venue can serve is refused
    before anything is committed, so it changes nothing."""
    with store.write() as tx:
        session, window, respond_by = _terms(tx, settings, principal, session_id, data)
        if not _capacities(tx.session, settings, data.seats, data.specialties, window, session_id=session.id,
                           exclude=_asked(tx, session)):
            raise ApiError(ErrorCode.NOT_ENOUGH_SEATS, "no venue not yet asked for this session has enough usable, "
                                                        "free seats and an expert pool with these specialties")
        d = draws.commit(tx, sealer, session.id, principal.actor, "guest",
                         request=_request_record(data, window, respond_by))
    failure = draws.complete(store, sealer, d.id, lambda tx, row: perform_guest_draw(tx, sealer, settings, row))
    if failure is not None:
        raise failure
    with store.read() as s:
        return s.scalars(select(Offer).where(Offer.draw_id == d.id)).one()


def perform_guest_draw(tx: Tx, sealer: Sealer, settings: Settings, d: Draw) -> ApiError | None:
    """Draw the guest for a committed guest draw and make the offer (``offer.guest_drawn``, then
    ``offer.created``); or record why it could not be made (``draw.failed``)."""
    session = tx.session.get(EvalSession, d.session_id, with_for_update=True)
    req = d.request or {}
    window = Window(parse_time(req["starts_at"]), parse_time(req["ends_at"]))
    found = _capacities(tx.session, settings, req["seats"], req["specialties"], window, session_id=session.id,
                        exclude=_asked(tx, session)) if session.state == "waiting" else []
    if not found:
        d.outcome = "failed"
        failure = ApiError(ErrorCode.NOT_ENOUGH_SEATS, "no venue could serve the request when it was drawn")
        tx.record(actor=draws.SYSTEM, kind="draw.failed", session_id=d.session_id, payload={
            "draw_id": d.id, "purpose": d.purpose, "request": req,
            "error": {"code": failure.code.value, "message": failure.message, "details": []}})
        return failure
    venues = {v.id: v for v, _ in found}
    ranking = rank([Candidate(venue_id=v.id, free_seats=n, last_lent_at=v.last_lent_at) for v, n in found],
                   draws.seed_of(sealer, d))
    chosen = venues[ranking[0].venue_id]
    offer = _new_offer(tx, session, chosen.id, req["seats"], req["specialties"], window,
                       parse_time(req["respond_by"]), "coordinator")
    offer.draw_id = d.id
    d.outcome = "drawn"
    # Everything but the seed (in draw.revealed) needed to recompute the order with sites.pairing.rank.
    tx.record(actor=d.requested_by, kind="offer.guest_drawn", session_id=session.id, payload={
        "offer_id": offer.id, "draw_id": d.id, "chosen": chosen.id, "request": req,
        "candidates": [{"venue_id": c.venue_id, "free_seats": c.free_seats,
                        "last_lent_at": format_time(c.last_lent_at) if c.last_lent_at else None} for c in ranking]})
    _record_offer_event(tx, d.requested_by, "offer.created", offer)
    return None


# --- guest answers ----------------------------------------------------------------------------------------
def _guest_offer(tx: Tx, principal: Principal, offer_id: str) -> Offer:
    """The offer a guest answers, read under its session's lock (the order the host's changes take too:
    session, then offer), so that an answer and a change of terms or a second answer cannot interleave."""
    offer = tx.session.get(Offer, offer_id)
    if offer is None or principal.role not in (Role.HALL_OPERATOR, Role.SITE_AGENT) \
            or principal.venue_id != offer.guest_venue_id:
        raise NotFoundError("offer", offer_id)
    tx.session.get(EvalSession, offer.session_id, with_for_update=True)
    return tx.session.get(Offer, offer_id, with_for_update=True, populate_existing=True)


def _check_not_overdue(offer: Offer, now: datetime) -> None:
    """A pending offer past its deadline is expired, whether or not the housekeeper has recorded it yet."""
    if offer.state == OfferState.EXPIRED or (offer.state == OfferState.PENDING and now >= offer.respond_by):
        raise ApiError(ErrorCode.OFFER_EXPIRED, f"the offer's deadline {format_time(offer.respond_by)} has passed")


def _check_answerable(offer: Offer, version: int, now: datetime, action: OfferAction) -> None:
    _check_not_overdue(offer, now)
    _transition(offer, action)
    if version != offer.version:
        raise ConflictError(f"the offer was changed: it is at version {offer.version}, not {version}; "
                            "read it again and answer the current terms")


def confirm_offer(tx: Tx, principal: Principal, offer_id: str, version: int, *,
                  seat_ids: Sequence[str] | None = None, seat_codes: Sequence[str] | None = None) -> Offer:
    """The guest confirms and seats are booked: those named (by id, or ``ROOM/SEAT`` code from the agent), or
    else chosen by the coordinator."""
    offer = _guest_offer(tx, principal, offer_id)
    now = tx.now()
    _check_answerable(offer, version, now, OfferAction.CONFIRM)
    # Confirmations for one guest venue take turns on its row: sessions write in parallel (each on its own event
    # chain), and two of them choosing from the same free seats at once would pick the same ones, one then failing
    # on the database's exclusion rule although the room had seats for both.
    guest = tx.session.get(Venue, offer.guest_venue_id, with_for_update=True)
    window = Window(offer.starts_at, offer.ends_at)
    free = free_seats(tx.session, [offer.guest_venue_id], window, session_id=offer.session_id)[offer.guest_venue_id]
    with domain_rules():
        if seat_ids is None and seat_codes is None:
            chosen = choose_seats(free, offer.seats)
        else:
            chosen = _named_seats(tx.session, offer, free, seat_ids, seat_codes)
    kinds = dict(tx.session.execute(select(Room.id, Room.kind).where(Room.id.in_({c.room_id for c in chosen}))).all())
    tx.session.add_all(SeatBooking(id=str(uuid.uuid4()), seat_id=c.seat_id, room_id=c.room_id,
                                   venue_id=offer.guest_venue_id, session_id=offer.session_id, offer_id=offer.id,
                                   starts_at=offer.starts_at, ends_at=offer.ends_at,
                                   room_exclusive=kinds[c.room_id] == "single", created_at=now) for c in chosen)
    try:
        tx.session.flush()
    except IntegrityError:
        # Another coordinator booked one of these seats after our read: the database's exclusion rule.
        raise ApiError(ErrorCode.DOUBLE_BOOKED, "a seat was booked by someone else a moment ago; try again") from None
    offer.state, offer.updated_at = OfferState.CONFIRMED.value, now
    guest.last_lent_at = now
    _record_offer_event(tx, principal.actor, "offer.confirmed", offer)
    return offer


def _named_seats(s: Session, offer: Offer, free: list[FreeSeat], seat_ids: Sequence[str] | None,
                 seat_codes: Sequence[str] | None) -> list[FreeSeat]:
    by_id = {f.seat_id: f for f in free}
    by_code = {f"{f.room_code}/{f.seat_code}": f for f in free}
    names = list(seat_ids if seat_ids is not None else seat_codes or [])
    if len(names) != len(set(names)):
        raise RuleViolation("invalid_input", "a seat is named twice")
    if len(names) != offer.seats:
        raise RuleViolation("invalid_input", f"the offer is for {offer.seats} seats; {len(names)} named")
    lookup = by_id if seat_ids is not None else by_code
    missing = [n for n in names if n not in lookup]
    if missing:
        raise RuleViolation("not_enough_seats", f"not usable and free for this window: {', '.join(missing)}")
    return [lookup[n] for n in names]


def decline_offer(tx: Tx, principal: Principal, offer_id: str, version: int, reason: str) -> Offer:
    offer = _guest_offer(tx, principal, offer_id)
    _check_answerable(offer, version, tx.now(), OfferAction.DECLINE)
    offer.state, offer.reason, offer.updated_at = OfferState.DECLINED.value, reason, tx.now()
    _record_offer_event(tx, principal.actor, "offer.declined", offer)
    return offer


# --- host changes -----------------------------------------------------------------------------------------
def _host_offer(tx: Tx, principal: Principal, offer_id: str) -> Offer:
    offer = tx.session.get(Offer, offer_id)
    if offer is None or (principal.role is not Role.COORDINATOR_ADMIN and principal.venue_id != offer.host_venue_id):
        raise NotFoundError("offer", offer_id)
    return offer


def _release(tx: Tx, offer: Offer) -> None:
    for booking, _, _ in _live_bookings(tx.session, offer.id):
        booking.released_at = tx.now()


def _transition(offer: Offer, action: OfferAction) -> OfferState:
    with domain_rules():
        return next_state(OfferState(offer.state), action)


def change_offer(tx: Tx, settings: Settings, principal: Principal, offer_id: str, data: OfferChange) -> Offer:
    offer = _host_offer(tx, principal, offer_id)
    now = tx.now()
    _check_not_overdue(offer, now)
    state = _transition(offer, OfferAction.CHANGE)
    window = _window(data.starts_at or offer.starts_at, data.ends_at or offer.ends_at)
    _check_window(settings, window, now)
    changes: dict[str, Any] = {}
    if data.seats is not None and data.seats != offer.seats:
        offer.seats = changes["seats"] = data.seats
    if data.specialties is not None and sorted(set(data.specialties)) != offer.specialties:
        offer.specialties = changes["specialties"] = sorted(set(data.specialties))
    if window.start != offer.starts_at:
        offer.starts_at = window.start
        changes["starts_at"] = format_time(window.start)
    if window.end != offer.ends_at:
        offer.ends_at = window.end
        changes["ends_at"] = format_time(window.end)
    respond_by = _deadline(settings, now, window, data.respond_by)
    if not changes and data.respond_by is None:
        raise ApiError(ErrorCode.INVALID_INPUT, "the change changes nothing")
    if respond_by != offer.respond_by:
        offer.respond_by = respond_by
        changes["respond_by"] = format_time(respond_by)
    _release(tx, offer)  # new terms are confirmed afresh, with seats for the new window
    offer.state, offer.version, offer.updated_at = state.value, offer.version + 1, now
    _record_offer_event(tx, principal.actor, "offer.changed", offer, changes=changes)
    return offer


def cancel_offer(tx: Tx, principal: Principal, offer_id: str, reason: str) -> Offer:
    offer = _host_offer(tx, principal, offer_id)
    state = _transition(offer, OfferAction.CANCEL)
    _release(tx, offer)
    offer.state, offer.reason, offer.updated_at = state.value, reason, tx.now()
    _record_offer_event(tx, principal.actor, "offer.cancelled", offer)
    return offer


def expire_due(tx: Tx) -> int:
    """Expire every pending offer whose deadline has passed; return how many. Run by the housekeeper."""
    due = list(tx.session.scalars(select(Offer).where(Offer.state == OfferState.PENDING.value,
                                                     Offer.respond_by <= tx.now()).order_by(Offer.respond_by)))
    for offer in due:
        offer.state, offer.updated_at = OfferState.EXPIRED.value, tx.now()
        _record_offer_event(tx, SYSTEM, "offer.expired", offer)
    return len(due)


# --- reading ----------------------------------------------------------------------------------------------
def get_offer_view(store: Store, settings: Settings, principal: Principal, offer_id: str) -> dict[str, Any]:
    with store.read() as s:
        offer = s.get(Offer, offer_id)
        view = None
        if offer is not None:
            view = offer_view_for(principal, settings, offer_record(s, offer), s.get(EvalSession, offer.session_id))
    if view is None:
        raise NotFoundError("offer", offer_id)
    return view


def list_session_offers(store: Store, settings: Settings, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    with store.read() as s:
        session = s.get(EvalSession, session_id)
        allowed = session is not None and (
            principal.role is Role.COORDINATOR_ADMIN
            or (principal.role is Role.HALL_OPERATOR and principal.venue_id == session.host_venue_id)
            or principal.supervises(session_id) is not None)
        if not allowed:
            raise NotFoundError("session", session_id)
        offers = s.scalars(select(Offer).where(Offer.session_id == session_id).order_by(Offer.created_at, Offer.id))
        return [v for o in offers if (v := offer_view_for(principal, settings, offer_record(s, o), session))]


def list_guest_offers(store: Store, settings: Settings, principal: Principal) -> list[dict[str, Any]]:
    """Admins: every offer. Operators: the offers made to their venue, in the guest view."""
    with store.read() as s:
        q = select(Offer).order_by(Offer.starts_at, Offer.id)
        if principal.role is not Role.COORDINATOR_ADMIN:
            q = q.where(Offer.guest_venue_id == principal.venue_id)
        out = []
        for o in s.scalars(q):
            record = offer_record(s, o)
            out.append(dict(record) if principal.role is Role.COORDINATOR_ADMIN else guest_view(record, settings.zone))
        return out


def venue_calendar(store: Store, principal: Principal, venue_id: str, start: datetime, end: datetime) -> list[BookingPublic]:
    check_venue_scope(principal, venue_id)
    window = _window(start, end)
    if window.duration > timedelta(days=92):
        raise ApiError(ErrorCode.INVALID_INPUT, "ask for at most 92 days at a time")
    with store.read() as s:
        if s.get(Venue, venue_id) is None:
            raise NotFoundError("venue", venue_id)
        q = (select(SeatBooking, Seat, Room).join(Seat, Seat.id == SeatBooking.seat_id)
             .join(Room, Room.id == Seat.room_id)
             .where(SeatBooking.venue_id == venue_id, SeatBooking.released_at.is_(None),
                    SeatBooking.starts_at < window.end, window.start < SeatBooking.ends_at)
             .order_by(SeatBooking.starts_at, Room.code, Seat.code))
        admin = principal.role is Role.COORDINATOR_ADMIN
        return [BookingPublic(booking_id=b.id, room_code=room.code, seat_code=seat.code, starts_at=b.starts_at,
                              ends_at=b.ends_at, offer_id=b.offer_id, session_id=b.session_id if admin else None)
                for b, seat, room in s.execute(q)]
