"""Working days (工作日) and local dates: the calendar that legal deadlines are counted in.

A working day is Monday to Friday, unless the State Council declared it an official rest day (a holiday such as
the Spring Festival or National Day week), plus the Saturdays and Sundays it declared make-up working days
(调休). Both lists change every year and are published in the State Council's yearly notice on holiday
arrangements; evalroom ships none of them, because a wrong list here silently moves legal deadlines. The
operator loads the year's notice as TOML (:func:`load_calendar`); an empty calendar counts weekends only.

Deadlines are counted in local dates: a day in the rules is a day on the wall calendar where the parties are
(``Asia/Shanghai`` by default), not a UTC day. Between 00:00 and 08:00 Beijing time, the UTC date is still
yesterday's, so counting in UTC would give a complaint filed at 07:30 one day less.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from evalroom.errors import ConfigError

__all__ = ["DEFAULT_TZ", "Due", "WorkCalendar", "end_of_local_day", "load_calendar", "local_date"]

DEFAULT_TZ = "Asia/Shanghai"

_ONE_DAY = timedelta(days=1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _weekend(d: date) -> bool:
    return d.weekday() >= 5


@dataclass(frozen=True)
class WorkCalendar:
    """The official exceptions to "Monday to Friday" for the years the operator has loaded."""

    holidays: frozenset[date] = frozenset()
    """Official rest days. Those that fall on a Saturday or Sunday change nothing; they are allowed so that a
    holiday period can be typed as the notice states it (e.g. "10月1日至8日放假")."""
    workdays: frozenset[date] = frozenset()
    """Make-up working days (调休), each a Saturday or Sunday."""

    def __post_init__(self) -> None:
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"{min(both).isoformat()} is listed both as a holiday and as a make-up workday")
        # A make-up workday on a weekday changes nothing, so it can only be a typing mistake for a nearby
        # weekend day, and that mistake would move deadlines by a day without anyone noticing.
        weekdays = sorted(d for d in self.workdays if not _weekend(d))
        if weekdays:
            raise ValueError(f"make-up workday {weekdays[0].isoformat()} is a {weekdays[0]:%A}, "
                             f"not a Saturday or Sunday")

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        return not _weekend(d) and d not in self.holidays

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``; ``start`` itself is not counted (the rules count a
        period from the day after the event), and need not be a working day. ``n == 0`` is ``start``."""
        if n < 0:
            raise ValueError(f"cannot count {n} working days")
        d = start
        while n:
            d += _ONE_DAY
            if self.is_working_day(d):
                n -= 1
        return d

    def period_end(self, start: date, days: int) -> date:
        """The last day of a period of ``days`` calendar days after ``start`` (``start`` itself not counted: 民法典
        Art. 201), moved to the next working day when it is a rest day (民法典 Art. 203: a period whose last day
        is a statutory holiday ends on the day after the holiday). For the rules that say 日, not 工作日."""
        if days < 0:
            raise ValueError(f"cannot count {days} days")
        last = start + timedelta(days=days)
        while not self.is_working_day(last):
            last += _ONE_DAY
        return last


def load_calendar(text: str) -> WorkCalendar:
    """Read a calendar from TOML: ``holidays = ["2026-10-01", ...]`` and ``workdays = ["2026-09-27", ...]``,
    either one optional. Dates may also be TOML date literals. Anything else is a :class:`ConfigError`
    naming the value: a calendar that loads wrongly moves every deadline counted with it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"work calendar: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"holidays", "workdays"})
    if unknown:
        raise ConfigError(f"work calendar: unknown key {unknown[0]!r} (only 'holidays' and 'workdays')")
    lists = {key: _dates(key, data.get(key, [])) for key in ("holidays", "workdays")}
    try:
        return WorkCalendar(**lists)
    except ValueError as exc:
        raise ConfigError(f"work calendar: {exc}") from None


def _dates(key: str, values: object) -> frozenset[date]:
    if not isinstance(values, list):
        raise ConfigError(f"work calendar: {key} must be a list of dates, not {values!r}")
    out: set[date] = set()
    for v in values:
        # datetime is a subclass of date: a TOML date-time is not a day
        if isinstance(v, date) and not isinstance(v, datetime):
            out.add(v)
            continue
        # date.fromisoformat also takes "20261001" and "2026-W40-4"; only the plain form is asked for
        if isinstance(v, str) and _ISO_DATE.fullmatch(v):
            try:
                out.add(date.fromisoformat(v))
                continue
            except ValueError:
                pass
        raise ConfigError(f"work calendar: {key}: {v!r} is not a date (YYYY-MM-DD)")
    return frozenset(out)


def local_date(instant: datetime, tz: str = DEFAULT_TZ) -> date:
    """The date on the wall calendar in ``tz`` at ``instant``. A naive datetime is refused: whether it meant
    UTC or local time cannot be known, and guessing moves deadlines by a day near midnight."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"local_date needs an aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(ZoneInfo(tz)).date()


def end_of_local_day(d: date, tz: str = DEFAULT_TZ) -> datetime:
    """The UTC instant at which local day ``d`` is over: local midnight starting the next day (exclusive, so
    "due on ``d``" means ``now < end_of_local_day(d)``)."""
    return datetime.combine(d + _ONE_DAY, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


@dataclass(frozen=True)
class Due:
    """A deadline: the last local day, and the UTC instant that day is over (exclusive)."""

    on: date
    before: datetime
    """Local midnight starting the day after ``on``, in UTC: in time while ``now < before``."""

    @classmethod
    def of(cls, on: date, tz: str) -> Due:
        return cls(on, end_of_local_day(on, tz))
