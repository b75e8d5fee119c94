"""How long the scoring-tendency report of a period takes, for 500 and 5,000 ended sessions.

    .venv/bin/python tests/benchmarks/bench_tendency.py [--sessions 500 5000] [--repeat 3]

For each size, a history from tests/tendency_world.py (40 experts, 30 bidders, committees of 5-9, 6-10
subjective and 1-3 objective items, 3-8 bidders, planted experts) is stored in an embedded SQLite database as
the coordinator stores ended sessions (sessions, projects, committee members behind pool experts, one
detailed-review sheet per member; written directly, not timed), then timed, median of ``--repeat``:

- analyse: ``domain.tendency.analyse`` over the sessions in memory;
- read: ``services.tendency.read_sessions``, the period's sessions, projects, members and sheets from the
  database into the domain's values;
- report: ``analyse_period`` (read + analyse), what ``GET /analysis/tendency`` does before answering;
- CSV: ``render_csv``; plots: the four plots (deviation and favour, SVG and PNG).

Prints a Markdown table for docs/benchmarks.md, and whether the planted experts were the flagged ones. Not a
test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tendency_world import START, Planted, history  # noqa: E402

from evalroom.api.context import build_context  # noqa: E402
from evalroom.clock import ManualClock  # noqa: E402
from evalroom.config import load_settings  # noqa: E402
from evalroom.domain.roles import Principal, Role  # noqa: E402
from evalroom.domain.tendency import ScoredSession, analyse  # noqa: E402
from evalroom.schemas import RegionCreate, VenueCreate  # noqa: E402
from evalroom.services import registry  # noqa: E402
from evalroom.services.tendency import analyse_period, read_sessions  # noqa: E402
from evalroom.storage.models import CommitteeMember, EvalSession, Expert, ProjectRecord, ScoreSheet  # noqa: E402
from evalroom.tendency_report import PLOTS, render_csv, render_plot  # noqa: E402
from signing.canonical import canonical_json, sha256_hex  # noqa: E402

NOW = datetime.combine(START - timedelta(days=4), clock_time(0), tzinfo=UTC)
"""The coordinator's clock and the records' creation time: four days before the history's first session
(tendency_world.START, about a year before timebase.T0), as records are made before their sessions end."""
TZ = "Asia/Shanghai"
ADMIN = Principal(role=Role.COORDINATOR_ADMIN, subject="bench")


def _amount(x: float) -> str:
    return f"{x:.2f}"


def project_doc(s: ScoredSession) -> dict[str, Any]:
    """The project file a generated session stands for: its bidders, lots and criteria."""
    lots: dict[str, list[str]] = {}
    for key in s.bidders:
        lot, bidder = key.split("/")
        lots.setdefault(lot, []).append(bidder)
    firms = sorted({b for bs in lots.values() for b in bs})
    parts = {"technical": [c for c in s.criteria if not c.objective], "commercial": [c for c in s.criteria if c.objective]}
    return {
        "format": "evalroom-project-v1", "code": s.session_id, "name": "基准项目", "kind": "works", "tenderer": "某单位",
        "method": "comprehensive", "bidders": [{"code": f, "name": f"{f}建设有限公司"} for f in firms],
        "lots": [{"code": lot, "name": lot, "bids": [{"bidder": b, "price": "1000000.00"} for b in bs]}
                 for lot, bs in lots.items()],
        "criteria": [{"code": part[0].upper(), "name": part, "part": part, "children": [
            {"code": c.code, "name": c.code, "max": _amount(c.high), "objective": c.objective} for c in items]}
            for part, items in parts.items() if items],
        "price_rule": {"kind": "lowest_benchmark", "points": "30"},
    }


def seed(ctx: Any, sessions: list[ScoredSession]) -> tuple[date, date]:
    """Store the sessions as ended ones; returns the local period that holds them all."""
    with ctx.store.write() as tx:
        region = registry.create_region(tx, "bench", RegionCreate(code="SD", name="山东省"))
        venue = registry.create_venue(tx, "bench", VenueCreate(code="JN", name="济南市公共资源交易中心", city="济南",
                                                                region_id=region.id)).id
        experts = sorted({ev.expert for s in sessions for ev in s.evaluators if ev.expert})
        ids = {e: str(uuid.uuid5(uuid.NAMESPACE_URL, e)) for e in experts}
        hashes = {e: sha256_hex(e.encode()) for e in experts}
        tx.session.add_all(Expert(id=ids[e], region_id=region.id, code=f"SD-{e}", name=f"专家{e[1:]}",
                                  id_number_hash=hashes[e], id_number_sealed="x", id_number_masked="x", employer="某院",
                                  specialties=["B01"], credit_status="active", punished=False, ties=[], unavailable=[],
                                  created_at=NOW, updated_at=NOW) for e in experts)
        tx.session.flush()
    for i in range(0, len(sessions), 500):  # one transaction per 500 sessions
        with ctx.store.write() as tx:
            for s in sessions[i:i + 500]:
                ended = datetime.combine(s.held_on, clock_time(2), tzinfo=UTC)
                tx.session.add(EvalSession(id=s.session_id, code=s.session_id, title="基准", host_venue_id=venue,
                                           state="ended", scheduled_start=ended - timedelta(hours=6),
                                           scheduled_end=ended, created_at=NOW, updated_at=ended,
                                           ended_at=ended, end_reason="completed", phase="report_signing"))
                tx.session.flush()
                doc = project_doc(s)
                tx.session.add(ProjectRecord(session_id=s.session_id, code=s.session_id, name="基准项目", document=doc,
                                             sha256=sha256_hex(canonical_json(doc)), imported_by="bench",
                                             imported_at=NOW))
                for ev in s.evaluators:
                    tx.session.add(CommitteeMember(
                        id=ev.member, session_id=s.session_id, kind="expert" if ev.expert else "representative",
                        expert_id=ids[ev.expert] if ev.expert else None, venue_id=venue, name="评委", state="seated",
                        id_number_hash=hashes[ev.expert] if ev.expert else sha256_hex(ev.member.encode()),
                        created_at=NOW, updated_at=NOW))
                tx.session.flush()
                for ev in s.evaluators:
                    content = {"format": "evalroom-sheet-v1", "session_id": s.session_id, "member_id": ev.member,
                               "phase": "detailed_review", "version": 1, "nonce": "0" * 32, "stated": {},
                               "scores": {b: {c: _amount(v) for c, v in items.items()}
                                          for b, items in s.scores[ev.member].items()}}
                    tx.session.add(ScoreSheet(id=str(uuid.uuid4()), session_id=s.session_id, member_id=ev.member,
                                              phase="detailed_review", version=1, content=content,
                                              sha256=sha256_hex(canonical_json(content)), cause="submitted",
                                              actor="bench", created_at=ended))
    return min(s.held_on for s in sessions), max(s.held_on for s in sessions) + timedelta(days=1)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    values, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        values.append(time.perf_counter() - t0)
    return statistics.median(values), result


def planted_found(report: Any, planted: Planted, experts: dict[str, str], bidders: dict[str, str]) -> bool:
    """The flagged experts are the planted ones, with the right bidder (names mapped back to the generator's)."""
    flagged = {experts.get(e.expert, e.expert): {(f.kind, bidders.get(f.bidder, f.bidder) if f.bidder else None)
                                                 for f in e.flags} for e in report.flagged}
    return flagged == {planted.favouring: {("favour", planted.favoured)},
                       planted.mismatching: {("objective_mismatch", None)}, planted.erratic: {("erratic", None)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for n in args.sessions:
        sessions, planted = history(7, sessions=n)
        scores = sum(len(items) for s in sessions for bids in s.scores.values() for items in bids.values())
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(environ={}, overrides={"data_dir": Path(tmp), "environment": "development"})
            ctx = build_context(settings, ManualClock(NOW))
            start, end = seed(ctx, sessions)
            t_analyse, report = timed(lambda: analyse(sessions), args.repeat)  # noqa: B023 - called at once

            def read(ctx: Any = ctx, start: date = start, end: date = end) -> Any:
                with ctx.store.read() as s:
                    return read_sessions(s, ADMIN, start, end, "final", TZ)

            t_read, (stored, _, _) = timed(read, args.repeat)
            t_report, analysis = timed(lambda: analyse_period(ctx.store, ADMIN, start, end, tz=TZ),  # noqa: B023
                                       args.repeat)
            t_csv, csv_bytes = timed(lambda: render_csv(analysis), args.repeat)  # noqa: B023
            t_plots, _ = timed(lambda: [render_plot(analysis, p, f) for p in PLOTS  # noqa: B023
                                        for f in ("svg", "png")], args.repeat)
            ctx.close()
        assert len(stored) == n
        experts = {eid: label.code.removeprefix("SD-") for eid, label in analysis.experts.items() if label.code}
        bidders = {key: name.removesuffix("建设有限公司") for key, name in analysis.bidders.items()}
        rows.append((n, scores, t_analyse, t_read, t_report, t_csv, t_plots, len(csv_bytes),
                     planted_found(report, planted, {}, {})
                     and planted_found(analysis.report, planted, experts, bidders)))
    print(f"median of {args.repeat}; {datetime.now(UTC):%Y-%m-%d}\n")
    print("| sessions | scores | analyse | read (SQLite) | report (read + analyse) | CSV | 4 plots | CSV size "
          "| planted found |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n, scores, a, r, rep, c, p, size, found in rows:
        print(f"| {n:,} | {scores:,} | {a:.2f} s | {r:.2f} s | {rep:.2f} s | {c * 1000:.0f} ms | {p:.2f} s "
              f"| {size / 1024:.0f} KiB | {'yes' if found else 'NO'} |")


if __name__ == "__main__":
    main()
