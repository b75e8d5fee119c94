"""Complaints (evalroom.domain.complaints): states and deadlines (shared/domain.md, "Report and after"), without a
database or a clock. Every date below was counted by hand on the 2026 calendar; the holiday week is made up.

September–November 2026: Wed Sep 23, Sun Sep 27, Thu Oct 1, Sat Oct 10, Sun Nov 1, Mon Nov 9, Fri Nov 20.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from evalroom.domain.complaints import (
    ComplaintAction,
    ComplaintDeadlines,
    ComplaintState,
    Due,
    check_accept,
    complaint_deadlines,
    next_state,
    overdue,
)
from evalroom.domain.workdays import WorkCalendar
from evalroom.errors import ApiError, ErrorCode

pytestmark = pytest.mark.dates

# fixed-dates: statutory periods (10 days, 3 and 30 working days) counted by hand over the 2026 calendar and
# a National Day week; complaint_deadlines and overdue are pure (no clock), so these dates never expire.

PLAIN = WorkCalendar()
GOLDEN_WEEK = WorkCalendar(
    holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),  # Thu Oct 1 – Wed Oct 7
    workdays=frozenset({date(2026, 9, 27), date(2026, 10, 10)}),  # Sun Sep 27, Sat Oct 10
)


def beijing(y, m, d, hh=10, mm=0):
    """A Beijing wall-clock time as a UTC instant (UTC+8, no daylight saving)."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)


# -- transitions ------------------------------------------------------------------------------------------------

ALLOWED = {
    (ComplaintState.FILED, ComplaintAction.ACCEPT): ComplaintState.ACCEPTED,
    (ComplaintState.FILED, ComplaintAction.REFUSE): ComplaintState.REFUSED,
    (ComplaintState.ACCEPTED, ComplaintAction.DECIDE): ComplaintState.DECIDED,
}


@pytest.mark.parametrize(("state", "action"), list(ALLOWED), ids=str)
def test_allowed_transitions(state, action):
    assert next_state(state, action, late=False) is ALLOWED[state, action]


@pytest.mark.parametrize(("state", "action", "late"), [
    (s, a, late) for s, a in itertools.product(ComplaintState, ComplaintAction) if (s, a) not in ALLOWED
    for late in (False, True)
], ids=str)
def test_every_other_transition_is_a_conflict(state, action, late):
    with pytest.raises(ApiError) as info:
        next_state(state, action, late=late)
    assert info.value.code is ErrorCode.CONFLICT
    assert state.value in info.value.message


def test_refused_and_decided_are_final():
    for state in (ComplaintState.REFUSED, ComplaintState.DECIDED):
        for action in ComplaintAction:
            with pytest.raises(ApiError):
                next_state(state, action, late=False)


def test_a_late_complaint_can_be_refused_but_not_accepted():
    with pytest.raises(ApiError) as info:
        next_state(ComplaintState.FILED, ComplaintAction.ACCEPT, late=True)
    assert info.value.code is ErrorCode.COMPLAINT_LATE
    assert info.value.http_status == 409
    assert next_state(ComplaintState.FILED, ComplaintAction.REFUSE, late=True) is ComplaintState.REFUSED
    with pytest.raises(ApiError):
        check_accept(late=True)
    check_accept(late=False)


# -- the 10 days to complain ------------------------------------------------------------------------------------

KNOWN = date(2026, 11, 1)  # day 10 is Wed Nov 11


def test_filing_on_day_ten_is_on_time_and_on_day_eleven_late():
    last_minute = complaint_deadlines(known_on=KNOWN, filed_at=beijing(2026, 11, 11, 23, 59), calendar=PLAIN)
    assert last_minute.filing == Due(date(2026, 11, 11), datetime(2026, 11, 11, 16, 0, tzinfo=UTC))
    assert not last_minute.late
    next_morning = complaint_deadlines(known_on=KNOWN, filed_at=beijing(2026, 11, 12, 0, 0), calendar=PLAIN)
    assert next_morning.filed_on == date(2026, 11, 12)
    assert next_morning.late


def test_a_tenth_day_on_a_rest_day_moves_to_the_next_working_day():
    # known Thu Sep 24 2026: day 10 is Sun Oct 4, inside the holiday week (Oct 1-7); the period ends Thu Oct 8
    # (民法典 Art. 203), and on a plain calendar it ends on Mon Oct 5
    known = date(2026, 9, 24)
    in_holidays = complaint_deadlines(known_on=known, filed_at=beijing(2026, 10, 8, 17), calendar=GOLDEN_WEEK)
    assert (in_holidays.filing.on, in_holidays.late) == (date(2026, 10, 8), False)
    assert complaint_deadlines(known_on=known, filed_at=beijing(2026, 10, 9), calendar=GOLDEN_WEEK).late
    plain = complaint_deadlines(known_on=known, filed_at=beijing(2026, 10, 5), calendar=PLAIN)
    assert (plain.filing.on, plain.late) == (date(2026, 10, 5), False)
    assert complaint_deadlines(known_on=known, filed_at=beijing(2026, 10, 6), calendar=PLAIN).late


def test_filing_on_the_day_of_knowing_is_on_time():
    d = complaint_deadlines(known_on=KNOWN, filed_at=beijing(2026, 11, 1), calendar=PLAIN)
    assert not d.late


def test_knowing_after_filing_is_invalid():
    with pytest.raises(ApiError) as info:
        complaint_deadlines(known_on=date(2026, 11, 13), filed_at=beijing(2026, 11, 12), calendar=PLAIN)
    assert info.value.code is ErrorCode.INVALID_INPUT


def test_the_filing_date_is_the_local_date():
    # 23:30 UTC on Nov 11 is 07:30 on Nov 12 in Beijing: day 11, late; counted in UTC it would be day 10
    filed_at = datetime(2026, 11, 11, 23, 30, tzinfo=UTC)
    in_beijing = complaint_deadlines(known_on=KNOWN, filed_at=filed_at, calendar=PLAIN)
    assert (in_beijing.filed_on, in_beijing.late) == (date(2026, 11, 12), True)
    in_utc = complaint_deadlines(known_on=KNOWN, filed_at=filed_at, calendar=PLAIN, tz="UTC")
    assert (in_utc.filed_on, in_utc.late) == (date(2026, 11, 11), False)


# -- the 3 working days to rule on acceptance -------------------------------------------------------------------

def test_acceptance_skips_the_weekend():
    # filed Fri Nov 20: Mon 23, Tue 24, Wed 25; the day is over at midnight Beijing time, 16:00 UTC
    d = complaint_deadlines(known_on=date(2026, 11, 18), filed_at=beijing(2026, 11, 20), calendar=PLAIN)
    assert d.acceptance == Due(date(2026, 11, 25), datetime(2026, 11, 25, 16, 0, tzinfo=UTC))
    assert d.decision is None
    # filed on the Saturday: the same three working days
    sat = complaint_deadlines(known_on=date(2026, 11, 18), filed_at=beijing(2026, 11, 21), calendar=PLAIN)
    assert sat.acceptance.on == date(2026, 11, 25)


def test_a_filing_just_before_utc_midnight_counts_from_the_next_local_day():
    # 23:30 UTC Thu Nov 19 is 07:30 Fri Nov 20 in Beijing → due Wed Nov 25 (in UTC it would be Tue Nov 24)
    filed_at = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert complaint_deadlines(known_on=date(2026, 11, 18), filed_at=filed_at,
                               calendar=PLAIN).acceptance.on == date(2026, 11, 25)
    assert complaint_deadlines(known_on=date(2026, 11, 18), filed_at=filed_at, calendar=PLAIN,
                               tz="UTC").acceptance.on == date(2026, 11, 24)


def test_acceptance_across_the_holiday_week():
    # filed Wed Sep 30: Oct 1–7 off, Thu 8, Fri 9, make-up Sat 10
    d = complaint_deadlines(known_on=date(2026, 9, 28), filed_at=beijing(2026, 9, 30), calendar=GOLDEN_WEEK)
    assert d.acceptance.on == date(2026, 10, 10)


# -- the 30 working days to decide ------------------------------------------------------------------------------

def test_the_holiday_week_pushes_the_decision():
    # accepted Wed Sep 23. Weekends only: Sep 24–25 (2), Sep 28–Oct 30 (25), Nov 2–4 (3) → Wed Nov 4.
    # With the holiday week: five weekdays off, two make-up weekend days → three working days later, Mon Nov 9.
    common = dict(known_on=date(2026, 9, 18), filed_at=beijing(2026, 9, 21), accepted_at=beijing(2026, 9, 23))
    assert complaint_deadlines(calendar=PLAIN, **common).decision.on == date(2026, 11, 4)
    d = complaint_deadlines(calendar=GOLDEN_WEEK, **common)
    assert d.decision == Due(date(2026, 11, 9), datetime(2026, 11, 9, 16, 0, tzinfo=UTC))
    assert d.acceptance.on == date(2026, 9, 24)  # Mon Sep 21 → Tue 22, Wed 23, Thu 24


def test_the_decision_counts_from_the_local_acceptance_date():
    # accepted 23:30 UTC Tue Sep 22 = 07:30 Wed Sep 23 in Beijing: the same deadline as above
    d = complaint_deadlines(known_on=date(2026, 9, 18), filed_at=beijing(2026, 9, 21),
                            accepted_at=datetime(2026, 9, 22, 23, 30, tzinfo=UTC), calendar=GOLDEN_WEEK)
    assert d.decision.on == date(2026, 11, 9)


def test_acceptance_before_filing_is_invalid():
    with pytest.raises(ApiError) as info:
        complaint_deadlines(known_on=date(2026, 9, 18), filed_at=beijing(2026, 9, 21),
                            accepted_at=beijing(2026, 9, 20), calendar=PLAIN)
    assert info.value.code is ErrorCode.INVALID_INPUT


# -- overdue ----------------------------------------------------------------------------------------------------

FILED = complaint_deadlines(known_on=date(2026, 11, 18), filed_at=beijing(2026, 11, 20), calendar=PLAIN)
ACCEPTED = complaint_deadlines(known_on=date(2026, 9, 18), filed_at=beijing(2026, 9, 21),
                               accepted_at=beijing(2026, 9, 23), calendar=GOLDEN_WEEK)
ONE_SECOND = timedelta(seconds=1)


def test_acceptance_is_overdue_once_its_local_day_is_over():
    end = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # midnight starting Thu Nov 26 in Beijing
    assert overdue(ComplaintState.FILED, FILED, end - ONE_SECOND) is None
    assert overdue(ComplaintState.FILED, FILED, end) == "acceptance"
    assert overdue(ComplaintState.FILED, FILED, end + timedelta(days=30)) == "acceptance"


def test_decision_is_overdue_once_its_local_day_is_over():
    end = datetime(2026, 11, 9, 16, 0, tzinfo=UTC)
    assert overdue(ComplaintState.ACCEPTED, ACCEPTED, end - ONE_SECOND) is None
    assert overdue(ComplaintState.ACCEPTED, ACCEPTED, end) == "decision"


def test_a_ruled_complaint_owes_nothing():
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert overdue(ComplaintState.REFUSED, FILED, later) is None
    assert overdue(ComplaintState.DECIDED, ACCEPTED, later) is None


def test_a_late_ruling_is_still_a_legal_move():
    # overdue is shown, not enforced: the supervisor can still rule after the deadline
    assert overdue(ComplaintState.FILED, FILED, datetime(2027, 1, 1, tzinfo=UTC)) == "acceptance"
    assert next_state(ComplaintState.FILED, ComplaintAction.ACCEPT, late=FILED.late) is ComplaintState.ACCEPTED


def test_overdue_needs_the_decision_deadline_once_accepted_and_an_aware_now():
    with pytest.raises(ValueError):
        overdue(ComplaintState.ACCEPTED, FILED, datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        overdue(ComplaintState.FILED, FILED, datetime(2027, 1, 1))


def test_deadlines_are_frozen():
    with pytest.raises(AttributeError):
        FILED.late = True  # type: ignore[misc]
    assert isinstance(FILED, ComplaintDeadlines)
