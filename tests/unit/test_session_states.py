"""The session state machine, its phases and the fault rules (shared/domain.md, "Session states"), without a
database or a clock: every state × action pair, the phase order, what leaving each phase needs, the 4-hour fault
limit, the 2-hour postponement rule and the one-third extension rule."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from timebase import T0  # 09:00 in Beijing on a Saturday

from evalroom.domain.session_states import (
    PHASES,
    Action,
    FaultOutcome,
    Phase,
    PhaseFacts,
    State,
    check_leave_phase,
    extension_granted,
    fault_outcome,
    next_phase,
    next_state,
    postponement_permitted,
)
from evalroom.errors import ApiError, ErrorCode

pytestmark = pytest.mark.dates

FOUR_HOURS = timedelta(hours=4)
TWO_HOURS = timedelta(hours=2)

# waiting → evaluating ⇄ suspended → ended → archived. domain.md says "start from waiting or suspended"; the code
# names the second one "resume", so START itself is only from waiting.
ALLOWED = {
    (State.WAITING, Action.START): State.EVALUATING,
    (State.EVALUATING, Action.SUSPEND): State.SUSPENDED,
    (State.SUSPENDED, Action.RESUME): State.EVALUATING,
    (State.EVALUATING, Action.END): State.ENDED,
    (State.ENDED, Action.ARCHIVE): State.ARCHIVED,
}


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, Action)))
def test_every_state_and_action(state: State, action: Action) -> None:
    if (state, action) in ALLOWED:
        assert next_state(state, action) == ALLOWED[state, action]
        return
    with pytest.raises(ApiError) as info:
        next_state(state, action)
    assert info.value.code == ErrorCode.INVALID_TRANSITION
    assert info.value.http_status == 409
    assert action.value in info.value.message and state.value in info.value.message


def test_the_matrix_has_every_pair() -> None:
    assert len(State) * len(Action) == 25
    assert len(ALLOWED) == 5  # 20 refused pairs


def test_a_whole_life() -> None:
    state = State.WAITING
    for action in (Action.START, Action.SUSPEND, Action.RESUME, Action.SUSPEND, Action.RESUME, Action.END,
                   Action.ARCHIVE):
        state = next_state(state, action)
    assert state == State.ARCHIVED


@pytest.mark.parametrize(("state", "action"), [
    (State.SUSPENDED, Action.END),  # end only from evaluating
    (State.SUSPENDED, Action.START),  # resume, not start
    (State.ENDED, Action.RESUME),
    (State.WAITING, Action.END),
    (State.EVALUATING, Action.ARCHIVE),  # archive only once ended
    (State.ARCHIVED, Action.START),
])
def test_notable_refusals(state: State, action: Action) -> None:
    with pytest.raises(ApiError) as info:
        next_state(state, action)
    assert info.value.code == ErrorCode.INVALID_TRANSITION


# --- phases -------------------------------------------------------------------------------------------------
def test_phases_in_order() -> None:
    assert PHASES == (Phase.CHAIR_ELECTION, Phase.REVIEW, Phase.DETAILED_REVIEW, Phase.PRICE_SCORING,
                      Phase.SUMMARY, Phase.RECOMMENDATION, Phase.REPORT_SIGNING)
    walked = [Phase.CHAIR_ELECTION]
    while walked[-1] != Phase.REPORT_SIGNING:
        walked.append(next_phase(walked[-1]))
    assert tuple(walked) == PHASES


def test_no_phase_after_report_signing() -> None:
    with pytest.raises(ApiError) as info:
        next_phase(Phase.REPORT_SIGNING)
    assert info.value.code == ErrorCode.INVALID_TRANSITION


DONE = PhaseFacts(chair_elected=True, evaluators=5, submitted=5, open_flags=0, unconfirmed_flags=0,
                  report_ready=True, report_sealed=True)


@pytest.mark.parametrize(("phase", "facts", "words"), [
    (Phase.CHAIR_ELECTION, PhaseFacts(chair_elected=False), "chair"),
    (Phase.REVIEW, PhaseFacts(evaluators=5, submitted=4), "1 of 5"),  # 5 - 4 = 1 member has not submitted
    (Phase.REVIEW, PhaseFacts(evaluators=5, submitted=0), "5 of 5"),
    (Phase.DETAILED_REVIEW, PhaseFacts(evaluators=7, submitted=5), "2 of 7"),
    (Phase.DETAILED_REVIEW, PhaseFacts(evaluators=5, submitted=5, open_flags=2), "2 flag(s)"),
    (Phase.DETAILED_REVIEW, PhaseFacts(evaluators=5, submitted=5, unconfirmed_flags=1), "confirmed 1"),
    (Phase.RECOMMENDATION, PhaseFacts(open_ties=1), "settled 1 tie(s)"),
    (Phase.REPORT_SIGNING, PhaseFacts(report_ready=False), "report"),
    (Phase.REPORT_SIGNING, PhaseFacts(report_ready=True), "signed by every member and sealed"),
])
def test_leaving_a_phase_with_its_work_undone_is_refused(phase: Phase, facts: PhaseFacts, words: str) -> None:
    with pytest.raises(ApiError) as info:
        check_leave_phase(phase, facts)
    assert info.value.code == ErrorCode.INVALID_TRANSITION
    assert words in info.value.message and phase.value in info.value.message


def test_missing_submissions_are_named_before_open_flags() -> None:
    with pytest.raises(ApiError) as info:
        check_leave_phase(Phase.DETAILED_REVIEW, PhaseFacts(evaluators=5, submitted=3, open_flags=2))
    assert "2 of 5" in info.value.message


@pytest.mark.parametrize("phase", list(Phase))
def test_leaving_a_phase_with_its_work_done_passes(phase: Phase) -> None:
    check_leave_phase(phase, DONE)


@pytest.mark.parametrize(("phase", "facts"), [
    (Phase.CHAIR_ELECTION, PhaseFacts(chair_elected=True)),
    (Phase.REVIEW, PhaseFacts(evaluators=5, submitted=5, open_flags=3)),  # flags belong to the detailed review
    (Phase.DETAILED_REVIEW, PhaseFacts(evaluators=5, submitted=5)),
    (Phase.REPORT_SIGNING, PhaseFacts(report_ready=True, report_sealed=True)),
    # the price points, the summary and the ranking are computed; only an open tie holds the recommendation
    (Phase.PRICE_SCORING, PhaseFacts()),
    (Phase.SUMMARY, PhaseFacts(open_ties=1)),  # a tie may be settled in the summary or the recommendation
    (Phase.RECOMMENDATION, PhaseFacts()),
])
def test_only_the_phase_s_own_work_counts(phase: Phase, facts: PhaseFacts) -> None:
    check_leave_phase(phase, facts)


# --- faults -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("elapsed", "fixed", "outcome"), [
    (timedelta(minutes=30), True, FaultOutcome.CONTINUE),
    (timedelta(minutes=30), False, None),  # still open, still within the limit
    (FOUR_HOURS, True, FaultOutcome.CONTINUE),  # fixed at exactly 4 h: "within 4 hours"
    (FOUR_HOURS, False, None),
    (FOUR_HOURS + timedelta(seconds=1), True, FaultOutcome.SEAL_AND_REEVALUATE),  # 4 h 0 min 1 s
    (FOUR_HOURS + timedelta(seconds=1), False, FaultOutcome.SEAL_AND_REEVALUATE),
    (timedelta(hours=30), False, FaultOutcome.SEAL_AND_REEVALUATE),
])
def test_fault_outcome(elapsed: timedelta, fixed: bool, outcome: FaultOutcome | None) -> None:
    assert fault_outcome(T0, T0 + elapsed, FOUR_HOURS, fixed=fixed) == outcome


@settings(database=None, deadline=None)
@given(st.integers(min_value=0, max_value=48 * 3600))
def test_fault_outcome_is_decided_by_the_limit_alone(seconds: int) -> None:
    elapsed = timedelta(seconds=seconds)
    fixed = fault_outcome(T0, T0 + elapsed, FOUR_HOURS, fixed=True)
    assert fixed == (FaultOutcome.CONTINUE if elapsed <= FOUR_HOURS else FaultOutcome.SEAL_AND_REEVALUATE)
    open_ = fault_outcome(T0, T0 + elapsed, FOUR_HOURS, fixed=False)
    assert open_ == (None if elapsed <= FOUR_HOURS else FaultOutcome.SEAL_AND_REEVALUATE)


@pytest.mark.parametrize(("elapsed", "ready", "permitted"), [
    (TWO_HOURS - timedelta(seconds=1), False, False),  # not yet 2 hours past the start
    (TWO_HOURS, False, True),  # the fault has lasted 2 hours past the scheduled start
    (TWO_HOURS + timedelta(hours=1), False, True),
    (TWO_HOURS + timedelta(hours=1), True, False),  # the venues are ready: nothing to postpone for
    (-timedelta(hours=1), False, False),  # before the scheduled start
])
def test_postponement(elapsed: timedelta, ready: bool, permitted: bool) -> None:
    assert postponement_permitted(T0, T0 + elapsed, TWO_HOURS, venues_ready=ready) is permitted


# --- extension (条例 Art. 48): more than one third of the committee ------------------------------------------
@pytest.mark.parametrize(("requests", "size", "granted"), [
    (2, 5, True),  # 2 / 5 = 0.4 > 1/3: 3 × 2 = 6 > 5
    (1, 5, False),  # 3 > 5 false
    (1, 3, False),  # exactly one third: 3 × 1 = 3 > 3 false
    (2, 3, True),  # 6 > 3
    (2, 7, False),  # 6 > 7 false (2/7 = 0.29)
    (3, 7, True),  # 9 > 7
    (3, 9, False),  # exactly one third of 9
    (4, 9, True),  # 12 > 9
    (0, 5, False),
])
def test_extension(requests: int, size: int, granted: bool) -> None:
    assert extension_granted(requests, size) is granted
