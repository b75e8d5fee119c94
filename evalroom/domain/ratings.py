"""Rating the experts after a session (评标专家评价), and what a rating does to the expert's standing.

**Who rates** (shared/domain.md, "Report and after": experts are rated 0–100 within 2 working days): the host
venue (主场交易中心, by its operators) and the tenderer (招标人). The tenderer has no account here; it rates
through its representative on the committee (招标人代表, a member of kind ``representative``), with the token
that member logs in with at the seat. The representative sat at the table through the session, so their
rating rests on what they saw, and it is given under the tenderer's own credential rather than typed in by
the host's staff, which would put both ratings in one hand. A committee without a representative gets no
tenderer rating; the host's counts alone. Each rater rates each expert once per session.

**When**: from the session's end until the end of the 2nd working day after the day it ended (local dates,
the operator's calendar; the day of the end is not counted, as for every period here).

**Credit** (:func:`credit_after`): a rating below ``threshold`` (``rating_suspend_below``, 60 by default: the
usual pass mark, 及格) from either rater suspends an active expert (``suspended``), which the draw's avoidance
rules exclude (domain/avoidance.py, reason ``suspended``); the coordinator admin lifts it (``PATCH
/experts/{id}``) after reviewing the case. A suspended or blacklisted expert stays as they are: a rating never
lifts a status and never makes one worse than suspension (blacklisting is a decision for people). This is a
local rule, made configuration because provinces set their own pass marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from evalroom.domain.avoidance import CreditStatus
from evalroom.domain.workdays import DEFAULT_TZ, Due, WorkCalendar, local_date
from evalroom.errors import ApiError, ErrorCode

__all__ = ["MAX_SCORE", "MIN_SCORE", "RATING_WORKING_DAYS", "CreditChange", "Rater", "check_open", "check_score",
           "credit_after", "rating_due"]

MIN_SCORE, MAX_SCORE = 0, 100
RATING_WORKING_DAYS = 2


class Rater(StrEnum):
    HOST = "host"
    """The host venue (主场), through its operators."""
    TENDERER = "tenderer"
    """The tenderer (招标人), through its representative on the committee."""


def check_score(score: int) -> None:
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ApiError(ErrorCode.INVALID_INPUT, f"a rating is {MIN_SCORE} to {MAX_SCORE}, not {score}")


def rating_due(ended_at: datetime, calendar: WorkCalendar, tz: str = DEFAULT_TZ) -> Due:
    """The last day to rate the experts of a session that ended at ``ended_at``."""
    return Due.of(calendar.add_working_days(local_date(ended_at, tz), RATING_WORKING_DAYS), tz)


def check_open(now: datetime, ended_at: datetime | None, due: Due | None) -> None:
    """Ratings are taken from the session's end until the end of its due day (``rating_closed`` otherwise)."""
    if ended_at is None or due is None:
        raise ApiError(ErrorCode.RATING_CLOSED, "the experts are rated once the session has ended")
    if now >= due.before:
        raise ApiError(ErrorCode.RATING_CLOSED, f"ratings for this session closed at the end of "
                       f"{due.on.isoformat()} ({RATING_WORKING_DAYS} working days after it ended)")


@dataclass(frozen=True)
class CreditChange:
    status: CreditStatus
    reason: str


def credit_after(current: CreditStatus, score: int, rater: Rater, *, threshold: int,
                 session_code: str) -> CreditChange | None:
    """What a rating of ``score`` by ``rater`` does to an expert whose status is ``current``: a change with its
    reason, or None."""
    if current is not CreditStatus.ACTIVE or score >= threshold:
        return None
    who = "主场" if rater is Rater.HOST else "招标人"
    return CreditChange(CreditStatus.SUSPENDED, f"rated {score} (below {threshold}) by the {rater.value} "
                                                f"({who}) for session {session_code}")
