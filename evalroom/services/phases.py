"""Moving a session from phase to phase, with the work each phase starts with.

Its own module because it ties the others together: the rules and facts of leaving a phase come from
services/evaluation.py, the work on entering one from services/sheets.py (price points, aggregation,
candidates) and services/report.py (the report on entering report signing).
"""

from __future__ import annotations

from evalroom.config import Settings
from evalroom.domain import session_states as states
from evalroom.domain.roles import Principal
from evalroom.domain.session_states import Phase, State
from evalroom.errors import ApiError, ErrorCode
from evalroom.services import report, sheets
from evalroom.services.access import check_can_read_session
from evalroom.services.evaluation import check_mover, phase_facts, record_change
from evalroom.storage.models import EvalSession
from evalroom.storage.store import Tx

__all__ = ["move_phase"]


def move_phase(tx: Tx, settings: Settings, principal: Principal, session_id: str, expected: Phase) -> EvalSession:
    """Move to the next phase. ``expected`` is the phase the caller means to leave: a second click (or a
    second operator) after the move does not skip a phase, it gets ``invalid_transition``."""
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    check_mover(tx.session, principal, session)
    if session.state != State.EVALUATING:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"phases move while the session is evaluating (it is "
                       f"{session.state})")
    current = Phase(session.phase)
    if current != expected:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"the session is in phase {current.value}, not {expected.value}")
    states.check_leave_phase(current, phase_facts(tx.session, session))
    target = states.next_phase(current)
    session.phase, session.updated_at = target.value, tx.now()
    summary = sheets.enter_phase(tx, session, target)
    record_change(tx, principal.actor, session, "session.phase_changed", {"from": current.value, **summary})
    if target is Phase.REPORT_SIGNING:
        report.produce(tx, settings.report_font_file, session, principal.actor)
    return session
