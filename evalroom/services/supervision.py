"""Supervision (行政监督): what a session's supervisors do besides watching — their marks on the session.

**Who.** A session has at most one primary supervisor, the project location's (项目所在地), and any number of
secondary ones, the guest sites' (assigned by the coordinator admin, services/sessions.py). Both watch live
(the media room) and replay (services/replay.py), and both mark the session:

- an **annotation** of any moment of the session, for the record and the replay (``moment`` may point back);
- a **warning** that every venue sees: routed to every venue's site agent and shown to every reader of the
  session, the experts included (a supervisor's 警示 to the room);
- a **flagged expert**: a member of the committee whose conduct the supervisor puts on the record.

Only the primary rules on complaints (services/complaints.py). Neither level changes a score or a phase: no
route that writes a sheet or moves the session admits the supervisor role (the role matrix checks it), and
nothing here touches them.

Every mark is a row and an event in the same transaction, and the event goes into the transparency log (hash
only: the text is not public). Annotations and flags are seen by the overseers (the admin and the session's
supervisors) only; other readers see that a mark was made, not what it says (:func:`supervision_event_view`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from evalroom.clock import format_time
from evalroom.domain.events import Event
from evalroom.domain.roles import Principal, SupervisorLevel
from evalroom.domain.session_states import State
from evalroom.errors import ApiError, ConflictError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.schemas import AnnotationCreate, ExpertFlagCreate, WarningCreate
from evalroom.services.access import ReaderKind, check_can_read_session, is_overseer
from evalroom.services.evaluation import participants
from evalroom.storage.models import CommitteeMember, EvalSession, EventRow, SupervisionMark
from evalroom.storage.store import Store, Tx

__all__ = ["HIDDEN_KINDS", "annotate", "check_supervisor", "flag_expert", "list_marks", "mark_view",
           "supervision_event_view", "warn"]

HIDDEN_KINDS = frozenset({"supervision.annotated", "supervision.expert_flagged", "complaint.filed",
                          "complaint.ruled", "complaint.decided"})
"""Events whose content only the overseers see."""
WARNING_STATES = (State.EVALUATING.value, State.SUSPENDED.value)
MARK_EVENTS = {"annotation": "supervision.annotated", "warning": "supervision.warning",
               "expert_flag": "supervision.expert_flagged"}


def check_supervisor(principal: Principal, session: EvalSession | None, session_id: str, *,
                     primary: bool = False) -> tuple[EvalSession, SupervisorLevel]:
    """The session, if ``principal`` supervises it (404 otherwise: a session out of scope is not revealed);
    403 when the primary is needed and this is a secondary supervisor."""
    session = check_can_read_session(principal, session, session_id)
    level = principal.supervises(session_id)
    if level is None:
        raise ForbiddenError("only the session's supervisors may do this")
    if primary and level is not SupervisorLevel.PRIMARY:
        raise ForbiddenError("only the primary supervisor (the project location's) may do this")
    return session, level


def _add(tx: Tx, principal: Principal, session: EvalSession, level: SupervisorLevel, kind: str, text: str, *,
         moment: datetime | None = None, member_id: str | None = None) -> SupervisionMark:
    now = tx.now()
    mark = SupervisionMark(id=str(uuid.uuid4()), session_id=session.id, kind=kind, author=principal.subject,
                           level=level.value, moment=moment or now, member_id=member_id, text=text, created_at=now)

    def appended(event: Event) -> None:  # the mark names its event: it is stored with it, at commit
        mark.event_hash = event.hash
        tx.session.add(mark)

    tx.record(actor=principal.actor, kind=MARK_EVENTS[kind], session_id=session.id,
              venue_ids=participants(tx.session, session) if kind == "warning" else (), payload=mark_view(mark),
              on_appended=appended)
    return mark


def annotate(tx: Tx, principal: Principal, session_id: str, data: AnnotationCreate) -> SupervisionMark:
    session, level = check_supervisor(principal, tx.session.get(EvalSession, session_id), session_id)
    if data.moment is not None and not session.created_at <= data.moment <= tx.now():
        raise ApiError(ErrorCode.INVALID_INPUT, "an annotation's moment lies between the session's creation and now")
    return _add(tx, principal, session, level, "annotation", data.text, moment=data.moment)


def warn(tx: Tx, principal: Principal, session_id: str, data: WarningCreate) -> SupervisionMark:
    session, level = check_supervisor(principal, tx.session.get(EvalSession, session_id), session_id)
    if session.state not in WARNING_STATES:
        raise ConflictError(f"warnings go to the venues while the session runs (it is {session.state})")
    return _add(tx, principal, session, level, "warning", data.text)


def flag_expert(tx: Tx, principal: Principal, session_id: str, data: ExpertFlagCreate) -> SupervisionMark:
    session, level = check_supervisor(principal, tx.session.get(EvalSession, session_id), session_id)
    member = tx.session.get(CommitteeMember, data.member_id)
    if member is None or member.session_id != session_id:
        raise NotFoundError("committee member", data.member_id)
    return _add(tx, principal, session, level, "expert_flag", data.text, member_id=member.id)


def mark_view(mark: SupervisionMark) -> dict[str, Any]:
    return {"id": mark.id, "kind": mark.kind, "author": mark.author, "level": mark.level,
            "moment": format_time(mark.moment), "member_id": mark.member_id, "text": mark.text,
            "created_at": format_time(mark.created_at)}


def list_marks(store: Store, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    """Every mark on the session, oldest first (overseers)."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        if not is_overseer(principal, session_id):
            raise ForbiddenError("only the coordinator admin and the session's supervisors read its marks")
        rows = s.scalars(select(SupervisionMark).join(EventRow, EventRow.hash == SupervisionMark.event_hash)
                         .where(SupervisionMark.session_id == session_id).order_by(EventRow.id))
        return [mark_view(m) for m in rows]


def supervision_event_view(reader: ReaderKind, kind: str, view: dict[str, Any]) -> dict[str, Any]:
    """Annotations, flagged experts and complaints as a reader who is not an overseer sees them: that
    something was recorded, not what (``redacted``; the hash is still of the whole event)."""
    if kind in HIDDEN_KINDS and reader is not ReaderKind.OVERSEER:
        return {**view, "payload": {}, "redacted": True}
    return view
