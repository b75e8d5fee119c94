"""Evaluation sessions: creation by the host, changes of schedule, supervisor assignment, the event stream.

The session's lifecycle (waiting → evaluating ⇄ suspended → ended → archived) belongs to the session state
machine in the domain core; here a session is created in ``waiting`` and its schedule can change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.events import Event
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.errors import ApiError, ConflictError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.schemas import SessionCreate, SessionUpdate, SupervisorAssign
from evalroom.services.access import (
    ReaderKind,
    can_read_session,
    check_can_change_session,
    check_can_read_session,
    reader_kind,
)
from evalroom.services.committee import committee_event_view
from evalroom.services.evaluation import participants
from evalroom.services.inventory import check_venue_scope
from evalroom.services.offers import event_view_for
from evalroom.services.ratings import after_event_view
from evalroom.services.supervision import supervision_event_view
from evalroom.storage.models import (
    Account,
    CommitteeMember,
    EvalSession,
    Offer,
    Room,
    Seat,
    SessionFault,
    SessionSupervisor,
    Venue,
)
from evalroom.storage.store import Store, Tx, read_events

__all__ = [
    "assign_supervisor",
    "create_session",
    "get_session",
    "guest_sessions",
    "list_sessions",
    "open_check_in",
    "session_events",
    "update_session",
]

WAITING = "waiting"
# A session may be scheduled to start a little in the past: the request may have been typed a minute ago.
START_GRACE = timedelta(minutes=5)


def _check_window(tx: Tx, start: datetime, end: datetime) -> None:
    if end <= start:
        raise ApiError(ErrorCode.INVALID_INPUT, "scheduled_end must be after scheduled_start")
    if start < tx.now() - START_GRACE:
        raise ApiError(ErrorCode.INVALID_INPUT, "scheduled_start is in the past")


def create_session(tx: Tx, principal: Principal, data: SessionCreate) -> EvalSession:
    host = data.host_venue_id
    if principal.role is Role.HALL_OPERATOR:
        if host is not None and host != principal.venue_id:
            raise ForbiddenError("an operator can only create sessions hosted at their own venue")
        host = principal.venue_id
    elif host is None:
        raise ApiError(ErrorCode.INVALID_INPUT, "host_venue_id is required")
    if tx.session.get(Venue, host) is None:
        raise NotFoundError("venue", host)
    if tx.session.scalar(select(EvalSession.id).where(EvalSession.code == data.code)) is not None:
        raise ConflictError(f"session code {data.code!r} exists")
    start, end = data.scheduled_start.astimezone(UTC), data.scheduled_end.astimezone(UTC)
    _check_window(tx, start, end)
    now = tx.now()
    session = EvalSession(id=str(uuid.uuid4()), code=data.code, title=data.title, host_venue_id=host, state=WAITING,
                          scheduled_start=start, scheduled_end=end, created_at=now,
                          updated_at=now)
    tx.session.add(session)
    tx.record(actor=principal.actor, kind="session.created", session_id=session.id,
              payload={"code": session.code, "title": session.title, "host_venue_id": host, "state": WAITING,
                       "scheduled_start": format_time(start), "scheduled_end": format_time(end)})
    return session


def update_session(tx: Tx, principal: Principal, session_id: str, data: SessionUpdate) -> EvalSession:
    session = check_can_change_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    if session.state != WAITING:
        raise ConflictError(f"a session in state {session.state!r} cannot be rescheduled")
    start = data.scheduled_start.astimezone(UTC) if data.scheduled_start else session.scheduled_start
    end = data.scheduled_end.astimezone(UTC) if data.scheduled_end else session.scheduled_end
    _check_window(tx, start, end)
    changes: dict[str, str] = {}
    if data.title is not None and data.title != session.title:
        session.title = changes["title"] = data.title
    if start != session.scheduled_start:
        session.scheduled_start = start
        changes["scheduled_start"] = format_time(start)
    if end != session.scheduled_end:
        session.scheduled_end = end
        changes["scheduled_end"] = format_time(end)
    if changes:
        session.updated_at = tx.now()
        tx.record(actor=principal.actor, kind="session.updated", session_id=session.id, payload=changes)
    return session


def assign_supervisor(tx: Tx, actor: str, session_id: str, data: SupervisorAssign) -> SessionSupervisor:
    if tx.session.get(EvalSession, session_id) is None:
        raise NotFoundError("session", session_id)
    account = tx.session.get(Account, data.account_id)
    if account is None or account.role != Role.SUPERVISOR.value:
        raise NotFoundError("supervisor account", data.account_id)
    if tx.session.get(SessionSupervisor, (session_id, account.id)) is not None:
        raise ConflictError("this supervisor is already assigned to the session")
    if data.level is SupervisorLevel.PRIMARY and tx.session.scalar(
            select(SessionSupervisor.account_id).where(SessionSupervisor.session_id == session_id,
                                                       SessionSupervisor.level == "primary")) is not None:
        raise ConflictError("the session already has a primary supervisor")
    row = SessionSupervisor(session_id=session_id, account_id=account.id, level=data.level.value)
    tx.session.add(row)
    tx.record(actor=actor, kind="session.supervisor_assigned", session_id=session_id,
              payload={"account_id": account.id, "username": account.username, "level": data.level.value})
    return row


def list_supervisors(store: Store, session_id: str) -> list[dict[str, str]]:
    with store.read() as s:
        if s.get(EvalSession, session_id) is None:
            raise NotFoundError("session", session_id)
        rows = s.execute(select(SessionSupervisor.account_id, SessionSupervisor.level, Account.username,
                                Account.display_name)
                         .join(Account, Account.id == SessionSupervisor.account_id)
                         .where(SessionSupervisor.session_id == session_id)
                         .order_by(SessionSupervisor.level, Account.username))
        return [{"account_id": r.account_id, "username": r.username, "display_name": r.display_name,
                 "level": r.level} for r in rows]


def list_sessions(store: Store, principal: Principal) -> list[EvalSession]:
    with store.read() as s:
        q = select(EvalSession).order_by(EvalSession.scheduled_start, EvalSession.code)
        if principal.role is Role.HALL_OPERATOR:
            q = q.where(EvalSession.host_venue_id == principal.venue_id)
        elif principal.role is Role.SUPERVISOR:
            q = q.where(EvalSession.id.in_(list(principal.supervised)))
        elif principal.role is Role.EXPERT:
            q = q.where(EvalSession.id == principal.session_id)
        # The filters above narrow the query; can_read_session stays the single rule that decides.
        return [row for row in s.scalars(q) if can_read_session(principal, row)]


def get_session(store: Store, principal: Principal, session_id: str) -> EvalSession:
    with store.read() as s:
        return check_can_read_session(principal, s.get(EvalSession, session_id), session_id)


GUEST_VIEW_DAYS = 1
"""How long after its scheduled end an ended session stays in its guests' list (the next morning's questions)."""
_AT_THE_VENUE = ("checked_in", "seated")


def guest_sessions(store: Store, principal: Principal, venue_id: str) -> list[dict[str, Any]]:
    """The sessions ``venue_id`` lends seats to, as the venue takes part in each: for its operators (and admins).

    A guest venue knows nothing of a session before its check-in opens (四不知: its offer names day, times, seats
    and specialties only), and cannot read the session itself (``can_read_session`` is the host's). From
    check-in on its operators seat the session's experts at their venue and watch them, so they see here the
    session's code, title, state, phase and window, which venues are online (their own by name, the others by
    role), the members checked in at their venue (as the host sees them), how many drawn for it are still to
    come, and the faults at their venue. Nothing of the project, the scores or the other venues' members.
    Cost: the venue's confirmed offers and, per session listed, its members and faults at this venue."""
    check_venue_scope(principal, venue_id)
    with store.read() as s:
        if s.get(Venue, venue_id) is None:
            raise NotFoundError("venue", venue_id)
        since = store.clock.now() - timedelta(days=GUEST_VIEW_DAYS)
        found = s.scalars(select(EvalSession).join(Offer, Offer.session_id == EvalSession.id).where(
            Offer.guest_venue_id == venue_id, Offer.state == "confirmed", EvalSession.host_venue_id != venue_id,
            EvalSession.check_in_opened_at.is_not(None), EvalSession.state != "archived",
            EvalSession.scheduled_end > since).order_by(EvalSession.scheduled_start, EvalSession.id).distinct())
        return [_as_guest_sees(s, session, venue_id) for session in found]


def _as_guest_sees(s: Session, session: EvalSession, venue_id: str) -> dict[str, Any]:
    members = s.execute(select(CommitteeMember, Seat, Room).outerjoin(Seat, Seat.id == CommitteeMember.seat_id)
                        .outerjoin(Room, Room.id == Seat.room_id)
                        .where(CommitteeMember.session_id == session.id, CommitteeMember.venue_id == venue_id)
                        .order_by(CommitteeMember.created_at, CommitteeMember.id)).all()
    order = participants(s, session)
    venues = {v.id: v for v in s.scalars(select(Venue).where(Venue.id.in_(order)))}
    faults = s.scalars(select(SessionFault).where(SessionFault.session_id == session.id,
                                                  SessionFault.venue_id == venue_id)
                       .order_by(SessionFault.started_at, SessionFault.id))
    return {
        "session_id": session.id, "code": session.code, "title": session.title, "state": session.state,
        "phase": session.phase, "scheduled_start": format_time(session.scheduled_start),
        "scheduled_end": format_time(session.scheduled_end),
        "check_in_opened_at": format_time(session.check_in_opened_at),
        "venues": [{"venue_id": v if v == venue_id else None, "online": venues[v].online,
                    "role": "host" if v == session.host_venue_id else "guest"} for v in order],
        "members": [{"member_id": m.id, "name": m.name, "kind": m.kind, "specialty": m.specialty, "state": m.state,
                     "seat": f"{room.code}/{seat.code}" if seat else None}
                    for m, seat, room in members if m.state in _AT_THE_VENUE],
        "expected": sum(1 for m, _, _ in members if m.state == "drawn"),
        "faults": [{"id": f.id, "cause": f.cause, "detail": f.detail, "started_at": format_time(f.started_at),
                    "fixed_at": format_time(f.fixed_at) if f.fixed_at else None, "outcome": f.outcome}
                   for f in faults],
    }


def open_check_in(tx: Tx, settings: Settings, principal: Principal, session_id: str) -> EvalSession:
    """The host opens check-in. From now on the host may know its guest venues (四不知 ends for the host);
    the experts' check-in itself is the committee's business."""
    session = check_can_change_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    if session.state != WAITING:
        raise ConflictError(f"check-in opens while the session is waiting (it is {session.state})")
    if session.check_in_opened_at is not None:
        raise ConflictError("check-in is already open")
    lead = timedelta(minutes=settings.check_in_lead_minutes)
    if tx.now() < session.scheduled_start - lead:
        raise ConflictError(f"check-in opens at most {lead} before the scheduled start")
    session.check_in_opened_at = session.updated_at = tx.now()
    tx.record(actor=principal.actor, kind="session.check_in_opened", session_id=session.id,
              payload={"opened_at": format_time(session.check_in_opened_at)})
    return session


def event_view(reader: ReaderKind, settings: Settings, session: EvalSession, event: Event) -> dict[str, Any]:
    """An event of ``session`` as a ``reader`` of its kind may see it: the single place where per-event
    visibility is decided, for the REST page, a stream's catching up and the live fan-out alike."""
    return after_event_view(reader, event.kind, supervision_event_view(reader, event.kind, committee_event_view(
        reader, event, event_view_for(reader, settings, session, event))))


def session_events(store: Store, settings: Settings, principal: Principal, session_id: str, *, after: int,
                   limit: int) -> list[dict[str, Any]]:
    """The session's events after ``after``, each as ``principal`` may see it."""
    with store.read() as s:
        session = check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        events = read_events(s, after_seq=after, session_id=session_id, limit=limit)
    reader = reader_kind(principal, session_id)
    return [event_view(reader, settings, session, ev) for ev in events]
