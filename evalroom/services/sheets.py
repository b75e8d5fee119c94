"""Members' sheets: the review marks and the scores, their independence, the checks, flags and corrections.

Independence (shared/design.md, "Invariants"): a member's sheet for a phase is visible to that member alone
until every evaluator has submitted for the phase; then the phase's sheets are *revealed* (an event) and the
committee, the host and the supervisors may read them. Until then the events carry only who submitted and a
hash of a salted sheet document (its nonce makes the hash useless for guessing the marks), and every read
route answers ``sheets_sealed`` for another member's sheet. Submission is idempotent: the same marks or
scores again answer with the stored sheet, even after the phase (a retry whose answer was lost); different
ones are refused (``sheet_locked``, or ``phase_closed`` once the phase is over) — a change goes through a
flag's correction or, after the report, a post-report correction with an allowed cause (services/report.py).

Sheets are append-only versions (storage ``sheets``); the current sheet is the newest version, and every
older value stays in the history that the report shows.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.domain import scoring
from evalroom.domain.project import Project
from evalroom.domain.roles import Principal, Role
from evalroom.domain.scoring import ResultRow, ReviewMark, ReviewOutcome, Sheet
from evalroom.domain.session_states import Phase, State
from evalroom.errors import ApiError, ErrorCode, ForbiddenError, NotFoundError
from evalroom.services.access import check_can_read_session
from evalroom.services.evaluation import (
    SCORING_PHASES,
    SYSTEM,
    evaluators,
    load_project,
    seated_member,
)
from evalroom.storage.models import (
    Committee,
    CommitteeMember,
    Dissent,
    EvalSession,
    Flag,
    ScoreSheet,
    TieSettlement,
)
from evalroom.storage.store import Store, Tx
from signing.canonical import canonical_json, sha256_hex

__all__ = [
    "Results",
    "amend",
    "confirm_flag",
    "correct_scores",
    "current_sheets",
    "enter_phase",
    "explain_flag",
    "flag_view",
    "get_sheet_history",
    "list_flags",
    "list_sheets",
    "open_ties",
    "record_dissent",
    "rejected_bids",
    "results",
    "review_outcome",
    "run_checks",
    "scoring_form",
    "settle_tie",
    "submit_review",
    "submit_scores",
    "ties_to_settle",
    "under_review",
]

SHEET_FORMAT = "evalroom-sheet-v1"


# --- helpers ----------------------------------------------------------------------------------------------
def _in_phase(session: EvalSession, phase: Phase, what: str) -> None:
    if session.state != State.EVALUATING or session.phase != phase:
        where = session.phase if session.state == State.EVALUATING else session.state
        raise ApiError(ErrorCode.PHASE_CLOSED, f"{what} are accepted in phase {phase.value} while evaluating "
                       f"(the session is {where})")


def current_sheets(s: Session, session_id: str, phase: str) -> dict[str, ScoreSheet]:
    """Seated member id → newest version of that member's sheet for the phase. A member voided after
    submitting (a conflict found later) drops out: their evaluation does not count; their rows stay."""
    newest = select(ScoreSheet.member_id, func.max(ScoreSheet.version).label("v")).where(
        ScoreSheet.session_id == session_id, ScoreSheet.phase == phase).group_by(ScoreSheet.member_id).subquery()
    rows = s.scalars(select(ScoreSheet).join(newest, (ScoreSheet.member_id == newest.c.member_id)
                                             & (ScoreSheet.version == newest.c.v))
                     .join(CommitteeMember, CommitteeMember.id == ScoreSheet.member_id)
                     .where(ScoreSheet.session_id == session_id, ScoreSheet.phase == phase,
                            CommitteeMember.state == "seated"))
    return {r.member_id: r for r in rows}


def _revealed(s: Session, session_id: str, phase: str) -> bool:
    members = {m.id for m in evaluators(s, session_id)}
    return bool(members) and members <= set(current_sheets(s, session_id, phase))


def _write_sheet(tx: Tx, session: EvalSession, member_id: str, phase: str, body: dict[str, Any], *, version: int,
                 cause: str, actor: str, reason: str | None = None) -> ScoreSheet:
    doc = {"format": SHEET_FORMAT, "session_id": session.id, "member_id": member_id, "phase": phase,
           "version": version, "nonce": secrets.token_hex(16), **body}
    row = ScoreSheet(id=str(uuid.uuid4()), session_id=session.id, member_id=member_id, phase=phase, version=version,
                     content=doc, sha256=sha256_hex(canonical_json(doc)), cause=cause, reason=reason, actor=actor,
                     created_at=tx.now())
    tx.session.add(row)
    tx.session.flush()
    tx.record(actor=actor, kind="sheet.submitted" if version == 1 else "sheet.corrected", session_id=session.id,
              payload={"member_id": member_id, "phase": phase, "version": version, "sha256": row.sha256,
                       "cause": cause})
    return row


def _body(sheet: ScoreSheet) -> dict[str, Any]:
    return {k: v for k, v in sheet.content.items() if k in ("marks", "scores", "stated")}


def _submit(tx: Tx, principal: Principal, session_id: str, phase: Phase, body: dict[str, Any],
            check: Callable[[Project, EvalSession], None]) -> tuple[ScoreSheet, bool]:
    member, session = seated_member(tx.session, principal, session_id)
    name = SCORING_PHASES[phase]
    existing = current_sheets(tx.session, session_id, name).get(member.id)
    if existing is not None and _body(existing) == body:
        return existing, False  # a retry (the answer was lost): the same sheet, whatever the phase now
    _in_phase(session, phase, "sheets")
    if existing is not None:
        raise ApiError(ErrorCode.SHEET_LOCKED, "a sheet was already submitted for this phase; a change goes "
                       "through a flag's correction")
    check(load_project(tx.session, session_id), session)
    row = _write_sheet(tx, session, member.id, name, body, version=1, cause="submitted", actor=principal.actor)
    if _revealed(tx.session, session_id, name):
        _reveal(tx, session, phase)
    return row, True


def _reveal(tx: Tx, session: EvalSession, phase: Phase) -> None:
    payload: dict[str, Any] = {"phase": SCORING_PHASES[phase]}
    if phase is Phase.REVIEW:
        outcome = review_outcome(tx.session, session.id, load_project(tx.session, session.id))
        payload["rejected"] = sorted(k for k, o in outcome.items() if not o.passed)
    tx.record(actor=SYSTEM, kind="sheets.revealed", session_id=session.id, payload=payload)
    if phase is Phase.DETAILED_REVIEW:
        run_checks(tx, session, corrected_by=None)


# --- review -----------------------------------------------------------------------------------------------
def _marks(body: Mapping[str, Any]) -> dict[str, ReviewMark]:
    return {bid: ReviewMark(bool(m["passed"]), str(m.get("reason") or ""),
                            {code: ReviewMark(bool(i["passed"]), str(i.get("reason") or ""))
                             for code, i in (m.get("items") or {}).items()})
            for bid, m in body["marks"].items()}


def _mark(mark: Mapping[str, Any]) -> dict[str, Any]:
    """A mark as the sheet keeps it: reasons trimmed, the items (when the tender has them) sorted by code."""
    out: dict[str, Any] = {"passed": bool(mark["passed"]), "reason": str(mark.get("reason") or "").strip()}
    if mark.get("items"):
        out["items"] = {code: {"passed": bool(i["passed"]), "reason": str(i.get("reason") or "").strip()}
                        for code, i in sorted(mark["items"].items())}
    return out


def submit_review(tx: Tx, principal: Principal, session_id: str, marks: Mapping[str, Mapping[str, Any]]
                  ) -> tuple[ScoreSheet, bool]:
    body = {"marks": {bid: _mark(m) for bid, m in sorted(marks.items())}}
    return _submit(tx, principal, session_id, Phase.REVIEW, body,
                   lambda project, _session: scoring.validate_review(project, _marks(body)))


def review_outcome(s: Session, session_id: str, project: Project) -> dict[str, ReviewOutcome]:
    """Each bid's review outcome; empty before the first review sheet."""
    sheets = {m: _marks(sh.content) for m, sh in current_sheets(s, session_id, "review").items()}
    return scoring.tally_review(project, sheets) if sheets else {}


def rejected_bids(s: Session, session_id: str, project: Project) -> set[str]:
    return {k for k, o in review_outcome(s, session_id, project).items() if not o.passed}


def under_review(s: Session, session_id: str, project: Project) -> list[str]:
    """The bids of the detailed review: every bid the review did not reject, in project order."""
    rejected = rejected_bids(s, session_id, project)
    return [b.key for b in project.bids if b.key not in rejected]


# --- scores -----------------------------------------------------------------------------------------------
def _decimal_map(values: Mapping[str, str]) -> dict[str, str]:
    """Values as two-place strings ("8" → "8.00"); a value with more places is kept as typed, for
    validation to refuse rather than rounding to hide it."""
    out = {}
    for k, v in sorted(values.items()):
        d = Decimal(v)
        out[k] = str(d.quantize(scoring.CENT) if d.as_tuple().exponent >= -2 else d)  # type: ignore[operator]
    return out


def _as_sheet(member_id: str, scores: Mapping[str, Mapping[str, str]], stated: Mapping[str, str] | None = None
              ) -> Sheet:
    """The domain's sheet from the stored (or submitted) decimal strings."""
    return Sheet(member_id, {b: {k: Decimal(v) for k, v in items.items()} for b, items in scores.items()},
                 {b: Decimal(v) for b, v in (stated or {}).items()})


def _sheet(row: ScoreSheet) -> Sheet:
    return _as_sheet(row.member_id, row.content["scores"], row.content.get("stated"))


def submit_scores(tx: Tx, principal: Principal, session_id: str, scores: Mapping[str, Mapping[str, str]],
                  stated: Mapping[str, str]) -> tuple[ScoreSheet, bool]:
    body: dict[str, Any] = {"scores": {b: _decimal_map(v) for b, v in sorted(scores.items())},
                            "stated": _decimal_map(stated)}

    def check(project: Project, session: EvalSession) -> None:
        scope = under_review(tx.session, session.id, project)
        unknown = sorted(set(stated) - set(scope))
        if unknown:
            raise ApiError(ErrorCode.UNKNOWN_BID, "stated subtotals for bids not under review",
                           [{"bid": k, "message": "not a bid under review"} for k in unknown])
        scoring.validate_sheet(project, scope, _as_sheet(principal.subject, scores))

    return _submit(tx, principal, session_id, Phase.DETAILED_REVIEW, body, check)


def run_checks(tx: Tx, session: EvalSession, *, corrected_by: str | None) -> None:
    """Re-run the four checks over the current sheets and reconcile the flags: a new finding opens a flag,
    a finding gone closes it (``corrected`` when its own member's correction removed it, ``cleared`` when
    another member's did), one that comes back reopens. Any change drops the chair's confirmation."""
    project = load_project(tx.session, session.id)
    rows = current_sheets(tx.session, session.id, "detailed_review")
    findings = {f.key: f for f in scoring.check_sheets(project, under_review(tx.session, session.id, project),
                                                       [_sheet(r) for _, r in sorted(rows.items())])}
    flags = {(f.member_id, f.bid, f.criterion, f.kind): f
             for f in tx.session.scalars(select(Flag).where(Flag.session_id == session.id))}
    now = tx.now()
    for key, finding in findings.items():
        flag = flags.get(key)
        if flag is None:
            flag = Flag(id=str(uuid.uuid4()), session_id=session.id, member_id=finding.member, bid=finding.bid,
                        criterion=finding.criterion or "", kind=finding.kind, detail=dict(finding.detail),
                        status="open", raised_at=now)
            tx.session.add(flag)
            _flag_event(tx, "flag.raised", flag)
        elif flag.status in ("corrected", "cleared"):
            flag.status, flag.detail, flag.resolved_at = "open", dict(finding.detail), None
            flag.confirmed_by = flag.confirmed_at = None
            _flag_event(tx, "flag.reopened", flag)
        elif flag.detail != dict(finding.detail):
            flag.detail = dict(finding.detail)
    for key, flag in flags.items():
        if key not in findings and flag.status == "open":
            flag.status = "corrected" if flag.member_id == corrected_by else "cleared"
            flag.resolved_at = now
            _flag_event(tx, "flag.resolved", flag)


def _flag_event(tx: Tx, kind: str, flag: Flag) -> None:
    tx.record(actor=SYSTEM, kind=kind, session_id=flag.session_id, payload=flag_view(flag))


def flag_view(flag: Flag) -> dict[str, Any]:
    return {"id": flag.id, "member_id": flag.member_id, "bid": flag.bid, "criterion": flag.criterion or None,
            "kind": flag.kind, "detail": flag.detail, "status": flag.status, "explanation": flag.explanation,
            "confirmed_by": flag.confirmed_by,
            "confirmed_at": format_time(flag.confirmed_at) if flag.confirmed_at else None}


def _own_flag(tx: Tx, principal: Principal, session_id: str, flag_id: str) -> tuple[Flag, EvalSession]:
    member, session = seated_member(tx.session, principal, session_id)
    flag = tx.session.get(Flag, flag_id)
    if flag is None or flag.session_id != session_id:
        raise NotFoundError("flag", flag_id)
    if flag.member_id != member.id:
        raise ForbiddenError("a flag is answered by the member it concerns")
    _in_phase(session, Phase.DETAILED_REVIEW, "explanations and corrections")
    return flag, session


def explain_flag(tx: Tx, principal: Principal, session_id: str, flag_id: str, text: str) -> Flag:
    flag, _ = _own_flag(tx, principal, session_id, flag_id)
    if flag.status != "open":
        raise ApiError(ErrorCode.CONFLICT, f"the flag is {flag.status}, not open")
    flag.status, flag.explanation, flag.resolved_at = "explained", text.strip(), tx.now()
    _flag_event(tx, "flag.explained", flag)
    return flag


def correct_scores(tx: Tx, principal: Principal, session_id: str, changes: Mapping[str, Mapping[str, str]],
                   reason: str, stated: Mapping[str, str] | None = None) -> ScoreSheet:
    """A flagged member corrects items of bids they have an unconfirmed flag on; a new version is written
    and the checks run again."""
    member, session = seated_member(tx.session, principal, session_id)
    _in_phase(session, Phase.DETAILED_REVIEW, "corrections")
    if not _revealed(tx.session, session_id, "detailed_review"):
        raise ApiError(ErrorCode.PHASE_CLOSED, "corrections follow the checks, once every sheet is in")
    flagged = {f.bid for f in tx.session.scalars(select(Flag).where(
        Flag.session_id == session_id, Flag.member_id == member.id, Flag.confirmed_at.is_(None)))}
    stray = sorted((set(changes) | set(stated or {})) - flagged)
    if stray:
        raise ApiError(ErrorCode.CONFLICT, "corrections are made to bids with an unconfirmed flag on your sheet",
                       [{"bid": b, "message": "no unconfirmed flag"} for b in stray])
    row = amend(tx, session, member.id, changes, stated or {}, cause="flag", reason=reason, actor=principal.actor)
    run_checks(tx, session, corrected_by=member.id)
    return row


def amend(tx: Tx, session: EvalSession, member_id: str, changes: Mapping[str, Mapping[str, str]],
          stated: Mapping[str, str], *, cause: str, reason: str, actor: str) -> ScoreSheet:
    """Write the next version of a member's detailed-review sheet with ``changes`` applied (validated as a
    whole sheet); ``cause`` and ``reason`` say why, for the history and the report."""
    project = load_project(tx.session, session.id)
    current = current_sheets(tx.session, session.id, "detailed_review")[member_id]
    scores = {b: dict(v) for b, v in current.content["scores"].items()}
    new_stated = dict(current.content.get("stated", {}))
    for bid, items in changes.items():
        if bid not in scores:
            raise ApiError(ErrorCode.UNKNOWN_BID, f"bid {bid!r} is not on this sheet")
        scores[bid].update(_decimal_map(items))
    new_stated.update(_decimal_map(stated))
    scoring.validate_sheet(project, list(scores), _as_sheet(member_id, scores))
    body = {"scores": scores, "stated": dict(sorted(new_stated.items()))}
    if body == _body(current):
        raise ApiError(ErrorCode.INVALID_INPUT, "the correction changes nothing")
    return _write_sheet(tx, session, member_id, "detailed_review", body, version=current.version + 1, cause=cause,
                        actor=actor, reason=reason.strip())


def confirm_flag(tx: Tx, principal: Principal, session_id: str, flag_id: str) -> Flag:
    """The chair confirms how a flag was resolved (a correction or a written explanation)."""
    member, session = seated_member(tx.session, principal, session_id)
    committee = tx.session.get(Committee, session_id)
    if committee is None or committee.chair_member_id != member.id:
        raise ForbiddenError("the chair confirms flag resolutions")
    _in_phase(session, Phase.DETAILED_REVIEW, "confirmations")
    flag = tx.session.get(Flag, flag_id)
    if flag is None or flag.session_id != session_id:
        raise NotFoundError("flag", flag_id)
    if flag.status == "open":
        raise ApiError(ErrorCode.CONFLICT, "the flag is open: the member corrects or explains first")
    if flag.confirmed_at is None:
        flag.confirmed_by, flag.confirmed_at = member.id, tx.now()
        _flag_event(tx, "flag.confirmed", flag)
    return flag


# --- results ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Results:
    project: Project
    review: dict[str, ReviewOutcome]
    prices: dict[str, scoring.PriceResult]
    """lot → price points of its valid bids (comprehensive scoring only)."""
    rows: dict[str, list[ResultRow]]
    """lot → ranked rows."""


def results(s: Session, session_id: str) -> Results:
    """Everything aggregation computes, from the project and the current sheets alone (deterministic)."""
    project = load_project(s, session_id)
    review = review_outcome(s, session_id, project)
    rejected = {k for k, o in review.items() if not o.passed}
    sheets = [_sheet(r) for _, r in sorted(current_sheets(s, session_id, "detailed_review").items())]
    prices: dict[str, scoring.PriceResult] = {}
    rows: dict[str, list[ResultRow]] = {}
    settled: dict[str, dict[frozenset[str], list[str]]] = {}
    for t in s.scalars(select(TieSettlement).where(TieSettlement.session_id == session_id)
                       .order_by(TieSettlement.settled_at, TieSettlement.id)):
        settled.setdefault(t.lot, {})[frozenset(t.decided_order)] = t.decided_order
    for lot, _name in project.lots:
        valid = [b for b in project.bids_of(lot) if b.key not in rejected]
        unscored = sorted({b.key for b in valid for sh in sheets if b.key not in sh.items})
        if unscored:
            # The review's outcome moved after the scoring began: a member whose review sheet counted left
            # (voided for a conflict found later), and a bid rejected then passes now. Ranking it from sheets that
            # never scored it would be wrong; the committee must review again.
            raise ApiError(ErrorCode.CONFLICT, "the review's outcome changed after the detailed review began (a "
                           "member left): no results until the committee has reviewed and scored again",
                           [{"bid": key, "message": "not scored on every current sheet"} for key in unscored])
        if project.price_rule is not None:
            prices[lot] = scoring.price_scores(project.price_rule, valid)
        points = prices[lot].scores if lot in prices else {}
        ranked = scoring.aggregate(project, lot, sheets, rejected, points) if sheets else []
        rows[lot] = scoring.settle(ranked, settled.get(lot, {}))
    return Results(project, review, prices, rows)


def open_ties(s: Session, session_id: str) -> int:
    """How many ties among the candidates every tie-break left standing and the committee has not settled."""
    r = results(s, session_id)
    return sum(len(scoring.open_ties(r.project, rows)) for rows in r.rows.values())


def ties_to_settle(store: Store, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    """The ties every tie-break left standing among the candidates, which the committee must settle before it
    recommends (:func:`scoring.open_ties`): per lot the tied bids with their bidders and final scores. Empty
    before the detailed review's sheets are in."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        if not current_sheets(s, session_id, "detailed_review"):
            return []
        r = results(s, session_id)
    out = []
    for lot, rows in r.rows.items():
        by_key = {row.bid.key: row for row in rows}
        for group in scoring.open_ties(r.project, rows):
            out.append({"lot": lot, "rank": by_key[group[0]].rank, "bids": [
                {"bid": key, "bidder": r.project.bidders[by_key[key].bid.bidder], "final": str(by_key[key].final)}
                for key in group]})
    return out


def settle_tie(tx: Tx, principal: Principal, session_id: str, lot: str, order: list[str], reason: str
               ) -> TieSettlement:
    """The chair records how the committee settled a tie that every tie-break left standing (e.g. by lot):
    the tied bids in the decided order, with the reason."""
    member, session = seated_member(tx.session, principal, session_id)
    committee = tx.session.get(Committee, session_id)
    if committee is None or committee.chair_member_id != member.id:
        raise ForbiddenError("the chair records how the committee settled a tie")
    if session.state != State.EVALUATING or session.phase not in (Phase.SUMMARY, Phase.RECOMMENDATION):
        raise ApiError(ErrorCode.PHASE_CLOSED, "ties are settled in the summary or recommendation phase")
    r = results(tx.session, session_id)
    if lot not in r.rows:
        raise ApiError(ErrorCode.INVALID_INPUT, f"no lot {lot!r} in this project")
    groups = scoring.tie_groups(r.rows[lot])
    if len(set(order)) != len(order) or frozenset(order) not in {frozenset(g) for g in groups}:
        raise ApiError(ErrorCode.INVALID_INPUT, "the order must name exactly the bids of one open tie, once each",
                       [{"lot": lot, "tie": list(g), "message": "an open tie"} for g in groups])
    row = TieSettlement(id=str(uuid.uuid4()), session_id=session_id, lot=lot, decided_order=list(order),
                        reason=reason.strip(), settled_by=member.id, settled_at=tx.now())
    tx.session.add(row)
    tx.record(actor=principal.actor, kind="tie.settled", session_id=session_id,
              payload={"lot": lot, "order": list(order), "reason": row.reason, "member_id": member.id})
    return row


def enter_phase(tx: Tx, session: EvalSession, phase: Phase) -> dict[str, Any]:
    """The work a phase starts with, and what its phase-change event says: price points on entering price
    scoring, the aggregation on entering the summary, the candidates on entering the recommendation."""
    if phase not in (Phase.PRICE_SCORING, Phase.SUMMARY, Phase.RECOMMENDATION):
        return {}
    r = results(tx.session, session.id)
    if phase is Phase.PRICE_SCORING:
        return {"price": {lot: {"benchmark": str(p.benchmark) if p.benchmark is not None else None,
                                "scores": {k: str(v) for k, v in p.scores.items()}} for lot, p in r.prices.items()}}
    if phase is Phase.SUMMARY:
        return {"results": {lot: [{"bid": row.bid.key, "final": str(row.final), "rank": row.rank, "tie": row.tie}
                                  for row in rows] for lot, rows in r.rows.items()}}
    return {"candidates": {lot: [{"rank": row.rank, "bid": row.bid.key, "final": str(row.final), "tie": row.tie}
                                 for row in scoring.candidates(r.project, rows)] for lot, rows in r.rows.items()}}


# --- dissent ---------------------------------------------------------------------------------------------
def record_dissent(tx: Tx, principal: Principal, session_id: str, text: str) -> Dissent:
    """A member's written dissent (保留意见), before the report is produced; written again, it replaces."""
    member, session = seated_member(tx.session, principal, session_id)
    if session.state != State.EVALUATING or session.phase not in (Phase.SUMMARY, Phase.RECOMMENDATION):
        raise ApiError(ErrorCode.PHASE_CLOSED, "dissent is recorded in the summary or recommendation phase, "
                       "before the report is produced")
    row = tx.session.get(Dissent, (session_id, member.id))
    if row is None:
        row = Dissent(session_id=session_id, member_id=member.id)
        tx.session.add(row)
    row.text, row.recorded_at = text.strip(), tx.now()
    tx.record(actor=principal.actor, kind="dissent.recorded", session_id=session_id,
              payload={"member_id": member.id, "sha256": sha256_hex(row.text.encode())})
    return row


# --- reading ----------------------------------------------------------------------------------------------
def _sheet_view(row: ScoreSheet) -> dict[str, Any]:
    return {"member_id": row.member_id, "phase": row.phase, "version": row.version, "sha256": row.sha256,
            "cause": row.cause, "reason": row.reason, "submitted_at": format_time(row.created_at),
            "content": row.content}


def list_sheets(store: Store, principal: Principal, session_id: str, phase: str) -> dict[str, Any]:
    """The phase's sheets as ``principal`` may see them: before the reveal an expert sees only their own and
    everyone else only who has submitted."""
    _check_phase_name(phase)
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        rows = current_sheets(s, session_id, phase)
        revealed = _revealed(s, session_id, phase)
        visible = {m: r for m, r in rows.items() if revealed or (principal.role is Role.EXPERT
                                                                and m == principal.subject)}
        answer = {"phase": phase, "revealed": revealed, "submitted": sorted(rows),
                  "members": [m.id for m in evaluators(s, session_id)],
                  "sheets": [_sheet_view(r) for _, r in sorted(visible.items())]}
        if phase == "review" and revealed:  # the committee's tally, by the rule (scoring.tally_review)
            answer["outcome"] = [{"bid": o.bid, "passed": o.passed, "fail_votes": o.fail_votes,
                                  "reasons": [{"member_id": m, "reason": r} for m, r in o.reasons]}
                                 for o in review_outcome(s, session_id, load_project(s, session_id)).values()]
        return answer


def scoring_form(store: Store, principal: Principal, session_id: str) -> dict[str, Any]:
    """What a scoring form shows: the bids under detailed review (those the review did not reject) with their
    bidders, and the criteria an expert scores with their ranges, in the project's order. The same rules
    check the sheet when it is submitted (``submit_scores``); the form only lets the expert see them first."""
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        project = load_project(s, session_id)
        keys = set(under_review(s, session_id, project))
    return {
        "bids": [{"key": b.key, "lot": b.lot, "bidder": b.bidder, "name": project.bidders[b.bidder]}
                 for b in project.bids if b.key in keys],
        "criteria": [{"code": c.code, "name": c.name, "part": c.part, "path": list(c.path), "min": str(c.min),
                      "max": str(c.max), "objective": c.objective} for c in project.criteria],
    }


def _check_phase_name(phase: str) -> None:
    if phase not in SCORING_PHASES.values():
        raise ApiError(ErrorCode.INVALID_INPUT, f"phase must be one of {sorted(SCORING_PHASES.values())}")


def get_sheet_history(store: Store, principal: Principal, session_id: str, phase: str, member_id: str
                      ) -> list[dict[str, Any]]:
    _check_phase_name(phase)
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        own = principal.role is Role.EXPERT and principal.subject == member_id
        if not own and not _revealed(s, session_id, phase):
            raise ApiError(ErrorCode.SHEETS_SEALED, "other members' sheets are sealed until every member has "
                           "submitted for this phase")
        rows = list(s.scalars(select(ScoreSheet).where(ScoreSheet.session_id == session_id, ScoreSheet.phase == phase,
                                                       ScoreSheet.member_id == member_id)
                              .order_by(ScoreSheet.version)))
        if not rows:
            raise NotFoundError("sheet of member", member_id)
        return [_sheet_view(r) for r in rows]


def list_flags(store: Store, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        return [flag_view(f) for f in s.scalars(select(Flag).where(Flag.session_id == session_id)
                                                .order_by(Flag.member_id, Flag.bid, Flag.kind, Flag.criterion))]
