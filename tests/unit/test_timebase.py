"""The suite's time origin (tests/timebase.py), and the rule that keeps date bombs out of the tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from timebase import BEIJING, DAY0, T0, beijing, day, soon_on_one_day, suite_start

pytestmark = pytest.mark.dates

TESTS = Path(__file__).parents[1]
DATE_LITERAL = re.compile(r"\b20\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?!\d)|\b(?:datetime|date)\(\s*20\d\d\s*,")
"""A calendar date of this century (as text, or built in code). Birth dates of the last one, in the test worlds'
ID numbers, are history that no clock reaches."""
MARKER = "# fixed-dates:"


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
def test_the_start_is_a_saturday_morning_in_beijing_within_the_week_before_now(now: datetime) -> None:
    start = suite_start(now)
    local = start.astimezone(BEIJING)
    assert (local.weekday(), local.hour, local.minute) == (5, 9, 0)
    assert now - timedelta(days=7) < start <= now


def test_the_start_can_be_moved_to_another_week() -> None:
    assert suite_start(datetime.now(UTC), "2031-06-18").astimezone(BEIJING).date().isoformat() == "2031-06-14"
    assert suite_start(datetime.now(UTC), "2031-06-14").astimezone(BEIJING).date().isoformat() == "2031-06-14"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        suite_start(datetime.now(UTC), "next week")


@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_a_window_soon_never_crosses_midnight_in_beijing_at_any_time_of_day(minute: int) -> None:
    now = T0 + timedelta(minutes=minute, seconds=17)
    start, end = soon_on_one_day(now, timedelta(minutes=30), timedelta(hours=8))
    assert start.astimezone(BEIJING).date() == (end - timedelta(microseconds=1)).astimezone(BEIJING).date()
    assert now + timedelta(minutes=30) <= start <= now + timedelta(minutes=61)
    assert timedelta(minutes=30) <= end - start <= timedelta(hours=8)


def test_days_are_counted_in_beijing_from_the_saturday() -> None:
    assert day(0) == DAY0 == T0.astimezone(BEIJING).date() and day(3).weekday() == 1
    assert beijing(0, 9) == T0 and beijing(1, 0) - T0 == timedelta(hours=15)


def date_literals(text: str) -> list[str]:
    return [f"{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if DATE_LITERAL.search(line)]


def test_the_rule_finds_the_date_literals_it_is_for() -> None:
    assert date_literals('T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)\nx = "2026-11-22T09:00:00+08:00"\n'
                         'y = date(2027, 1, 4)\nok = "2026-13-01 is no date" or day(3)\n') == [
        "1: T0 = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)", '2: x = "2026-11-22T09:00:00+08:00"',
        "3: y = date(2027, 1, 4)"]


def test_no_test_names_a_calendar_date_unless_it_says_why() -> None:
    """A test reckons its dates from timebase.T0. A module about an exact date (a holiday calendar, a wire
    format's vector) that does not depend on the real time declares it with a ``# fixed-dates:`` line and a
    reason; everything else that names a date is a date bomb waiting for its day."""
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        declared = [line for line in text.splitlines() if line.strip().startswith(MARKER)]
        if declared:
            assert all(len(line.strip()) > len(MARKER) + 10 for line in declared), f"{path}: say why"
            continue
        found = date_literals(text)
        if found and path.name != Path(__file__).name:
            offenders[str(path.relative_to(TESTS))] = found
    assert offenders == {}
