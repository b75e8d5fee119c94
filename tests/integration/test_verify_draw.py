"""``evalroom verify-draw``: recomputes draws from the log (database or export) and catches alterations.

The committee is drawn through the real services on the embedded SQLite database the command reads. The
alterations are those an insider with database access could make: editing a draw's picks (which also breaks
the event chain), and rewriting the chain from that event on so that every hash is consistent again — the
recomputation still catches it, because the seed was committed before the pool was read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import T0
from sqlalchemy import text

from evalroom.api.context import AppContext, build_context
from evalroom.cli import main
from evalroom.clock import ManualClock
from evalroom.config import load_settings
from evalroom.domain.events import GENESIS_HASH, Event
from evalroom.domain.identity import id_number_with_check
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import CommitteePlanSet, PlanParties, PlanQuota, RegionCreate, SessionCreate, VenueCreate
from evalroom.services import committee, experts, registry, sessions
from evalroom.storage.store import read_events

ADMIN = Principal(role=Role.COORDINATOR_ADMIN, subject="test")


@pytest.fixture
def drawn(tmp_path: Path) -> Iterator[tuple[Path, AppContext]]:
    """A data directory whose database holds one performed and one failed draw."""
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path, "environment": "development"})
    ctx = build_context(settings, ManualClock(T0))
    with ctx.store.write() as tx:
        region = registry.create_region(tx, "t", RegionCreate(code="SD", name="山东省"))
        venue = registry.create_venue(tx, "t", VenueCreate(code="JN", name="济南", city="济南", region_id=region.id))
        start = T0 + timedelta(days=1)

        def session(code: str) -> str:
            return sessions.create_session(tx, ADMIN, SessionCreate(
                code=code, title="某工程", host_venue_id=venue.id, scheduled_start=start,
                scheduled_end=start + timedelta(hours=4))).id

        ok, short = session("S-OK"), session("S-SHORT")
        rows = [{"name": f"专家{i}", "id_number": id_number_with_check(f"37010219700101{i:03d}"),
                 "employer": f"单位{i}", "specialties": ["B0101"]} for i in range(12)]
        experts.import_experts(tx, ctx.sealer, ctx.committee.tree, "t", region.id,
                               json.dumps(rows, ensure_ascii=False).encode(), "json")
        for sid, n in ((ok, 5), (short, 13)):
            committee.set_plan(tx, ctx.committee, ADMIN, sid, CommitteePlanSet(
                project_type="works", total=n, quotas=[PlanQuota(venue="host", specialties={"B01": n})],
                parties=PlanParties(tenderer="某市交通局", bidders=["甲公司"])))
    committee.request_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings, ADMIN, ok)
    with pytest.raises(Exception, match="pool too small"):
        committee.request_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings, ADMIN, short)
    yield tmp_path, ctx
    ctx.close()


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["verify-draw", *args])
    return code, capsys.readouterr().out


def _export(ctx: AppContext, path: Path) -> list[dict]:
    with ctx.store.read() as s:
        events = [ev.as_dict() for ev in read_events(s, limit=100_000)]
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return events


def test_every_draw_checks_out_from_the_database(drawn, capsys) -> None:
    data, _ = drawn
    code, out = _run(capsys, "--data", str(data))
    assert code == 0, out
    assert "event chain in the database: intact" in out
    assert "5 pick(s) recomputed from the revealed seed" in out
    assert "logged as failed, and it fails again when recomputed" in out
    assert "MISMATCH" not in out


def test_an_export_checks_out_offline(drawn, capsys, tmp_path) -> None:
    _, ctx = drawn
    _export(ctx, tmp_path / "events.jsonl")
    code, out = _run(capsys, "--events", str(tmp_path / "events.jsonl"))
    assert code == 0, out
    assert out.count(": ok: ") == 2


def _swap_a_pick(events: list[dict]) -> dict:
    ev = next(e for e in events if e["kind"] == "draw.performed")
    picked = {p["expert_id"] for p in ev["payload"]["picks"]}
    ev["payload"]["picks"][0]["expert_id"] = next(p["expert_id"] for p in ev["payload"]["pool"]
                                                  if p["expert_id"] not in picked)
    return ev


def test_a_pick_edited_in_the_database_is_detected(drawn, capsys) -> None:
    data, ctx = drawn
    with ctx.store.read() as s:
        events = [ev.as_dict() for ev in read_events(s, limit=100_000)]
    ev = _swap_a_pick(events)
    with ctx.engine.begin() as conn:  # an insider who removes the append-only guard first
        conn.execute(text("DROP TRIGGER events_no_update"))
        conn.execute(text("UPDATE events SET payload = :p WHERE seq = :s"),
                     {"p": json.dumps(ev["payload"], ensure_ascii=False), "s": ev["seq"]})
    code, out = _run(capsys, "--data", str(data))
    assert code == 1
    assert "BROKEN" in out
    assert "MISMATCH: the logged picks differ from the recomputed ones" in out


def test_a_consistently_rewritten_export_is_still_detected(drawn, capsys, tmp_path) -> None:
    _, ctx = drawn
    events = _export(ctx, tmp_path / "events.jsonl")
    _swap_a_pick(events)
    heads: dict[str, str] = {}
    for e in events:  # recompute every hash of every chain so that the chains themselves verify again
        e["prev_hash"] = heads.get(e["chain"], GENESIS_HASH)
        e["hash"] = heads[e["chain"]] = Event(**{**e, "hash": ""}).computed_hash()
    (tmp_path / "rewritten.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events),
                                              encoding="utf-8")
    code, out = _run(capsys, "--events", str(tmp_path / "rewritten.jsonl"))
    assert code == 1
    assert "intact" in out  # the chain alone cannot tell
    assert "MISMATCH: the logged picks differ from the recomputed ones" in out


def test_a_seed_that_does_not_match_its_commitment_is_detected(drawn, capsys, tmp_path) -> None:
    _, ctx = drawn
    events = _export(ctx, tmp_path / "events.jsonl")
    reveal = next(e for e in events if e["kind"] == "draw.revealed")
    reveal["payload"]["seed"] = "00" * 32
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events),
                                        encoding="utf-8")
    code, out = _run(capsys, "--events", str(tmp_path / "bad.jsonl"))
    assert code == 1
    assert "does not match the commitment" in out


def test_one_draw_by_id_and_an_unknown_one(drawn, capsys) -> None:
    data, ctx = drawn
    with ctx.store.read() as s:
        first = next(ev for ev in read_events(s, limit=1000) if ev.kind == "draw.committed").payload["draw_id"]
    code, out = _run(capsys, "--data", str(data), first)
    assert code == 0 and out.count("draw ") == 1 and first in out
    code, out = _run(capsys, "--data", str(data), "no-such-draw")
    assert code == 1 and "no event of this draw is logged" in out
