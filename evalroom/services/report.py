"""The evaluation report (评标报告): the JSON twin merged from the sheets, and the PDF rendered from it.

The twin (format ``evalroom-report-v1``, docs/formats.md) is a pure function of the session's stored facts —
project, committee, current sheets and their history, flags, dissents — plus the time it was generated.
Every list in it is in a fixed order (venue role, member id, bid, criterion), every number a decimal string,
and its bytes are canonical JSON, so the same inputs give the same bytes apart from ``generated_at`` and
the times the facts themselves carry. The PDF is rendered from the twin alone (evalroom/report_pdf.py), so
the two cannot disagree on a number.

A report is produced on entering the report-signing phase (version 1) and again after each post-report
correction (version 2, 3, …); earlier versions are kept.
"""

from __future__ import annotations

import multiprocessing
import threading
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.config import Settings
from evalroom.domain import scoring
from evalroom.domain.project import Project
from evalroom.domain.roles import Principal
from evalroom.domain.session_states import State
from evalroom.errors import ApiError, ErrorCode, NotFoundError
from evalroom.report_pdf import render_report_pdf
from evalroom.services.access import check_can_read_session
from evalroom.services.evaluation import check_mover, evaluators, participants
from evalroom.services.sheets import Results, amend, current_sheets, flag_view, results
from evalroom.storage.models import (
    Committee,
    CommitteeMember,
    Dissent,
    EvalSession,
    Flag,
    Region,
    Report,
    ScoreSheet,
    TieSettlement,
    Venue,
)
from evalroom.storage.store import Store, Tx
from signing.canonical import canonical_json, sha256_hex

__all__ = ["FORMAT", "POST_REPORT_CAUSES", "Rendered", "build_report", "correct_after_report", "get_report",
           "merge_ahead", "produce", "render_ahead", "render_elsewhere"]

FORMAT = "evalroom-report-v1"
POST_REPORT_CAUSES = ("sum_error", "out_of_range", "objective_inconsistent", "abnormal_score")
"""The only causes for which scores change after the report (87号令 Art. 64)."""
ROUNDING = "ROUND_HALF_UP, 2 places"


def _t(value: Any) -> str | None:
    return format_time(value) if value else None


def _project(p: Project) -> dict[str, Any]:
    rule = p.price_rule
    price_rule = None if rule is None else {
        "kind": rule.kind, "points": str(rule.points),
        **({"coefficient": str(rule.coefficient), "drop_extremes_from": rule.drop_extremes_from,
            "deduct_above": str(rule.deduct_above), "deduct_below": str(rule.deduct_below)}
           if rule.kind == "average_benchmark" else {})}
    return {"code": p.code, "name": p.name, "kind": p.kind, "method": p.method, "tenderer": p.tenderer,
            "price_rule": price_rule, "candidates": p.candidates, "tie_break": list(p.tie_break),
            "deviation_threshold": str(p.deviation_threshold),
            "lots": [{"code": c, "name": n} for c, n in p.lots],
            "bidders": [{"code": c, "name": n} for c, n in sorted(p.bidders.items())],
            "criteria": [{"code": c.code, "name": c.name, "part": c.part, "path": list(c.path), "min": str(c.min),
                          "max": str(c.max), "objective": c.objective} for c in p.criteria]}


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(bid, criterion, old, new) of every value that changed between two sheet versions."""
    out = []
    for bid, items in sorted(new["scores"].items()):
        for crit, value in sorted(items.items()):
            before = old["scores"].get(bid, {}).get(crit)
            if before != value:
                out.append((bid, crit, before, value))
    return out


def _history(s: Session, session_id: str) -> list[tuple[ScoreSheet, ScoreSheet]]:
    """(previous, correction) pairs of every corrected detailed-review sheet, in order."""
    rows = list(s.scalars(select(ScoreSheet).where(ScoreSheet.session_id == session_id,
                                                   ScoreSheet.phase == "detailed_review")
                          .order_by(ScoreSheet.member_id, ScoreSheet.version)))
    return [(a, b) for a, b in zip(rows, rows[1:], strict=False) if a.member_id == b.member_id]


def _committee(s: Session, session: EvalSession, members: list[CommitteeMember], chair: str | None,
               venues: dict[str, Venue]) -> dict[str, Any]:
    names = {m.id: m.name for m in members}
    return {"chair": {"member_id": chair, "name": names.get(chair)},
            "venues": [{"venue_id": vid, "name": venues[vid].name,
                        "role": "host" if vid == session.host_venue_id else "guest",
                        "members": [{"member_id": m.id, "name": m.name, "kind": m.kind, "specialty": m.specialty}
                                    for m in members if m.venue_id == vid]}
                       for vid in participants(s, session)]}


def _sheets(sheets: dict[str, ScoreSheet], members: dict[str, CommitteeMember],
            venues: dict[str, Venue]) -> list[dict[str, Any]]:
    out = []
    for member_id, row in sorted(sheets.items()):
        stated = row.content.get("stated", {})
        out.append({"member_id": member_id, "name": members[member_id].name,
                    "venue": venues[members[member_id].venue_id].name, "version": row.version, "sha256": row.sha256,
                    "submitted_at": format_time(row.created_at),
                    "bids": [{"bid": bid, "items": items,
                              "subtotal": str(sum((Decimal(v) for v in items.values()), Decimal(0))),
                              **({"stated": stated[bid]} if bid in stated else {})}
                             for bid, items in sorted(row.content["scores"].items())]})
    return out


def _flags_and_corrections(s: Session, session_id: str, names: dict[str, str]
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The flags with the corrections that answered them, and the post-report corrections: both from the
    sheets' version history (old and new value of every item that changed)."""
    changes = [(b, bid, crit, old, new) for a, b in _history(s, session_id)
               for bid, crit, old, new in _diff(a.content, b.content)]
    flags = []
    for f in s.scalars(select(Flag).where(Flag.session_id == session_id, Flag.member_id.in_(list(names)))
                       .order_by(Flag.member_id, Flag.bid, Flag.kind, Flag.criterion)):
        fixes = [{"criterion": crit, "old": old, "new": new, "reason": b.reason, "at": format_time(b.created_at)}
                 for b, bid, crit, old, new in changes if b.cause == "flag" and b.member_id == f.member_id
                 and bid == f.bid]
        flags.append({**flag_view(f), "name": names[f.member_id], "corrections": fixes})
    corrections = [{"member_id": b.member_id, "name": names.get(b.member_id), "bid": bid, "criterion": crit,
                    "old": old, "new": new, "cause": b.cause, "reason": b.reason, "at": format_time(b.created_at)}
                   for b, bid, crit, old, new in changes if b.cause in POST_REPORT_CAUSES]
    return flags, corrections


def build_report(s: Session, session: EvalSession, *, version: int, generated_at: str) -> dict[str, Any]:
    """The JSON twin from the stored facts; lists in fixed orders, so the same facts give the same bytes."""
    r = results(s, session.id)
    members = evaluators(s, session.id)
    by_id = {m.id: m for m in members}
    names = {m.id: m.name for m in members}
    venues = {v.id: v for v in s.scalars(select(Venue).where(Venue.id.in_(participants(s, session))))}
    host = venues[session.host_venue_id]
    chair = s.get(Committee, session.id).chair_member_id
    flags, corrections = _flags_and_corrections(s, session.id, names)
    settlements = list(s.scalars(select(TieSettlement).where(TieSettlement.session_id == session.id)
                                 .order_by(TieSettlement.settled_at, TieSettlement.id)))
    dissent = {d.member_id: d for d in s.scalars(select(Dissent).where(Dissent.session_id == session.id))
               if d.member_id in by_id}
    return {
        "format": FORMAT, "version": version, "generated_at": generated_at, "rounding": ROUNDING,
        "aggregation": "trimmed_mean" if len(members) >= scoring.TRIM_FROM else "mean",
        "session": {"id": session.id, "code": session.code, "title": session.title,
                    "host_venue": {"id": host.id, "name": host.name, "region": s.get(Region, host.region_id).code},
                    "started_at": _t(session.started_at), "ended_at": _t(session.ended_at)},
        "project": _project(r.project),
        "committee": _committee(s, session, members, chair, venues),
        "review": {"bids": [{"bid": o.bid, "lot": bid.lot, "bidder": bid.bidder, "passed": o.passed,
                             "fail_votes": o.fail_votes, "reasons": [f"{names.get(m, m)}: {why}" for m, why in o.reasons]}
                            for o in r.review.values() if (bid := r.project.bid(o.bid)) is not None]},
        "sheets": _sheets(current_sheets(s, session.id, "detailed_review"), by_id, venues),
        "flags": flags,
        "price": _price(r),
        "results": [_lot_results(r, lot, settlements, names) for lot, _ in r.project.lots],
        "dissent": [{"member_id": m, "name": names[m], "text": d.text, "at": format_time(d.recorded_at)}
                    for m, d in sorted(dissent.items())],
        "corrections": corrections,
        "signatories": [{"member_id": m.id, "name": m.name, "venue": venues[m.venue_id].name,
                         "role": "chair" if m.id == chair else "member", "dissent": m.id in dissent}
                        for m in sorted(members, key=lambda m: (m.id != chair, m.venue_id != session.host_venue_id,
                                                                m.id))],  # 组长 first, then the host's
    }


def _price(r: Results) -> dict[str, Any] | None:
    if not r.prices:
        return None
    rule = r.project.price_rule
    return {"rule": rule.kind, "lots": [
        {"lot": lot, "benchmark": str(p.benchmark) if p.benchmark is not None else None,
         "scores": [{"bid": k, "price": str(r.project.bid(k).price), "score": str(v)} for k, v in p.scores.items()]}
        for lot, p in r.prices.items()]}


def _lot_results(r: Results, lot: str, settlements: list[TieSettlement], names: dict[str, str]) -> dict[str, Any]:
    rows = r.rows[lot]
    rejected = [b for b in r.project.bids_of(lot) if b.key in r.review and not r.review[b.key].passed]
    settled = {row.bid.key for row in rows if row.settled}
    return {
        "lot": lot,
        "ties": [{"order": t.decided_order, "reason": t.reason, "settled_by": names.get(t.settled_by),
                  "at": format_time(t.settled_at)}
                 for t in settlements if t.lot == lot and set(t.decided_order) <= settled],
        "rows": [{"bid": row.bid.key, "bidder": row.bid.bidder, "price": str(row.bid.price),
                  "totals": {m: str(v) for m, v in sorted(row.totals.items())}, "dropped": list(row.dropped),
                  **{("price_score" if k == "price" else k): str(v) for k, v in row.parts.items()},
                  "final": str(row.final), "rank": row.rank, "tie": row.tie, "settled": row.settled} for row in rows],
        "rejected": [{"bid": b.key, "bidder": b.bidder} for b in rejected],
        "candidates": [{"rank": row.rank, "bid": row.bid.key, "bidder": row.bid.bidder, "final": str(row.final),
                        "tie": row.tie} for row in scoring.candidates(r.project, rows)],
    }


@dataclass(frozen=True)
class Rendered:
    """A report merged and rendered from a read snapshot, ahead of the write transaction that records it.

    Rendering the PDF takes about a second; inside the write it would hold the session's lock that long, and on
    SQLite, whose writers take turns, every other session's writes too. :func:`produce` merges again inside
    the transaction (milliseconds) and uses this PDF only if the merge gives the same bytes as this one did, so
    the report always shows the facts as they were at the commit."""

    version: int
    generated_at: str
    json_bytes: bytes
    pdf: bytes


_renderer: ProcessPoolExecutor | None = None
_renderer_lock = threading.Lock()


def render_elsewhere(doc: dict[str, Any], font_file: Path | None) -> bytes:
    """:func:`render_report_pdf` in a worker process. Laying out a report is about a second of pure Python; in
    the coordinator's own process it would hold the interpreter lock that long, and every request and stream
    of every session would wait for it. One worker, started at first need (``spawn``: the coordinator has
    threads and open connections that a fork would copy), kept for the process's life."""
    global _renderer
    with _renderer_lock:
        if _renderer is None:
            _renderer = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        pool = _renderer
    try:
        return pool.submit(partial(render_report_pdf, doc, font_path=font_file)).result()
    except BrokenProcessPool:  # the worker died (killed, out of memory): the next call starts another
        with _renderer_lock:
            if _renderer is pool:
                _renderer = None
        raise


def merge_ahead(s: Session, session: EvalSession, now: datetime) -> dict[str, Any]:
    """The next version of the report's twin as the facts in ``s`` give it (the caller has checked that the
    report is due and that its caller may have it made); :func:`render_ahead` renders it."""
    version = (s.scalar(select(func.max(Report.version)).where(Report.session_id == session.id)) or 0) + 1
    return build_report(s, session, version=version, generated_at=format_time(now))


def render_ahead(doc: dict[str, Any], font_file: Path | None) -> Rendered:
    """``doc`` (from :func:`merge_ahead`) rendered in a worker process, for :func:`produce`."""
    return Rendered(doc["version"], doc["generated_at"], canonical_json(doc), render_elsewhere(doc, font_file))


def produce(tx: Tx, font_file: Path | None, session: EvalSession, actor: str, ahead: Rendered | None = None) -> Report:
    """Merge and render the next version of the report, and record its hashes. ``ahead``: the same report
    rendered before the transaction (:class:`Rendered`), used when nothing it was made from has changed."""
    version = (tx.session.scalar(select(func.max(Report.version)).where(Report.session_id == session.id)) or 0) + 1
    reuse = ahead is not None and ahead.version == version
    doc = build_report(tx.session, session, version=version,
                       generated_at=ahead.generated_at if reuse and ahead else format_time(tx.now()))
    json_bytes = canonical_json(doc)
    pdf = ahead.pdf if reuse and ahead and ahead.json_bytes == json_bytes else render_report_pdf(doc, font_path=font_file)
    row = Report(id=str(uuid.uuid4()), session_id=session.id, version=version, json_bytes=json_bytes,
                 json_sha256=sha256_hex(json_bytes), pdf_bytes=pdf, pdf_sha256=sha256_hex(pdf), created_at=tx.now())
    tx.session.add(row)
    tx.record(actor=actor, kind="report.produced", session_id=session.id,
              payload={"version": version, "json_sha256": row.json_sha256, "pdf_sha256": row.pdf_sha256,
                       "pdf_bytes": len(pdf)})
    return row


def correct_after_report(tx: Tx, settings: Settings, principal: Principal, session_id: str, member_id: str, bid: str,
                         criterion: str, value: str, cause: str, reason: str) -> ScoreSheet:
    """A score changed after the report, only for a cause the rules allow, by the host or the chair for the
    committee; a new sheet version and a new report version record it."""
    session = check_can_read_session(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                     session_id)
    check_mover(tx.session, principal, session)
    if cause not in POST_REPORT_CAUSES:
        raise ApiError(ErrorCode.CORRECTION_NOT_ALLOWED, f"after the report scores change only for "
                       f"{', '.join(POST_REPORT_CAUSES)} (87号令 Art. 64); not for {cause!r}")
    if tx.session.scalar(select(Report.id).where(Report.session_id == session_id).limit(1)) is None or \
            session.state not in (State.EVALUATING, State.ENDED):
        raise ApiError(ErrorCode.PHASE_CLOSED, "post-report corrections need a produced report")
    if member_id not in current_sheets(tx.session, session_id, "detailed_review"):
        raise NotFoundError("sheet of member", member_id)
    row = amend(tx, session, member_id, {bid: {criterion: value}}, {}, cause=cause, reason=reason,
                 actor=principal.actor)
    produce(tx, settings.report_font_file, session, principal.actor)
    return row


def get_report(store: Store, principal: Principal, session_id: str, version: int | None = None) -> Report:
    with store.read() as s:
        check_can_read_session(principal, s.get(EvalSession, session_id), session_id)
        q = select(Report).where(Report.session_id == session_id)
        q = q.where(Report.version == version) if version else q.order_by(Report.version.desc())
        row = s.scalars(q.limit(1)).first()
        if row is None:
            raise NotFoundError("report of session", session_id)
        s.expunge(row)
        return row
