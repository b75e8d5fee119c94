"""Booking windows and seat choice: the calendar rules that need no database.

Windows are half-open ``[start, end)`` in UTC, so a booking that ends at 12:00 and one that starts at 12:00
do not overlap. Whether a window may cross local midnight is a rule of the coordinator (configuration).
The database enforces "no seat booked twice" on its own (see evalroom/storage/migrations); these functions
decide what to ask it for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sites.errors import RuleViolation

__all__ = ["MAX_WINDOW", "FreeSeat", "Window", "check_window", "choose_seats", "crosses_midnight"]

MAX_WINDOW = timedelta(days=3)
"""No booking is longer than this: a longer one is a typing mistake, and it would block seats for days."""
PAST_GRACE = timedelta(minutes=5)
"""A window may start this far in the past: the request may have been typed a few minutes ago."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise RuleViolation("invalid_input", "window times need a time zone")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end <= self.start:
            raise RuleViolation("invalid_input", "the window must end after it starts")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


def crosses_midnight(window: Window, zone: ZoneInfo) -> bool:
    """True if the window contains a local midnight strictly inside it (ending exactly at 00:00 is fine)."""
    start = window.start.astimezone(zone)
    next_midnight = datetime.combine(start.date() + timedelta(days=1), time(0), zone)
    return window.end > next_midnight


def check_window(window: Window, *, now: datetime, zone: ZoneInfo, may_cross_midnight: bool) -> None:
    if window.start < now - PAST_GRACE:
        raise RuleViolation("invalid_input", "the window starts in the past")
    if window.duration > MAX_WINDOW:
        raise RuleViolation("invalid_input", f"the window is longer than {MAX_WINDOW.days} days")
    if not may_cross_midnight and crosses_midnight(window, zone):
        raise RuleViolation("invalid_input", "the window crosses midnight, which this coordinator's rules do not "
                                             "allow (setting booking_may_cross_midnight)")


@dataclass(frozen=True)
class FreeSeat:
    seat_id: str
    room_id: str
    room_code: str
    seat_code: str


def choose_seats(free: Sequence[FreeSeat], n: int) -> list[FreeSeat]:
    """Pick ``n`` seats, keeping the party together: the smallest room that fits them all (so big rooms stay
    free for big requests), else the fewest rooms, biggest first. Seats in code order. Deterministic."""
    if n < 1:
        raise RuleViolation("invalid_input", "at least one seat")
    if len(free) < n:
        raise RuleViolation("not_enough_seats", f"{n} seats asked for, {len(free)} usable and free")
    rooms: dict[str, list[FreeSeat]] = {}
    for seat in sorted(free, key=lambda s: (s.room_code, s.seat_code, s.seat_id)):
        rooms.setdefault(seat.room_id, []).append(seat)
    fitting = [r for r in rooms.values() if len(r) >= n]
    if fitting:
        return min(fitting, key=lambda r: (len(r), r[0].room_code))[:n]
    chosen: list[FreeSeat] = []
    for room in sorted(rooms.values(), key=lambda r: (-len(r), r[0].room_code)):
        chosen.extend(room[: n - len(chosen)])
        if len(chosen) == n:
            break
    return chosen
