"""Where a session stands and moving it from phase to phase, with the work each phase starts with.

Its own module because it ties the others together: the rules and facts of leaving a phase come from
services/evaluation.py and, for ties among the candidates, services/sheets.py; the work on entering a phase
from services/sheets.py (price points, aggregation, candidates) and services/report.py (the report on
entering report signing).
"""

from __future__ import annotations

import logging
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain import session_states as states
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import Phase, PhaseFacts, State
from evalroom.errors import ApiError, ErrorCode
from evalroom.services import offers, report, sheets, signatures
from evalroom.services.access import check_can_read_session
from evalroom.services.evaluation import (
    chair_of,
    check_mover,
    extension_state,
    participants,
    phase_facts,
    record_change,
)
from evalroom.storage.models import EvalSession, SessionFault, Venue
from evalroom.storage.store import Store, Tx

__all__ = ["move_phase", "report_ahead", "session_status"]

log = logging.getLogger(__name__)


def _facts(s: Session, session: EvalSession) -> PhaseFacts:
    facts = phase_facts(s, session)
    if session.state == State.EVALUATING and session.phase in (Phase.SUMMARY, Phase.RECOMMENDATION):
        return replace(facts, open_ties=sheets.open_ties(s, session.id))
    return facts


def _check_move(s: Session, principal: Principal, session: EvalSession, expected: Phase) -> Phase:
    """The phase a move by ``principal`` out of ``expected`` leads to; raises why it may not be made."""
    check_mover(s, principal, session)
    if session.state != State.EVALUATING:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"phases move while the session is evaluating (it is "
                       f"{session.state})")
    current = Phase(session.phase)
    if current != expected:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"the session is in phase {current.value}, not {expected.value}")
    states.check_leave_phase(current, _facts(s, session))
    return states.next_phase(current)


def report_ahead(store: Store, settings: Settings, principal: Principal, session_id: str,
                 expected: Phase) -> report.Rendered | None:
    """When this move will make the report, the report rendered before the move's transaction
    (:class:`report.Rendered` says why); None when it will not, or may not be made (the move says why)."""
    if expected is not Phase.RECOMMENDATION:
        return None
    with store.read() as s:
        session = s.get(EvalSession, session_id)
        try:
            check_can_read_session(principal, session, session_id)
            if _check_move(s, principal, session, expected) is not Phase.REPORT_SIGNING:
                return None
        except ApiError:
            return None
        doc = report.merge_ahead(s, session, store.clock.now())
    try:
        return report.render_ahead(doc, settings.report_font_file)  # the snapshot closed: rendering takes a second
    except BrokenProcessPool:
        log.warning("the report's worker process died; the move renders the report itself", exc_info=True)
        return None


def move_phase(tx: Tx, settings: Settings, principal: Principal, session_id: str, expected: Phase,
               ahead: report.Rendered | None = None) -> EvalSession:
    """Move to the next phase. ``expected`` is the phase the caller means to leave: a second click (or a
    second operator) after the move does not skip a phase, it gets ``invalid_transition``. ``ahead``: the
    report this move makes, rendered beforehand (:func:`report_ahead`)."""
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    current = Phase(session.phase)
    target = _check_move(tx.session, principal, session, expected)
    session.phase, session.updated_at = target.value, tx.now()
    summary = sheets.enter_phase(tx, session, target)
    record_change(tx, principal.actor, session, "session.phase_changed", {"from": current.value, **summary})
    if target is Phase.REPORT_SIGNING:
        report.produce(tx, settings.report_font_file, session, principal.actor, ahead)
    return session


def session_status(store: Store, settings: Settings, principal: Principal, session_id: str) -> dict[str, Any]:
    """Where the session stands: state, phase, what the phase still needs, faults, venues online."""
    with store.read() as s:
        session = check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        venues = {v.id: v for v in s.scalars(select(Venue).where(Venue.id.in_(participants(s, session))))}
        try:
            facts = _facts(s, session)
        except ApiError as exc:  # no results to count ties in (sheets.results says why): the status still answers
            if exc.code is not ErrorCode.CONFLICT:
                raise
            facts = phase_facts(s, session)
        faults = list(s.scalars(select(SessionFault).where(SessionFault.session_id == session_id)
                                .order_by(SessionFault.started_at, SessionFault.id)))
        now = store.clock.now()
        ready = all(v.online for v in venues.values())
        # 四不知: until check-in opens a venue's staff learn the other venues' state, not who they are.
        blind = (principal.role in (Role.HALL_OPERATOR, Role.SITE_AGENT)
                 and not offers.host_may_see_guest(settings, session))

        def named(venue_id: str) -> str | None:
            return None if blind and venue_id != principal.venue_id else venue_id

        return {
            "state": session.state, "phase": session.phase, "chair_member_id": chair_of(s, session_id),
            "started_at": _at(session.started_at), "suspended_at": _at(session.suspended_at),
            "ended_at": _at(session.ended_at), "end_reason": session.end_reason,
            "scheduled_end": format_time(session.scheduled_end),
            "evaluators": facts.evaluators, "submitted": facts.submitted, "open_flags": facts.open_flags,
            "unconfirmed_flags": facts.unconfirmed_flags, "open_ties": facts.open_ties,
            "report_ready": facts.report_ready, "report_sealed": facts.report_sealed,
            "signing": signatures.signing_status(s, session) if facts.report_ready else None,
            "venues": [{"venue_id": named(v), "online": venues[v].online,
                        "role": "host" if v == session.host_venue_id else "guest"}
                       for v in participants(s, session)],
            "faults": [{"id": f.id, "venue_id": f.venue_id and named(f.venue_id), "cause": f.cause, "detail": f.detail,
                        "started_at": format_time(f.started_at), "fixed_at": _at(f.fixed_at),
                        "outcome": f.outcome} for f in faults],
            "extension": extension_state(s, session, principal.subject if principal.role is Role.EXPERT else None),
            "postponement_permitted": session.state == State.WAITING and states.postponement_permitted(
                session.scheduled_start, now, timedelta(hours=settings.postpone_after_hours), venues_ready=ready),
        }


def _at(value: datetime | None) -> str | None:
    return format_time(value) if value else None
