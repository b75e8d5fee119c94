"""Expert pools (专家库): import from CSV or JSON, read, change an expert's credit status or availability.

An import is all or nothing: the file is parsed and checked in full (evalroom.domain.expert_rows) and then
checked against the database (an identity number already in another region's pool, a pool number held by
another expert), and only a file without a single error is written, in one transaction with one event. An
expert is identified by the keyed hash of their identity number: importing the same person again updates
them, with the fields the file gives (a field a row leaves out keeps its value: a file without credit
statuses does not lift a suspension). Identity numbers never appear in events or answers other than masked.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from evalroom.auth.sealing import Sealer
from evalroom.clock import format_time
from evalroom.domain.avoidance import CreditStatus, ExpertFacts
from evalroom.domain.expert_rows import ExpertRow, parse_expert_file
from evalroom.domain.identity import mask_id_number
from evalroom.domain.specialties import SpecialtyTree
from evalroom.errors import ApiError, ErrorCode, NotFoundError
from evalroom.schemas import ExpertPublic, ExpertUpdate, ImportResult
from evalroom.services.ratings import rating_summary
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, ExpertEvaluation, Region, SupervisionMark
from evalroom.storage.store import Store, Tx

__all__ = ["ID_CONTEXT", "covered_specialties", "covering_regions", "get_expert", "import_experts", "list_experts", "pool_facts",
           "update_expert"]

ID_CONTEXT = "expert.id_number"
"""The sealing and lookup context of identity numbers (evalroom.auth.sealing)."""
RECENT_DAYS = 365
"""How far back an expert's answer lists their evaluations."""


def _fields(row: ExpertRow) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "employer": row.employer, "specialties": list(row.specialties),
            "certificate": row.certificate, "credit_status": row.credit_status.value, "punished": row.punished,
            "ties": list(row.ties), "unavailable": [[a.isoformat(), b.isoformat()] for a, b in row.unavailable]}


def _given(row: ExpertRow) -> dict[str, Any]:
    """The fields an update takes from the file: those the row gave."""
    return {k: v for k, v in _fields(row).items() if k in row.given}


def import_experts(tx: Tx, sealer: Sealer, tree: SpecialtyTree, actor: str, region_id: str, data: bytes,
                   fmt: str) -> ImportResult:
    if tx.session.get(Region, region_id) is None:
        raise NotFoundError("region", region_id)
    rows = parse_expert_file(data, fmt, tree)
    hashes = {r.row: sealer.lookup(r.id_number, ID_CONTEXT) for r in rows}
    existing = {e.id_number_hash: e for e in tx.session.scalars(
        select(Expert).where(Expert.id_number_hash.in_(list(hashes.values()))))}
    codes = {e.code: e for e in tx.session.scalars(
        select(Expert).where(Expert.region_id == region_id, Expert.code.in_([r.code for r in rows if r.code])))}
    errors = []
    for r in rows:
        found = existing.get(hashes[r.row])
        if found is not None and found.region_id != region_id:
            errors.append({"row": r.row, "field": "id_number", "code": "in_other_pool",
                           "message": "this person is already in another region's pool"})
        holder = codes.get(r.code) if r.code else None
        if holder is not None and holder.id_number_hash != hashes[r.row]:
            errors.append({"row": r.row, "field": "code", "code": "duplicate",
                           "message": f"pool number {r.code} belongs to another expert of this region"})
    if errors:
        raise ApiError(ErrorCode.IMPORT_REJECTED, f"nothing was imported: {len(errors)} error(s); the first: row "
                       f"{errors[0]['row']}, {errors[0]['message']}", details=errors)
    now = tx.now()
    digest = hashlib.sha256(data).hexdigest()
    prior: dict[str, list[tuple[str, date]]] = {}  # each expert's imported history, read once
    for expert_id, tenderer, on in tx.session.execute(
            select(ExpertEvaluation.expert_id, ExpertEvaluation.tenderer, ExpertEvaluation.evaluated_on)
            .join(Expert, Expert.id == ExpertEvaluation.expert_id)
            .where(Expert.region_id == region_id, ExpertEvaluation.source == "import")):
        prior.setdefault(expert_id, []).append((tenderer, on))
    created, updated, unchanged = [], [], 0
    histories: list[tuple[Expert, ExpertRow, bool]] = []  # (expert, row, replaces an earlier history)
    for r in rows:
        expert = existing.get(hashes[r.row])
        if expert is None:
            expert = Expert(id=str(uuid.uuid4()), region_id=region_id, id_number_hash=hashes[r.row],
                            id_number_sealed=sealer.seal(r.id_number.encode(), ID_CONTEXT),
                            id_number_masked=mask_id_number(r.id_number), created_at=now, updated_at=now,
                            **_fields(r))
            tx.session.add(expert)
            created.append(expert.id)
            histories.append((expert, r, False))
            continue
        changes = {k: v for k, v in _given(r).items() if getattr(expert, k) != v}
        if "credit_status" in changes:
            expert.credit_reason = f"set by the import of file {digest[:16]}"
        for k, v in changes.items():
            setattr(expert, k, v)
        if "evaluations" in r.given and sorted(r.evaluations) != sorted(prior.get(expert.id, [])):
            changes["evaluations"] = True
            histories.append((expert, r, True))
        if changes:
            expert.updated_at = now
            updated.append(expert.id)
        else:
            unchanged += 1
    tx.session.flush()  # the experts first: their evaluations refer to them
    for expert, r, replaces in histories:
        if replaces:  # the file's history replaces what an earlier import said; our own sessions' stay
            tx.session.execute(delete(ExpertEvaluation).where(ExpertEvaluation.expert_id == expert.id,
                                                              ExpertEvaluation.source == "import"))
        tx.session.add_all(ExpertEvaluation(id=str(uuid.uuid4()), expert_id=expert.id, tenderer=t, evaluated_on=d,
                                            source="import") for t, d in r.evaluations)
    tx.record(actor=actor, kind="experts.imported",
              payload={"region_id": region_id, "format": fmt, "file_sha256": digest, "rows": len(rows),
                       "created": created, "updated": updated, "unchanged": unchanged})
    return ImportResult(region_id=region_id, created=len(created), updated=len(updated), unchanged=unchanged,
                        file_sha256=digest)


def _recent(s: Session, which: ColumnElement[bool], since: date) -> dict[str, list[ExpertEvaluation]]:
    """Evaluations since ``since`` of the experts ``which`` selects, newest first, by expert, in one query."""
    found: dict[str, list[ExpertEvaluation]] = {}
    q = (select(ExpertEvaluation).join(Expert, Expert.id == ExpertEvaluation.expert_id)
         .where(which, ExpertEvaluation.evaluated_on >= since)
         .order_by(ExpertEvaluation.evaluated_on.desc(), ExpertEvaluation.id))
    for e in s.scalars(q):
        found.setdefault(e.expert_id, []).append(e)
    return found


def _public(expert: Expert, recent: list[ExpertEvaluation],
            rated: tuple[list[dict[str, Any]], str | None] = ([], None)) -> ExpertPublic:
    return ExpertPublic(
        id=expert.id, region_id=expert.region_id, code=expert.code, name=expert.name,
        id_number=expert.id_number_masked, employer=expert.employer, specialties=list(expert.specialties),
        certificate=expert.certificate, credit_status=expert.credit_status, credit_reason=expert.credit_reason,
        punished=expert.punished, ties=list(expert.ties), unavailable=[list(r) for r in expert.unavailable],
        recent_evaluations=[{"date": e.evaluated_on.isoformat(), "tenderer": e.tenderer, "source": e.source}
                            for e in recent],
        updated_at=expert.updated_at, ratings=rated[0], rating_average=rated[1])


def list_experts(store: Store, region_id: str, today: date) -> list[ExpertPublic]:
    with store.read() as s:
        if s.get(Region, region_id) is None:
            raise NotFoundError("region", region_id)
        experts = list(s.scalars(select(Expert).where(Expert.region_id == region_id).order_by(Expert.code, Expert.id)))
        recent = _recent(s, Expert.region_id == region_id, today - timedelta(days=RECENT_DAYS))
        rated = rating_summary(s, (e.id for e in experts))
        return [_public(e, recent.get(e.id, []), rated.get(e.id, ([], None))) for e in experts]


RECORD_SESSIONS = 50
"""How many of an expert's committee places (newest first) their record lists."""


def get_expert(store: Store, expert_id: str, today: date) -> ExpertPublic:
    """One expert's record, for the coordinator admin: beside the pool's facts, their places on committees here
    (drawn, seated, declined, voided …) and what the sessions' supervisors flagged about them — the history a
    pool keeper weighs before suspending or lifting a suspension."""
    with store.read() as s:
        expert = s.get(Expert, expert_id)
        if expert is None:
            raise NotFoundError("expert", expert_id)
        recent = _recent(s, Expert.id == expert.id, today - timedelta(days=RECENT_DAYS))
        record = _public(expert, recent.get(expert.id, []), rating_summary(s, [expert.id]).get(expert.id, ([], None)))
        places = s.execute(select(CommitteeMember, EvalSession).join(EvalSession, EvalSession.id == CommitteeMember.session_id)
                           .where(CommitteeMember.expert_id == expert.id)
                           .order_by(EvalSession.scheduled_start.desc(), CommitteeMember.id).limit(RECORD_SESSIONS)).all()
        flags = s.execute(select(SupervisionMark, EvalSession.code)
                          .join(CommitteeMember, CommitteeMember.id == SupervisionMark.member_id)
                          .join(EvalSession, EvalSession.id == SupervisionMark.session_id)
                          .where(CommitteeMember.expert_id == expert.id, SupervisionMark.kind == "expert_flag")
                          .order_by(SupervisionMark.created_at.desc(), SupervisionMark.id)).all()
        record.sessions = [{"session_id": e.id, "session_code": e.code, "scheduled_start": format_time(e.scheduled_start),
                            "session_state": e.state, "member_state": m.state, "vacancy_reason": m.vacancy_reason}
                           for m, e in places]
        record.flags = [{"session_code": code, "level": f.level, "text": f.text, "created_at": format_time(f.created_at)}
                        for f, code in flags]
        return record


def update_expert(tx: Tx, actor: str, expert_id: str, data: ExpertUpdate) -> Expert:
    expert = tx.session.get(Expert, expert_id)
    if expert is None:
        raise NotFoundError("expert", expert_id)
    changes: dict[str, Any] = {}
    if data.credit_status is not None and data.credit_status != expert.credit_status:
        expert.credit_status = changes["credit_status"] = data.credit_status
        expert.credit_reason = data.reason
    if data.punished is not None and data.punished != expert.punished:
        expert.punished = changes["punished"] = data.punished
    if data.unavailable is not None:
        ranges = []
        for r in data.unavailable:
            try:
                a, b = date.fromisoformat(r.from_), date.fromisoformat(r.to)
            except ValueError:
                raise ApiError(ErrorCode.INVALID_INPUT, f"{r.from_}..{r.to} is not a pair of dates") from None
            if b < a:
                raise ApiError(ErrorCode.INVALID_INPUT, f"the range {a}..{b} ends before it starts")
            ranges.append([a.isoformat(), b.isoformat()])
        if ranges != expert.unavailable:
            expert.unavailable = changes["unavailable"] = ranges
    if not changes:
        raise ApiError(ErrorCode.INVALID_INPUT, "the change changes nothing")
    expert.updated_at = tx.now()
    tx.record(actor=actor, kind="expert.updated", payload={"expert_id": expert.id, "reason": data.reason, **changes})
    return expert


def pool_facts(s: Session, region_ids: Iterable[str], since: date) -> list[tuple[Expert, ExpertFacts]]:
    """Every expert of the regions' pools with what avoidance judges them by (evalroom.domain.avoidance),
    evaluations since ``since`` included; two queries whatever the pool's size."""
    regions = sorted(set(region_ids))
    experts = list(s.scalars(select(Expert).where(Expert.region_id.in_(regions)).order_by(Expert.id)))
    history: dict[str, list[tuple[str, date]]] = {}
    q = (select(ExpertEvaluation.expert_id, ExpertEvaluation.tenderer, ExpertEvaluation.evaluated_on)
         .join(Expert, Expert.id == ExpertEvaluation.expert_id)
         .where(Expert.region_id.in_(regions), ExpertEvaluation.evaluated_on >= since))
    for expert_id, tenderer, on in s.execute(q):
        history.setdefault(expert_id, []).append((tenderer, on))
    return [(e, ExpertFacts(
        expert_id=e.id, region_id=e.region_id, employer=e.employer, credit_status=CreditStatus(e.credit_status),
        ties=tuple(e.ties), punished=e.punished,
        unavailable=tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in e.unavailable),
        evaluations=tuple(history.get(e.id, ())))) for e in experts]


def _active_pools(s: Session, region_ids: Iterable[str] | None) -> dict[str, list[list[str]]]:
    """The specialties of each active, unpunished expert, by region: the experts a draw could pick."""
    q = select(Expert.region_id, Expert.specialties).where(Expert.credit_status == "active", Expert.punished.is_(False))
    if region_ids is not None:
        q = q.where(Expert.region_id.in_(sorted(set(region_ids))))
    pools: dict[str, list[list[str]]] = {}
    for region_id, held in s.execute(q):
        pools.setdefault(region_id, []).append(held)
    return pools


def covering_regions(s: Session, tree: SpecialtyTree, region_ids: Iterable[str], specialties: Iterable[str],
                     experts: int) -> set[str]:
    """The regions whose pool can supply a guest venue: for each specialty at least one expert who qualifies
    (the classification tree decides), and at least ``experts`` experts in all who qualify for one of them
    (or at all, when no specialty is asked for). Credit status and punishment count; day-specific avoidance
    is the draw's business."""
    wanted = sorted(set(specialties))
    found = set()
    for region_id, pool in _active_pools(s, region_ids).items():
        able = [held for held in pool if not wanted or any(tree.qualifies(sp, held) for sp in wanted)]
        if len(able) >= experts and all(any(tree.qualifies(sp, held) for held in able) for sp in wanted):
            found.add(region_id)
    return found


def covered_specialties(s: Session, region_id: str) -> list[str]:
    """The specialty codes the region's active, unpunished experts hold."""
    return sorted({code for held in _active_pools(s, [region_id]).get(region_id, []) for code in held})
