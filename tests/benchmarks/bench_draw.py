"""How long an expert draw takes as the pool grows: the pure function, and the whole draw on SQLite.

    .venv/bin/python tests/benchmarks/bench_draw.py [--pools 500,2000,10000] [--repeat 5]

- function: ``evalroom.domain.draw.draw`` for a 9-member committee (two venues, three specialties) over a
  pool where every expert qualifies for one or two of the specialties; median of ``--repeat`` seeds;
- service: ``request_draws`` on the embedded SQLite database (synchronous=FULL) with the pool imported: the
  three transactions (commit, screen + draw + members, reveal), the avoidance screening of every expert and
  the ``draw.performed`` event that logs the whole eligible pool; one draw per pool size.

Prints a Markdown table for docs/benchmarks.md. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timebase import T0  # noqa: E402

from evalroom.api.context import build_context  # noqa: E402
from evalroom.clock import ManualClock  # noqa: E402
from evalroom.config import load_settings  # noqa: E402
from evalroom.domain.committee_rules import Quota  # noqa: E402
from evalroom.domain.draw import PoolEntry, draw, slots_for  # noqa: E402
from evalroom.domain.identity import id_number_with_check  # noqa: E402
from evalroom.domain.roles import Principal, Role  # noqa: E402
from evalroom.schemas import CommitteePlanSet, PlanParties, PlanQuota, RegionCreate, SessionCreate, VenueCreate  # noqa: E402
from evalroom.services import committee, experts, registry, sessions  # noqa: E402

SPECIALTIES = ("A0202", "D01", "C01")
QUOTAS = {"host": {"A02": 3, "D01": 2, "C01": 1}, "guest": {"A02": 2, "D01": 1}}
NOW = T0


def function_ms(size: int, repeat: int) -> float:
    regions = ("r-host", "r-guest")
    codes = ("A02", "D01", "C01")
    pool = [PoolEntry(f"e{i:06d}", regions[i % 2], frozenset({codes[i % 3], codes[(i * 7 + 1) % 3]}))
            for i in range(size)]
    slots = slots_for([Quota("v-host", "r-host", "host", QUOTAS["host"]),
                       Quota("v-guest", "r-guest", "guest", QUOTAS["guest"])])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        draw(secrets.token_bytes(32), pool, slots)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def service_ms(size: int, tmp: Path) -> float:
    ctx = build_context(load_settings(environ={}, overrides={"data_dir": tmp, "environment": "development"}),
                        ManualClock(NOW))
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="bench")
    with ctx.store.write() as tx:
        region = registry.create_region(tx, "bench", RegionCreate(code="SD", name="山东省"))
        venue = registry.create_venue(tx, "bench", VenueCreate(code="JN", name="济南", city="济南", region_id=region.id))
        start = NOW + timedelta(days=1)
        sid = sessions.create_session(tx, admin, SessionCreate(code="S-1", title="t", host_venue_id=venue.id,
                                                               scheduled_start=start,
                                                               scheduled_end=start + timedelta(hours=4))).id
    rows = [{"name": f"专家{i}", "id_number": id_number_with_check(
                 f"370102{date(1950, 1, 1) + timedelta(days=i // 10):%Y%m%d}{i % 1000:03d}"),
             "employer": f"单位{i % 400}", "specialties": [SPECIALTIES[i % 3]]} for i in range(size)]
    with ctx.store.write() as tx:
        experts.import_experts(tx, ctx.sealer, ctx.committee.tree, "bench", region.id,
                               json.dumps(rows, ensure_ascii=False).encode(), "json")
        committee.set_plan(tx, ctx.committee, admin, sid, CommitteePlanSet(
            project_type="procurement", total=9, quotas=[PlanQuota(venue="host", specialties={"A02": 4, "D01": 3,
                                                                                              "C01": 2})],
            parties=PlanParties(tenderer="单位7", bidders=["单位1", "单位2"])))
    t = time.perf_counter()
    committee.request_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings, admin, sid)
    elapsed = (time.perf_counter() - t) * 1000
    ctx.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pools", default="500,2000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| pool size | draw function, 9 slots (ms, median) | whole draw on SQLite (ms) |")
    print("|---|---|---|")
    for size in (int(x) for x in args.pools.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"| {size} | {function_ms(size, args.repeat):.1f} | {service_ms(size, Path(tmp)):.0f} |", flush=True)


if __name__ == "__main__":
    main()
