"""A session's committee: the plan, verifiable draws, vacancies and replacements, check-in, the no-conflict
declaration, and the chair election. The rules are in evalroom.domain (committee_rules, avoidance, draw,
members, chair); this module applies them to the database, one event per fact.

A draw runs in three write transactions, so that each step is durable before the next begins
(evalroom/domain/draw.py explains why): commit (``draw.committed``), perform (``draw.performed`` or
``draw.failed``), reveal (``draw.revealed``). A draw interrupted between them is completed with its committed
seed by the next draw request or by the housekeeper (:func:`complete_pending_draws`), never restarted.

Blindness (四不知): the draw events name experts and, through the slots, the guest venues; readers other than
the coordinator admin and the session's supervisors see them without the pool, the exclusions and the picks
(:func:`committee_event_view`). A guest venue's operator checks experts in by the number on their identity
card, without knowing the session: the coordinator finds the drawn member.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from evalroom.auth.sealing import Sealer
from evalroom.auth.tokens import MAX_LIFETIME, IssuedToken, TokenService
from evalroom.clock import format_time
from evalroom.committee_config import CommitteeConfig
from evalroom.config import Settings
from evalroom.domain import draw as drawing
from evalroom.domain.avoidance import ProjectFacts, screen
from evalroom.domain.chair import check_vote, tally
from evalroom.domain.committee_rules import Plan, Quota, check_plan
from evalroom.domain.events import Event
from evalroom.domain.identity import check_id_number
from evalroom.domain.members import ACTIVE, VACANCIES, MemberAction, MemberKind, MemberState, next_member_state
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import State
from evalroom.errors import ApiError, AuthError, ConflictError, ErrorCode, NotFoundError
from evalroom.schemas import CheckIn, CommitteePlanSet, Declaration, RepresentativeCreate
from evalroom.services import draws, offers
from evalroom.services.access import (
    ReaderKind,
    check_can_change_session,
    check_can_read_session,
    check_host_or_admin,
    is_overseer,
)
from evalroom.services.experts import ID_CONTEXT, pool_facts
from evalroom.storage.models import (
    ChairVote,
    Committee,
    CommitteeMember,
    Draw,
    EvalSession,
    EventRow,
    ExpertEvaluation,
    Offer,
    Region,
    RevokedToken,
    Room,
    Seat,
    SeatBooking,
    Venue,
)
from evalroom.storage.store import Store, Tx, row_to_event

__all__ = [
    "cast_vote",
    "check_in",
    "committee_event_view",
    "committee_view",
    "complete_pending_draws",
    "declaration_text",
    "declare",
    "draw_record",
    "get_declaration",
    "mark_no_shows",
    "name_representative",
    "redeem_login_code",
    "refresh_expert_token",
    "reissue_login_code",
    "request_draws",
    "set_plan",
    "vacate",
]

SYSTEM = draws.SYSTEM
LIVE = tuple(s.value for s in ACTIVE)
_OPEN_SESSION_STATES = ("waiting", "evaluating", "suspended")
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Login codes avoid 0/O, 1/I/L: they are read off a slip and typed."""
_CODE_LENGTH = 12  # 31**12: about 59 bits, for a code that lives minutes and works once


def _committee(s: Session, session_id: str) -> Committee:
    committee = s.get(Committee, session_id)
    if committee is None:
        raise ConflictError("the session has no committee plan yet")
    return committee


def _evaluation_day(settings: Settings, session: EvalSession) -> date:
    return session.scheduled_start.astimezone(settings.zone).date()


# --- the plan ---------------------------------------------------------------------------------------------
def _resolve_quotas(s: Session, session: EvalSession, body: CommitteePlanSet) -> list[dict[str, Any]]:
    host = s.get(Venue, session.host_venue_id)
    quotas = []
    for i, q in enumerate(body.quotas):
        if q.venue == "host":
            quotas.append({"venue": "host", "venue_id": host.id, "region_id": host.region_id, "label": "host venue",
                           "specialties": dict(q.specialties)})
            continue
        offer_id = q.venue.removeprefix("offer:")
        offer = s.get(Offer, offer_id)
        if offer is None or offer.session_id != session.id or offer.state != "confirmed":
            raise ApiError(ErrorCode.INVALID_INPUT, f"quotas[{i}]: {q.venue} is not a confirmed offer of this session")
        wanted = sum(q.specialties.values())
        if wanted > offer.seats:
            raise ApiError(ErrorCode.INVALID_INPUT, f"quotas[{i}]: the guest venue of {q.venue} lends {offer.seats} "
                                                    f"seat(s); the quota asks for {wanted} experts")
        guest = s.get(Venue, offer.guest_venue_id)
        quotas.append({"venue": q.venue, "venue_id": guest.id, "region_id": guest.region_id,
                       "label": f"guest venue of offer {offer_id}", "specialties": dict(q.specialties)})
    return quotas


def _plan(committee_plan: dict[str, Any], home_region_id: str) -> Plan:
    p = committee_plan
    return Plan(project_type=p["project_type"], total=p["total"], representatives=p["representatives"],
                quotas=tuple(Quota(q["venue_id"], q["region_id"], q["label"], q["specialties"]) for q in p["quotas"]),
                budget_yuan=Decimal(p["budget_yuan"]) if p.get("budget_yuan") else None,
                complex_project=p["complex_project"], exclude_home_region=p["exclude_home_region"],
                home_region_id=home_region_id)


def set_plan(tx: Tx, cfg: CommitteeConfig, principal: Principal, session_id: str, body: CommitteePlanSet) -> Committee:
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    if session.state != "waiting":
        raise ConflictError(f"the committee is planned while the session is waiting (it is {session.state})")
    # A failed draw leaves the plan open to change (e.g. a smaller guest quota); a drawn or pending one does not.
    if tx.session.scalar(select(Draw.id).where(Draw.session_id == session_id, Draw.purpose == "initial",
                                               or_(Draw.outcome.is_(None), Draw.outcome == "drawn"))):
        raise ConflictError("the committee has been drawn; its plan can no longer change")
    quotas = _resolve_quotas(tx.session, session, body)
    stored = {**body.model_dump(exclude={"parties", "quotas"}), "quotas": quotas}
    home_region = tx.session.get(Venue, session.host_venue_id).region_id
    check_plan(_plan(stored, home_region), cfg.rules, cfg.tree)
    now = tx.now()
    committee = tx.session.get(Committee, session_id)
    if committee is None:
        committee = Committee(session_id=session_id, plan=stored, parties=body.parties.model_dump(), version=1,
                              election_round=0, created_at=now, updated_at=now)
        tx.session.add(committee)
    else:
        committee.plan, committee.parties = stored, body.parties.model_dump()
        committee.version, committee.updated_at = committee.version + 1, now
    # The event names venues as the host wrote them (host / offer:<id>), never the guest venue itself.
    tx.record(actor=principal.actor, kind="committee.plan_set", session_id=session_id,
              payload={"version": committee.version, "plan": body.model_dump(exclude={"parties"}),
                       "parties": body.parties.model_dump()})
    return committee


# --- draws ------------------------------------------------------------------------------------------------
def _commit(tx: Tx, sealer: Sealer, session_id: str, actor: str, vacancy: CommitteeMember | None) -> Draw:
    return draws.commit(tx, sealer, session_id, actor, "replacement" if vacancy else "initial",
                        vacancy_member_id=vacancy.id if vacancy else None)


def _slots(s: Session, committee: Committee, d: Draw) -> list[drawing.Slot]:
    quotas = committee.plan["quotas"]
    if d.purpose == "initial":
        return drawing.slots_for(Quota(q["venue_id"], q["region_id"], q["label"], q["specialties"]) for q in quotas)
    vacancy = s.get(CommitteeMember, d.vacancy_member_id)
    quota = next(q for q in quotas if q["venue_id"] == vacancy.venue_id)
    return [drawing.Slot(vacancy.venue_id, quota["region_id"], vacancy.specialty, quota["label"])]


def _offers_still_confirmed(s: Session, committee: Committee) -> str | None:
    for q in committee.plan["quotas"]:
        if q["venue"] != "host" and s.get(Offer, q["venue"].removeprefix("offer:")).state != "confirmed":
            return f"{q['venue']} is no longer confirmed"
    return None


def _engaged_elsewhere(s: Session, session: EvalSession) -> frozenset[str]:
    """Experts who are live members of another session, not yet ended, whose scheduled time overlaps
    ``session``'s."""
    return frozenset(s.scalars(
        select(CommitteeMember.expert_id).join(EvalSession, EvalSession.id == CommitteeMember.session_id).where(
            CommitteeMember.session_id != session.id, CommitteeMember.expert_id.is_not(None),
            CommitteeMember.state.in_(LIVE), EvalSession.state.not_in((State.ENDED.value, State.ARCHIVED.value)),
            EvalSession.scheduled_start < session.scheduled_end,
            session.scheduled_start < EvalSession.scheduled_end)))


def _perform(tx: Tx, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, d: Draw) -> ApiError | None:
    """Draw with the committed seed; record the members, or the failure. Returns the failure, if any."""
    s = tx.session
    session = s.get(EvalSession, d.session_id, with_for_update=True)
    committee = _committee(s, d.session_id)
    slots = _slots(s, committee, d)
    specialties = {slot.specialty for slot in slots}
    regions = {slot.region_id for slot in slots}
    day = _evaluation_day(settings, session)
    parties = committee.parties
    already = frozenset(s.scalars(select(CommitteeMember.expert_id).where(
        CommitteeMember.session_id == d.session_id, CommitteeMember.expert_id.is_not(None))))
    # Draws of sessions that share a pool take turns on its regions' rows, so that two of them at once cannot
    # both pick an expert the other has just drawn (sessions otherwise write in parallel).
    s.execute(select(Region.id).where(Region.id.in_(sorted(regions))).order_by(Region.id).with_for_update())
    project = ProjectFacts(
        tenderer=parties["tenderer"], authority=parties.get("authority"), supervisor=parties.get("supervisor"),
        bidders=tuple(parties.get("bidders", ())), home_region_id=s.get(Venue, session.host_venue_id).region_id,
        evaluation_date=day, exclude_home_region=committee.plan["exclude_home_region"],
        same_tenderer_days=settings.avoid_same_tenderer_days, already_drawn=already,
        engaged_elsewhere=_engaged_elsewhere(s, session))
    since = day - timedelta(days=settings.avoid_same_tenderer_days)
    relevant = []  # experts of the slots' regions who qualify for at least one specialty drawn for
    for expert, facts in pool_facts(s, regions, since):
        qualifies = frozenset(sp for sp in specialties if cfg.tree.qualifies(sp, expert.specialties))
        if qualifies:
            relevant.append((expert, facts, qualifies))
    eligible, excluded = screen((f for _, f, _ in relevant), project)
    eligible_ids = {f.expert_id for f in eligible}
    pool = [drawing.PoolEntry(e.id, e.region_id, q) for e, _, q in relevant if e.id in eligible_ids]
    record: dict[str, Any] = {
        "draw_id": d.id, "purpose": d.purpose, "algorithm": drawing.ALGORITHM,
        "slots": [slot.as_dict() for slot in slots], "pool": [p.as_dict() for p in pool],
        "excluded": [{"expert_id": eid, "reasons": [r.value for r in reasons]} for eid, reasons in sorted(excluded.items())],
        "evaluation_date": day.isoformat(),
    }
    failure: ApiError | None = None
    problem = _offers_still_confirmed(s, committee)
    if problem is not None:
        failure = ApiError(ErrorCode.CONFLICT, f"the plan no longer holds: {problem}; set the plan again")
    else:
        try:
            picks = drawing.draw(draws.seed_of(sealer, d), pool, slots)
        except drawing.PoolTooSmall as exc:
            failure = exc
    if failure is not None:
        d.outcome = "failed"
        tx.record(actor=SYSTEM, kind="draw.failed", session_id=d.session_id,
                  payload={**record, "error": {"code": failure.code.value, "message": failure.message,
                                               "details": failure.details or []}})
        return failure
    experts = {e.id: e for e, _, _ in relevant}
    now = tx.now()
    members = []
    for pick in picks:
        e = experts[pick.expert_id]
        m = CommitteeMember(id=str(uuid.uuid4()), session_id=d.session_id, kind=MemberKind.EXPERT.value,
                            expert_id=e.id, draw_id=d.id, venue_id=pick.slot.venue_id, specialty=pick.slot.specialty,
                            name=e.name, id_number_hash=e.id_number_hash, state=MemberState.DRAWN.value,
                            replaces_member_id=d.vacancy_member_id, created_at=now, updated_at=now)
        s.add(m)
        members.append({"member_id": m.id, "expert_id": e.id, "venue_id": m.venue_id, "specialty": m.specialty})
    d.outcome = "drawn"
    summary: dict[tuple[str, str], int] = {}
    for slot in slots:
        summary[(slot.label, slot.specialty)] = summary.get((slot.label, slot.specialty), 0) + 1
    tx.record(actor=SYSTEM, kind="draw.performed", session_id=d.session_id,
              payload={**record, "picks": [p.as_dict() for p in picks], "members": members,
                       "summary": [{"venue": label, "specialty": sp, "count": n} for (label, sp), n in summary.items()]})
    return None


def _complete(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, draw_id: str) -> ApiError | None:
    """Perform and reveal a committed draw of either kind; return its failure, if any."""
    def perform(tx: Tx, d: Draw) -> ApiError | None:
        if d.purpose == "guest":
            return offers.perform_guest_draw(tx, sealer, settings, d)
        return _perform(tx, sealer, cfg, settings, d)

    return draws.complete(store, sealer, draw_id, perform)


def complete_pending_draws(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings) -> int:
    """Finish every draw (committee or guest venue) left committed or unrevealed by a crash; return how many.
    Run by the housekeeper."""
    with store.read() as s:
        pending = draws.unfinished(s)
    for draw_id in pending:
        _complete(store, sealer, cfg, settings, draw_id)
    return len(pending)


def _open_vacancies(s: Session, session_id: str) -> list[CommitteeMember]:
    """Drawn experts who left and whom no later draw has replaced yet."""
    replaced = select(CommitteeMember.replaces_member_id).where(CommitteeMember.session_id == session_id,
                                                                CommitteeMember.replaces_member_id.is_not(None))
    return list(s.scalars(select(CommitteeMember).where(
        CommitteeMember.session_id == session_id, CommitteeMember.kind == MemberKind.EXPERT.value,
        CommitteeMember.state.in_([v.value for v in VACANCIES]), CommitteeMember.id.not_in(replaced))
        .order_by(CommitteeMember.vacated_at, CommitteeMember.id)))


def _draw_view(s: Session, d: Draw, failure: ApiError | None = None) -> dict[str, Any]:
    view = {"draw_id": d.id, "purpose": d.purpose, "commitment": d.commitment, "outcome": d.outcome,
            "seed": d.seed_hex, "vacancy_member_id": d.vacancy_member_id,
            "members": s.scalar(select(func.count()).where(CommitteeMember.draw_id == d.id)) or 0}
    if failure is not None:
        view["error"] = {"code": failure.code.value, "message": failure.message, "details": failure.details or []}
    return view


def _run(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, draw_ids: Sequence[str]) -> list[dict[str, Any]]:
    results = []
    for draw_id in draw_ids:
        failure = _complete(store, sealer, cfg, settings, draw_id)
        with store.read() as s:
            results.append(_draw_view(s, s.get(Draw, draw_id), failure))
    return results


def request_draws(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, principal: Principal,
                  session_id: str) -> list[dict[str, Any]]:
    """The initial draw, or once that is done, a replacement draw for every open vacancy. The initial draw
    that fails raises its error (nothing was drawn); replacement results carry theirs. A draw of this session
    that a crash interrupted is completed first, with its committed seed; if that leaves nothing else to draw,
    its result is the answer."""
    with store.read() as s:
        check_host_or_admin(principal, s.get(EvalSession, session_id), session_id)
        interrupted = draws.unfinished(s, session_id)
    finished = _run(store, sealer, cfg, settings, interrupted)
    with store.write() as tx:
        session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
        if session.state not in _OPEN_SESSION_STATES:
            raise ConflictError(f"the session is {session.state}")
        _committee(tx.session, session_id)
        initial = tx.session.scalar(select(Draw).where(Draw.session_id == session_id, Draw.purpose == "initial",
                                                       Draw.outcome == "drawn"))
        if initial is None:
            if session.state != "waiting":
                raise ConflictError("the committee is drawn while the session is waiting")
            ids = [_commit(tx, sealer, session_id, principal.actor, None).id]
        else:
            vacancies = _open_vacancies(tx.session, session_id)
            if not vacancies:
                if finished:  # the request's work was a draw a crash had interrupted: that is the answer
                    return finished
                raise ConflictError("the committee is complete: there is no vacancy to draw for")
            ids = [_commit(tx, sealer, session_id, principal.actor, v).id for v in vacancies]
    results = _run(store, sealer, cfg, settings, ids)
    if initial is None and "error" in results[0]:
        err = results[0]["error"]
        raise ApiError(ErrorCode(err["code"]), err["message"], details=err["details"] or None)
    return results


# --- vacancies --------------------------------------------------------------------------------------------
def _revoke_member_token(tx: Tx, member: CommitteeMember) -> None:
    if member.token_jti:
        # The expiry is not kept with the member; no token outlives MAX_LIFETIME from now.
        tx.revoke_token(member.token_jti, tx.now() + MAX_LIFETIME)
    member.token_jti = None
    member.login_code_hash = member.login_code_expires_at = None


def _leave(tx: Tx, actor: str, member: CommitteeMember, action: MemberAction, reason: str) -> MemberState:
    state = next_member_state(MemberState(member.state), action)
    member.state, member.vacancy_reason, member.vacated_at = state.value, reason, tx.now()
    member.updated_at = tx.now()
    _revoke_member_token(tx, member)
    tx.record(actor=actor, kind=f"committee.member_{state.value}", session_id=member.session_id,
              payload={"member_id": member.id, "reason": reason})
    _restart_election_without(tx, member)
    return state


def _restart_election_without(tx: Tx, member: CommitteeMember) -> None:
    """A member who leaves takes no part in the chair election: an open election (or one they won) starts
    again in a new round among whoever is seated once the committee is complete again."""
    committee = tx.session.get(Committee, member.session_id)
    if committee is None or committee.election_round == 0:
        return
    if committee.chair_member_id is not None and committee.chair_member_id != member.id:
        return
    committee.chair_member_id, committee.election_candidates = None, None
    committee.election_round += 1
    committee.updated_at = tx.now()
    tx.record(actor=SYSTEM, kind="chair.election_restarted", session_id=member.session_id,
              payload={"round": committee.election_round, "member_id": member.id,
                       "reason": "a member left the committee"})


def vacate(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, principal: Principal,
           member_id: str, action: MemberAction, reason: str) -> dict[str, Any]:
    """An expert declined (told the coordinator's call centre), or a conflict found later voids a member; a
    replacement is drawn at once (an expert's place) and its outcome returned. The coordinator admin's (the
    route requires it)."""
    with store.write() as tx:
        member = tx.session.get(CommitteeMember, member_id)
        if member is None:
            raise NotFoundError("committee member", member_id)
        _leave(tx, principal.actor, member, action, reason)
        ids = [_commit(tx, sealer, member.session_id, SYSTEM, member).id] if member.kind == MemberKind.EXPERT else []
    return {"member_id": member_id, "state": member.state, "replacements": _run(store, sealer, cfg, settings, ids)}


def mark_no_shows(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, principal: Principal,
                  session_id: str) -> dict[str, Any]:
    """At the scheduled start, every member still not checked in is absent; experts are replaced."""
    with store.write() as tx:
        session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
        if session.check_in_opened_at is None or tx.now() < session.scheduled_start:
            raise ConflictError("absences are recorded once check-in is open and the scheduled start has passed")
        absent = list(tx.session.scalars(select(CommitteeMember).where(
            CommitteeMember.session_id == session_id, CommitteeMember.state == MemberState.DRAWN.value)
            .order_by(CommitteeMember.id)))
        if not absent:
            raise ConflictError("every member has checked in")
        for m in absent:
            _leave(tx, principal.actor, m, MemberAction.NO_SHOW, "not checked in by the scheduled start")
        ids = [_commit(tx, sealer, session_id, SYSTEM, m).id for m in absent if m.kind == MemberKind.EXPERT]
    return {"absent": [m.id for m in absent], "replacements": _run(store, sealer, cfg, settings, ids)}


# --- representatives, check-in, login ---------------------------------------------------------------------
def _id_hash(sealer: Sealer, number: str) -> str:
    try:
        return sealer.lookup(check_id_number(number), ID_CONTEXT)
    except ValueError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"id_number: {exc}") from None


def name_representative(tx: Tx, sealer: Sealer, principal: Principal, session_id: str,
                        body: RepresentativeCreate) -> CommitteeMember:
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True), session_id)
    committee = _committee(tx.session, session_id)
    live = tx.session.scalar(select(func.count()).where(
        CommitteeMember.session_id == session_id, CommitteeMember.kind == MemberKind.REPRESENTATIVE.value,
        CommitteeMember.state.in_(LIVE))) or 0
    if live >= committee.plan["representatives"]:
        raise ConflictError(f"the plan has {committee.plan['representatives']} representative place(s), all taken")
    id_hash = _id_hash(sealer, body.id_number)
    now = tx.now()
    member = CommitteeMember(id=str(uuid.uuid4()), session_id=session_id, kind=MemberKind.REPRESENTATIVE.value,
                             venue_id=session.host_venue_id, name=body.name, id_number_hash=id_hash,
                             state=MemberState.DRAWN.value, created_at=now, updated_at=now)
    tx.session.add(member)
    tx.session.flush()  # the live-person index speaks now: the same person cannot hold two places
    tx.record(actor=principal.actor, kind="committee.representative_named", session_id=session_id,
              payload={"member_id": member.id, "venue_id": member.venue_id})
    return member


def _new_login_code(tx: Tx, settings: Settings, member: CommitteeMember) -> tuple[str, datetime]:
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    member.login_code_hash = hashlib.sha256(code.encode()).hexdigest()
    member.login_code_expires_at = tx.now() + timedelta(minutes=settings.expert_login_code_minutes)
    return "-".join(code[i:i + 4] for i in range(0, _CODE_LENGTH, 4)), member.login_code_expires_at


def _seat_for(s: Session, venue_id: str, session: EvalSession, code: str) -> tuple[Seat, Room]:
    room_code, seat_code = code.split("/", 1)
    row = s.execute(select(Seat, Room).join(Room, Room.id == Seat.room_id).where(
        Seat.venue_id == venue_id, Room.code == room_code, Seat.code == seat_code)).first()
    if row is None:
        raise NotFoundError("seat", code)
    seat, room = row
    if seat.fault or room.fault:
        raise ConflictError(f"seat {code} is marked faulty; choose another")
    if venue_id != session.host_venue_id and s.scalar(select(SeatBooking.id).where(
            SeatBooking.seat_id == seat.id, SeatBooking.session_id == session.id,
            SeatBooking.released_at.is_(None))) is None:
        raise ApiError(ErrorCode.INVALID_INPUT, f"seat {code} is not one of the seats booked for this evaluation")
    taken = s.scalar(select(CommitteeMember.id).where(CommitteeMember.session_id == session.id,
                                                      CommitteeMember.seat_id == seat.id,
                                                      CommitteeMember.state.in_(LIVE)))
    if taken is not None:
        raise ConflictError(f"seat {code} is taken by another member")
    return seat, room


def check_in(tx: Tx, sealer: Sealer, settings: Settings, principal: Principal, body: CheckIn) -> dict[str, Any]:
    """The operator at the member's venue records the ID-card check and the face match. Both passing seat
    the member and give a one-time login code (shown once, for the expert to type at the seat)."""
    id_hash = _id_hash(sealer, body.id_number)
    q = (select(CommitteeMember, EvalSession).join(EvalSession, EvalSession.id == CommitteeMember.session_id)
         .where(CommitteeMember.id_number_hash == id_hash, CommitteeMember.venue_id == principal.venue_id,
                CommitteeMember.state == MemberState.DRAWN.value, EvalSession.check_in_opened_at.is_not(None),
                EvalSession.state.in_(_OPEN_SESSION_STATES))
         .order_by(EvalSession.scheduled_start))
    found = tx.session.execute(q).first()
    if found is None:
        raise ApiError(ErrorCode.NOT_ON_COMMITTEE, "no member drawn for an evaluation with check-in open at this "
                                                   "venue has this ID number")
    member, session = found
    checks = {"id_card": body.id_card, "face_match": body.face_match, "face_score": body.face_score}
    if body.id_card != "pass" or body.face_match != "pass":
        tx.record(actor=principal.actor, kind="committee.check_in_failed", session_id=session.id,
                  payload={"member_id": member.id, "venue_id": member.venue_id, **checks})
        return {"checked_in": False, "member": _member_brief(member, None),
                "reason": "the ID card check failed" if body.id_card != "pass" else "the face did not match"}
    seat, room = _seat_for(tx.session, principal.venue_id, session, body.seat)
    member.state = next_member_state(MemberState(member.state), MemberAction.CHECK_IN).value
    member.seat_id, member.checked_in_at, member.updated_at = seat.id, tx.now(), tx.now()
    code, expires = _new_login_code(tx, settings, member)
    tx.record(actor=principal.actor, kind="committee.member_checked_in", session_id=session.id,
              payload={"member_id": member.id, "venue_id": member.venue_id, "seat_id": seat.id,
                       "seat_code": f"{room.code}/{seat.code}", **checks})
    return {"checked_in": True, "member": _member_brief(member, f"{room.code}/{seat.code}"), "login_code": code,
            "login_code_expires_at": format_time(expires)}


def _member_brief(member: CommitteeMember, seat_code: str | None) -> dict[str, Any]:
    return {"member_id": member.id, "name": member.name, "kind": member.kind, "specialty": member.specialty,
            "state": member.state, "seat": seat_code}


def reissue_login_code(tx: Tx, settings: Settings, principal: Principal, member_id: str) -> dict[str, Any]:
    """A new one-time code for a checked-in member (a lost slip, a replaced computer); the old code dies."""
    member = tx.session.get(CommitteeMember, member_id)
    if member is None or member.venue_id != principal.venue_id or member.state not in (
            MemberState.CHECKED_IN.value, MemberState.SEATED.value):
        raise NotFoundError("checked-in member at this venue", member_id)
    code, expires = _new_login_code(tx, settings, member)
    member.updated_at = tx.now()
    tx.record(actor=principal.actor, kind="committee.login_code_issued", session_id=member.session_id,
              payload={"member_id": member.id})
    return {"member_id": member.id, "login_code": code, "login_code_expires_at": format_time(expires)}


def _expert_principal(member: CommitteeMember) -> Principal:
    return Principal(role=Role.EXPERT, subject=member.id, session_id=member.session_id, seat=member.seat_id)


def redeem_login_code(store: Store, tokens: TokenService, code: str) -> IssuedToken:
    """Exchange a check-in code for an expert token bound to the session and seat. The code works once; the
    expert's previous token (if any) is revoked, so one seat has one live login."""
    digest = hashlib.sha256(code.replace("-", "").strip().upper().encode()).hexdigest()
    with store.write() as tx:
        member = tx.session.scalar(select(CommitteeMember).where(CommitteeMember.login_code_hash == digest))
        if member is None or member.state not in (MemberState.CHECKED_IN.value, MemberState.SEATED.value) \
                or member.login_code_expires_at is None or tx.now() >= member.login_code_expires_at:
            raise AuthError(ErrorCode.LOGIN_FAILED, "the code is unknown, used or expired; ask the operator for a new one")
        _revoke_member_token(tx, member)
        issued = tokens.issue(_expert_principal(member))
        member.token_jti, member.updated_at = issued.jti, tx.now()
        tx.record(actor=f"expert:{member.id}", kind="committee.expert_logged_in", session_id=member.session_id,
                  payload={"member_id": member.id})
    return issued


def refresh_expert_token(store: Store, tokens: TokenService, principal: Principal, jti: str) -> IssuedToken:
    """A fresh token for an expert whose current one is their newest and who is still on the committee.
    Not an event: it changes who holds the seat's login, not the evaluation."""
    with store.write_quiet() as s:
        member = s.get(CommitteeMember, principal.subject)
        if member is None or member.token_jti != jti or member.state not in LIVE:
            raise AuthError(ErrorCode.TOKEN_REVOKED, "this login is no longer the seat's; ask the operator for a code")
        s.add(RevokedToken(jti=jti, expires_at=store.clock.now() + MAX_LIFETIME))
        issued = tokens.issue(_expert_principal(member))
        member.token_jti = issued.jti
    store.revoked([jti])
    return issued


# --- declaration ------------------------------------------------------------------------------------------
def declaration_text(session: EvalSession, committee: Committee, member: CommitteeMember) -> str:
    """The no-conflict declaration (无利害关系承诺) the member confirms, and later signs (signing)."""
    parties = committee.parties
    bidders = "、".join(parties.get("bidders") or []) or "（无）"
    return (f"本人{member.name}承诺：与项目“{session.title}”（编号 {session.code}）的招标人{parties['tenderer']}"
            f"及投标人{bidders}不存在《评标委员会和评标方法暂行规定》第十二条所列应当回避的情形，"
            "不存在其他可能影响公正评审的利害关系；如有隐瞒，愿承担相应责任。")


def _expert_member(s: Session, principal: Principal, session_id: str, *, lock: bool = False
                   ) -> tuple[CommitteeMember, EvalSession]:
    """The caller as a member of this session's committee; ``lock``: the session locked for a change (writes of
    one session take turns, as their checks assume)."""
    session = check_can_read_session(principal, s.get(EvalSession, session_id, with_for_update=lock), session_id)
    member = s.get(CommitteeMember, principal.subject)
    if member is None or member.session_id != session_id:
        raise NotFoundError("committee member", principal.subject)
    return member, session


def get_declaration(store: Store, principal: Principal, session_id: str) -> dict[str, Any]:
    with store.read() as s:
        member, session = _expert_member(s, principal, session_id)
        text = declaration_text(session, _committee(s, session_id), member)
    return {"text": text, "sha256": hashlib.sha256(text.encode()).hexdigest(), "state": member.state}


def declare(store: Store, sealer: Sealer, cfg: CommitteeConfig, settings: Settings, principal: Principal,
            session_id: str, body: Declaration) -> dict[str, Any]:
    """The member confirms the declaration whose hash they were shown, or declares a conflict: then they
    leave the committee and a replacement is drawn."""
    ids: list[str] = []
    with store.write() as tx:
        member, session = _expert_member(tx.session, principal, session_id, lock=True)
        committee = _committee(tx.session, session_id)
        text = declaration_text(session, committee, member)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if body.text_sha256 != digest:
            raise ConflictError("the declaration changed since it was read; read it again")
        action = MemberAction.DECLARE_CONFLICT if body.conflict else MemberAction.DECLARE_NO_CONFLICT
        state = next_member_state(MemberState(member.state), action)
        member.declared_at, member.declaration_sha256, member.updated_at = tx.now(), digest, tx.now()
        tx.record(actor=principal.actor, kind="committee.declaration", session_id=session_id,
                  payload={"member_id": member.id, "conflict": body.conflict, "reason": body.reason,
                           "text_sha256": digest})
        if body.conflict:
            _leave(tx, principal.actor, member, action, body.reason or "")
            if member.kind == MemberKind.EXPERT:
                ids = [_commit(tx, sealer, session_id, SYSTEM, member).id]
        else:
            member.state = state.value
            if member.expert_id is not None:  # feeds the same-tenderer rule of later draws
                tx.session.add(ExpertEvaluation(
                    id=str(uuid.uuid4()), expert_id=member.expert_id, tenderer=committee.parties["tenderer"],
                    evaluated_on=_evaluation_day(settings, session), source="session", session_id=session_id))
    return {"member_id": member.id, "state": member.state, "replacements": _run(store, sealer, cfg, settings, ids)}


# --- the chair --------------------------------------------------------------------------------------------
def cast_vote(tx: Tx, principal: Principal, session_id: str, candidate_id: str) -> dict[str, Any]:
    member, session = _expert_member(tx.session, principal, session_id, lock=True)
    committee = tx.session.get(Committee, session_id, with_for_update=True)
    if committee is None:
        raise ConflictError("the session has no committee plan yet")
    if session.state != "evaluating" or session.phase != "chair_election":
        raise ApiError(ErrorCode.PHASE_CLOSED, "the chair is elected in the first phase of the evaluation (the "
                       f"session is {session.phase or session.state})")
    if committee.chair_member_id is not None:
        raise ConflictError("the chair has been elected")
    live = list(tx.session.scalars(select(CommitteeMember).where(CommitteeMember.session_id == session_id,
                                                                 CommitteeMember.state.in_(LIVE))))
    seated = sorted(m.id for m in live if m.state == MemberState.SEATED.value)
    if len(seated) != committee.plan["total"] or len(live) != len(seated):
        raise ConflictError(f"the chair is elected once the whole committee is seated ({len(seated)} of "
                            f"{committee.plan['total']} are)")
    if committee.election_round == 0:
        committee.election_round = 1
    if committee.election_candidates is None:  # the round's first vote: everyone seated stands
        committee.election_candidates = seated
    rnd, candidates = committee.election_round, list(committee.election_candidates or [])
    votes = dict(tx.session.execute(select(ChairVote.voter_member_id, ChairVote.candidate_member_id).where(
        ChairVote.session_id == session_id, ChairVote.round == rnd)).all())
    check_vote(member.id, candidate_id, voters=seated, candidates=candidates, votes=votes)
    tx.session.add(ChairVote(session_id=session_id, round=rnd, voter_member_id=member.id,
                             candidate_member_id=candidate_id, cast_at=tx.now()))
    votes[member.id] = candidate_id
    tx.record(actor=principal.actor, kind="chair.vote_cast", session_id=session_id,
              payload={"round": rnd, "voter_member_id": member.id, "candidate_member_id": candidate_id})
    result: dict[str, Any] = {"round": rnd, "votes_cast": len(votes), "voters": len(seated), "chair": None}
    if len(votes) == len(seated):
        outcome = tally(candidates, votes)
        tx.record(actor=SYSTEM, kind="chair.round_closed", session_id=session_id,
                  payload={"round": rnd, "counts": outcome.counts, "chair_member_id": outcome.chair,
                           "next_candidates": list(outcome.tied)})
        if outcome.chair is not None:
            committee.chair_member_id = result["chair"] = outcome.chair
            tx.record(actor=SYSTEM, kind="chair.elected", session_id=session_id,
                      payload={"member_id": outcome.chair, "round": rnd})
        else:
            committee.election_round, committee.election_candidates = rnd + 1, list(outcome.tied)
            result["next_candidates"] = list(outcome.tied)
    committee.updated_at = tx.now()
    return result


# --- reading ----------------------------------------------------------------------------------------------
def committee_view(store: Store, principal: Principal, session_id: str) -> dict[str, Any]:
    """The committee as ``principal`` may see it: overseers (the coordinator admin, the session's supervisors)
    everything; the host's operators and the experts the members who have checked in, and counts."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        committee = s.get(Committee, session_id)
        if committee is None:
            raise NotFoundError("committee of session", session_id)
        members = list(s.execute(
            select(CommitteeMember, Seat, Room).outerjoin(Seat, Seat.id == CommitteeMember.seat_id)
            .outerjoin(Room, Room.id == Seat.room_id).where(CommitteeMember.session_id == session_id)
            .order_by(CommitteeMember.created_at, CommitteeMember.id)).all())
        drawn = list(s.scalars(select(Draw).where(Draw.session_id == session_id, Draw.purpose != "guest")
                               .order_by(Draw.created_at)))
        votes = list(s.scalars(select(ChairVote).where(ChairVote.session_id == session_id,
                                                       ChairVote.round == committee.election_round)))
        overseer = is_overseer(principal, session_id)
        shown = []
        counts: dict[str, int] = {}
        for m, seat, room in members:
            counts[m.state] = counts.get(m.state, 0) + 1
            if overseer or m.state in (MemberState.CHECKED_IN.value, MemberState.SEATED.value):
                view = _member_brief(m, f"{room.code}/{seat.code}" if seat else None)
                view["venue_id"] = m.venue_id
                if overseer:
                    view.update(expert_id=m.expert_id, draw_id=m.draw_id, replaces_member_id=m.replaces_member_id,
                                vacancy_reason=m.vacancy_reason)
                shown.append(view)
        return {
            "session_id": session_id, "plan_version": committee.version,
            "plan": {k: v for k, v in committee.plan.items() if k != "quotas"} | {
                "quotas": [{"venue": q["venue"], "specialties": q["specialties"]} for q in committee.plan["quotas"]]},
            "parties": committee.parties, "counts": counts, "members": shown,
            "draws": [_draw_view(s, d) for d in drawn],
            "chair_member_id": committee.chair_member_id,
            "election": {"round": committee.election_round, "candidates": committee.election_candidates or [],
                         "votes_cast": len(votes),
                         # a member's own vote of the round: a page knows whether to ask for it (not for whom)
                         "voted": principal.role is Role.EXPERT and any(v.voter_member_id == principal.subject
                                                                        for v in votes)},
        }


_DRAW_DETAIL = ("slots", "pool", "excluded", "picks", "members")
_DRAW_EVENTS = ("draw.committed", "draw.performed", "draw.failed", "draw.revealed")


def draw_record(store: Store, principal: Principal, session_id: str, draw_id: str) -> dict[str, Any]:
    """A committee draw's logged events (commit, outcome, reveal), for checking it as ``evalroom verify-draw``
    does: the host's page recomputes it in the browser.

    The coordinator admin and the session's supervisors read them whole at any time. The host's operators read
    them whole once check-in has opened, when 四不知 ends for the host: the slots name the guest venues and the
    pool and picks name experts by id, which a host learns next to their names as they are seated (and from
    ratings), so before then a host could tell who was drawn. Until then they read them as their event stream
    shows them (``redacted``: without pool, exclusions and picks), which still proves the revealed seed is the
    one committed to before the pool was read. ``whole`` says which."""
    with store.read() as s:
        session = s.get(EvalSession, session_id)
        overseer = is_overseer(principal, session_id) and session is not None
        if not overseer:
            session = check_can_change_session(principal, session, session_id)
        d = s.get(Draw, draw_id)
        if d is None or d.session_id != session_id or d.purpose == "guest":
            raise NotFoundError("committee draw of session", draw_id)
        rows = s.scalars(select(EventRow).where(EventRow.session_id == session_id, EventRow.kind.in_(_DRAW_EVENTS))
                         .order_by(EventRow.id))
        events = [row_to_event(r) for r in rows if r.payload.get("draw_id") == draw_id]
    whole = overseer or session.check_in_opened_at is not None
    reader = ReaderKind.OVERSEER if whole else ReaderKind.OPERATOR
    return {"draw_id": d.id, "purpose": d.purpose, "whole": whole, "events": [
        committee_event_view(reader, e, {"seq": e.seq, "kind": e.kind, "recorded_at": e.recorded_at,
                                         "payload": e.payload}) for e in events]}


def committee_event_view(reader: ReaderKind, event: Event, view: dict[str, Any]) -> dict[str, Any]:
    """Cut a draw event down for readers who may not know the pool or who was drawn (see module docstring)."""
    if event.kind in ("draw.performed", "draw.failed") and reader is not ReaderKind.OVERSEER:
        payload = {k: v for k, v in event.payload.items() if k not in _DRAW_DETAIL}
        return {**view, "payload": payload, "redacted": True}
    return view

