"""Rating a session's experts after it ended, and the effect on their standing (rules: domain/ratings.py).

**Who.** The host venue's operators rate for the host (主场); the tenderer's representative on the committee
rates for the tenderer (招标人), with the expert token they log in with at the seat (after the session, the
host's operator gives them a new login code if their token has expired). Any other member is refused (403):
a drawn expert does not rate their peers. Each rater rates each expert of the session once (``already_rated``).

**Which experts.** Members of kind ``expert`` who were seated when the session ended: those who evaluated.

**When.** From the end to the close of the 2nd working day after it (``rating_closed`` otherwise).

**Effects**, in the rating's transaction: ``rating.recorded`` (a session event; its content is shown to the
admin, the supervisors and the host's operators, redacted for experts), and, when the rating suspends the
expert, the expert's ``credit_status`` and ``credit_reason`` with ``expert.updated`` (actor
``system:coordinator``, the reason naming the rating). The draw reads ``credit_status``, so the next draw
excludes the expert (avoidance reason ``suspended``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain.avoidance import CreditStatus
from evalroom.domain.members import MemberKind, MemberState
from evalroom.domain.ratings import Rater, check_open, check_score, credit_after, rating_due
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ApiError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.schemas import RatingCreate
from evalroom.services.access import ReaderKind, check_can_read_session
from evalroom.services.draws import SYSTEM
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, ExpertRating
from evalroom.storage.store import Store, Tx

__all__ = ["STAFF_KINDS", "after_event_view", "list_ratings", "rate", "rating_summary"]

STAFF_KINDS = frozenset({"rating.recorded", "fees.batch_issued", "publication.objection_received",
                         "publication.objection_answered"})
"""Session events of the work after the session whose content experts do not see (ratings of their peers,
their fees, the bidders' objections)."""


def after_event_view(reader: ReaderKind, kind: str, view: dict[str, Any]) -> dict[str, Any]:
    """Ratings, fee batches and objections as an expert sees them in the session's events: that something was
    recorded, not what (``redacted``; the hash is still of the whole event)."""
    if kind in STAFF_KINDS and reader is ReaderKind.EXPERT:
        return {**view, "payload": {}, "redacted": True}
    return view


def _rater(s: Session, principal: Principal, session: EvalSession) -> Rater:
    if principal.role is Role.HALL_OPERATOR and principal.venue_id == session.host_venue_id:
        return Rater.HOST
    if principal.role is Role.EXPERT:
        member = s.get(CommitteeMember, principal.subject)
        if member is not None and member.session_id == session.id and \
                member.kind == MemberKind.REPRESENTATIVE.value and member.state == MemberState.SEATED.value:
            return Rater.TENDERER
    raise ForbiddenError("experts are rated by the host venue's operators and by the tenderer's representative "
                         "on the committee")


def rating_view(r: ExpertRating, session_code: str | None = None) -> dict[str, Any]:
    return {"id": r.id, "session_id": r.session_id, **({"session_code": session_code} if session_code else {}),
            "member_id": r.member_id, "expert_id": r.expert_id, "rater": r.rater, "score": r.score,
            "comment": r.comment, "rated_by": r.rated_by, "rated_at": format_time(r.rated_at)}


def rate(tx: Tx, settings: Settings, principal: Principal, session_id: str, body: RatingCreate) -> dict[str, Any]:
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    rater = _rater(tx.session, principal, session)
    check_score(body.score)
    now = tx.now()
    ended = session.ended_at
    check_open(now, ended, ended and rating_due(ended, settings.work_calendar, settings.local_timezone))
    member = tx.session.get(CommitteeMember, body.member_id)
    if member is None or member.session_id != session.id or member.kind != MemberKind.EXPERT.value or \
            member.state != MemberState.SEATED.value:
        raise NotFoundError("expert who evaluated in this session", body.member_id)
    if tx.session.scalar(select(ExpertRating.id).where(ExpertRating.session_id == session.id,
                                                       ExpertRating.member_id == member.id,
                                                       ExpertRating.rater == rater.value)) is not None:
        raise ApiError(ErrorCode.ALREADY_RATED, f"the {rater.value} has rated this expert for this session already")
    row = ExpertRating(id=str(uuid.uuid4()), session_id=session.id, member_id=member.id, expert_id=member.expert_id,
                       rater=rater.value, score=body.score, comment=body.comment, rated_by=principal.actor,
                       rated_at=now)
    tx.session.add(row)
    view = rating_view(row)
    tx.record(actor=principal.actor, kind="rating.recorded", session_id=session.id, payload=view)
    expert = tx.session.get(Expert, member.expert_id, with_for_update=True)
    change = credit_after(CreditStatus(expert.credit_status), body.score, rater,
                          threshold=settings.rating_suspend_below, session_code=session.code)
    if change is not None:
        expert.credit_status, expert.credit_reason, expert.updated_at = change.status.value, change.reason, now
        tx.record(actor=SYSTEM, kind="expert.updated", payload={
            "expert_id": expert.id, "reason": change.reason, "credit_status": change.status.value,
            "rating_id": row.id})
    return {**view, "credit_status": expert.credit_status}


def list_ratings(store: Store, settings: Settings, principal: Principal, session_id: str) -> dict[str, Any]:
    """The session's ratings, and until when they are taken."""
    with store.read() as s:
        session = check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        due = session.ended_at and rating_due(session.ended_at, settings.work_calendar, settings.local_timezone)
        rows = s.scalars(select(ExpertRating).where(ExpertRating.session_id == session.id)
                         .order_by(ExpertRating.rated_at, ExpertRating.id))
        return {"session_id": session.id, "ended_at": session.ended_at and format_time(session.ended_at),
                "due": due and due.on.isoformat(), "open": bool(due and store.clock.now() < due.before),
                "ratings": [rating_view(r) for r in rows]}


def rating_summary(s: Session, expert_ids: Iterable[str]) -> dict[str, tuple[list[dict[str, Any]], str | None]]:
    """Per expert: every rating, newest first, with its session's code, and the mean (two places, half up)."""
    ids = sorted(set(expert_ids))
    found: dict[str, list[dict[str, Any]]] = {}
    q = (select(ExpertRating, EvalSession.code).join(EvalSession, EvalSession.id == ExpertRating.session_id)
         .where(ExpertRating.expert_id.in_(ids)).order_by(ExpertRating.rated_at.desc(), ExpertRating.id))
    for r, code in s.execute(q):
        found.setdefault(r.expert_id, []).append(rating_view(r, code))
    out = {}
    for expert_id, views in found.items():
        mean = Decimal(sum(v["score"] for v in views)) / len(views)
        out[expert_id] = (views, str(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
    return out
