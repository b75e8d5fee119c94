"""Publication of the candidates (中标候选人公示) and objections to it (异议): the deadlines.

The rule (《招标投标法实施条例》 Art. 54): the tenderer publishes the candidates **within 3 days** of receiving
the evaluation report, for **at least 3 days**; a bidder or other interested party objecting to the result
does so **during the publication**, and the tenderer answers **within 3 days** of receiving the objection,
pausing the procurement until it has answered.

How the periods are counted here (shared with complaints, domain/complaints.py):

- Art. 54 says 日 where Art. 60–61 say 工作日, so these are **calendar days**, counted from the day after the
  event (民法典 Art. 201: the day of the event is not counted) on the local wall calendar;
- a period whose last day is a rest day (a weekend or an official holiday of the operator's calendar) ends on
  the next working day (民法典 Art. 203), by :meth:`~evalroom.domain.workdays.WorkCalendar.period_end`. For the
  publication window this makes the window longer, never shorter: erring the other way would shut out an
  objection that was on time, which nobody can undo.

The report counts as received when the coordinator sealed it (``report.sealed``): before the seal it is not
final (a post-report correction makes a new version), after it the host holds the sealed PDF.

Late steps are kept and marked, as complaints are: a publication after its 3 days is still published (the
bidders are better served by a late publication than by none) and carries ``overdue``; an objection received
after the window closed is recorded with ``late`` (nothing received is lost; whether to hear it is the
tenderer's and the supervisor's call). Nothing here reads a clock: callers pass the instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evalroom.domain.workdays import DEFAULT_TZ, Due, WorkCalendar, local_date
from evalroom.errors import ApiError, ErrorCode

__all__ = [
    "ANSWER_DAYS",
    "MAX_WINDOW_DAYS",
    "MIN_WINDOW_DAYS",
    "PUBLISH_WITHIN_DAYS",
    "ObjectionDeadline",
    "PublicationDeadlines",
    "objection_deadline",
    "publication_deadlines",
]

PUBLISH_WITHIN_DAYS = 3
"""Calendar days after the report is received within which the candidates are published."""
MIN_WINDOW_DAYS = 3
"""The shortest publication window, in calendar days."""
MAX_WINDOW_DAYS = 30
"""A bound on the window a publisher may ask for (a typing error of 300 days would hold the procurement)."""
ANSWER_DAYS = 3
"""Calendar days after an objection is received within which the tenderer answers."""


@dataclass(frozen=True)
class PublicationDeadlines:
    received_on: str
    """The local date the report was received (sealed), ISO."""
    publish_by: Due
    """The last day to publish."""
    published_on: str
    """The local date of publication, ISO."""
    overdue: bool
    """Published after ``publish_by``."""
    window_days: int
    closes: Due
    """The last day of the window: objections are on time while ``now < closes.before``."""


def publication_deadlines(*, sealed_at: datetime, published_at: datetime, window_days: int,
                          calendar: WorkCalendar, tz: str = DEFAULT_TZ) -> PublicationDeadlines:
    """The deadlines of one publication, from the instant the report was sealed and the instant it is
    published (aware datetimes). A window shorter than Art. 54 allows, or a publication before the seal,
    is ``invalid_input``."""
    if not MIN_WINDOW_DAYS <= window_days <= MAX_WINDOW_DAYS:
        raise ApiError(ErrorCode.INVALID_INPUT, f"a publication runs {MIN_WINDOW_DAYS} to {MAX_WINDOW_DAYS} days "
                       f"(条例 Art. 54: at least {MIN_WINDOW_DAYS}); not {window_days}")
    if published_at < sealed_at:
        raise ApiError(ErrorCode.INVALID_INPUT, "the candidates cannot be published before the report is sealed")
    received_on, published_on = local_date(sealed_at, tz), local_date(published_at, tz)
    publish_by = Due.of(calendar.period_end(received_on, PUBLISH_WITHIN_DAYS), tz)
    return PublicationDeadlines(
        received_on=received_on.isoformat(), publish_by=publish_by, published_on=published_on.isoformat(),
        overdue=published_on > publish_by.on, window_days=window_days,
        closes=Due.of(calendar.period_end(published_on, window_days), tz))


@dataclass(frozen=True)
class ObjectionDeadline:
    received_on: str
    late: bool
    """Received after the window closed."""
    answer_by: Due


def objection_deadline(*, received_at: datetime, closes: Due, calendar: WorkCalendar,
                       tz: str = DEFAULT_TZ) -> ObjectionDeadline:
    """When an objection received at ``received_at`` must be answered, and whether it came after the window
    that ``closes`` (a publication's :attr:`PublicationDeadlines.closes`)."""
    received_on = local_date(received_at, tz)
    return ObjectionDeadline(received_on=received_on.isoformat(), late=received_at >= closes.before,
                             answer_by=Due.of(calendar.period_end(received_on, ANSWER_DAYS), tz))
