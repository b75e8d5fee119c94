"""The suite's one time origin: every instant and date a test uses is reckoned from :data:`T0`.

A date written into a test is passed by real time one day, and the test breaks on a morning nobody changed
anything (the suite failed twice that way: CRLs and log checkpoints issued from a fixed day, later judged
against the wall clock). So tests name no calendar dates: they say ``day(3)`` ("Tuesday of the session's
week") and ``beijing(3, 9)`` ("09:00 on that Tuesday in Beijing").

``T0`` is 09:00 in Beijing (01:00 UTC) on the Saturday on or before the day the suite starts, so that:

- it is never later than the machine's clock: a certificate made "valid from yesterday" at ``T0`` is valid
  to tools that judge it at the real time (poppler's ``pdfsig``, the browser);
- it is at most a week earlier, well inside the validity of everything the tests issue;
- its weekday is always the same, so a test about working days (weekends, a holiday the test declares on
  ``day(3)``) means the same thing in every week it runs.

Set ``EVALROOM_TEST_START=YYYY-MM-DD`` to start the suite's clock in the week of another day instead (the
Saturday on or before it). Under ``faketime`` (``bash tests/run.sh --faketime +400d``) the machine's clock
moves and ``T0`` with it.

Tests that are about an exact date and do not depend on the real time (a holiday calendar, a wire-format
vector) may name it; they say so with a ``# fixed-dates:`` line and the reason, which
``tests/unit/test_timebase.py`` looks for.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta, timezone

__all__ = ["BEIJING", "DAY0", "T0", "beijing", "day", "iso", "soon_on_one_day", "suite_start"]

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China Standard Time has had no daylight saving since 1991: a fixed offset is exact."""
_SATURDAY = 5


def suite_start(now: datetime, override: str | None = None) -> datetime:
    """09:00 Beijing on the Saturday on or before ``override`` (a date) or else ``now``, never after ``now``
    when no override is given."""
    if override:
        try:
            start_day = date.fromisoformat(override)
        except ValueError:
            raise ValueError(f"EVALROOM_TEST_START must be a date YYYY-MM-DD (got {override!r})") from None
    else:
        start_day = now.astimezone(BEIJING).date()
    saturday = start_day - timedelta(days=(start_day.weekday() - _SATURDAY) % 7)
    start = datetime.combine(saturday, time(9), BEIJING)
    if not override and start > now:  # Saturday before 09:00 in Beijing: the week before
        start -= timedelta(days=7)
    return start.astimezone(UTC)


T0 = suite_start(datetime.now(UTC), os.environ.get("EVALROOM_TEST_START"))
"""09:00 in Beijing on a Saturday (see the module docstring); aware, in UTC."""
DAY0 = T0.astimezone(BEIJING).date()
"""T0's date in Beijing: a Saturday."""


def day(n: int) -> date:
    """The Beijing date ``n`` days after T0's (``day(0)`` is Saturday, ``day(3)`` the Tuesday after)."""
    return DAY0 + timedelta(days=n)


def iso(n: int) -> str:
    """``day(n)`` as ``YYYY-MM-DD``."""
    return day(n).isoformat()


def beijing(n: int, hh: int, mm: int = 0) -> datetime:
    """``hh:mm`` in Beijing on ``day(n)``, as an aware UTC instant."""
    return datetime.combine(day(n), time(hh, mm), BEIJING).astimezone(UTC)


def soon_on_one_day(now: datetime, lead: timedelta, length: timedelta) -> tuple[datetime, datetime]:
    """A session window that starts ``lead`` after ``now`` (the real time, for tests a browser takes part in)
    and does not cross midnight in Beijing, which bookings may not (``booking_may_cross_midnight``): it is
    cut at midnight, or, when less than half an hour would be left of the day, starts just after it instead
    (so at most ``lead`` + 31 minutes ahead). Without this such a test fails every afternoon and evening
    from about 15:30 Beijing time, when ``now + lead + length`` is on the next day."""
    start = now + lead
    midnight = datetime.combine(start.astimezone(BEIJING).date() + timedelta(days=1), time(0), BEIJING)
    if midnight - start < timedelta(minutes=30):
        start = midnight + timedelta(minutes=1)
        midnight += timedelta(days=1)
    return start, min(start + length, midnight)
