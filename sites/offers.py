"""Offers (要约) between a host venue and a guest venue: states, deadlines and what each side may see.

An offer asks one guest venue for ``seats`` seats during a window, for experts of some specialties. The
guest confirms (and seats are booked), declines with a reason, or lets the deadline pass; the host may
change the offer (which asks the guest again) or cancel it. The states::

    pending ──confirm──▶ confirmed
       │  ╲──decline──▶ declined          pending/confirmed ──change──▶ pending (version + 1)
       │   ╲─expire───▶ expired           pending/confirmed ──cancel──▶ cancelled
       ╰──────────────────────────────────────────────────────────────────────────────────────

Declined, expired and cancelled are final. A change of a confirmed offer releases its seats: the guest
confirms the new terms (and gets seats for the new window) or not, as it would for a new offer.

Blindness (两随机、四不知, shared/domain.md): an offer *record* holds every fact, and two views cut it down.
:func:`guest_view` is all a guest venue ever sees of it: date, times, duration, seats, specialties — never the
project, the session or the host; host-typed text (a cancel reason) is left out, as it could name them.
:func:`host_view` hides the guest's identity, its seats and its own words (a decline reason) from the host
until check-in opens, when the rule is on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sites.errors import RuleViolation

__all__ = ["LIVE", "OfferAction", "OfferState", "guest_view", "host_view", "next_state", "response_deadline"]


class OfferState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class OfferAction(StrEnum):
    CONFIRM = "confirm"
    DECLINE = "decline"
    EXPIRE = "expire"
    CHANGE = "change"
    CANCEL = "cancel"


LIVE = frozenset({OfferState.PENDING, OfferState.CONFIRMED})
"""States in which an offer still counts: it holds (or may come to hold) seats."""

_NEXT: dict[tuple[OfferState, OfferAction], OfferState] = {
    (OfferState.PENDING, OfferAction.CONFIRM): OfferState.CONFIRMED,
    (OfferState.PENDING, OfferAction.DECLINE): OfferState.DECLINED,
    (OfferState.PENDING, OfferAction.EXPIRE): OfferState.EXPIRED,
    (OfferState.PENDING, OfferAction.CHANGE): OfferState.PENDING,
    (OfferState.CONFIRMED, OfferAction.CHANGE): OfferState.PENDING,
    (OfferState.PENDING, OfferAction.CANCEL): OfferState.CANCELLED,
    (OfferState.CONFIRMED, OfferAction.CANCEL): OfferState.CANCELLED,
}


def next_state(state: OfferState, action: OfferAction) -> OfferState:
    try:
        return _NEXT[(state, action)]
    except KeyError:
        raise RuleViolation("conflict", f"an offer that is {state} cannot take the action {action!s}") from None


def response_deadline(*, now: datetime, window_start: datetime, requested: datetime | None,
                      default: timedelta) -> datetime:
    """When the guest must have answered: as requested, else ``default`` from now; never after the window
    starts (an answer after the start is no use), always in the future."""
    deadline = requested if requested is not None else min(now + default, window_start)
    if deadline <= now:
        raise RuleViolation("invalid_input", "respond_by must be in the future")
    if deadline > window_start:
        raise RuleViolation("invalid_input", "respond_by must not be after the window starts")
    return deadline


def guest_view(record: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """What a guest venue (its operators and its site agent) may know of an offer."""
    start = datetime.fromisoformat(record["starts_at"])
    end = datetime.fromisoformat(record["ends_at"])
    view = {
        "offer_id": record["offer_id"],
        "state": record["state"],
        "version": record["version"],
        "date": start.astimezone(zone).date().isoformat(),
        "starts_at": record["starts_at"],
        "ends_at": record["ends_at"],
        "duration_minutes": int((end - start).total_seconds() // 60),
        "seats": record["seats"],
        "specialties": list(record["specialties"]),
        "respond_by": record["respond_by"],
        "assigned_seats": list(record.get("seat_codes", [])),
    }
    if record["state"] == OfferState.DECLINED:
        view["decline_reason"] = record.get("reason")  # the guest's own words
    return view


_GUEST_IDENTIFYING = ("guest_venue_id", "seat_ids", "seat_codes")


def host_view(record: Mapping[str, Any], *, reveal_guest: bool) -> dict[str, Any]:
    """What the host venue's operators may know of an offer: everything but who the guest is, until
    ``reveal_guest`` (blindness off, or check-in open). The guest's decline reason is its own words and is
    hidden too; the host's own cancel reason is not."""
    view = dict(record)
    if not reveal_guest:
        for key in _GUEST_IDENTIFYING:
            view.pop(key, None)
        if record.get("state") == OfferState.DECLINED:
            view.pop("reason", None)
        view["guest_hidden"] = True
    return view
