"""A session as it stands after its end, written straight into storage, for tests whose subject is not how a
session gets there: the role matrix (who may call the routes of publication, fees and ratings).

Walking a real session to its sealed report costs seconds of signing per call (tests/integration/
test_after_session.py does it, once per database, and is where the rules are tested); the matrix makes a world
per route. So :func:`seed_ended` writes the facts those routes read — the session ended, its members seated with
their check-in time, a report version with its seal record — through the models, in one transaction. The report
is the smallest twin the publication and the expert's page read (session, project, bidders, lots, candidates,
dissent); its PDF and seal are placeholders that nothing here verifies. The tenderer's representative rates the
experts on the expert's page over this world too (tests/e2e/test_expert_rating.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from evalroom.api.context import AppContext
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import SessionCreate
from evalroom.services import sessions
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, Region, Report, SignatureRecord, Venue
from signing.canonical import canonical_json, sha256_hex

FEE_TABLE = '''\
[[tables]]
code = "T-2026"
region = "{region}"
name = "测试劳务报酬标准"
base_fee = "800.00"
base_hours = 4
extra_per_hour = "100.00"
travel = "50.00"
'''


@dataclass
class Seeded:
    session_id: str
    experts: list[str]
    """Member ids of the seated experts."""
    representative: str
    """Member id of the tenderer's representative."""

    def representative_principal(self) -> Principal:
        return Principal(role=Role.EXPERT, subject=self.representative, session_id=self.session_id, seat="A-05")


def _twin(session: EvalSession) -> bytes:
    return canonical_json({
        "format": "evalroom-report-v1", "version": 1, "dissent": [],
        "session": {"id": session.id, "code": session.code, "title": session.title},
        "project": {"code": "SEED-1", "name": "种子项目", "tenderer": "某招标人", "method": "comprehensive",
                    "bidders": [{"code": "B1", "name": "投标人甲公司"}, {"code": "B2", "name": "投标人乙公司"}],
                    "lots": [{"code": "L1", "name": "第一标段"}]},
        "results": [{"lot": "L1", "rows": [{"bid": "L1/B1", "price": "100.00"}, {"bid": "L1/B2", "price": "90.00"}],
                     "candidates": [{"rank": 1, "bid": "L1/B2", "bidder": "B2", "final": "90.00", "tie": False},
                                    {"rank": 2, "bid": "L1/B1", "bidder": "B1", "final": "80.00", "tie": False}]}]})


def seed_ended(ctx: AppContext, host_venue_id: str, session_id: str | None = None) -> Seeded:
    """``session_id`` (or a new session at the host venue) ended an hour ago after 5 hours, with every expert of
    the host region's pool seated and a representative, and its report sealed. The fee tables file (if set)
    gets a table for the host's region."""
    now = ctx.clock.now()
    with ctx.store.write() as tx:
        if session_id is None:
            start = now + timedelta(days=2)
            session_id = sessions.create_session(tx, Principal(role=Role.COORDINATOR_ADMIN, subject="seed"),
                                                 SessionCreate(code=f"S-{uuid.uuid4().hex[:8].upper()}", title="种子",
                                                               host_venue_id=host_venue_id, scheduled_start=start,
                                                               scheduled_end=start + timedelta(hours=8))).id
            tx.session.flush()
        session = tx.session.get(EvalSession, session_id)
        session.state, session.phase = "ended", "report_signing"
        session.started_at, session.ended_at, session.end_reason = now - timedelta(hours=5), now - timedelta(hours=1), \
            "completed"
        region_id = tx.session.get(Venue, host_venue_id).region_id
        region = tx.session.get(Region, region_id).code
        experts = list(tx.session.scalars(select(Expert).where(Expert.region_id == region_id).order_by(Expert.id)))

        def member(kind: str, expert: Expert | None, name: str) -> str:
            m = CommitteeMember(id=str(uuid.uuid4()), session_id=session_id, kind=kind,
                                expert_id=expert and expert.id, venue_id=host_venue_id, name=name,
                                id_number_hash=uuid.uuid4().hex, state="seated", checked_in_at=now - timedelta(hours=6),
                                created_at=now, updated_at=now)
            tx.session.add(m)
            return m.id

        members = [member("expert", e, e.name) for e in experts]
        representative = member("representative", None, "招标人代表")
        twin, pdf = _twin(session), b"%PDF-1.7 seeded"
        report = Report(id=str(uuid.uuid4()), session_id=session_id, version=1, json_bytes=twin,
                        json_sha256=sha256_hex(twin), pdf_bytes=pdf, pdf_sha256=sha256_hex(pdf), created_at=now)
        tx.session.add(report)
        tx.session.flush()
        tx.session.add(SignatureRecord(
            id=str(uuid.uuid4()), session_id=session_id, member_id=None, document_kind="seal", document_ref=report.id,
            document_sha256=sha256_hex(pdf), revision=1, content=pdf, content_sha256=sha256_hex(pdf), signer="seed",
            certificate_sha256="0" * 64, verification={}, created_at=now - timedelta(minutes=30)))
    if ctx.settings.fee_tables_file is not None:
        ctx.settings.fee_tables_file.write_text(FEE_TABLE.format(region=region), encoding="utf-8")
    return Seeded(session_id=session_id, experts=members, representative=representative)

