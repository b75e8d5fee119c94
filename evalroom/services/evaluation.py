"""The synchronous session: the project it evaluates, its state and phases, and the faults that suspend it.

Who moves a session: the host venue's operators, or the committee's chair once elected (the chair leads
the evaluation; shared/domain.md: only the host changes the session state, and the chair speaks for the
committee inside it). Starting and archiving are the host's alone. Every change is an event in the same
transaction, routed to every venue of the session (the host and the guests of confirmed offers), so that
each venue's site agent hears it over the site link in order, and every reader of the session hears it over
the session websocket.

Faults: a venue whose site agent drops (site link closed, or heartbeats stopped) or whose seated experts'
seat devices fail (media) suspends its evaluating sessions by itself, with the cause. The session resumes
when every venue is back and the host or chair says so. A fault that outlasts ``fault_continue_hours`` ends
the session with the outcome "seal and re-evaluate" (the housekeeper, or the venue's return, decides it).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.committee_config import CommitteeConfig
from evalroom.config import Settings
from evalroom.domain import session_states as states
from evalroom.domain.members import ACTIVE, MemberState
from evalroom.domain.project import Project, parse_project
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import (
    Action,
    FaultOutcome,
    Phase,
    PhaseFacts,
    State,
)
from evalroom.errors import ApiError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.schemas import CommitteePlanSet
from evalroom.services import committee
from evalroom.services.access import check_can_read_session, check_host_or_admin
from evalroom.storage.models import (
    Committee,
    CommitteeMember,
    EvalSession,
    EventRow,
    ExtensionRequest,
    Flag,
    Offer,
    ProjectRecord,
    Report,
    ScoreSheet,
    SessionFault,
    SignatureRecord,
    Venue,
)
from evalroom.storage.store import Store, Tx
from signing.canonical import canonical_json, sha256_hex

__all__ = [
    "SYSTEM",
    "chair_of",
    "change_state",
    "check_mover",
    "evaluators",
    "expire_faults",
    "get_project",
    "import_project",
    "load_project",
    "media_check",
    "participants",
    "phase_facts",
    "record_change",
    "request_extension",
    "seated_member",
    "venue_down",
    "venue_up",
]

SYSTEM = "system:coordinator"
SCORING_PHASES = {Phase.REVIEW: "review", Phase.DETAILED_REVIEW: "detailed_review"}
"""Phases in which members submit a sheet, and the sheet's phase name."""


# --- the project ------------------------------------------------------------------------------------------
_PARSED: dict[str, Project] = {}
"""Parsed projects by the hash of their document: a stored document never changes under its hash, and the
scoring services read the project many times per request."""


def load_project(s: Session, session_id: str) -> Project:
    record = s.get(ProjectRecord, session_id)
    if record is None:
        raise ApiError(ErrorCode.INVALID_TRANSITION, "no project has been imported for this session")
    project = _PARSED.get(record.sha256)
    if project is None:
        if len(_PARSED) >= 256:
            _PARSED.clear()
        project = _PARSED[record.sha256] = parse_project(record.document)
    return project


def _plan_from(project: Project) -> CommitteePlanSet:
    plan = dict(project.committee_plan or {})
    parties = dict(plan.get("parties") or {"tenderer": project.tenderer})
    if not parties.get("bidders"):  # the bidders a plan leaves out are the project's own
        parties["bidders"] = sorted(project.bidders.values())
    plan["parties"] = parties
    try:
        return CommitteePlanSet.model_validate(plan)
    except ValidationError as exc:
        details = [{"path": "$.committee." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                   for e in exc.errors()]
        raise ApiError(ErrorCode.IMPORT_REJECTED, "the project's committee plan is invalid; nothing was imported",
                       details) from None


def import_project(tx: Tx, cfg: CommitteeConfig, principal: Principal, session_id: str,
                   document: Any) -> ProjectRecord:
    """Import (or, while the session waits, replace) the tender. All or nothing: the plan it carries is set
    in the same transaction, and any problem in either rejects the whole file."""
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                  session_id)
    if session.state != State.WAITING:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"the project is imported while the session is waiting "
                       f"(it is {session.state})")
    project = parse_project(document)
    try:
        digest = sha256_hex(canonical_json(document))
    except TypeError as exc:  # a float (or another non-JSON value) where parse_project does not look
        raise ApiError(ErrorCode.IMPORT_REJECTED, "the project file has a value canonical JSON does not allow; "
                       "nothing was imported", [{"path": "$", "message": str(exc)}]) from None
    if project.committee_plan is not None:
        committee.set_plan(tx, cfg, principal, session_id, _plan_from(project))
    record = tx.session.get(ProjectRecord, session_id)
    if record is None:
        record = ProjectRecord(session_id=session_id)
        tx.session.add(record)
    record.code, record.name, record.document, record.sha256 = project.code, project.name, document, digest
    record.imported_by, record.imported_at = principal.actor, tx.now()
    tx.record(actor=principal.actor, kind="project.imported", session_id=session_id,
              payload={"code": project.code, "name": project.name, "sha256": digest, "method": project.method,
                       "lots": len(project.lots), "bids": len(project.bids), "criteria": len(project.criteria)})
    return record


def get_project(store: Store, principal: Principal, session_id: str) -> dict[str, Any]:
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        record = s.get(ProjectRecord, session_id)
        if record is None:
            raise NotFoundError("project of session", session_id)
        return {"sha256": record.sha256, "imported_at": format_time(record.imported_at),
                "document": record.document}


# --- who takes part ---------------------------------------------------------------------------------------
def participants(s: Session, session: EvalSession) -> list[str]:
    """The venues of a session: the host, then the guests of confirmed offers."""
    guests = s.scalars(select(Offer.guest_venue_id).where(Offer.session_id == session.id,
                                                          Offer.state == "confirmed").order_by(Offer.guest_venue_id))
    return [session.host_venue_id, *dict.fromkeys(g for g in guests if g != session.host_venue_id)]


def evaluators(s: Session, session_id: str) -> list[CommitteeMember]:
    """The members who evaluate: everyone seated (experts and tenderer representatives), by id."""
    return list(s.scalars(select(CommitteeMember).where(CommitteeMember.session_id == session_id,
                                                         CommitteeMember.state == MemberState.SEATED.value)
                          .order_by(CommitteeMember.id)))


def seated_member(s: Session, principal: Principal, session_id: str) -> tuple[CommitteeMember, EvalSession]:
    """The caller as a seated member of this session's committee (the session locked for the change)."""
    session = check_can_read_session(principal, s.get(EvalSession, session_id, with_for_update=True), session_id)
    if principal.role is not Role.EXPERT:
        raise ForbiddenError("only committee members do that")
    member = s.get(CommitteeMember, principal.subject)
    if member is None or member.session_id != session_id or member.state != MemberState.SEATED.value:
        raise ApiError(ErrorCode.NOT_ON_COMMITTEE, "only seated members of this committee evaluate")
    return member, session


def chair_of(s: Session, session_id: str) -> str | None:
    c = s.get(Committee, session_id)
    return c.chair_member_id if c else None


def check_mover(s: Session, principal: Principal, session: EvalSession, *, host_only: bool = False) -> None:
    """The host venue's operators always; the elected chair too unless ``host_only``. 403 otherwise."""
    if principal.role is Role.HALL_OPERATOR and principal.venue_id == session.host_venue_id:
        return
    if not host_only and principal.role is Role.EXPERT and principal.subject == chair_of(s, session.id):
        return
    who = "an operator of the host venue" + ("" if host_only else " or the committee's chair")
    raise ForbiddenError(f"only {who} may do that")


def record_change(tx: Tx, actor: str, session: EvalSession, kind: str, payload: dict[str, Any]) -> None:
    tx.record(actor=actor, kind=kind, session_id=session.id, venue_ids=participants(tx.session, session),
              payload={"state": session.state, "phase": session.phase, **payload})


# --- state changes ----------------------------------------------------------------------------------------
def _open_faults(s: Session, session_id: str) -> list[SessionFault]:
    return list(s.scalars(select(SessionFault).where(SessionFault.session_id == session_id,
                                                     SessionFault.fixed_at.is_(None))))


def _offline(s: Session, venue_ids: Iterable[str]) -> list[str]:
    return [v.id for v in s.scalars(select(Venue).where(Venue.id.in_(list(venue_ids)))) if not v.online]


def _check_ready_to_start(s: Session, session: EvalSession) -> None:
    load_project(s, session.id)
    c = s.get(Committee, session.id)
    if c is None:
        raise ApiError(ErrorCode.INVALID_TRANSITION, "the session has no committee yet")
    live = list(s.scalars(select(CommitteeMember).where(CommitteeMember.session_id == session.id,
                                                         CommitteeMember.state.in_([a.value for a in ACTIVE]))))
    seated = [m for m in live if m.state == MemberState.SEATED.value]
    if len(seated) != c.plan["total"] or len(live) != len(seated):
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"the whole committee must be seated to start ({len(seated)} "
                       f"of {c.plan['total']} are)")
    down = _offline(s, participants(s, session))
    if down:
        raise ApiError(ErrorCode.INVALID_TRANSITION, f"{len(down)} venue(s) are not connected: {', '.join(down)}")


def change_state(tx: Tx, settings: Settings, principal: Principal, session_id: str, action: Action,
                 reason: str | None = None) -> EvalSession:
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    check_mover(tx.session, principal, session, host_only=action in (Action.START, Action.ARCHIVE))
    target = states.next_state(State(session.state), action)
    now = tx.now()
    match action:
        case Action.START:
            _check_ready_to_start(tx.session, session)
            session.phase, session.started_at = Phase.CHAIR_ELECTION.value, now
        case Action.SUSPEND:
            session.suspended_at = now
        case Action.RESUME:
            open_faults = _open_faults(tx.session, session_id)
            if open_faults:
                raise ApiError(ErrorCode.INVALID_TRANSITION, "cannot resume while a venue is down: " + "; ".join(
                    f"{f.venue_id} ({f.cause}: {f.detail})" for f in open_faults))
            session.suspended_at = None
        case Action.END:
            if session.phase != Phase.REPORT_SIGNING:
                raise ApiError(ErrorCode.INVALID_TRANSITION, "a session ends from its last phase, report signing "
                               f"(it is in {session.phase})")
            states.check_leave_phase(Phase.REPORT_SIGNING, phase_facts(tx.session, session))
            session.ended_at, session.end_reason = now, "completed"
    previous = session.state
    session.state, session.updated_at = target.value, now
    record_change(tx, principal.actor, session, "session.state_changed",
                   {"action": action.value, "from": previous, "reason": reason})
    return session


def phase_facts(s: Session, session: EvalSession) -> PhaseFacts:
    phase = Phase(session.phase) if session.phase else None
    members = {m.id for m in evaluators(s, session.id)}
    submitted = 0
    if phase in SCORING_PHASES:
        submitted = len(members & set(s.scalars(select(ScoreSheet.member_id).where(
            ScoreSheet.session_id == session.id, ScoreSheet.phase == SCORING_PHASES[phase]))))
    # A member who left the committee (a conflict found later) no longer counts, nor do their flags.
    flags = [f for f in s.scalars(select(Flag).where(Flag.session_id == session.id)) if f.member_id in members]
    newest_report = s.scalar(select(Report.id).where(Report.session_id == session.id)
                             .order_by(Report.version.desc()).limit(1))
    sealed = newest_report is not None and s.scalar(select(SignatureRecord.id).where(
        SignatureRecord.document_ref == newest_report, SignatureRecord.document_kind == "seal")) is not None
    return PhaseFacts(chair_elected=chair_of(s, session.id) is not None, evaluators=len(members),
                      submitted=submitted, open_flags=sum(f.status == "open" for f in flags),
                      unconfirmed_flags=sum(f.status != "open" and f.confirmed_at is None for f in flags),
                      report_ready=newest_report is not None, report_sealed=sealed)


def request_extension(tx: Tx, settings: Settings, principal: Principal, session_id: str) -> dict[str, Any]:
    """A member says the time is too short; when more than a third have, the period is extended once."""
    member, session = seated_member(tx.session, principal, session_id)
    if session.state not in (State.EVALUATING, State.SUSPENDED):
        raise ApiError(ErrorCode.INVALID_TRANSITION, "more time is asked for during the evaluation")
    if tx.session.get(ExtensionRequest, (session_id, member.id)) is None:
        tx.session.add(ExtensionRequest(session_id=session_id, member_id=member.id, requested_at=tx.now()))
        tx.session.flush()
        tx.record(actor=principal.actor, kind="session.extension_requested", session_id=session_id,
                  payload={"member_id": member.id})
    asked = extension_state(tx.session, session)
    if asked["granted"] and not asked["extended"]:
        session.scheduled_end += timedelta(minutes=settings.extension_minutes)
        session.updated_at = tx.now()
        record_change(tx, SYSTEM, session, "session.extended", {"scheduled_end": format_time(session.scheduled_end),
                                                                "requests": asked["requests"],
                                                                "members": asked["members"]})
    return {"requests": asked["requests"], "members": asked["members"], "granted": asked["granted"],
            "scheduled_end": format_time(session.scheduled_end)}


def extension_state(s: Session, session: EvalSession, member_id: str | None = None) -> dict[str, Any]:
    """How many of the members who evaluate have said the time is too short, of how many; whether that is more
    than a third (``granted``) and whether the period was extended (once per session); with ``member_id``,
    whether that member has said so."""
    seated = {m.id for m in evaluators(s, session.id)}
    asked = set(s.scalars(select(ExtensionRequest.member_id).where(ExtensionRequest.session_id == session.id)))
    requests = len(seated & asked)
    # Only a session with a request can have been extended: the status, read on every event burst, skips the
    # scan of the session's events for all the others.
    state = {"requests": requests, "members": len(seated), "granted": states.extension_granted(requests, len(seated)),
             "extended": bool(asked) and _extended(s, session)}
    return state | ({"requested": member_id in asked} if member_id is not None else {})


def _extended(s: Session, session: EvalSession) -> bool:
    return s.scalar(select(EventRow.seq).where(EventRow.session_id == session.id,
                                               EventRow.kind == "session.extended").limit(1)) is not None


# --- faults -----------------------------------------------------------------------------------------------
def _sessions_of_venue(s: Session, venue_id: str, states_: Iterable[State]) -> list[EvalSession]:
    hosted = select(EvalSession.id).where(EvalSession.host_venue_id == venue_id)
    guest = select(Offer.session_id).where(Offer.guest_venue_id == venue_id, Offer.state == "confirmed")
    return list(s.scalars(select(EvalSession).where(EvalSession.state.in_([x.value for x in states_]),
                                                    EvalSession.id.in_(hosted.union(guest)))
                          .order_by(EvalSession.id).with_for_update()))


def _open_fault(tx: Tx, session: EvalSession, venue_id: str, cause: str, detail: str) -> None:
    if any(f.venue_id == venue_id and f.cause == cause for f in _open_faults(tx.session, session.id)):
        return
    fault = SessionFault(id=str(uuid.uuid4()), session_id=session.id, venue_id=venue_id, cause=cause,
                         detail=detail[:500], started_at=tx.now())
    tx.session.add(fault)
    tx.record(actor=SYSTEM, kind="session.fault", session_id=session.id, venue_ids=participants(tx.session, session),
              payload={"fault_id": fault.id, "venue_id": venue_id, "cause": cause, "detail": fault.detail})
    if session.state == State.EVALUATING:
        session.state, session.suspended_at, session.updated_at = State.SUSPENDED.value, tx.now(), tx.now()
        record_change(tx, SYSTEM, session, "session.state_changed",
                       {"action": Action.SUSPEND.value, "from": State.EVALUATING.value, "automatic": True,
                        "reason": f"venue {venue_id} {cause} down: {detail}"[:500]})


def _fix_faults(tx: Tx, settings: Settings, session: EvalSession, venue_id: str, cause: str) -> None:
    """Close the venue's open faults of this cause, each with its outcome: fixed within the limit, the
    session may resume (host or chair); after it, the session is sealed for re-evaluation."""
    limit = timedelta(hours=settings.fault_continue_hours)
    for fault in _open_faults(tx.session, session.id):
        if fault.venue_id == venue_id and fault.cause == cause:
            fault.fixed_at = tx.now()
            outcome = states.fault_outcome(fault.started_at, fault.fixed_at, limit, fixed=True)
            assert outcome is not None
            _close_fault(tx, session, fault, outcome)


def venue_down(tx: Tx, venue_id: str, cause: str, detail: str) -> None:
    """A venue lost its site link or its media: open a fault in each of its sessions that are evaluating or
    suspended, and suspend those evaluating."""
    for session in _sessions_of_venue(tx.session, venue_id, (State.EVALUATING, State.SUSPENDED)):
        _open_fault(tx, session, venue_id, cause, detail)


def venue_up(tx: Tx, settings: Settings, venue_id: str, cause: str) -> None:
    for session in _sessions_of_venue(tx.session, venue_id, (State.EVALUATING, State.SUSPENDED)):
        _fix_faults(tx, settings, session, venue_id, cause)


def _close_fault(tx: Tx, session: EvalSession, fault: SessionFault, outcome: FaultOutcome) -> None:
    fault.outcome = outcome.value
    tx.record(actor=SYSTEM, kind="session.fault_closed", session_id=session.id,
              venue_ids=participants(tx.session, session),
              payload={"fault_id": fault.id, "venue_id": fault.venue_id, "cause": fault.cause,
                       "outcome": outcome.value, "fixed": fault.fixed_at is not None,
                       "minutes": int((tx.now() - fault.started_at).total_seconds() // 60)})
    if outcome is FaultOutcome.SEAL_AND_REEVALUATE and session.state == State.SUSPENDED:
        previous = session.state
        session.state, session.ended_at, session.updated_at = State.ENDED.value, tx.now(), tx.now()
        session.end_reason = "sealed_for_reevaluation"
        record_change(tx, SYSTEM, session, "session.state_changed",
                       {"action": Action.END.value, "from": previous, "automatic": True,
                        "reason": "a fault outlasted the limit: the documents are sealed and a new committee "
                                  "re-evaluates"})


def expire_faults(store: Store, settings: Settings) -> int:
    """Housekeeping: seal sessions whose open fault outlasted the limit. Looks with a read first."""
    limit = timedelta(hours=settings.fault_continue_hours)
    now = store.clock.now()
    with store.read() as s:
        due = s.scalar(select(SessionFault.id).where(SessionFault.fixed_at.is_(None), SessionFault.outcome.is_(None),
                                                     SessionFault.started_at < now - limit).limit(1))
    if due is None:
        return 0
    with store.write() as tx:
        faults = list(tx.session.scalars(select(SessionFault).where(
            SessionFault.fixed_at.is_(None), SessionFault.outcome.is_(None),
            SessionFault.started_at < tx.now() - limit)))
        for fault in faults:
            session = tx.session.get(EvalSession, fault.session_id, with_for_update=True)
            _close_fault(tx, session, fault, FaultOutcome.SEAL_AND_REEVALUATE)
        return len(faults)


def media_check(tx: Tx, settings: Settings, venue_id: str, unusable: dict[str, list[str]]) -> None:
    """After a seat-device report: a seated member's seat at this venue whose devices are not all ``ok`` is
    the venue's media down for that session; all of them usable again is the media back.

    ``unusable``: seat id → why it cannot be used (sites.devices.unusable_reasons), for the venue's seats
    that cannot."""
    for session in _sessions_of_venue(tx.session, venue_id, (State.EVALUATING, State.SUSPENDED)):
        seats = [m.seat_id for m in evaluators(tx.session, session.id) if m.venue_id == venue_id and m.seat_id]
        broken = {seat: unusable[seat] for seat in seats if seat in unusable}
        if broken:
            _open_fault(tx, session, venue_id, "media",
                        "; ".join(f"seat {seat}: {', '.join(why)}" for seat, why in sorted(broken.items())))
        else:
            _fix_faults(tx, settings, session, venue_id, "media")

