"""The experts' fee batches of an ended session, and their CSV and XLSX exports (rules: domain/fees.py).

**Issuing** (``POST /sessions/{id}/fee-batches``, ``evalroom fees``; the host's operators or the admin): the
session's experts — members of kind ``expert`` seated when it ended — are priced from their recorded check-in
and the session's end under the fee tables the file holds now, grouped by paying venue (``fee_payer``). Each
batch is stored with the tables it used, so a later change of the tables never changes a batch already paid;
issuing again makes a new version only when the figures changed (``fees.batch_issued``, a session event whose
content experts do not see). A region without a table refuses the whole request (``unknown_fee_table``) and
stores nothing.

**Reading** a batch (``GET /fee-batches/{id}``): the admin, the host's operators, and the operators of the
paying venue; as JSON, CSV (UTF-8 with a byte-order mark, so that spreadsheet programs read the Chinese
text) or XLSX (openpyxl). Every line carries its ``basis``: the amount explained as a person checks it.
Columns: docs/formats.md "Expert fee batches".
"""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from evalroom.clock import format_time, parse_time
from evalroom.config import Settings
from evalroom.domain.fees import ROUNDING, ExpertTime, FeeLine, FeePayer, batches
from evalroom.domain.members import MemberKind, MemberState
from evalroom.domain.roles import Principal, Role
from evalroom.domain.session_states import State
from evalroom.errors import ConflictError, NotFoundError
from evalroom.services.access import check_host_or_admin
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, FeeBatch, Region, Venue
from evalroom.storage.store import Store, Tx
from signing.canonical import canonical_json, sha256_hex

__all__ = ["COLUMNS", "FORMAT", "batch_csv", "batch_view", "batch_xlsx", "get_batch", "issue", "list_batches"]

FORMAT = "evalroom-fee-batch-v1"
COLUMNS = ("line", "name", "pool_code", "region", "venue", "checked_in_at", "ended_at", "minutes", "table",
           "base_fee", "overtime_hours", "overtime_fee", "travel", "amount", "basis")
"""The columns of the CSV and of the XLSX sheet ``lines``, in order."""
MONEY = frozenset({"base_fee", "overtime_fee", "travel", "amount"})
RULE = {"time": "from the expert's check-in to the session's end, whole minutes",
        "overtime": "per started hour beyond the table's base hours", "higher": "就高不就低: the higher of the "
        "expert's own region's table and the host region's table; equal amounts: their own",
        "rounding": ROUNDING}


def _times(s: Session, session: EvalSession) -> tuple[list[ExpertTime], str]:
    """The session's experts as priced (seated when it ended), and the host region's code."""
    codes = {r.id: r.code for r in s.scalars(select(Region))}
    host_region = codes[s.get(Venue, session.host_venue_id).region_id]
    q = (select(CommitteeMember, Expert).join(Expert, Expert.id == CommitteeMember.expert_id)
         .where(CommitteeMember.session_id == session.id, CommitteeMember.kind == MemberKind.EXPERT.value,
                CommitteeMember.state == MemberState.SEATED.value).order_by(CommitteeMember.id))
    return [ExpertTime(member_id=m.id, expert_id=e.id, name=e.name, pool_code=e.code, region=codes[e.region_id],
                       venue_id=m.venue_id, checked_in_at=m.checked_in_at, ended_at=session.ended_at)
            for m, e in s.execute(q)], host_region


def _line(n: int, line: FeeLine, venues: dict[str, Venue]) -> dict[str, Any]:
    fee, t = line.fee, line.expert
    return {"line": n, "member_id": t.member_id, "expert_id": t.expert_id, "name": t.name, "pool_code": t.pool_code,
            "region": t.region, "venue": venues[t.venue_id].code, "checked_in_at": format_time(t.checked_in_at),
            "ended_at": format_time(t.ended_at), "minutes": fee.minutes, "table": fee.table.code,
            "base_fee": str(fee.base), "base_hours": fee.table.base_hours, "overtime_hours": fee.overtime_hours,
            "overtime_fee": str(fee.overtime_paid), "capped": fee.capped, "travel": str(fee.travel),
            "amount": str(fee.amount), "basis": line.basis}


def _document(session: EvalSession, payer: Venue, lines: list[FeeLine], venues: dict[str, Venue],
              rule: FeePayer) -> dict[str, Any]:
    tables = {line.fee.table.code: line.fee.table for line in lines}
    tables.update({line.other.table.code: line.other.table for line in lines if line.other is not None})
    return {"format": FORMAT,
            "session": {"id": session.id, "code": session.code, "title": session.title,
                        "ended_at": format_time(session.ended_at)},
            "payer": {"venue_id": payer.id, "code": payer.code, "name": payer.name,
                      "role": "host" if payer.id == session.host_venue_id else "guest"},
            "rule": {"payer": rule.value, **RULE},
            "tables": [tables[c].as_dict() for c in sorted(tables)],
            "lines": [_line(n, line, venues) for n, line in enumerate(lines, 1)],
            "total": str(sum((line.fee.amount for line in lines), Decimal("0.00")))}


def batch_view(row: FeeBatch) -> dict[str, Any]:
    return {"id": row.id, "session_id": row.session_id, "payer_venue_id": row.payer_venue_id,
            "version": row.version, "total": row.total, "sha256": row.sha256, "created_by": row.created_by,
            "created_at": format_time(row.created_at), "document": row.content}


def issue(tx: Tx, settings: Settings, principal: Principal, session_id: str) -> tuple[list[dict[str, Any]], int]:
    """Price the session's experts and store a batch per paying venue where the figures are new: (the
    newest batch of each payer, how many were new)."""
    session = check_host_or_admin(principal, tx.session.get(EvalSession, session_id, with_for_update=True),
                                  session_id)
    if session.state not in (State.ENDED.value, State.ARCHIVED.value) or session.ended_at is None:
        raise ConflictError(f"fees are computed once the session has ended (it is {session.state})")
    times, host_region = _times(tx.session, session)
    rule = FeePayer(settings.fee_payer)
    grouped = batches(times, settings.fee_tables(), host_region=host_region, host_venue_id=session.host_venue_id,
                      payer=rule)
    venues = {v.id: v for v in tx.session.scalars(select(Venue).where(
        Venue.id.in_({t.venue_id for t in times} | {session.host_venue_id})))}
    out, created = [], 0
    for payer_id, lines in grouped.items():
        content = _document(session, venues[payer_id], lines, venues, rule)
        digest = sha256_hex(canonical_json(content))
        newest = tx.session.scalars(select(FeeBatch).where(FeeBatch.session_id == session.id,
                                                           FeeBatch.payer_venue_id == payer_id)
                                    .order_by(FeeBatch.version.desc()).limit(1)).first()
        if newest is not None and newest.sha256 == digest:
            out.append(batch_view(newest))
            continue
        row = FeeBatch(id=str(uuid.uuid4()), session_id=session.id, payer_venue_id=payer_id,
                       version=(newest.version if newest else 0) + 1, content=content, total=content["total"],
                       sha256=digest, created_by=principal.actor, created_at=tx.now())
        tx.session.add(row)
        tx.record(actor=principal.actor, kind="fees.batch_issued", session_id=session.id, payload={
            "batch_id": row.id, "payer_venue_id": payer_id, "version": row.version, "lines": len(lines),
            "total": row.total, "sha256": digest, "tables": [t["code"] for t in content["tables"]]})
        out.append(batch_view(row))
        created += 1
    return out, created


def list_batches(store: Store, principal: Principal, session_id: str) -> list[dict[str, Any]]:
    """The newest batch of each paying venue of the session."""
    with store.read() as s:
        session = check_host_or_admin(principal, s.get(EvalSession, session_id), session_id)
        newest = (select(FeeBatch.payer_venue_id, func.max(FeeBatch.version).label("v"))
                  .where(FeeBatch.session_id == session.id).group_by(FeeBatch.payer_venue_id).subquery())
        rows = s.scalars(select(FeeBatch).join(newest, (FeeBatch.payer_venue_id == newest.c.payer_venue_id)
                                               & (FeeBatch.version == newest.c.v))
                         .where(FeeBatch.session_id == session.id)
                         .order_by(FeeBatch.payer_venue_id != session.host_venue_id, FeeBatch.payer_venue_id))
        return [batch_view(r) for r in rows]


def get_batch(store: Store, principal: Principal, batch_id: str) -> FeeBatch:
    """One batch version: for the admin, the host's operators and the paying venue's operators (404 else)."""
    with store.read() as s:
        row = s.get(FeeBatch, batch_id)
        session = row and s.get(EvalSession, row.session_id)
        allowed = row is not None and (principal.role is Role.COORDINATOR_ADMIN or (
            principal.role is Role.HALL_OPERATOR and principal.venue_id in (session.host_venue_id,
                                                                            row.payer_venue_id)))
        if not allowed:
            raise NotFoundError("fee batch", batch_id)
        s.expunge(row)
        return row


def _local(text: str, settings: Settings) -> str:
    return parse_time(text).astimezone(settings.zone).isoformat()


def _cells(line: dict[str, Any], settings: Settings) -> list[Any]:
    row = {**line, "checked_in_at": _local(line["checked_in_at"], settings),
           "ended_at": _local(line["ended_at"], settings), "pool_code": line["pool_code"] or ""}
    return [row[c] for c in COLUMNS]


def batch_csv(row: FeeBatch, settings: Settings) -> bytes:
    """The batch's lines as CSV (header row of :data:`COLUMNS`; times local; amounts as decimal text)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for line in row.content["lines"]:
        w.writerow(_cells(line, settings))
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def batch_xlsx(row: FeeBatch, settings: Settings) -> bytes:
    """The batch as a workbook: sheet ``lines`` (the CSV's columns, amounts as numbers with two places, and a
    total row) and sheet ``batch`` (what the batch is: session, payer, rule, tables, total, hash)."""
    from openpyxl import Workbook  # imported here: only exports need it

    doc = row.content
    wb = Workbook()
    sheet = wb.active
    sheet.title = "lines"
    sheet.append(list(COLUMNS))
    for line in doc["lines"]:
        sheet.append([Decimal(v) if c in MONEY else v for c, v in zip(COLUMNS, _cells(line, settings), strict=True)])
    total = [None] * len(COLUMNS)
    total[COLUMNS.index("name")], total[COLUMNS.index("amount")] = "合计", Decimal(doc["total"])
    sheet.append(total)
    for col in MONEY:
        letter = sheet.cell(row=1, column=COLUMNS.index(col) + 1).column_letter
        for cell in sheet[letter][1:]:
            cell.number_format = "0.00"
    meta = wb.create_sheet("batch")
    rows: list[tuple[str, Any]] = [
        ("format", doc["format"]), ("batch_id", row.id), ("version", row.version),
        ("session", f"{doc['session']['code']} {doc['session']['title']}"),
        ("ended_at", _local(doc["session"]["ended_at"], settings)),
        ("payer", f"{doc['payer']['code']} {doc['payer']['name']} ({doc['payer']['role']})"),
        *((f"rule.{k}", v) for k, v in doc["rule"].items()),
        *((f"table {t['code']}", f"{t['name']} ({t['region']}): 基本费 {t['base_fee']} ≤{t['base_hours']} h, "
           f"超时 {t['extra_per_hour']}/h, 交通 {t['travel']}, 封顶 {t['cap'] or '—'}") for t in doc["tables"]),
        ("total", Decimal(doc["total"])), ("sha256", row.sha256), ("created_at", _local(format_time(row.created_at),
                                                                                          settings)),
    ]
    for r in rows:
        meta.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
