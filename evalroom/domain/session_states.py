"""The session state machine and its phases, as the dispatch systems implement them (shared/domain.md).

States: ``waiting → evaluating ⇄ suspended → ended → archived``. A session starts from ``waiting`` (and
resumes from ``suspended``); it is suspended and ended only from ``evaluating``; only an ended session is
archived. Inside ``evaluating`` the work moves forward through the phases, one at a time::

    chair_election → review → detailed_review → price_scoring → summary → recommendation → report_signing

``review`` is the qualification/compliance review (资格/符合性审查), ``detailed_review`` the item-by-item
scoring (详细评审; for the lowest evaluated price method, the price adjustments). Leaving a phase needs its
work done; the services say what "done" means with the facts in the database, and this module decides
with those facts alone (:class:`PhaseFacts`), so the rule is tested without a database.

Faults (a local rule with a good default, configurable): a fault during evaluation suspends the session; if
it is fixed within ``fault_continue_hours`` (4 h) the evaluation continues, otherwise the documents are sealed
and a new committee re-evaluates. A fault before the start that lasts ``postpone_after_hours`` (2 h) past the
scheduled start lets the tenderer postpone. More than a third of the committee asking for more time extends
the evaluation period (条例 Art. 48).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from evalroom.errors import ApiError, ErrorCode

__all__ = [
    "PHASES",
    "Action",
    "FaultOutcome",
    "Phase",
    "PhaseFacts",
    "State",
    "check_leave_phase",
    "extension_granted",
    "fault_outcome",
    "next_phase",
    "next_state",
    "postponement_permitted",
]


class State(StrEnum):
    WAITING = "waiting"
    EVALUATING = "evaluating"
    SUSPENDED = "suspended"
    ENDED = "ended"
    ARCHIVED = "archived"


class Phase(StrEnum):
    CHAIR_ELECTION = "chair_election"
    REVIEW = "review"
    DETAILED_REVIEW = "detailed_review"
    PRICE_SCORING = "price_scoring"
    SUMMARY = "summary"
    RECOMMENDATION = "recommendation"
    REPORT_SIGNING = "report_signing"


PHASES = tuple(Phase)


class Action(StrEnum):
    START = "start"
    SUSPEND = "suspend"
    RESUME = "resume"
    END = "end"
    ARCHIVE = "archive"


_MOVES: dict[Action, tuple[frozenset[State], State]] = {
    Action.START: (frozenset({State.WAITING}), State.EVALUATING),
    Action.SUSPEND: (frozenset({State.EVALUATING}), State.SUSPENDED),
    Action.RESUME: (frozenset({State.SUSPENDED}), State.EVALUATING),
    Action.END: (frozenset({State.EVALUATING}), State.ENDED),
    Action.ARCHIVE: (frozenset({State.ENDED}), State.ARCHIVED),
}


def next_state(state: State, action: Action) -> State:
    sources, target = _MOVES[action]
    if state not in sources:
        allowed = " or ".join(sorted(s.value for s in sources))
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"cannot {action.value} a session that is {state.value} "
                       f"(only from {allowed})")
    return target


@dataclass(frozen=True)
class PhaseFacts:
    """What the services know about the work of the current phase."""

    chair_elected: bool = False
    evaluators: int = 0
    submitted: int = 0
    """Members who submitted the current phase's sheet (review or detailed review)."""
    open_flags: int = 0
    unconfirmed_flags: int = 0
    report_ready: bool = False
    report_sealed: bool = False
    """The newest report version carries every member's signature (or deemed agreement) and the seal."""
    open_ties: int = 0
    """Ties that every tie-break left standing among the candidates, not yet settled by the committee."""


def check_leave_phase(phase: Phase, facts: PhaseFacts) -> None:
    """Refuse leaving ``phase`` (to the next one, or ending from the last) while its work is not done."""
    missing: str | None = None
    match phase:
        case Phase.CHAIR_ELECTION if not facts.chair_elected:
            missing = "the chair has not been elected"
        case Phase.REVIEW | Phase.DETAILED_REVIEW if facts.submitted < facts.evaluators:
            missing = f"{facts.evaluators - facts.submitted} of {facts.evaluators} members have not submitted"
        case Phase.DETAILED_REVIEW if facts.open_flags:
            missing = f"{facts.open_flags} flag(s) are neither corrected nor explained"
        case Phase.DETAILED_REVIEW if facts.unconfirmed_flags:
            missing = f"the chair has not confirmed {facts.unconfirmed_flags} flag resolution(s)"
        case Phase.RECOMMENDATION if facts.open_ties:
            missing = f"the committee has not settled {facts.open_ties} tie(s) among the candidates"
        case Phase.REPORT_SIGNING if not facts.report_ready:
            missing = "the report has not been produced"
        case Phase.REPORT_SIGNING if not facts.report_sealed:
            missing = "the report is not signed by every member and sealed"
    if missing:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"cannot leave phase {phase.value}: {missing}")


def next_phase(phase: Phase) -> Phase:
    i = PHASES.index(phase)
    if i + 1 == len(PHASES):
        raise ApiError(ErrorCode.INVALID_TRANSITION, "report signing is the last phase; end the session instead")
    return PHASES[i + 1]


class FaultOutcome(StrEnum):
    CONTINUE = "continue"
    """Fixed within the limit: the evaluation continues where it stopped."""
    SEAL_AND_REEVALUATE = "seal_and_reevaluate"
    """Not fixed within the limit: the documents are sealed and a new committee re-evaluates."""


def fault_outcome(since: datetime, now: datetime, limit: timedelta, *, fixed: bool) -> FaultOutcome | None:
    """The outcome of a fault that began at ``since``: None while it is open and still within the limit."""
    if now - since > limit:
        return FaultOutcome.SEAL_AND_REEVALUATE
    return FaultOutcome.CONTINUE if fixed else None


def postponement_permitted(scheduled_start: datetime, now: datetime, after: timedelta, *, venues_ready: bool) -> bool:
    """Before the start: a fault lasting ``after`` past the scheduled start lets the tenderer postpone."""
    return not venues_ready and now >= scheduled_start + after


def extension_granted(requests: int, committee_size: int) -> bool:
    """More than one third of the committee says the time is too short (条例 Art. 48)."""
    return 3 * requests > committee_size
