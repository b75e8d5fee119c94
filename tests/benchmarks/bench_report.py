"""How long merging a large committee's sheets into the report takes: 9 members × 20 bidders × 40 criteria.

    .venv/bin/python tests/benchmarks/bench_report.py [--repeat 5]

Seeds an embedded SQLite database with a session in the report-signing phase: the project (one lot, 20 bids,
40 criteria with maxima, the average-benchmark price rule), 9 seated members (stored as tenderer
representatives so that no expert pool is needed; the merge treats every seated member alike) and their
review and detailed-review sheets (7,200 scores). Then times, median of ``--repeat``:

- checks: the four automatic checks over the 9 sheets (``domain.scoring.check_sheets``);
- merge: ``services.report.build_report`` (results, aggregation, history, flags) and its canonical JSON bytes;
- pdf: ``report_pdf.render_report_pdf`` of that twin (font subsetting included).

Prints a Markdown table for docs/benchmarks.md. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timebase import T0  # noqa: E402

from evalroom.api.context import build_context  # noqa: E402
from evalroom.clock import ManualClock  # noqa: E402
from evalroom.config import load_settings  # noqa: E402
from evalroom.domain import scoring  # noqa: E402
from evalroom.domain.identity import id_number_with_check  # noqa: E402
from evalroom.domain.project import parse_project  # noqa: E402
from evalroom.domain.roles import Principal, Role  # noqa: E402
from evalroom.report_pdf import render_report_pdf  # noqa: E402
from evalroom.schemas import RegionCreate, SessionCreate, VenueCreate  # noqa: E402
from evalroom.services import registry, report, sessions, sheets  # noqa: E402
from evalroom.storage.models import Committee, CommitteeMember, EvalSession, ProjectRecord, ScoreSheet  # noqa: E402
from signing.canonical import canonical_json, sha256_hex  # noqa: E402

NOW = T0
MEMBERS, BIDDERS, CRITERIA = 9, 20, 40


def project_doc() -> dict:
    half = CRITERIA // 2
    return {
        "format": "evalroom-project-v1", "code": "BENCH-1", "name": "基准测试项目", "kind": "works", "tenderer": "某单位",
        "method": "comprehensive",
        "bidders": [{"code": f"B{i:02d}", "name": f"投标人{i:02d}有限公司"} for i in range(1, BIDDERS + 1)],
        "lots": [{"code": "L1", "name": "一标段", "bids": [{"bidder": f"B{i:02d}", "price": f"{9_000_000 + i * 37_000}.00"}
                                                      for i in range(1, BIDDERS + 1)]}],
        "criteria": [
            {"code": "T", "name": "技术部分", "part": "technical", "children": [
                {"code": f"T{i:02d}", "name": f"技术评分项{i:02d}", "max": "2", "objective": i % 10 == 0}
                for i in range(1, half + 1)]},
            {"code": "C", "name": "商务部分", "part": "commercial", "children": [
                {"code": f"C{i:02d}", "name": f"商务评分项{i:02d}", "max": "1", "objective": i % 5 == 0}
                for i in range(1, half + 1)]}],
        "price_rule": {"kind": "average_benchmark", "points": "30", "coefficient": "0.95", "drop_extremes_from": 5,
                       "deduct_above": "1", "deduct_below": "0.5"},
        "candidates": 3,
    }


def seed(ctx) -> str:  # type: ignore[no-untyped-def]
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="bench")
    doc = project_doc()
    project = parse_project(doc)
    rng = random.Random(7)
    with ctx.store.write() as tx:
        region = registry.create_region(tx, "bench", RegionCreate(code="R1", name="山东省"))
        venue = registry.create_venue(tx, "bench", VenueCreate(code="V1", name="济南市公共资源交易中心", city="济南",
                                                                region_id=region.id))
        session = sessions.create_session(tx, admin, SessionCreate(
            code="S1", title="基准", host_venue_id=venue.id, scheduled_start=NOW + timedelta(hours=1),
            scheduled_end=NOW + timedelta(hours=9)))
        session.state, session.phase, session.started_at = "evaluating", "report_signing", NOW
        tx.session.flush()
        members = []
        for i in range(MEMBERS):
            m = CommitteeMember(id=str(uuid.UUID(int=i + 1)), session_id=session.id, kind="representative",
                                venue_id=venue.id, name=f"评委{i + 1}", state="seated",
                                id_number_hash=sha256_hex(id_number_with_check(f"37010219600615{i:03d}").encode()),
                                created_at=NOW, updated_at=NOW)
            tx.session.add(m)
            members.append(m)
        tx.session.flush()
        tx.session.add(Committee(session_id=session.id, plan={"total": MEMBERS}, parties={}, version=1,
                                 chair_member_id=members[0].id, created_at=NOW, updated_at=NOW))
        tx.session.add(ProjectRecord(session_id=session.id, code=project.code, name=project.name, document=doc,
                                     sha256=sha256_hex(canonical_json(doc)), imported_by="bench", imported_at=NOW))
        tx.session.flush()
        for m in members:
            review = {"marks": {b.key: {"passed": True, "reason": ""} for b in project.bids}}
            # Subjective items vary between members; objective ones (facts in the bid) do not.
            scores = {"scores": {b.key: {c.code: str(c.max if c.objective else scoring.round2(
                c.max * rng.randint(50, 100) / 100)) for c in project.criteria} for b in project.bids}, "stated": {}}
            for phase, body in (("review", review), ("detailed_review", scores)):
                content = {"format": "evalroom-sheet-v1", "session_id": session.id, "member_id": m.id,
                           "phase": phase, "version": 1, "nonce": uuid.uuid4().hex, **body}
                tx.session.add(ScoreSheet(id=str(uuid.uuid4()), session_id=session.id, member_id=m.id, phase=phase,
                                          version=1, content=content, sha256=sha256_hex(canonical_json(content)),
                                          cause="submitted", actor="bench", created_at=NOW))
        return session.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, overrides={"data_dir": Path(tmp), "environment": "development"})
        ctx = build_context(settings, ManualClock(NOW))
        session_id = seed(ctx)
        timings: dict[str, list[float]] = {"checks": [], "merge": [], "pdf": []}
        sizes = {}
        for _ in range(args.repeat):
            with ctx.store.read() as s:
                project = sheets.load_project(s, session_id)
                rows = sheets.current_sheets(s, session_id, "detailed_review")
                t0 = time.perf_counter()
                findings = scoring.check_sheets(project, [b.key for b in project.bids],
                                                [sheets._sheet(r) for _, r in sorted(rows.items())])
                t1 = time.perf_counter()
                doc = report.build_report(s, s.get(EvalSession, session_id), version=1,
                                          generated_at=f"{NOW:%Y-%m-%dT%H:%M:%SZ}")
                twin = canonical_json(doc)
                t2 = time.perf_counter()
            pdf = render_report_pdf(doc)
            t3 = time.perf_counter()
            timings["checks"].append(t1 - t0)
            timings["merge"].append(t2 - t1)
            timings["pdf"].append(t3 - t2)
            sizes = {"json": len(twin), "pdf": len(pdf), "findings": len(findings)}
        ctx.close()
    print(f"{MEMBERS} members × {BIDDERS} bidders × {CRITERIA} criteria ({MEMBERS * BIDDERS * CRITERIA} scores); "
          f"{sizes['findings']} findings; JSON {sizes['json'] / 1024:.0f} KiB, PDF {sizes['pdf'] / 1024:.0f} KiB; "
          f"median of {args.repeat}\n")
    print("| step | median | min |")
    print("|---|---:|---:|")
    for step, values in timings.items():
        print(f"| {step} | {statistics.median(values) * 1000:.0f} ms | {min(values) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
