"""Working days and local dates (evalroom.domain.workdays), without a clock.

The calendars here are made up for the tests (a National Day week with make-up weekend days in the style of the
State Council's notices); they are not the real holidays of any year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalroom.domain.workdays import WorkCalendar, end_of_local_day, load_calendar, local_date
from evalroom.errors import ConfigError

pytestmark = pytest.mark.dates

# fixed-dates: a holiday calendar is about exact dates (weekdays, month ends, make-up days) and these are
# pure functions given explicit dates and instants: nothing here reads a clock, so no date can expire.

# September–November 2026: Sep 26 Sat, Sep 27 Sun, Oct 1 Thu, Oct 10 Sat, Nov 20 Fri.
GOLDEN_WEEK = WorkCalendar(
    holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),  # Thu 1 – Wed 7 (3 and 4 are the weekend)
    workdays=frozenset({date(2026, 9, 27), date(2026, 10, 10)}),  # Sun Sep 27, Sat Oct 10
)
PLAIN = WorkCalendar()


def test_an_empty_calendar_counts_weekends_only():
    assert [PLAIN.is_working_day(date(2026, 11, d)) for d in range(16, 23)] == [True] * 5 + [False] * 2
    assert PLAIN.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Fri → Mon
    assert PLAIN.add_working_days(date(2026, 11, 21), 1) == date(2026, 11, 23)  # Sat → Mon
    assert PLAIN.add_working_days(date(2026, 11, 20), 3) == date(2026, 11, 25)  # Fri → Wed
    assert PLAIN.add_working_days(date(2026, 11, 16), 5) == date(2026, 11, 23)  # Mon → next Mon


def test_zero_working_days_is_the_start_even_on_a_rest_day():
    assert PLAIN.add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 21)
    assert GOLDEN_WEEK.add_working_days(date(2026, 10, 1), 0) == date(2026, 10, 1)


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError, match="-1"):
        PLAIN.add_working_days(date(2026, 11, 20), -1)


def test_holidays_and_make_up_workdays():
    assert not GOLDEN_WEEK.is_working_day(date(2026, 10, 1))  # Thursday, holiday
    assert not GOLDEN_WEEK.is_working_day(date(2026, 10, 3))  # Saturday inside the holiday
    assert GOLDEN_WEEK.is_working_day(date(2026, 9, 27))  # Sunday, make-up
    assert GOLDEN_WEEK.is_working_day(date(2026, 10, 10))  # Saturday, make-up
    assert not GOLDEN_WEEK.is_working_day(date(2026, 10, 11))  # the Sunday after stays a rest day
    assert GOLDEN_WEEK.is_working_day(date(2026, 10, 8))
    # Wed Sep 30 + 3: the holiday is skipped, Thu 8 and Fri 9 count, and so does the make-up Saturday
    assert GOLDEN_WEEK.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert PLAIN.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 5)


def test_a_date_cannot_be_both_a_holiday_and_a_workday():
    with pytest.raises(ValueError, match="2026-10-10"):
        WorkCalendar(holidays=frozenset({date(2026, 10, 10)}), workdays=frozenset({date(2026, 10, 10)}))


def test_a_make_up_workday_on_a_weekday_is_a_typing_mistake():
    with pytest.raises(ValueError, match="2026-09-28 is a Monday"):
        WorkCalendar(workdays=frozenset({date(2026, 9, 28)}))


def test_load_calendar():
    cal = load_calendar("""
        # made up for the test
        holidays = ["2026-10-01", "2026-10-02", 2026-10-05]
        workdays = ["2026-10-10"]
    """)
    assert cal == WorkCalendar(
        holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)}),
        workdays=frozenset({date(2026, 10, 10)}),
    )
    assert load_calendar('holidays = ["2026-10-01"]').workdays == frozenset()
    assert load_calendar("") == WorkCalendar()


@pytest.mark.parametrize(("text", "named"), [
    ('holidays = ["2026-02-30"]', "'2026-02-30'"),
    ('holidays = ["2026/10/01"]', "'2026/10/01'"),
    ('holidays = ["20261001"]', "'20261001'"),
    ('workdays = ["2026-10-10", "tomorrow"]', "'tomorrow'"),
    ("holidays = [20261001]", "20261001"),
    ("holidays = [2026-10-01T00:00:00]", "2026, 10, 1, 0, 0"),
    ('holidays = "2026-10-01"', "'2026-10-01'"),
    ('holiday = ["2026-10-01"]', "'holiday'"),
    ('holidays = ["2026-10-01"]\n[extra]\nx = 1', "'extra'"),
    ('holidays = ["2026-10-10"]\nworkdays = ["2026-10-10"]', "2026-10-10"),
    ('workdays = ["2026-10-12"]', "2026-10-12"),
    ('holidays = ["2026-10-01"', "not valid TOML"),
])
def test_load_calendar_errors_name_the_value(text, named):
    with pytest.raises(ConfigError) as info:
        load_calendar(text)
    assert named in str(info.value)


def test_local_date_is_the_wall_calendar_date():
    late_utc = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert local_date(late_utc) == date(2026, 11, 20)  # 07:30 on the 20th in Beijing
    assert local_date(late_utc, "Asia/Shanghai") == date(2026, 11, 20)
    assert local_date(late_utc, "UTC") == date(2026, 11, 19)
    assert local_date(datetime(2026, 11, 19, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 19)
    assert local_date(datetime(2026, 11, 19, 16, 0, tzinfo=UTC)) == date(2026, 11, 20)
    assert local_date(datetime(2026, 11, 20, 0, 30, tzinfo=timezone(timedelta(hours=8)))) == date(2026, 11, 20)


def test_local_date_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 11, 20, 12, 0))


def test_end_of_local_day_is_the_next_local_midnight_in_utc():
    assert end_of_local_day(date(2026, 11, 25)) == datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    assert end_of_local_day(date(2026, 11, 25), "UTC") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


_DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))


@st.composite
def calendars(draw):
    days = draw(st.frozensets(_DAYS, max_size=40))
    # a make-up workday is a weekend day that is not also a holiday
    workdays = frozenset(d for d in days if d.weekday() >= 5 and draw(st.booleans()))
    return WorkCalendar(holidays=days - workdays, workdays=workdays)


@given(calendars(), _DAYS, st.integers(min_value=0, max_value=60))
def test_exactly_n_working_days_lie_after_the_start_up_to_the_result(cal, start, n):
    end = cal.add_working_days(start, n)
    assert end >= start
    if n > 0:
        assert cal.is_working_day(end)
    counted = sum(cal.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
    assert counted == n
