"""Complaints (投诉) about a session, as the supervisors handle them (rules and deadlines: domain/complaints.py).

**Who.** Either supervisor of the session records a complaint received (the guest site's supervisor may be the
one a bidder there turns to); only the primary supervisor — the project location's, whose authority the
complaint is under — rules whether to accept it and decides it. The coordinator admin reads them.

**Deadlines** come from the injected clock (``tx.now()`` / ``store.clock``) and the operator's working-day
calendar (``work_calendar_file``), counted in ``local_timezone``. A complaint filed more than 10 days after the
complainant knew is kept (nothing received is lost) and marked late; it can only be refused. A ruling past its
deadline is still taken, and the listing shows what is ``overdue``.

Each step is a row change and an event in one transaction (``complaint.filed``, ``complaint.ruled``,
``complaint.decided``), and each event goes into the transparency log (its hash: a complaint is not public).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.complaints import (
    ComplaintAction,
    ComplaintDeadlines,
     ComplaintState,
    complaint_deadlines,
    next_state,
    overdue,
)
from evalroom.domain.roles import Principal
from evalroom.errors import ForbiddenError, NotFoundError
from evalroom.schemas import ComplaintCreate, ComplaintDecision, ComplaintRuling
from evalroom.services.access import check_can_read_session, is_overseer
from evalroom.services.supervision import check_supervisor
from evalroom.storage.models import Complaint, EvalSession
from evalroom.storage.store import Store, Tx

__all__ = ["complaint_view", "decide", "file_complaint", "list_complaints", "rule"]


def _deadlines(settings: Settings, c: Complaint) -> ComplaintDeadlines:
    return complaint_deadlines(known_on=c.known_on, filed_at=c.filed_at, calendar=settings.work_calendar,
                               tz=settings.local_timezone,
                               accepted_at=c.ruled_at if c.state in ("accepted", "decided") else None)


def complaint_view(settings: Settings, c: Complaint, now: datetime) -> dict[str, Any]:
    d = _deadlines(settings, c)
    return {
        "id": c.id, "session_id": c.session_id, "complainant": c.complainant, "subject": c.subject,
        "known_on": c.known_on.isoformat(), "filed_at": format_time(c.filed_at), "filed_by": c.filed_by,
        "state": c.state, "late": c.late, "ruling": c.ruling, "ruled_at": c.ruled_at and format_time(c.ruled_at),
        "ruled_by": c.ruled_by, "outcome": c.outcome, "decision": c.decision,
        "decided_at": c.decided_at and format_time(c.decided_at), "decided_by": c.decided_by,
        "deadlines": {"filing": d.filing.on.isoformat(), "acceptance": d.acceptance.on.isoformat(),
                      "decision": d.decision.on.isoformat() if d.decision else None},
        "overdue": overdue(ComplaintState(c.state), d, now),
    }


def file_complaint(tx: Tx, settings: Settings, principal: Principal, session_id: str,
                   data: ComplaintCreate) -> dict[str, Any]:
    session, _ = check_supervisor(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    now = tx.now()
    known_on = date.fromisoformat(data.known_on)
    # Checks known_on against the filing date before anything is written.
    deadlines = complaint_deadlines(known_on=known_on, filed_at=now, calendar=settings.work_calendar,
                                    tz=settings.local_timezone)
    c = Complaint(id=str(uuid.uuid4()), session_id=session.id, complainant=data.complainant, subject=data.subject,
                  known_on=known_on, filed_at=now, filed_by=principal.subject, late=deadlines.late,
                  state=ComplaintState.FILED.value)
    tx.session.add(c)
    view = complaint_view(settings, c, now)
    tx.record(actor=principal.actor, kind="complaint.filed", session_id=session.id, payload=view)
    return view


def _own(tx: Tx, principal: Principal, session_id: str, complaint_id: str) -> Complaint:
    check_supervisor(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id, primary=True)
    c = tx.session.get(Complaint, complaint_id)
    if c is None or c.session_id != session_id:
        raise NotFoundError("complaint", complaint_id)
    return c


def rule(tx: Tx, settings: Settings, principal: Principal, session_id: str, complaint_id: str,
         data: ComplaintRuling) -> dict[str, Any]:
    """受理 or 不予受理, with the reason (the primary supervisor)."""
    c = _own(tx, principal, session_id, complaint_id)
    action = ComplaintAction.ACCEPT if data.accept else ComplaintAction.REFUSE
    c.state = next_state(ComplaintState(c.state), action, late=c.late).value
    c.ruling, c.ruled_at, c.ruled_by = data.reason, tx.now(), principal.subject
    view = complaint_view(settings, c, tx.now())
    tx.record(actor=principal.actor, kind="complaint.ruled", session_id=session_id, payload=view)
    return view


def decide(tx: Tx, settings: Settings, principal: Principal, session_id: str, complaint_id: str,
           data: ComplaintDecision) -> dict[str, Any]:
    """The written decision on an accepted complaint (the primary supervisor)."""
    c = _own(tx, principal, session_id, complaint_id)
    c.state = next_state(ComplaintState(c.state), ComplaintAction.DECIDE, late=c.late).value
    c.outcome, c.decision, c.decided_at, c.decided_by = data.outcome, data.text, tx.now(), principal.subject
    view = complaint_view(settings, c, tx.now())
    tx.record(actor=principal.actor, kind="complaint.decided", session_id=session_id, payload=view)
    return view


def list_complaints(store: Store, settings: Settings, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        if not is_overseer(principal, session_id):
            raise ForbiddenError("only the coordinator admin and the session's supervisors read its complaints")
        rows = s.scalars(select(Complaint).where(Complaint.session_id == session_id)
                         .order_by(Complaint.filed_at, Complaint.id))
        now = store.clock.now()
        return [complaint_view(settings, c, now) for c in rows]
