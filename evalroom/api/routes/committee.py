"""The committee: plan, draws, representatives, absences and refusals, check-in, the declaration, the chair.

Who may do what (docs/api.md has the table): the host's operators (or the coordinator admin) plan the
committee and ask for draws; the coordinator admin records an expert's refusal or a conflict found later;
the operators of any venue check in the members drawn for their venue, by ID card, without knowing the
session; an expert, after logging in with the check-in code, reads and confirms the no-conflict declaration
and votes for the chair.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from evalroom.api.deps import Admin, Ctx, require
from evalroom.domain.members import MemberAction
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import CheckIn, CommitteePlanSet, Declaration, RepresentativeCreate, Vacate, VoteCast
from evalroom.services import committee

router = APIRouter(tags=["committee"])
Host = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR))]
Reader = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR,
                                              Role.EXPERT))]
Staff = Annotated[Principal, Depends(require(Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR))]
Operator = Annotated[Principal, Depends(require(Role.HALL_OPERATOR))]
Expert = Annotated[Principal, Depends(require(Role.EXPERT))]
SessionId = Annotated[str, Path(max_length=64)]
MemberId = Annotated[str, Path(max_length=64)]
DrawId = Annotated[str, Path(max_length=64)]
View = dict[str, Any]


@router.put("/sessions/{session_id}/committee/plan", summary="Set the committee plan (checked against the rules)")
def set_plan(ctx: Ctx, principal: Host, session_id: SessionId, body: CommitteePlanSet) -> View:
    with ctx.store.write() as tx:
        committee.set_plan(tx, ctx.committee, principal, session_id, body)
    return committee.committee_view(ctx.store, principal, session_id)


@router.get("/committee/rules", summary="The committee-size rules by project type, that plans are checked against")
def rules(ctx: Ctx, principal: Staff) -> View:
    return {"project_types": [r.as_dict() for _, r in sorted(ctx.committee.rules.rules.items())]}


@router.get("/sessions/{session_id}/committee", summary="The committee as the caller may see it")
def get(ctx: Ctx, principal: Reader, session_id: SessionId) -> View:
    return committee.committee_view(ctx.store, principal, session_id)


@router.post("/sessions/{session_id}/committee/draws",
             summary="Draw the committee (commit, draw, reveal), or replacements for open vacancies")
def draw(ctx: Ctx, principal: Host, session_id: SessionId) -> list[View]:
    return committee.request_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings, principal, session_id)


@router.get("/sessions/{session_id}/committee/draws/{draw_id}",
            summary="A committee draw's logged events, to recompute it (whole for the host once check-in opens)")
def draw_record(ctx: Ctx, principal: Staff, session_id: SessionId, draw_id: DrawId) -> View:
    return committee.draw_record(ctx.store, principal, session_id, draw_id)


@router.post("/sessions/{session_id}/committee/representatives", status_code=201,
             summary="Name a representative of the tenderer (host operators)")
def name_representative(ctx: Ctx, principal: Host, session_id: SessionId, body: RepresentativeCreate) -> View:
    with ctx.store.write() as tx:
        member = committee.name_representative(tx, ctx.sealer, principal, session_id, body)
        return {"member_id": member.id, "state": member.state}


@router.post("/sessions/{session_id}/committee/no-shows",
             summary="After the scheduled start: members not checked in are absent; experts are replaced")
def no_shows(ctx: Ctx, principal: Host, session_id: SessionId) -> View:
    return committee.mark_no_shows(ctx.store, ctx.sealer, ctx.committee, ctx.settings, principal, session_id)


@router.post("/committee/members/{member_id}/decline", summary="Record that a drawn expert declined; draw a replacement")
def decline(ctx: Ctx, admin: Admin, member_id: MemberId, body: Vacate) -> View:
    return committee.vacate(ctx.store, ctx.sealer, ctx.committee, ctx.settings, admin, member_id,
                            MemberAction.DECLINE, body.reason)


@router.post("/committee/members/{member_id}/void",
             summary="A conflict found later voids the member's evaluation; draw a replacement")
def void(ctx: Ctx, admin: Admin, member_id: MemberId, body: Vacate) -> View:
    return committee.vacate(ctx.store, ctx.sealer, ctx.committee, ctx.settings, admin, member_id,
                            MemberAction.VOID, body.reason)


@router.post("/committee/check-in", summary="Check in a member at the operator's venue (ID card and face match)")
def check_in(ctx: Ctx, principal: Operator, body: CheckIn) -> View:
    with ctx.store.write() as tx:
        return committee.check_in(tx, ctx.sealer, ctx.settings, principal, body)


@router.post("/committee/members/{member_id}/login-code",
             summary="A new one-time login code for a checked-in member at the operator's venue")
def login_code(ctx: Ctx, principal: Operator, member_id: MemberId) -> View:
    with ctx.store.write() as tx:
        return committee.reissue_login_code(tx, ctx.settings, principal, member_id)


@router.get("/sessions/{session_id}/committee/declaration", summary="The no-conflict declaration to confirm")
def declaration(ctx: Ctx, principal: Expert, session_id: SessionId) -> View:
    return committee.get_declaration(ctx.store, principal, session_id)


@router.post("/sessions/{session_id}/committee/declaration",
             summary="Confirm the declaration (by its hash) or declare a conflict")
def declare(ctx: Ctx, principal: Expert, session_id: SessionId, body: Declaration) -> View:
    return committee.declare(ctx.store, ctx.sealer, ctx.committee, ctx.settings, principal, session_id, body)


@router.post("/sessions/{session_id}/chair/votes", summary="Vote for the chair in the current round")
def vote(ctx: Ctx, principal: Expert, session_id: SessionId, body: VoteCast) -> View:
    with ctx.store.write() as tx:
        return committee.cast_vote(tx, principal, session_id, body.candidate_member_id)
