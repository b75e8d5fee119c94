"""After the session, through the API on a real session: the experts' fee batch (hand-computed, CSV and XLSX read
back cell by cell), ratings and what a low one does to the record and to the next draw, and the publication of
the candidates with its objections, on a calendar with a weekend and a (made-up) holiday. Each bad input is
refused with its code and changes nothing.

The session: committee_world's host (济南, its region priced by table SD-2026) and guest (西安, table SX-2026), a
plan of 2 host experts (B01, D01), 2 guest experts (B01) and the tenderer's representative, on the Sunday after
T0 (timebase ``day(1)``; the Tuesday after, ``day(3)``, is made a holiday). Check-ins (Beijing time): the host's members 08:30, the first guest expert (by member id) 08:40, the second
10:40; the session ends at 14:40.

Fees by hand (SD-2026: 800.00 for 4 h, 100.00 per started hour over, travel 50.00, cap 1500.00; SX-2026: 700.00
for 4 h, 150.00 per started hour over, travel 80.00):

==========  =====  ===========================================  ================================  =======
expert      time   SD-2026                                      SX-2026                           paid
==========  =====  ===========================================  ================================  =======
host ×2     6:10   800 + 3 × 100 + 50 = 1150.00                 —                                 1150.00
guest A     6:00   800 + 2 × 100 + 50 = 1050.00                 700 + 2 × 150 + 80 = 1080.00      1080.00
guest B     4:00   800 + 50 = 850.00                            700 + 80 = 780.00                 850.00
==========  =====  ===========================================  ================================  =======

One batch (the host pays, ``fee_payer`` host): 1150.00 + 1150.00 + 1080.00 + 850.00 = 4230.00.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from committee_world import (
    HOST_AREA,
    CommitteeWorld,
    bearer,
    build,
    draw,
    events,
    host_only_plan,
    members,
    new_id_number,
    open_check_in,
    seat,
)
from conftest import SQLITE_ONLY, ok, refused, snapshot, unique_code
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from session_world import elect, import_project, move, review_all_pass, sheet, venues_online
from signing_world import seat_signers, setup_pki, sign_everything_and_seal, wait
from timebase import beijing, iso

from evalroom import cli
from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import SessionCreate
from evalroom.services import sessions, site_link, tlog
from evalroom.storage.models import Region

pytestmark = [pytest.mark.timeout(300), pytest.mark.dates]

# Made up for the test: the Tuesday after the session a holiday.
CALENDAR = f'holidays = ["{iso(3)}"]\n'
TABLES = (Path(__file__).parents[1] / "data" / "fee-tables.toml").read_text(encoding="utf-8")
"""SD-2026 and SX-2026 of the module docstring, for regions ``SD`` and ``SX`` (replaced by the world's codes)."""
API = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    (tmp_path / "calendar.toml").write_text(CALENDAR, encoding="utf-8")
    (tmp_path / "fees.toml").write_text("", encoding="utf-8")  # no tables yet: the first batch is refused
    # Heartbeats every 5 minutes, offline after an hour: the test lets hours pass in few steps (wait()).
    return load_settings(environ={}, overrides={
        "data_dir": tmp_path, "database_url": db_url, "environment": "development", "log_batch_seconds": 300,
        "work_calendar_file": str(tmp_path / "calendar.toml"), "fee_tables_file": str(tmp_path / "fees.toml"),
        "site_heartbeat_seconds": 300, "site_offline_after_seconds": 3600})


def until(w: CommitteeWorld, instant: datetime, *, heartbeats: bool = False) -> None:
    """Let time pass to ``instant`` exactly; with ``heartbeats`` (while the session runs), the venues' arriving
    meanwhile, so that no venue is taken for down. Then the housekeeping the app runs every few seconds is run
    here (silent venues swept offline, offers expired), so that its background pass finds nothing left to
    write between a check's "before" and "after"."""
    if heartbeats:
        wait(w, (instant - w.ctx.clock.now()).total_seconds() - 1)
    w.ctx.clock.advance(instant - w.ctx.clock.now())
    site_link.housekeep(w.ctx.store, w.ctx.settings)


def relogin(w: CommitteeWorld, member: dict[str, Any]) -> dict[str, str]:
    """A new login code from the operator of the member's venue, exchanged at the seat: fresh expert headers."""
    code = ok(w.client.post(f"{API}/committee/members/{member['member_id']}/login-code",
                            headers=w.op(member["venue_id"])))["login_code"]
    return bearer(ok(w.client.post(f"{API}/auth/expert-login", json={"code": code}))["access_token"])


def evaluate(w: CommitteeWorld) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """The session of the module docstring, sealed but not ended: (members by role, member id → headers)."""
    ok(w.client.put(w.url("/committee/plan"), headers=w.host_op(), json={
        "project_type": "works", "total": 5, "representatives": 1,
        "quotas": [{"venue": "host", "specialties": {"B01": 1, "D01": 1}},
                   {"venue": f"offer:{w.offer_id}", "specialties": {"B01": 2}}],
        "parties": {"tenderer": "某市交通局", "bidders": ["投标人甲公司", "投标人乙公司"]}}))
    import_project(w)
    number = new_id_number(HOST_AREA)
    w.id_numbers["招标人代表甲"] = number
    ok(w.client.post(w.url("/committee/representatives"), headers=w.host_op(),
                     json={"name": "招标人代表甲", "id_number": number}), 201)
    draw(w)
    open_check_in(w)  # 08:00
    drawn = members(w, "drawn")
    host = [m for m in drawn if m["venue_id"] == w.host_venue_id]
    guest_a, guest_b = sorted((m for m in drawn if m["venue_id"] == w.guest_venue_id), key=lambda m: m["member_id"])
    for instant, group in ((beijing(1, 8, 30), host), (beijing(1, 8, 40), [guest_a]), (beijing(1, 10, 40), [guest_b])):
        w.ctx.clock.advance(instant - w.ctx.clock.now())
        for m in group:
            seat(w, m)
    seated = {m["member_id"]: m for m in members(w, "seated")}
    experts = {mid: relogin(w, m) for mid, m in seated.items()}  # the 08:30 logins have expired by now
    venues_online(w)
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))
    elect(w, experts)
    move(w, "chair_election")
    review_all_pass(w, experts)
    move(w, "review")
    for h in experts.values():
        ok(w.client.post(w.url("/scores"), headers=h, json=sheet("15", "7")))
    for phase in ("detailed_review", "price_scoring", "summary", "recommendation"):
        move(w, phase)
    # Not sealed yet: no publication, and no fees while the session runs.
    before = snapshot(w.ctx)
    refused(w.client.post(w.url("/publication"), headers=w.host_op(), json={}), 409, "report_not_sealed")
    refused(w.client.post(w.url("/fee-batches"), headers=w.host_op()), 409, "conflict")
    refused(w.client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": guest_a["member_id"],
                                                                         "score": 90}), 409, "rating_closed")
    assert snapshot(w.ctx) == before
    sign_everything_and_seal(w, seat_signers(w, setup_pki(w), experts))
    people = {"guest_a": guest_a, "guest_b": guest_b,
              "host_b01": next(m for m in host if m["kind"] == "expert" and m["specialty"] != "D01"),
              "host_d01": next(m for m in host if m["specialty"] == "D01"),
              "representative": next(m for m in host if m["kind"] == "representative")}
    return people, experts


def fee_checks(w: CommitteeWorld, p: dict[str, dict[str, Any]], tmp_path: Path,
               capsys: pytest.CaptureFixture[str]) -> None:
    ctx = w.ctx
    with ctx.store.read() as s:
        codes = {r: s.get(Region, r).code for r in (w.host_region_id, w.guest_region_id)}
    before = snapshot(ctx)
    error = refused(w.client.post(w.url("/fee-batches"), headers=w.host_op()), 422, "unknown_fee_table")
    assert sorted(d["region"] for d in error["details"]) == sorted(codes.values())
    assert snapshot(ctx) == before
    Path(ctx.settings.fee_tables_file).write_text(
        TABLES.replace('region = "SD"', f'region = "{codes[w.host_region_id]}"')
        .replace('region = "SX"', f'region = "{codes[w.guest_region_id]}"'), encoding="utf-8")

    [batch] = ok(w.client.post(w.url("/fee-batches"), headers=w.host_op()), 201)
    doc = batch["document"]
    assert (doc["payer"]["venue_id"], doc["payer"]["role"], batch["version"]) == (w.host_venue_id, "host", 1)
    assert [t["code"] for t in doc["tables"]] == ["SD-2026", "SX-2026"]
    host_ids = sorted(p[k]["member_id"] for k in ("host_b01", "host_d01"))
    order = [*host_ids, p["guest_a"]["member_id"], p["guest_b"]["member_id"]]
    assert [line["member_id"] for line in doc["lines"]] == order  # the representative is not paid here
    expected = {  # member → (minutes, table, overtime hours, base, overtime, travel, amount, basis)
        host_ids[0]: (370, "SD-2026", 3, "800.00", "300.00", "50.00", "1150.00",
                      "时长 6 h 10 min: 基本费 800.00 (≤4 h) + 超时 3 h × 100.00 = 300.00 + 交通 50.00 = 1150.00; "
                      "主场表 SD-2026"),
        p["guest_a"]["member_id"]: (360, "SX-2026", 2, "700.00", "300.00", "80.00", "1080.00",
                                    "时长 6 h 00 min: 基本费 700.00 (≤4 h) + 超时 2 h × 150.00 = 300.00 + 交通 80.00 = "
                                    "1080.00; 就高: 副场表 SX-2026 1080.00 高于 主场表 SD-2026 1050.00"),
        p["guest_b"]["member_id"]: (240, "SD-2026", 0, "800.00", "0.00", "50.00", "850.00",
                                    "时长 4 h 00 min: 基本费 800.00 (≤4 h) + 交通 50.00 = 850.00; "
                                    "就高: 主场表 SD-2026 850.00 高于 副场表 SX-2026 780.00"),
    }
    expected[host_ids[1]] = expected[host_ids[0]]
    for line in doc["lines"]:
        assert (line["minutes"], line["table"], line["overtime_hours"], line["base_fee"], line["overtime_fee"],
                line["travel"], line["amount"], line["basis"]) == expected[line["member_id"]]
    assert doc["total"] == batch["total"] == "4230.00"

    # Issuing again changes nothing: the same figures are the same batch.
    before = snapshot(ctx)
    assert ok(w.client.post(w.url("/fee-batches"), headers=w.host_op()))[0]["id"] == batch["id"]
    assert snapshot(ctx) == before
    refused(w.client.get(f"{API}/fee-batches/{batch['id']}", headers=w.guest_op()), 404, "not_found")

    # CSV, cell by cell (local times; amounts as decimal text; a BOM for spreadsheet programs).
    resp = w.client.get(f"{API}/fee-batches/{batch['id']}", headers=w.admin(), params={"format": "csv"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    header = ["line", "name", "pool_code", "region", "venue", "checked_in_at", "ended_at", "minutes", "table",
              "base_fee", "overtime_hours", "overtime_fee", "travel", "amount", "basis"]
    names = {m["member_id"]: m["name"] for m in members(w)}
    venue_code = {line["member_id"]: line["venue"] for line in doc["lines"]}
    checked_in = {host_ids[0]: "08:30", host_ids[1]: "08:30", p["guest_a"]["member_id"]: "08:40",
                  p["guest_b"]["member_id"]: "10:40"}
    want = [header]
    for n, member in enumerate(order, 1):
        minutes, table, hours, base, over, travel, amount, basis = expected[member]
        region = codes[w.host_region_id] if member in host_ids else codes[w.guest_region_id]
        want.append([str(n), names[member], "", region, venue_code[member],
                     f"{iso(1)}T{checked_in[member]}:00+08:00", f"{iso(1)}T14:40:00+08:00", str(minutes), table,
                     base, str(hours), over, travel, amount, basis])
    assert rows == want

    # XLSX, read back: the same cells (amounts as numbers with two places) and the total row.
    resp = w.client.get(f"{API}/fee-batches/{batch['id']}", headers=w.host_op(), params={"format": "xlsx"})
    wb = load_workbook(io.BytesIO(resp.content))
    cells = [[c.value for c in r] for r in wb["lines"].iter_rows()]
    money = {header.index(k) for k in ("base_fee", "overtime_fee", "travel", "amount")}
    numbers = {header.index(k) for k in ("line", "minutes", "overtime_hours")}
    for got, row in zip(cells[1:5], want[1:], strict=True):
        assert [Decimal(str(v)).quantize(Decimal("0.01")) if i in money else str(v) if i in numbers else
                (v or "") for i, v in enumerate(got)] == [Decimal(v) if i in money else v for i, v in enumerate(row)]
    assert cells[0] == header and cells[5][header.index("name")] == "合计"
    assert Decimal(str(cells[5][header.index("amount")])) == Decimal("4230.00") and len(cells) == 6
    assert wb["lines"].cell(row=2, column=header.index("amount") + 1).number_format == "0.00"
    meta = dict(r for r in wb["batch"].iter_rows(values_only=True))
    assert meta["batch_id"] == batch["id"] and meta["sha256"] == batch["sha256"] and meta["total"] == 4230
    assert meta["table SX-2026"].startswith("陕西省评标专家劳务报酬标准（2026）")

    # The command line (in this process: a subprocess would cost seconds of imports) writes the same CSV.
    config = tmp_path / "evalroom.toml"
    config.write_text(f'database_url = "{ctx.settings.effective_database_url}"\nfee_tables_file = '
                      f'"{ctx.settings.fee_tables_file}"\nauto_migrate = false\n', encoding="utf-8")
    out = tmp_path / "fees.csv"
    assert cli.main(["fees", doc["session"]["code"], "--config", str(config), "--data", str(tmp_path),
                     "--out", str(out)]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert out.read_bytes() == w.client.get(f"{API}/fee-batches/{batch['id']}", headers=w.admin(),
                                            params={"format": "csv"}).content


def rating_checks(w: CommitteeWorld, p: dict[str, dict[str, Any]]) -> None:
    ctx = w.ctx
    a, d01 = p["guest_a"]["member_id"], p["host_d01"]["member_id"]
    expert_of = {m["member_id"]: m["expert_id"] for m in members(w)}
    tenderer = relogin(w, p["representative"])
    drawn_expert = relogin(w, p["guest_b"])
    ok(w.client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": a, "score": 85}), 201)
    ok(w.client.post(w.url("/ratings"), headers=tenderer, json={"member_id": a, "score": 90,
                                                                "comment": "评审认真"}), 201)
    low = ok(w.client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": d01, "score": 55,
                                                                         "comment": "多次离席"}), 201)
    assert low["credit_status"] == "suspended"

    before = snapshot(ctx)
    for body in ({"member_id": a, "score": 101}, {"member_id": a, "score": -1}):
        refused(w.client.post(w.url("/ratings"), headers=w.host_op(), json=body), 422, "validation_failed")
    refused(w.client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": a, "score": 70}), 409,
            "already_rated")
    refused(w.client.post(w.url("/ratings"), headers=tenderer, json={"member_id": a, "score": 70}), 409,
            "already_rated")
    refused(w.client.post(w.url("/ratings"), headers=drawn_expert, json={"member_id": a, "score": 70}), 403,
            "forbidden")  # a drawn expert does not rate their peers
    refused(w.client.post(w.url("/ratings"), headers=w.guest_op(), json={"member_id": a, "score": 70}), 404,
            "not_found")
    refused(w.client.post(w.url("/ratings"), headers=w.host_op(), json={
        "member_id": p["representative"]["member_id"], "score": 70}), 404, "not_found")
    assert snapshot(ctx) == before

    listing = ok(w.client.get(w.url("/ratings"), headers=w.supervisor()))
    assert (listing["due"], listing["open"]) == (iso(4), True)  # Monday, (Tuesday a holiday), Wednesday
    assert sorted((r["member_id"], r["rater"], r["score"]) for r in listing["ratings"]) == sorted(
        [(a, "host", 85), (a, "tenderer", 90), (d01, "host", 55)])
    record = ok(w.client.get(f"{API}/experts/{expert_of[a]}", headers=w.admin()))
    assert (record["rating_average"], record["credit_status"]) == ("87.50", "active")
    record = ok(w.client.get(f"{API}/experts/{expert_of[d01]}", headers=w.admin()))
    assert (record["credit_status"], record["rating_average"], len(record["ratings"])) == ("suspended", "55.00", 1)
    assert record["credit_reason"].startswith("rated 55 (below 60) by the host")
    updated = [e for e in ok(w.client.get(f"{API}/events", headers=w.admin(), params={"limit": 1000}))["events"]
               if e["kind"] == "expert.updated"]
    assert [(e["actor"], e["payload"]["credit_status"]) for e in updated] == [("system:coordinator", "suspended")]
    # Experts see that ratings were recorded, not what.
    seen = [e for e in events(w, drawn_expert) if e["kind"] == "rating.recorded"]
    assert len(seen) == 3 and all(e["redacted"] and e["payload"] == {} for e in seen)

    # The next draw leaves the suspended expert out, for that reason (another tenderer: no cooling period).
    host_op = Principal(role=Role.HALL_OPERATOR, subject="host-op", venue_id=w.host_venue_id)
    start = beijing(3, 9)
    with ctx.store.write() as tx:
        nxt = sessions.create_session(tx, host_op, SessionCreate(
            code=unique_code("S"), title="另一项目", scheduled_start=start, scheduled_end=start + timedelta(hours=8))).id
    plan = host_only_plan(total=5, quotas=[{"venue": "host", "specialties": {"B01": 3, "D01": 2}}])
    plan["parties"] = {"tenderer": "某县水利局", "bidders": ["投标人丙公司"]}
    ok(w.client.put(w.url("/committee/plan", nxt), headers=w.host_op(), json=plan))
    ok(w.client.post(w.url("/committee/draws", nxt), headers=w.host_op()))
    performed = next(
        e for e in ok(w.client.get(w.url("/events", nxt), headers=w.admin(), params={"limit": 1000}))["events"]
        if e["kind"] == "draw.performed")
    excluded = {x["expert_id"]: x["reasons"] for x in performed["payload"]["excluded"]}
    assert excluded[expert_of[d01]] == ["suspended"]
    drawn_ids = {m["expert_id"] for m in ok(w.client.get(w.url("/committee", nxt), headers=w.admin()))["members"]}
    assert expert_of[d01] not in drawn_ids and len(drawn_ids) == 5


def publication_checks(w: CommitteeWorld, p: dict[str, dict[str, Any]]) -> None:
    ctx, client = w.ctx, w.client
    until(w, beijing(5, 10))  # Thursday: ratings have closed, and the publication is a day late
    before = snapshot(ctx)
    refused(client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": p["guest_b"]["member_id"],
                                                                       "score": 80}), 409, "rating_closed")
    refused(client.post(w.url("/publication"), headers=w.host_op(), json={"days": 2}), 422, "validation_failed")
    assert snapshot(ctx) == before

    pub = ok(client.post(w.url("/publication"), headers=w.host_op(), json={}), 201)
    assert (pub["received_on"], pub["publish_by"], pub["overdue"]) == (iso(1), iso(4), True)
    assert pub["window"] == {"days": 3, "from": iso(5), "to": iso(9)}  # Fri, Sat, Sun → Monday
    assert (pub["state"], pub["objections"], pub["paused"]) == ("open", {"received": 0, "unanswered": 0}, False)
    [lot] = pub["lots"]
    report = ok(client.get(w.url("/report"), headers=w.admin()))
    candidates = report["results"][0]["candidates"]
    assert [(c["rank"], c["bidder"], c["bidder_name"], c["final"]) for c in lot["candidates"]] == [
        (c["rank"], c["bidder"], {"B1": "投标人甲公司", "B2": "投标人乙公司", "B3": "投标人丙公司"}[c["bidder"]], c["final"])
        for c in candidates]
    # Same scores from everyone: the lowest price (B2, 9,650,000) takes all 30 price points: 15 + 7 + 5 + 30.
    assert (lot["candidates"][0]["bidder"], lot["candidates"][0]["final"], lot["candidates"][0]["price"]) == (
        "B2", "57.00", "9650000.00")
    before = snapshot(ctx)
    refused(client.post(w.url("/publication"), headers=w.host_op(), json={}), 409, "conflict")
    assert snapshot(ctx) == before

    # Public: the API and the page, without a token.
    assert ok(client.get(f"{API}/publications/{pub['publication_id']}")) == pub
    assert [x["publication_id"] for x in ok(client.get(f"{API}/publications"))] == [pub["publication_id"]]
    assert ok(client.get(f"{API}/publications", params={"session_id": pub["session"]["id"]})) == [pub]
    assert ok(client.get(f"{API}/publications", params={"session_id": "another"})) == []
    page = client.get("/publications")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert "投标人乙公司" in page.text and iso(9) in page.text and "晚于规定期限" in page.text

    # Objections: within the window, answered within 3 days (Thursday + 3 = Sunday → Monday); the procurement
    # is paused until then.
    url = f"{API}/publications/{pub['publication_id']}/objections"
    before = snapshot(ctx)
    refused(client.post(url, headers=w.admin(), json={"objector": "x", "text": "x"}), 403, "forbidden")
    refused(client.post(url, headers=w.guest_op(), json={"objector": "x", "text": "x"}), 404, "not_found")
    assert snapshot(ctx) == before
    first = ok(client.post(url, headers=w.host_op(), json={"objector": "投标人丙公司", "text": "对评分有异议"}), 201)
    assert (first["late"], first["answer_by"], first["overdue"]) == (False, iso(9), False)
    assert ok(client.get(f"{API}/publications/{pub['publication_id']}"))["paused"] is True
    answered = ok(client.post(f"{url}/{first['id']}/answer", headers=w.host_op(), json={"text": "经复核，评分无误。"}))
    assert answered["answer"] == "经复核，评分无误。"
    before = snapshot(ctx)
    refused(client.post(f"{url}/{first['id']}/answer", headers=w.host_op(), json={"text": "x"}), 409, "conflict")
    assert snapshot(ctx) == before
    until(w, beijing(10, 0))  # Tuesday, 00:00: the window closed at the end of Monday
    late = ok(client.post(url, headers=w.host_op(), json={"objector": "投标人甲公司", "text": "公示期后提出"}), 201)
    assert (late["late"], late["received_on"], late["answer_by"]) == (True, iso(10), iso(13))
    public = ok(client.get(f"{API}/publications/{pub['publication_id']}"))
    assert (public["state"], public["objections"], public["paused"]) == ("closed", {"received": 2, "unanswered": 1},
                                                                         True)
    assert [o["id"] for o in ok(client.get(url, headers=w.supervisor()))] == [first["id"], late["id"]]

    # The transparency log: the publication's payload is public; an objection's is not.
    tlog.append_pending(ctx.store, client.app.state.log_key)  # type: ignore[attr-defined]
    size = int(client.get(f"{API}/log/checkpoint").text.split("\n")[1])
    leaves = [json.loads(base64.b64decode(x["data"])) for x in ok(client.get(
        f"{API}/log/leaves", params={"start": 0, "end": min(size, 1000)}))]
    published = [x for x in leaves if x["kind"] == "publication.published"]
    assert len(published) == 1 and published[0]["payload"]["lots"] == pub["lots"]
    assert all("payload" not in x for x in leaves if x["kind"].startswith("publication.objection"))


@SQLITE_ONLY
def test_after_the_session_fees_ratings_and_publication(ctx: AppContext, client: TestClient, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """On the embedded default only: the walk to a sealed report costs seconds of signing, and what this test is
    about is the rules; every table it writes is written on PostgreSQL too by the role matrix's calls."""
    w = build(ctx, client, plan=False)
    people, _experts = evaluate(w)
    until(w, beijing(1, 14, 40), heartbeats=True)
    ok(client.post(w.url("/state"), headers=w.host_op(), json={"action": "end"}))
    fee_checks(w, people, tmp_path, capsys)
    rating_checks(w, people)
    publication_checks(w, people)


@SQLITE_ONLY
def test_nothing_to_rate_price_or_publish_in_a_session_that_is_not_there(ctx: AppContext, client: TestClient,
                                                                           world: Any) -> None:
    """Scope: another venue's operator, a supervisor of another session, an unknown publication or batch."""
    before = snapshot(ctx)
    other = {"Authorization": "Bearer " + ctx.tokens.issue(Principal(
        role=Role.HALL_OPERATOR, subject="x", venue_id=world.other_venue_id)).token}
    url = f"{API}/sessions/{world.session_id}"
    refused(client.post(f"{url}/publication", headers=other, json={}), 404, "not_found")
    refused(client.post(f"{url}/fee-batches", headers=other), 404, "not_found")
    refused(client.get(f"{url}/ratings", headers=other), 404, "not_found")
    refused(client.get(f"{API}/publications/nope"), 404, "not_found")
    refused(client.get(f"{API}/fee-batches/nope", headers=other), 404, "not_found")
    refused(client.get(f"{API}/fee-batches/nope", headers=other, params={"format": "pdf"}), 422, "validation_failed")
    assert snapshot(ctx) == before
