"""Complaints (投诉) to the supervising authority: their states and their deadlines (shared/domain.md, "Report
and after").

The rules (《招标投标法实施条例》 Art. 60 and 61; the figures as shared/domain.md gives them):

- a bidder or other interested party complains within **10 days** of the day it knew or should have known of the
  matter (``known_on``);
- the supervisor rules whether to accept it (受理 / 不予受理) within **3 working days** of receiving it;
- an accepted complaint is decided within **30 working days** of its acceptance.

States: ``filed → accepted | refused``, ``accepted → decided``; ``refused`` and ``decided`` are final. A late
complaint (filed after its 10 days) can only be refused; refusing is always possible from ``filed``.

Periods are counted as the rules count them: from the day after the event (the day of knowing, of receipt or of
acceptance is not counted), in days on the local wall calendar (``tz``, ``Asia/Shanghai`` by default). A UTC
date would be yesterday's until 08:00 in Beijing, so a complaint filed early in the morning would be counted
against the wrong day. Working days come from the operator's :class:`~evalroom.domain.workdays.WorkCalendar`.

Each deadline is a :class:`Due`: the last local date, and the UTC instant at which that date is over, which the
services compare with ``clock.now()``. Nothing here reads a clock.

Not modelled here (the services or the people decide): time spent on inspection, testing, appraisal or expert
review does not count towards the 30 working days (Art. 61).

The 10 days are calendar days; when the last of them is a rest day, the period ends on the next working day
(民法典 Art. 203: a period whose last day is a statutory holiday ends on the day after it). Erring the other way
would refuse a complaint that was on time, which a supervisor cannot undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from evalroom.domain.workdays import DEFAULT_TZ, Due, WorkCalendar, local_date
from evalroom.errors import ApiError, ErrorCode

__all__ = [
    "ACCEPTANCE_WORKING_DAYS",
    "DECISION_WORKING_DAYS",
    "FILING_DAYS",
    "ComplaintAction",
    "ComplaintDeadlines",
    "ComplaintState",
    "Due",
    "check_accept",
    "complaint_deadlines",
    "next_state",
    "overdue",
]

FILING_DAYS = 10
"""Calendar days after the day of knowing within which a complaint is on time."""
ACCEPTANCE_WORKING_DAYS = 3
"""Working days after receipt within which the supervisor rules whether to accept."""
DECISION_WORKING_DAYS = 30
"""Working days after acceptance within which the supervisor decides."""


class ComplaintState(StrEnum):
    FILED = "filed"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    DECIDED = "decided"


class ComplaintAction(StrEnum):
    ACCEPT = "accept"
    """受理."""
    REFUSE = "refuse"
    """不予受理."""
    DECIDE = "decide"
    """The written decision (处理决定) on an accepted complaint."""


_MOVES: dict[ComplaintAction, tuple[ComplaintState, ComplaintState]] = {
    ComplaintAction.ACCEPT: (ComplaintState.FILED, ComplaintState.ACCEPTED),
    ComplaintAction.REFUSE: (ComplaintState.FILED, ComplaintState.REFUSED),
    ComplaintAction.DECIDE: (ComplaintState.ACCEPTED, ComplaintState.DECIDED),
}


def check_accept(*, late: bool) -> None:
    """Refuse accepting a late complaint: the supervisor has no ground to hear it, only to refuse it."""
    if late:
        raise ApiError(ErrorCode.COMPLAINT_LATE, f"the complaint was filed more than {FILING_DAYS} days after "
                       f"the complainant knew or should have known; it can only be refused")


def next_state(state: ComplaintState, action: ComplaintAction, *, late: bool) -> ComplaintState:
    """The state after ``action``. ``late`` is required, not defaulted, so that no caller can accept a late
    complaint by forgetting to say it is late. A deadline that has passed does not stop a ruling (see
    :func:`overdue`)."""
    source, target = _MOVES[action]
    if state != source:
        raise ApiError(ErrorCode.CONFLICT, f"cannot {action.value} a complaint that is {state.value} "
                       f"(only one that is {source.value})")
    if action == ComplaintAction.ACCEPT:
        check_accept(late=late)
    return target


@dataclass(frozen=True)
class ComplaintDeadlines:
    filed_on: date
    """The local date the complaint was received."""
    filing: Due
    """The last day a complaint about the matter is on time."""
    late: bool
    """Filed after ``filing``: it can only be refused."""
    acceptance: Due
    """The ruling whether to accept."""
    decision: Due | None
    """The decision; None until the complaint is accepted."""


def complaint_deadlines(*, known_on: date, filed_at: datetime, calendar: WorkCalendar, tz: str = DEFAULT_TZ,
                        accepted_at: datetime | None = None) -> ComplaintDeadlines:
    """Every deadline of one complaint, from the day the complainant knew (or should have known) of the matter,
    the instant it was received and, once accepted, the instant of acceptance (aware datetimes)."""
    filed_on = local_date(filed_at, tz)
    if known_on > filed_on:
        raise ApiError(ErrorCode.INVALID_INPUT, f"the complainant cannot have known on {known_on.isoformat()}, "
                       f"after the complaint was filed on {filed_on.isoformat()}")
    filing = Due.of(calendar.period_end(known_on, FILING_DAYS), tz)
    decision: Due | None = None
    if accepted_at is not None:
        if accepted_at < filed_at:
            raise ApiError(ErrorCode.INVALID_INPUT, "a complaint cannot be accepted before it was filed")
        decision = Due.of(calendar.add_working_days(local_date(accepted_at, tz), DECISION_WORKING_DAYS), tz)
    return ComplaintDeadlines(
        filed_on=filed_on,
        filing=filing,
        late=filed_on > filing.on,
        acceptance=Due.of(calendar.add_working_days(filed_on, ACCEPTANCE_WORKING_DAYS), tz),
        decision=decision,
    )


def overdue(state: ComplaintState, deadlines: ComplaintDeadlines,
            now: datetime) -> Literal["acceptance", "decision"] | None:
    """The step the supervisor owes past its deadline at ``now``, or None.

    Overdue is shown, not enforced: past a deadline the supervisor may still rule, since refusing a late ruling
    would only leave the complainant with no ruling at all. The services show it (and may escalate); a ruled
    complaint (refused or decided) owes nothing, even if it was ruled late."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("overdue needs an aware datetime")
    if state == ComplaintState.FILED and now >= deadlines.acceptance.before:
        return "acceptance"
    if state == ComplaintState.ACCEPTED:
        if deadlines.decision is None:
            raise ValueError("an accepted complaint needs deadlines computed with its acceptance instant")
        if now >= deadlines.decision.before:
            return "decision"
    return None
