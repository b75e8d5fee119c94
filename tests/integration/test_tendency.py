"""The scoring-tendency report through the database: a real session scored, corrected, signed and ended through
the API, then analysed by the route (JSON, CSV, plots) and by ``evalroom tendency``.

One session cannot show a tendency (the 500-session property is shown on the domain core, tests/unit/
test_tendency.py); it shows that the adapter reads the right sessions, sheets and people. By hand, members
m0..m4 by id (m0 the chair), T1 0-20 and T2 0-10 subjective, C1 0-5 objective, bids B1..B3 of 甲, 乙, 丙:

- m0..m3 score T1 15, T2 7, C1 5 on every bid; m4 the same but T1 19 on B1, and first C1 3 on B1, corrected
  to 5 when the objective-mismatch flag is raised.
- m4: B1's T1 stands 4 above the others' median 15 (d = 4/20 = 0.2, not *above* the 0.2 threshold);
  D(B1) = 4/30, D(B2) = D(B3) = 0; the session's mean 4/90; contrast for B1 4/30, for B2 −(4/30)/2;
  mean |d| over 6 subjective scores 0.2/6. Objective: 0 of 3 mismatches in the final sheets, 1 of 3 as
  submitted. Everyone else deviates by 0.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from committee_world import CommitteeWorld, build
from conftest import ok, refused, run_evalroom, snapshot
from PIL import Image
from session_world import move, sheet, to_detailed_review
from signing_world import seat_signers, setup_pki, sign_everything_and_seal

from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.domain.workdays import local_date
from evalroom.services import tendency
from evalroom.storage.models import CommitteeMember, EvalSession, Expert
from evalroom.tendency_report import CSV_COLUMNS

pytestmark = [pytest.mark.timeout(300), pytest.mark.dates]
API = "/api/v1/analysis/tendency"


@pytest.fixture
def ended(ctx, client) -> tuple[CommitteeWorld, list[str], date]:  # type: ignore[no-untyped-def]
    """The session of the module docstring, ended: (world, member ids by id, the local date it ended)."""
    w = build(ctx, client)
    experts, chair = to_detailed_review(w)
    m = sorted(experts)
    for member in m[:4]:
        ok(w.client.post(w.url("/scores"), headers=experts[member], json=sheet("15", "7")))
    off = sheet("15", "7")
    off["scores"]["L1/B1"] = {"T1": "19", "T2": "7", "C1": "3"}
    ok(w.client.post(w.url("/scores"), headers=experts[m[4]], json=off))
    ok(w.client.post(w.url("/scores/corrections"), headers=experts[m[4]],
                     json={"scores": {"L1/B1": {"C1": "5"}}, "reason": "核对资质证书原件后更正"}))
    for flag in ok(w.client.get(w.url("/flags"), headers=w.admin())):
        ok(w.client.post(w.url(f"/flags/{flag['id']}/confirm"), headers=experts[chair]))
    for phase in ("detailed_review", "price_scoring", "summary", "recommendation"):
        move(w, phase)
    sign_everything_and_seal(w, seat_signers(w, setup_pki(w), experts))
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "end"}))
    with ctx.store.read() as s:
        day = local_date(s.get(EvalSession, w.session_id).ended_at, ctx.settings.local_timezone)
    return w, m, day


def test_the_report_reads_ended_sessions_in_scope_and_computes_by_hand(ended, ctx, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w, m, day = ended
    with ctx.store.read() as s:
        experts = {mid: s.get(Expert, s.get(CommitteeMember, mid).expert_id) for mid in m}
    off = experts[m[4]]
    period = {"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()}

    # JSON, as the session's supervisor: every expert of the committee, m4's figures by hand.
    report = ok(w.client.get(API, headers=w.supervisor(), params=period))
    assert (report["format"], report["sessions"], report["basis"]) == ("evalroom-tendency-v1", 1, "final")
    by = {e["expert_id"]: e for e in report["experts"]}
    assert set(by) == {e.id for e in experts.values()}
    e4 = by[off.id]
    assert (e4["name"], e4["code"], e4["sessions"], e4["scores"], e4["items"]) == (off.name, off.code, 1, 9, 6)
    assert e4["mean_deviation"] == pytest.approx(4 / 90, abs=1e-6)
    assert e4["mean_abs_deviation"] == pytest.approx(0.2 / 6, abs=1e-6)
    assert (e4["exceed_rate"], e4["objective_items"], e4["objective_mismatches"], e4["flags"]) == (0, 3, 0, [])
    assert all(e["mean_deviation"] == 0 for e in report["experts"] if e["expert_id"] != off.id)
    pairs = {(p["expert_id"], p["bidder_name"]): p for p in report["pairs"]}
    assert pairs[(off.id, "投标人甲公司")]["contrast"] == pytest.approx(4 / 30, abs=1e-6)
    assert pairs[(off.id, "投标人乙公司")]["contrast"] == pytest.approx(-2 / 30, abs=1e-6)
    assert pairs[(off.id, "投标人甲公司")]["q"] is None  # one session tests nothing

    # As first submitted, m4's C1 on B1 was off.
    submitted = ok(w.client.get(API, headers=w.admin(), params={**period, "basis": "submitted"}))
    assert next(e for e in submitted["experts"] if e["expert_id"] == off.id)["objective_mismatches"] == 1

    # CSV: the same figures, one row per expert and per expert × bidder.
    resp = w.client.get(API, headers=w.admin(), params={**period, "format": "csv"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["level"] for r in rows] == ["expert"] * 5 + ["bidder"] * 15
    row = next(r for r in rows if r["level"] == "expert" and r["expert_id"] == off.id)
    assert (row["expert_name"], row["mean_deviation"], row["objective_mismatches"]) == (off.name, "0.0444", "0")
    pair = next(r for r in rows if r["level"] == "bidder" and r["expert_id"] == off.id and r["bidder_name"] == "投标人甲公司")
    assert (pair["sessions"], pair["contrast"], pair["q"]) == ("1", "0.1333", "")

    # Plots: the SVG names the experts, the PNG opens at its size.
    svg = w.client.get(f"{API}/plots/deviation.svg", headers=w.supervisor(), params=period)
    assert svg.headers["content-type"].startswith("image/svg+xml") and off.name in svg.text
    png = w.client.get(f"{API}/plots/favour.png", headers=w.supervisor(), params=period)
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG" and image.size[0] == 1000 and image.size[1] >= 400

    # One computation serves the page's requests for a period (report, plots, CSV) in the same scope; any write
    # (here an expert's availability) is a new event, so a new computation.
    def analysed(principal: Principal) -> Any:
        return tendency.analyse_period(ctx.store, principal, day, day + timedelta(days=1),
                                       tz=ctx.settings.local_timezone)

    first = analysed(Principal(role=Role.COORDINATOR_ADMIN, subject="a"))
    assert analysed(Principal(role=Role.COORDINATOR_ADMIN, subject="b")) is first
    assert analysed(Principal(role=Role.SUPERVISOR, subject="s", supervised={w.session_id: SupervisorLevel.PRIMARY})
                    ) is not first
    ok(w.client.patch(f"/api/v1/experts/{off.id}", headers=w.admin(), json={
        "reason": "出差", "unavailable": [{"from": (day + timedelta(days=44)).isoformat(),
                                           "to": (day + timedelta(days=45)).isoformat()}]}))
    again = analysed(Principal(role=Role.COORDINATOR_ADMIN, subject="a"))
    assert again is not first and again.report == first.report

    # Out of the period, or out of the supervisor's sessions: nothing.
    later = {"from": (day + timedelta(days=1)).isoformat(), "to": (day + timedelta(days=30)).isoformat()}
    assert ok(w.client.get(API, headers=w.admin(), params=later))["sessions"] == 0
    stranger = w.headers(Principal(role=Role.SUPERVISOR, subject="other",
                                   supervised={"no-such-session": SupervisorLevel.PRIMARY}))
    assert ok(w.client.get(API, headers=stranger, params=period))["experts"] == []

    # Bad input: a clear error, nothing changed.
    before = snapshot(ctx)
    refused(w.client.get(API, headers=w.admin(), params={"from": period["to"], "to": period["from"]}), 422,
            "invalid_input")
    refused(w.client.get(API, headers=w.admin(), params={**period, "format": "xml"}), 422, "validation_failed")
    refused(w.client.get(API, headers=w.admin(), params={**period, "basis": "draft"}), 422, "validation_failed")
    refused(w.client.get(f"{API}/plots/deviation.gif", headers=w.admin(), params=period), 422, "validation_failed")
    refused(w.client.get(API, headers=w.admin(), params={"from": "2026-13-01", "to": period["to"]}), 422,
            "validation_failed")
    assert snapshot(ctx) == before

    # The command writes the same report for the coordinator admin (once: on PostgreSQL it reads through the
    # same service, which the route just did).
    if not ctx.settings.effective_database_url.startswith("sqlite"):
        return
    env = {"EVALROOM_DATABASE_URL": ctx.settings.effective_database_url}
    out = tmp_path / "tendency"
    done = run_evalroom("tendency", "--data", str(tmp_path), "--from", period["from"], "--to", period["to"],
                        "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "1 sessions, 5 experts, 0 flagged" in done.stdout
    assert (out / "report.csv").read_bytes() == resp.content
    assert {p.name for p in out.iterdir()} == {"report.csv", "report.json", "deviation.svg", "deviation.png",
                                              "favour.svg", "favour.png"}
    bad = run_evalroom("tendency", "--data", str(tmp_path), "--from", period["to"], "--to", period["from"],
                       "--out", str(tmp_path / "bad"), env=env)
    assert bad.returncode == 2 and "must be before" in bad.stderr and not (tmp_path / "bad").exists()
