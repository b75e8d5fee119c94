"""``evalroom demo``: a remote evaluation on the embedded default, driven through the real API.

The demo starts a real coordinator (uvicorn, SQLite under OUT) and then plays the people of a remote
evaluation against it over HTTP and the websocket, as their clients would: the coordinator admin registers
the regions and venues (济南 as host, 西安 as guest), their site-agent keys and staff; each venue's site agent
(a real ``evalroom site-agent`` process) connects and reports its rooms and seats; the host operator creates
the session, the supervisors follow its events live, the host asks for guest seats, the coordinator draws
the guest venue blind, and the guest's site agent confirms the offer by itself. Each later capability extends the script, so that in the end the demo
runs a whole remote evaluation by itself.

``--exit`` stops after the script and writes ``OUT/summary.json`` listing what was produced, by kind.
Without it the coordinator keeps serving, so a person can log in with the printed credentials.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from websockets.sync.client import connect as ws_connect

from evalroom import __version__
from evalroom.api.app import create_app
from evalroom.api.context import build_context
from evalroom.config import load_settings
from evalroom.domain.draw_audit import audit_draws
from evalroom.domain.events import Event
from evalroom.domain.identity import id_number_with_check
from evalroom.domain.recording import media_lines
from evalroom.errors import ConfigError
from evalroom.evidence.export import export_session
from evalroom.evidence.verify import verify_bundle
from evalroom.schemas import AccountCreate
from evalroom.services import tlog
from evalroom.services.accounts import create_account
from evalroom.services.media import reconcile
from evalroom.services.trust import export_bundle
from evalroom.signing_client import SeatSigner, TotpDevice
from evalroom.storage.store import read_events, verify_stored_chain
from media.manifest import read_manifest, verify_manifest
from signing.declared import generate
from signing.tokens import SoftKeyStore
from signing.trust import load_bundle
from signing.verify import verify_file

__all__ = ["run_demo"]

MARKER = ".evalroom-demo"
AGENT_SEATS = 4
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass
class DemoRun:
    base: str
    out: Path
    passwords: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def say(self, text: str) -> None:
        print(f"  · {text}", flush=True)


def _prepare_out(out: Path) -> None:
    """Use OUT afresh. Only a directory the demo made itself (it holds the marker) is ever emptied."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ConfigError(f"{out} is not empty and was not made by the demo; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by evalroom demo; emptied at the next run\n", encoding="utf-8")


def _password() -> str:
    return secrets.token_urlsafe(12)


def _check(resp: httpx.Response, expected: int = 200) -> Any:
    if resp.status_code != expected:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path} answered {resp.status_code}: {resp.text}")
    return resp.json() if resp.content else None


def _login(client: httpx.Client, run: DemoRun, username: str) -> dict[str, str]:
    body = _check(client.post("/api/v1/auth/login", json={"username": username, "password": run.passwords[username]}))
    return {"Authorization": f"Bearer {body['access_token']}"}


def _script(client: httpx.Client, run: DemoRun) -> None:
    admin = _login(client, run, "admin")
    run.say("coordinator admin logged in")

    sd = _check(client.post("/api/v1/regions", headers=admin, json={
        "code": "SD", "name": "山东省", "ca_name": "山东CA"}), 201)
    sn = _check(client.post("/api/v1/regions", headers=admin, json={
        "code": "SN", "name": "陕西省", "ca_name": "陕西CA"}), 201)
    host = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "JN-GGZY", "name": "济南市公共资源交易中心", "city": "济南", "region_id": sd["id"]}), 201)
    guest = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "XA-GGZY", "name": "西安市公共资源交易中心", "city": "西安", "region_id": sn["id"]}), 201)
    run.say(f"registered host venue {host['name']} and guest venue {guest['name']}")
    _import_pools(client, run, admin, sd, sn)
    for venue in (host, guest):
        run.agents.append(_start_agent(client, run, admin, venue))
    _wait(lambda: all(_check(client.get(f"/api/v1/venues/{v['id']}", headers=admin))["online"] for v in (host, guest))
          and all(_usable_seats(client, admin, v) == AGENT_SEATS for v in (host, guest)),
          "both site agents online with their rooms reported")
    run.say(f"site agents of both venues connected and reported {AGENT_SEATS} working seats each")

    staff = [("jn-operator", "济南 场地工作人员", "hall-operator", host["id"]),
             ("xa-operator", "西安 场地工作人员", "hall-operator", guest["id"]),
             ("sd-supervisor", "山东 行政监督", "supervisor", None),
             ("sn-supervisor", "陕西 行政监督", "supervisor", None)]
    accounts = {}
    for username, name, role, venue in staff:
        run.passwords[username] = _password()
        accounts[username] = _check(client.post("/api/v1/accounts", headers=admin, json={
            "username": username, "display_name": name, "role": role, "venue_id": venue,
            "password": run.passwords[username]}), 201)
    run.say("created staff accounts for both venues and both regions' supervisors")

    operator = _login(client, run, "jn-operator")
    day = (datetime.now(CHINA) + timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=CHINA)
    session = _check(client.post("/api/v1/sessions", headers=operator, json={
        "code": f"JN-{day:%Y%m%d}-01", "title": "济南市某道路改造工程施工招标 远程异地评标",
        "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=8)).isoformat()}), 201)
    run.say(f"host operator created session {session['code']} ({session['state']})")

    for username, level in (("sd-supervisor", "primary"), ("sn-supervisor", "secondary")):
        _check(client.post(f"/api/v1/sessions/{session['id']}/supervisors", headers=admin,
                           json={"account_id": accounts[username]["id"], "level": level}), 201)
    run.say("assigned the 山东 supervisor as primary and the 陕西 supervisor as secondary")

    # The primary supervisor follows the session live over the websocket, while the host reschedules.
    supervisor = _login(client, run, "sd-supervisor")
    ws_url = run.base.replace("http", "ws", 1) + f"/api/v1/sessions/{session['id']}/events/ws"
    # No keepalive pings on this short-lived connection: websockets' sync client joins its receiving thread from
    # its keepalive thread and from close() at once, which CPython 3.11 does not survive on a slow machine
    # ("release unlocked lock"; the moved-clock runs of the suite hit it).
    with ws_connect(ws_url, open_timeout=10, ping_interval=None) as ws:
        ws.send(json.dumps({"type": "subscribe", "token": supervisor["Authorization"][7:], "after": 0}))
        reply = json.loads(ws.recv(timeout=10))
        if reply.get("type") != "subscribed":
            raise RuntimeError(f"the event stream refused the supervisor: {reply}")
        backlog = []
        while len(backlog) < 3:  # created + two supervisor assignments
            backlog.append(json.loads(ws.recv(timeout=10))["event"])
        later = start + timedelta(minutes=30)
        _check(client.patch(f"/api/v1/sessions/{session['id']}", headers=operator,
                            json={"scheduled_start": later.isoformat()}))
        live = json.loads(ws.recv(timeout=10))["event"]
    run.say(f"supervisor saw {len(backlog)} past events, then live: {live['kind']} (seq {live['seq']})")

    # 要约: the host asks for 2 guest seats; with 四不知 on, the coordinator draws the guest venue.
    offer = _check(client.post(f"/api/v1/sessions/{session['id']}/offers", headers=operator,
                               json={"seats": 2, "specialties": ["A02"]}), 201)
    run.say(f"host asked for 2 guest seats; the coordinator drew a guest (hidden from the host: "
            f"{offer.get('guest_hidden', False)})")
    confirmed = _wait(lambda: (o := _check(client.get(f"/api/v1/offers/{offer['offer_id']}", headers=admin)))["state"]
                      == "confirmed" and o, "the guest's site agent confirms the offer")
    guest_operator = _login(client, run, "xa-operator")
    guest_view = _check(client.get(f"/api/v1/offers/{offer['offer_id']}", headers=guest_operator))
    run.say(f"the guest's site agent confirmed it, seats {', '.join(guest_view['assigned_seats'])}; the guest "
            f"operator sees only {guest_view['date']}, {guest_view['duration_minutes']} min, "
            f"{guest_view['seats']} seats, {', '.join(guest_view['specialties'])}")
    run.facts.update(session=session, ws_url=ws_url, live_event=live["kind"],
                     venues={"host": host["name"], "guest": guest["name"]},
                     offer={"state": confirmed["state"], "guest_venue": confirmed["guest_venue_id"] == guest["id"],
                            "assigned_seats": guest_view["assigned_seats"],
                            "hidden_from_host": bool(offer.get("guest_hidden"))})
    _committee(client, run, admin, operator, guest_operator, session, offer, guest_view["assigned_seats"],
               {"host": host, "guest": guest})


BIDDERS = ["山东路桥集团有限公司", "中铁十局集团有限公司", "济南城建集团有限公司"]
TENDERER = "济南市城市建设管理局"
FEE_TABLES = """\
# The demo's expert fee tables, in the shape of docs/formats.md "Expert fee tables". Made-up figures, not a
# province's published standard. The coordinator reads this file for every batch it issues.

[[tables]]
code = "SD-2026"
region = "SD"
name = "山东省评标专家劳务报酬标准（示例）"
base_fee = "800.00"
base_hours = 4
extra_per_hour = "100.00"
travel = "50.00"
cap = "1500.00"

[[tables]]
code = "SN-2026"
region = "SN"
name = "陕西省评标专家劳务报酬标准（示例）"
base_fee = "700.00"
base_hours = 4
extra_per_hour = "120.00"
travel = "200.00"
"""


def _pool(region: str, address: str, count: int, first: int) -> list[dict[str, Any]]:
    """A generated expert pool: valid identity numbers, road and cost specialties, and a few experts the
    avoidance rules must keep out (a bidder's employee, one tied to the tenderer, one blacklisted)."""
    surnames = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
    rows = []
    for i in range(first, first + count):
        number = id_number_with_check(f"{address}{1965 + i % 25}{1 + i % 12:02d}{1 + i % 28:02d}{100 + i:03d}")
        code = f"{region}-{i + 1:04d}"
        rows.append({"code": code, "name": f"{surnames[i % len(surnames)]}{'明华强军平磊'[i % 6]}{'一二三四五六七八九'[i % 9]}",
                     "id_number": number, "employer": f"{region}某设计研究院第{i % 5 + 1}分院",
                     "specialties": ["D01"] if i % 4 == 3 else ["A0202"], "ties": [], "credit_status": "active",
                     "certificate": f"{region}CA {code}"})
    if len({r["name"] for r in rows}) != len(rows):
        raise AssertionError("demo expert names must be unique")
    rows[0]["employer"] = BIDDERS[0]
    rows[1]["ties"] = [TENDERER]
    rows[2]["credit_status"] = "blacklisted"
    return rows


def _import_pools(client: httpx.Client, run: DemoRun, admin: dict[str, str], sd: dict[str, Any],
                  sn: dict[str, Any]) -> None:
    """Both regions' expert pools, as files an admin would import: JSON for 山东, CSV (Chinese headers) for
    陕西. The pools are also what makes a venue able to lend experts of a specialty."""
    pools = run.out / "pools"
    pools.mkdir()
    sd_rows, sn_rows = _pool("SD", "370102", 16, 0), _pool("SN", "610102", 10, 16)
    (pools / "sd-experts.json").write_text(json.dumps(sd_rows, ensure_ascii=False, indent=1), encoding="utf-8")
    header = "专家编号,姓名,身份证号,工作单位,专业,利害关系单位,信用状态,数字证书"
    lines = [header] + [",".join([r["code"], r["name"], r["id_number"], r["employer"], ";".join(r["specialties"]),
                                  ";".join(r["ties"]), r["credit_status"], r["certificate"]]) for r in sn_rows]
    (pools / "sn-experts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for region, path, fmt in ((sd, pools / "sd-experts.json", "json"), (sn, pools / "sn-experts.csv", "csv")):
        result = _check(client.post(f"/api/v1/regions/{region['id']}/experts/import", headers=admin,
                                    json={"format": fmt, "content": path.read_text(encoding="utf-8")}))
        run.say(f"imported {result['created']} experts into the {region['name']} pool from {path.name}")
    run.facts["id_numbers"] = {r["name"]: r["id_number"] for r in sd_rows + sn_rows}
    _certificates(client, run, admin, {"SD": (sd, sd_rows), "SN": (sn, sn_rows)})


def _certificates(client: httpx.Client, run: DemoRun, admin: dict[str, str],
                  regions: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
    """数字证书: each region's CA (ECDSA P-256 root and intermediate) issues its experts' signing certificates
    into software key stores behind PINs (a UKey in production), one of them revoked; the coordinator admin
    registers both CAs with their CRLs and puts both regions on the recognition list (数字证书互认)."""
    pins = {r["code"]: f"{secrets.randbelow(10**6):06d}" for _, rows in regions.values() for r in rows}
    revoked = {rows[2]["code"] for _, rows in regions.values()}  # the blacklisted experts: never drawn
    spec = {"regions": [{"code": code, "recognised": True, "signers": [
        {"name": r["name"], "serial": r["code"], "pin": pins[r["code"]], "revoked": r["code"] in revoked}
        for r in rows]} for code, (_, rows) in regions.items()]}
    pki = run.out / "pki"
    generate(spec, pki, datetime.now(CHINA))
    for code, (region, _) in regions.items():
        trust = pki / "trust" / code
        _check(client.post(f"/api/v1/regions/{region['id']}/ca-certificates", headers=admin, json={
            "pem": (trust / "root.pem").read_text() + (trust / "intermediate.pem").read_text()}), 201)
        for crl in sorted(trust.glob("*.crl")):
            _check(client.post(f"/api/v1/regions/{region['id']}/crls", headers=admin, json={"pem": crl.read_text()}),
                   201)
        _check(client.patch(f"/api/v1/regions/{region['id']}", headers=admin, json={"recognised": True}))
    run.facts["pins"] = pins
    run.facts["key_stores"] = {r["name"]: (code, r["code"]) for code, (_, rows) in regions.items() for r in rows}
    run.say(f"both regions' CAs issued {len(pins)} expert certificates ({len(revoked)} revoked); the coordinator "
            "registered both CAs with their CRLs and recognises both regions")


def _committee(client: httpx.Client, run: DemoRun, admin: dict[str, str], operator: dict[str, str],
               guest_operator: dict[str, str], session: dict[str, Any], offer: dict[str, Any],
               guest_seats: list[str], places: dict[str, dict[str, Any]]) -> None:
    """专家抽取 to 组长: the plan (3 host + 2 guest experts), the verifiable draw, check-in
    by ID card and face match, the no-conflict declaration (one conflict, replaced by a new draw), the
    chair elected over two rounds."""
    sid = session["id"]
    ids = run.facts["id_numbers"]
    project = _check(client.put(f"/api/v1/sessions/{sid}/project", headers=operator, json=demo_project()))
    run.say(f"host imported the tender {project['code']} from its trading system (sha256 {project['sha256'][:16]}…)")

    plan = {"project_type": "works", "total": 5,
            "quotas": [{"venue": "host", "specialties": {"A02": 2, "D01": 1}},
                       {"venue": f"offer:{offer['offer_id']}", "specialties": {"A02": 2}}],
            "parties": {"tenderer": TENDERER, "authority": "济南市住房和城乡建设局",
                        "supervisor": "济南市公共资源交易监督管理办公室", "bidders": BIDDERS}}
    _check(client.put(f"/api/v1/sessions/{sid}/committee/plan", headers=operator, json=plan))
    [draw] = _check(client.post(f"/api/v1/sessions/{sid}/committee/draws", headers=operator))
    events = _check(client.get(f"/api/v1/sessions/{sid}/events", headers=admin, params={"limit": 1000}))["events"]
    performed = next(e for e in events if e["kind"] == "draw.performed")["payload"]
    reasons = sorted({r for x in performed["excluded"] for r in x["reasons"]})
    run.say(f"drew the committee (3 host + 2 guest experts): commitment {draw['commitment'][:16]}… logged first, "
            f"seed {draw['seed'][:16]}… revealed after; {len(performed['pool'])} eligible, "
            f"{len(performed['excluded'])} excluded ({', '.join(reasons)})")

    _check(client.post(f"/api/v1/sessions/{sid}/check-in/open", headers=operator))
    seats = {places["host"]["id"]: [f"R1/A-{i:02d}" for i in range(1, AGENT_SEATS + 1)], places["guest"]["id"]: list(guest_seats)}
    desks = {places["host"]["id"]: operator, places["guest"]["id"]: guest_operator}
    experts: dict[str, dict[str, str]] = {}
    names: dict[str, tuple[str, str]] = {}
    seated_at: dict[str, tuple[str, str]] = {}

    def check_in_all() -> None:
        members = _check(client.get(f"/api/v1/sessions/{sid}/committee", headers=admin))["members"]
        for m in (m for m in members if m["state"] == "drawn"):
            seat = seats[m["venue_id"]].pop(0)
            answer = _check(client.post("/api/v1/committee/check-in", headers=desks[m["venue_id"]], json={
                "id_number": ids[m["name"]], "id_card": "pass", "face_match": "pass", "face_score": "0.96",
                "seat": seat}))
            seated_at[m["member_id"]] = (m["venue_id"], seat)
            token = _check(client.post("/api/v1/auth/expert-login", json={"code": answer["login_code"]}))
            experts[m["member_id"]] = {"Authorization": f"Bearer {token['access_token']}"}
            names[m["member_id"]] = (m["name"], m["venue_id"])

    check_in_all()
    run.say(f"operators at both venues checked in {len(experts)} experts (ID card + face match); each logged in "
            "at the seat with a one-time code")
    conflicted = None
    for member_id, headers in list(experts.items()):
        text = _check(client.get(f"/api/v1/sessions/{sid}/committee/declaration", headers=headers))
        declare = {"conflict": False, "text_sha256": text["sha256"]}
        if conflicted is None:
            conflicted = member_id
            declare = {"conflict": True, "reason": "近三年曾受聘于投标人中铁十局集团有限公司", "text_sha256": text["sha256"]}
        answer = _check(client.post(f"/api/v1/sessions/{sid}/committee/declaration", headers=headers, json=declare))
        if answer["replacements"]:
            run.say(f"one expert declared a conflict and left; a replacement was drawn with a new commitment "
                    f"({answer['replacements'][0]['commitment'][:16]}…)")
    del experts[conflicted]
    venue_id, seat = seated_at[conflicted]
    seats[venue_id].insert(0, seat)  # the seat is free again for whoever replaces them
    check_in_all()
    for headers in experts.values():
        text = _check(client.get(f"/api/v1/sessions/{sid}/committee/declaration", headers=headers))
        if text["state"] == "checked_in":
            _check(client.post(f"/api/v1/sessions/{sid}/committee/declaration", headers=headers,
                               json={"conflict": False, "text_sha256": text["sha256"]}))
    _check(client.post(f"/api/v1/sessions/{sid}/state", headers=operator, json={"action": "start"}))
    _wait(lambda: all(_heard(run, v["code"], "start") for v in places.values()),
          "both venues' site agents receive the start")
    run.say("the host started the session: both venues' site agents received it over the site link")
    # 组长: round 1 splits 2-2-1, so only the two tied stand again; round 2 decides.
    voters = sorted(experts)
    first = [voters[0], voters[0], voters[1], voters[1], voters[2]]
    for voter, candidate in zip(voters, first, strict=True):
        result = _check(client.post(f"/api/v1/sessions/{sid}/chair/votes", headers=experts[voter],
                                    json={"candidate_member_id": candidate}))
    for voter in voters:
        result = _check(client.post(f"/api/v1/sessions/{sid}/chair/votes", headers=experts[voter],
                                    json={"candidate_member_id": voters[0]}))
    final = _check(client.get(f"/api/v1/sessions/{sid}/committee", headers=admin))
    chair = next(m for m in final["members"] if m["member_id"] == result["chair"])
    run.say(f"chair elected in round {final['election']['round']} after a tie: {chair['name']}")
    run.facts["committee"] = {
        "members": sorted((m["name"], m["state"]) for m in final["members"]),
        "seated": sum(m["state"] == "seated" for m in final["members"]),
        "draws": len(final["draws"]), "chair": chair["name"], "chair_round": final["election"]["round"],
        "excluded_reasons": reasons}
    cities = {places["host"]["id"]: places["host"]["city"], places["guest"]["id"]: places["guest"]["city"]}
    seats_signing = {m: _seat(client, run, sid, m, experts[m], *names[m], cities) for m in experts}
    run.say(f"each of the {len(seats_signing)} experts registered a one-time-code authenticator and unlocked the "
            "signing key at the seat with their PIN")
    _evaluate(client, run, operator, sid, experts, chair["member_id"], seats_signing)


def _seat(client: httpx.Client, run: DemoRun, sid: str, member_id: str, headers: dict[str, str], name: str,
          venue_id: str, cities: dict[str, str]) -> SeatSigner:
    """The expert's seat: their key store opened with the PIN, and a TOTP authenticator registered."""
    region, serial = run.facts["key_stores"][name]
    signer = SoftKeyStore(run.out / "pki" / "keys" / region / f"{serial}.p12").open(run.facts["pins"][serial])
    secret = _check(client.post(f"/api/v1/sessions/{sid}/factors/totp", headers=headers), 201)["secret"]
    return SeatSigner(client, f"/api/v1/sessions/{sid}", headers, signer, name=name, location=cities[venue_id],
                      totp=TotpDevice(secret, now=lambda: datetime.now(CHINA)), member_id=member_id)


def demo_project() -> dict[str, Any]:
    """The tender as the host's trading system exports it (format evalroom-project-v1, docs/formats.md)."""
    prices = ["98650000.00", "96800000.00", "101200000.00", "95300000.00"]
    return {
        "format": "evalroom-project-v1", "code": "JNGC-2026-0147", "name": "济南市某道路改造工程施工",
        "kind": "works", "tenderer": TENDERER, "method": "comprehensive",
        "bidders": [{"code": f"B{i}", "name": n} for i, n in enumerate([*BIDDERS, "山东高速建设集团有限公司"], 1)],
        "lots": [{"code": "L1", "name": "施工一标段",
                  "bids": [{"bidder": f"B{i}", "price": p} for i, p in enumerate(prices, 1)]}],
        "criteria": [
            {"code": "T", "name": "技术部分", "part": "technical", "max": "40", "children": [
                {"code": "T1", "name": "施工方案与技术措施", "max": "20"},
                {"code": "T2", "name": "质量与安全管理措施", "max": "10"},
                {"code": "T3", "name": "工期保证措施", "max": "10"}]},
            {"code": "C", "name": "商务部分", "part": "commercial", "max": "20", "children": [
                {"code": "C1", "name": "企业资质与类似业绩", "max": "10", "objective": True},
                {"code": "C2", "name": "项目经理资格", "max": "10", "objective": True}]}],
        "price_rule": {"kind": "average_benchmark", "points": "40", "coefficient": "0.97", "drop_extremes_from": 5,
                       "deduct_above": "1.0", "deduct_below": "0.5"},
        "tie_break": ["lower_price", "higher_technical"], "candidates": 3,
    }


def _evaluate(client: httpx.Client, run: DemoRun, operator: dict[str, str], sid: str,
              experts: dict[str, dict[str, str]], chair: str, seats: dict[str, SeatSigner]) -> None:
    """评标: the phases, the review (one bid rejected by a majority), independent scoring (one expert's score
    flagged by the deviation check and explained in writing, confirmed by the chair), every sheet signed,
    aggregation, the report signed by every expert (the dissenter with the dissent) and sealed."""
    base = f"/api/v1/sessions/{sid}"
    members = sorted(experts)
    lead = experts[chair]

    def move(leave: str, headers: dict[str, str] = lead) -> dict[str, Any]:
        return _through_faults(client, operator, sid,
                               lambda: client.post(f"{base}/phase", headers=headers, json={"leave": leave}))

    move("chair_election")
    for i, m in enumerate(members):
        marks = {f"L1/B{b}": {"passed": True} for b in range(1, 5)}
        if i < 3:
            marks["L1/B3"] = {"passed": False, "reason": "安全生产许可证已过期，不满足资格条件"}
        _check(client.post(f"{base}/review", headers=experts[m], json={"marks": marks}))
    for m in members:
        seats[m].sign_sheet("review")
    move("review")
    run.say("qualification/compliance review: 3 of 5 rejected bid L1/B3 with written reasons (a majority); "
            "each expert signed their review sheet")
    base_scores = {"L1/B1": ("17", "8", "8", "9", "9"), "L1/B2": ("16", "8", "9", "10", "9"),
                   "L1/B4": ("15", "7", "8", "8", "9")}
    for i, m in enumerate(members):
        scores = {}
        for bid, (t1, t2, t3, c1, c2) in base_scores.items():
            shift = (i % 3) - 1  # experts differ by a point or so on the subjective items
            scores[bid] = {"T1": str(int(t1) + shift), "T2": t2, "T3": str(int(t3) - (i % 2)), "C1": c1, "C2": c2}
        if i == len(members) - 1:  # one expert rates L1/B2's technical part far below the others
            scores["L1/B2"].update(T1="6", T2="3", T3="3")
        _check(client.post(f"{base}/scores", headers=experts[m], json={"scores": scores}))
    flags = _check(client.get(f"{base}/flags", headers=operator))
    for f in flags:
        _check(client.post(f"{base}/flags/{f['id']}/explanation", headers=experts[f["member_id"]], json={
            "text": "该投标人施工方案未针对雨季施工和交通导改提出具体措施，按评分细则扣分。"}))
        _check(client.post(f"{base}/flags/{f['id']}/confirm", headers=lead))
    _supervise_live(client, run, sid, flags)
    for m in members:
        seats[m].sign_sheet("detailed_review")
    run.say(f"every expert scored independently and signed the sheet (CAdES, after a one-time code for that "
            f"sheet's hash); the checks flagged {len(flags)} score(s) "
            f"({', '.join(sorted({f['kind'] for f in flags}))}), explained in writing and confirmed by the chair")
    move("detailed_review")
    move("price_scoring")
    summary = [e for e in _check(client.get(f"{base}/events", headers=operator, params={"limit": 1000}))["events"]
               if e["kind"] == "session.phase_changed"][-1]["payload"]["results"]["L1"]
    dissent = "本人认为山东路桥集团有限公司技术方案存在明显缺陷，对推荐排序保留意见。"
    _check(client.put(f"{base}/dissent", headers=experts[members[-1]], json={"text": dissent}))
    move("summary")
    move("recommendation")
    ranking = ", ".join(f"{r['rank']}. {r['bid']} {r['final']}" for r in summary)
    run.say(f"aggregated (trimmed mean, 2 places half up): {ranking}; report v1 produced as PDF and JSON twin")
    for m in [chair, *(m for m in members if m != chair)]:  # the chair first, as on the signature page
        seats[m].sign_report(dissent=dissent if m == members[-1] else None)
    seal = _check(client.post(f"{base}/report/seal", headers=operator), 201)
    verification = _check(client.get(f"{base}/report/verification", headers=operator))
    if not verification["ok"]:
        raise RuntimeError(f"the sealed report does not verify: {verification}")
    run.say(f"every expert signed the report (PAdES, one incremental update each; the dissenter with the dissent), "
            f"and the host sealed it with a time-stamp at {seal['verification']['timestamp']}")
    twin = client.get(f"{base}/report", headers=operator)
    pdf = client.get(f"{base}/report.pdf", headers=operator)
    reports = run.out / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "report-v1.json").write_bytes(twin.content)
    (reports / "report-v1.pdf").write_bytes(pdf.content)
    sheet_bytes, sheet_sha256 = seats[chair].fetch("sheet", "detailed_review")
    record = next(r for r in _check(client.get(f"{base}/signatures", headers=operator))
                  if r["document"] == "sheet" and r["document_sha256"] == sheet_sha256)
    (reports / "sheet-chair.json").write_bytes(sheet_bytes)
    (reports / "signatures.json").write_text(json.dumps(
        _check(client.get(f"{base}/signatures", headers=operator)), ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8")
    (reports / "sheet-chair.json.p7s").write_bytes(client.get(f"{base}/signatures/{record['id']}.p7s",
                                                              headers=operator).content)
    _through_faults(client, operator, sid,
                    lambda: client.post(f"{base}/state", headers=operator, json={"action": "end"}))
    run.say("signed report and a signed sheet written; session ended")

    def sealed() -> bool:
        events = _check(client.get(f"{base}/events", headers=operator, params={"limit": 1000}))["events"]
        lines = [kind for e in events for kind, _ in media_lines(e["kind"], e["payload"])]
        return (lines.count("media.track_sealed") == 4
                and sum(e["kind"] == "media.backup_recorded" and e["payload"]["entry"]["type"] == "seal"
                        for e in events) == 4)

    _wait(sealed, "the coordinator's recordings and both venues' backups sealed")
    run.say("both venues published their room's camera and microphone throughout; the coordinator's recordings "
            "and both venues' local backups are sealed")
    _after_session(client, run, sid)
    _publish_pay_rate(client, run, sid)
    run.facts["evaluation"] = {
        "rejected": ["L1/B3"], "flags": [(f["kind"], f["bid"]) for f in flags],
        "ranking": [(r["rank"], r["bid"], r["final"]) for r in summary],
        "report": {"version": 1, "pdf_bytes": len(pdf.content), "pdf_sha256": pdf.headers["X-Content-SHA256"],
                   "json_sha256": twin.headers["X-Content-SHA256"],
                   "signatures": len(verification["signatures"]), "sealed_at": seal["verification"]["timestamp"]}}


def _supervise_live(client: httpx.Client, run: DemoRun, sid: str, flags: list[dict[str, Any]]) -> None:
    """Both regions' supervisors at work during the evaluation: a warning every venue sees, an annotation of
    the flagged score, and the limits of their role."""
    base = f"/api/v1/sessions/{sid}"
    primary, secondary = _login(client, run, "sd-supervisor"), _login(client, run, "sn-supervisor")
    _check(client.post(f"{base}/warnings", headers=secondary, json={
        "text": "请各分会场专家关闭手机等通讯工具，独立评审，不得交头接耳。"}), 201)
    _wait(lambda: all(_heard(run, code, None, "supervision.warning") for code in ("JN-GGZY", "XA-GGZY")),
          "both venues' site agents receive the supervisor's warning")
    for f in flags:
        _check(client.post(f"{base}/annotations", headers=primary, json={
            "text": f"评分偏离提示（{f['bid']}），专家已书面说明，组长确认；回放时重点核查。"}), 201)
    refused = client.post(f"{base}/phase", headers=primary, json={"leave": "detailed_review"})
    if refused.status_code != 403:
        raise RuntimeError(f"a supervisor moved the session: {refused.status_code} {refused.text}")
    run.say(f"the 陕西 (secondary) supervisor sent a warning that both venues' site agents received; the 山东 "
            f"(primary) supervisor annotated the {len(flags)} flagged score(s); a supervisor may not move the "
            "session (403)")


def _after_session(client: httpx.Client, run: DemoRun, sid: str) -> None:
    """A complaint handled to the rules (only the primary supervisor rules), and the replay timeline."""
    base = f"/api/v1/sessions/{sid}"
    primary, secondary = _login(client, run, "sd-supervisor"), _login(client, run, "sn-supervisor")
    today = datetime.now(CHINA).date().isoformat()
    complaint = _check(client.post(f"{base}/complaints", headers=secondary, json={
        "complainant": BIDDERS[1], "known_on": today,
        "subject": "认为评标委员会对本公司施工方案的评分明显偏低，请求复核。"}), 201)
    cid = complaint["id"]
    denied = client.post(f"{base}/complaints/{cid}/ruling", headers=secondary,
                         json={"accept": True, "reason": "符合受理条件"})
    if denied.status_code != 403:
        raise RuntimeError(f"a secondary supervisor ruled on a complaint: {denied.status_code}")
    _check(client.post(f"{base}/complaints/{cid}/ruling", headers=primary,
                       json={"accept": True, "reason": "投诉人为本项目投标人，在法定期限内提出，符合受理条件。"}))
    decided = _check(client.post(f"{base}/complaints/{cid}/decision", headers=primary, json={
        "outcome": "dismissed", "text": "经调取评标录像及评分记录复核，评分符合评分细则，投诉事项不成立，予以驳回。"}))
    run.say(f"a complaint was recorded by the 陕西 supervisor (accept by {complaint['deadlines']['acceptance']}); "
            f"only the 山东 primary may rule (the secondary got 403); accepted, then decided: {decided['outcome']}")
    timeline = _check(client.get(f"{base}/replay", headers=primary))
    first = timeline["tracks"][0]["segments"][0]
    part = client.get(first["url"], headers={**primary, "Range": "bytes=0-1023"})
    if part.status_code != 206 or len(part.content) != 1024:
        raise RuntimeError(f"a recorded segment could not be fetched in part: {part.status_code}")
    run.say(f"replay: {len(timeline['tracks'])} tracks of both venues on one clock over "
            f"{timeline['duration']:.0f} s, {len(timeline['markers'])} event markers; segments stream with "
            "HTTP ranges, so the player seeks")
    run.facts["supervision"] = {"complaint": decided["state"], "tracks": len(timeline["tracks"]),
                                "markers": len(timeline["markers"])}


def _through_faults(client: httpx.Client, operator: dict[str, str], sid: str, call: Any) -> Any:
    """``call()`` (a request that moves the session), as the host's operator makes it: if a fault suspended the
    session meanwhile (a site agent's heartbeats late on a loaded machine), wait until every venue is back,
    resume, and make it again. Any other refusal is an error."""
    for _ in range(3):
        resp = call()
        if resp.status_code != 409 or _check(client.get(f"/api/v1/sessions/{sid}", headers=operator))["state"] \
                != "suspended":
            return _check(resp)
        _wait(lambda: client.post(f"/api/v1/sessions/{sid}/state", headers=operator, json={
            "action": "resume", "reason": "场地连接已恢复"}).status_code == 200,
              "every venue back after a fault, and the session resumed")
    return _check(resp)


def _publish_pay_rate(client: httpx.Client, run: DemoRun, sid: str) -> None:
    """After the session: the candidates published with the window the rules give and an objection answered;
    the experts' fees priced from their recorded times under both regions' tables (pay the higher) and
    exported for the paying venue; the host's ratings of the experts, one low enough to suspend an expert from
    the next draws; and the supervisors' scoring-tendency report, computed on demand."""
    base = f"/api/v1/sessions/{sid}"
    operator, admin = _login(client, run, "jn-operator"), _login(client, run, "admin")
    published = _check(client.post(f"{base}/publication", headers=operator, json={}), 201)
    pid = published["publication_id"]
    objection = _check(client.post(f"/api/v1/publications/{pid}/objections", headers=operator, json={
        "objector": BIDDERS[1], "text": "对第一中标候选人拟派项目经理的类似工程业绩真实性提出异议。"}), 201)
    _check(client.post(f"/api/v1/publications/{pid}/objections/{objection['id']}/answer", headers=operator, json={
        "text": "经核查业绩合同原件及竣工验收证明，业绩真实，异议不成立。"}))
    public = _check(client.get(f"/api/v1/publications/{pid}"))  # no token: what the public sees
    first = public["lots"][0]["candidates"][0]
    run.say(f"公示: the host published the candidates (first: {first['bidder_name']} {first['final']}) until "
            f"{public['window']['to']}; an objection received {objection['received_on']} was answered (due by "
            f"{objection['answer_by']}); the public page shows {public['objections']['received']} received, "
            f"{public['objections']['unanswered']} unanswered")

    issued = _check(client.post(f"{base}/fee-batches", headers=operator), 201)
    fees = run.out / "fees"
    fees.mkdir(exist_ok=True)
    for batch in issued:
        for fmt in ("csv", "xlsx"):
            resp = client.get(f"/api/v1/fee-batches/{batch['id']}", headers=operator, params={"format": fmt})
            if resp.status_code != 200:
                raise RuntimeError(f"the fee batch did not export as {fmt}: {resp.status_code} {resp.text}")
            doc = batch["document"]
            (fees / f"fees-{doc['session']['code']}-{doc['payer']['code']}-v{batch['version']}.{fmt}").write_bytes(
                resp.content)
    lines = [line for batch in issued for line in batch["document"]["lines"]]
    guest = next(line for line in lines if line["region"] == "SN")
    run.say(f"expert fees: {len(lines)} experts priced from check-in to the end, one batch for the host to pay, "
            f"total {issued[0]['total']}; a 陕西 expert's line reads: {guest['basis']} (fees/, CSV and XLSX)")

    committee = _check(client.get(f"{base}/committee", headers=operator))
    experts = [m for m in committee["members"] if m["kind"] == "expert" and m["state"] == "seated"]
    low = next(m for m in experts if m["venue_id"] != run.facts["session"]["host_venue_id"])
    for i, m in enumerate(experts):
        score, comment = (58, "评审期间多次离席接打电话，经监督人员提醒后仍未改正。") if m is low else (92 - 3 * i, None)
        rating = _check(client.post(f"{base}/ratings", headers=operator, json={
            "member_id": m["member_id"], "score": score, "comment": comment}), 201)
        if m is low:
            suspended = rating["expert_id"]
    rated = _check(client.get(f"{base}/ratings", headers=operator))
    record = _check(client.get(f"/api/v1/experts/{suspended}", headers=admin))
    if record["credit_status"] != "suspended":
        raise RuntimeError(f"a rating below the pass mark did not suspend the expert: {record['credit_status']}")
    run.say(f"the host rated the {len(experts)} experts (0–100, open until {rated['due']}); {low['name']} was "
            f"rated 58, below the pass mark, and is suspended from the next draws ({record['credit_reason']})")

    supervisor = _login(client, run, "sd-supervisor")
    today = datetime.now(CHINA).date()
    period = {"from": today.isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    report = _check(client.get("/api/v1/analysis/tendency", headers=supervisor, params=period))
    analysis = run.out / "analysis"
    analysis.mkdir(exist_ok=True)
    for name, path, params in (("tendency.csv", "", {"format": "csv"}), ("deviation.svg", "/plots/deviation.svg", {})):
        resp = client.get(f"/api/v1/analysis/tendency{path}", headers=supervisor, params={**period, **params})
        if resp.status_code != 200:
            raise RuntimeError(f"the tendency report's {name} failed: {resp.status_code} {resp.text}")
        (analysis / name).write_bytes(resp.content)
    run.say(f"scoring tendency (打分倾向) for {period['from']}: {report['sessions']} session, "
            f"{len(report['experts'])} experts; none is tested yet (an expert is tested after "
            f"{report['rules']['min_sessions']} sessions: docs/analysis.md) (analysis/, CSV and SVG)")
    run.facts["after"] = {
        "publication": {"id": pid, "window": public["window"], "objections": public["objections"],
                        "first": first["bidder"]},
        "fees": {"batches": len(issued), "total": issued[0]["total"],
                 "lines": [(line["name"], line["table"], line["amount"]) for line in lines]},
        "ratings": len(rated["ratings"]), "suspended": suspended,
        "tendency": {"sessions": report["sessions"], "experts": len(report["experts"])}}


def _heard(run: DemoRun, venue_code: str, action: str | None, kind: str = "session.state_changed") -> bool:
    """Whether the venue's site agent has written an event of ``kind`` (a session state change: with
    ``action``) to its inbox."""
    inbox = run.out / "agents" / venue_code / "state" / "inbox.jsonl"
    if not inbox.exists():
        return False
    for line in inbox.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # the line the agent is writing right now
            continue
        if event["kind"] == kind and (action is None or event["data"].get("action") == action):
            return True
    return False


def _wait(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        time.sleep(0.2)
    return value


def _usable_seats(client: httpx.Client, headers: dict[str, str], venue: dict[str, Any]) -> int:
    rooms = _check(client.get(f"/api/v1/venues/{venue['id']}/rooms", headers=headers))
    return sum(seat["usable"] for room in rooms for seat in room["seats"])


def _start_agent(client: httpx.Client, run: DemoRun, admin: dict[str, str], venue: dict[str, Any]) -> subprocess.Popen[bytes]:
    """A venue's site agent as the venue would run it: its own key (registered by the admin), its inventory
    file, its own process, confirming offers by itself."""
    home = run.out / "agents" / venue["code"]
    home.mkdir(parents=True)
    key = ed25519.Ed25519PrivateKey.generate()
    key_file = home / "venue-key.pem"
    key_file.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    os.chmod(key_file, 0o600)
    public = base64.urlsafe_b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    _check(client.post(f"/api/v1/venues/{venue['id']}/credentials", headers=admin,
                       json={"public_key": public.decode(), "label": "demo site agent"}), 201)
    seats = "\n".join(f'  {{ code = "A-{i:02d}", pc = "ok", network = "ok", microphone = "ok", speaker = "ok", '
                       f'camera = "ok" }},' for i in range(1, AGENT_SEATS + 1))
    (home / "rooms.toml").write_text(f'[[rooms]]\ncode = "R1"\nname = "远程异地评标室"\nkind = "single"\n'
                                     f'seats = [\n{seats}\n]\n', encoding="utf-8")
    # The room's camera and microphone: synthetic (a test pattern and a tone, each venue its own pitch).
    tone = 440 if venue["code"] == "JN-GGZY" else 660
    (home / "media.json").write_text(json.dumps([
        {"name": "R1/cam", "kind": "video", "source": "testsrc2=size=640x360:rate=30", "width": 640, "height": 360,
         "bitrate": 600000},
        {"name": "R1/mic", "kind": "audio", "source": f"sine=frequency={tone}"}]), encoding="utf-8")
    log = (home / "agent.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "evalroom", "site-agent", "--venue", venue["code"],
                             "--coordinator", run.base, "--key", str(key_file), "--inventory", str(home / "rooms.toml"),
                             "--state-dir", str(home / "state"), "--auto-confirm", "--media", str(home / "media.json")],
                            stdout=log, stderr=subprocess.STDOUT, env={k: v for k, v in os.environ.items()
                                                                       if not k.startswith("EVALROOM_")})


def _stop_agents(run: DemoRun) -> None:
    for proc in run.agents:
        proc.terminate()
    for proc in run.agents:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _recordings(run: DemoRun, ctx: Any) -> list[dict[str, Any]]:
    """Every track the coordinator recorded, checked against its manifest; the guest's backup reconciled."""
    session = run.facts["session"]
    tracks = []
    for directory in sorted((run.out / "recordings" / session["id"]).glob("*/*")):
        report = verify_manifest(directory)
        segments = [e for e in read_manifest(directory) if e["type"] == "segment"]
        if not (report.ok and report.sealed and segments):
            raise RuntimeError(f"recording {directory} does not verify: {report.problems}")
        tracks.append({"track": str(directory.relative_to(run.out)), "segments": len(segments),
                       "from": segments[0]["wallclock_start"], "to": segments[-1]["wallclock_end"],
                       "manifest": "verified, sealed"})
    backup = reconcile(ctx.store, session["id"], "XA-GGZY", run.out / "agents" / "XA-GGZY" / "state" / "recordings"
                       / session["id"])
    if not backup.ok:
        raise RuntimeError(f"the guest's backup does not reconcile: {backup.problems}")
    run.say(f"recordings: {len(tracks)} tracks, {sum(t['segments'] for t in tracks)} hashed segments, every "
            f"manifest verified and sealed; the 西安 backup ({backup.segments} segments) reconciles with the "
            "hashes logged during the session")
    for t in tracks:
        print(f"      {t['track']}: {t['segments']} segments, {t['from'][11:19]}–{t['to'][11:19]} UTC", flush=True)
    return tracks


def _write_outputs(run: DemoRun, ctx: Any) -> dict[str, list[str]]:
    exports = run.out / "exports"
    exports.mkdir(exist_ok=True)
    with ctx.store.read() as s, (exports / "events.jsonl").open("w", encoding="utf-8") as f:
        for ev in read_events(s, limit=1_000_000):
            f.write(json.dumps(ev.as_dict(), ensure_ascii=False) + "\n")
    creds = run.out / "credentials.json"
    creds.write_text(json.dumps(run.passwords, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(creds, 0o600)

    def rel(paths: list[Path]) -> list[str]:
        return sorted(str(p.relative_to(run.out)) for p in paths)

    return {
        # Only the database file itself: SQLite's -wal/-shm companions are folded in and removed at shutdown.
        "database": rel([run.out / "evalroom.db"]),
        "keys": rel(list((run.out / "keys").glob("*.pem"))),
        "exports": rel(list(exports.iterdir())),
        "credentials": rel([creds]),
        "site_agents": rel([p for p in (run.out / "agents").rglob("*") if p.is_file() and p.suffix != ".pem"]),
        "expert_pools": rel(list((run.out / "pools").iterdir())),
        "reports": rel(list((run.out / "reports").iterdir())),
        "trust_bundle": rel([p for p in (run.out / "trust").rglob("*") if p.is_file()]),
        "recordings": rel([p for p in (run.out / "recordings").rglob("*") if p.is_file()]),
        "key_stores": rel(list((run.out / "pki" / "keys").rglob("*.p12"))),
        "fees": rel([run.out / "fee-tables.toml", *(run.out / "fees").iterdir()]),
        "analysis": rel(list((run.out / "analysis").iterdir())),
    }


def _evidence(run: DemoRun, ctx: Any, settings: Any) -> dict[str, Any]:
    """evalroom export and evalroom verify: the session's evidence bundle, checked offline with the log's key
    and the regions' roots pinned."""
    session = run.facts["session"]
    key = tlog.load_or_create_log_key(settings)
    tlog.append_pending(ctx.store, key)
    # Both venues' witnesses cosign the checkpoint that will cover the whole session (within a few seconds).
    _wait(lambda: len(tlog.checkpoint(ctx.store).note.rpartition("\n\n")[2].splitlines()) >= 3,
          "both venues' witnesses cosign the log's newest checkpoint")
    path = run.out / "evidence" / f"evidence-{session['code']}.zip"
    exported = export_session(ctx.store, settings, key, ctx.seal().anchors, session["id"], path)
    if exported.problems:
        raise RuntimeError(f"the evidence bundle is incomplete: {exported.problems}")
    (run.out / "log-key.txt").write_text(key.signer.verifier.vkey + "\n", encoding="utf-8")
    checked = verify_bundle(path, log_key=key.signer.verifier.vkey, trust_dir=run.out / "trust")
    if not checked.ok:
        raise RuntimeError(f"the evidence bundle does not verify: {checked.problems}")
    run.say(f"evalroom export: {path.name}, {exported.files} files ({exported.bytes / 1e6:.1f} MB), "
            f"{exported.events} events each proven in the log's checkpoint of {exported.checkpoint_size} leaves, "
            "which both venues' witnesses cosigned; "
            "evalroom verify: VERIFIED (hashes, manifest chains, signatures, proofs)")
    return {"bundle": str(path.relative_to(run.out)), "files": exported.files, "events": exported.events,
            "log_key": key.signer.verifier.vkey, "verified": True}


def _serve_in_thread(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread, int]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="coordinator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConfigError(f"the coordinator did not start on port {port} (in use?)")
        time.sleep(0.05)
    actual = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, actual


def run_demo(*, out: Path, port: int, exit_after: bool) -> int:
    out = out.resolve()
    _prepare_out(out)
    (out / "fee-tables.toml").write_text(FEE_TABLES, encoding="utf-8")
    # The demo's session is tomorrow morning; a two-day check-in lead lets it show check-in today.
    settings = load_settings(environ={}, overrides={"data_dir": out, "port": port, "environment": "development",
                                                    "check_in_lead_minutes": 2 * 24 * 60,
                                                    "fee_tables_file": out / "fee-tables.toml",
                                                    # The printed expert's code stays good for two hours.
                                                    "expert_login_code_minutes": 120})
    ctx = build_context(settings)
    run = DemoRun(base="", out=out)
    run.passwords["admin"] = _password()
    with ctx.store.write() as tx:
        create_account(tx, "system:demo", AccountCreate(username="admin", display_name="调度平台管理员",
                                                        role="coordinator-admin", password=run.passwords["admin"]))
    server, thread, actual_port = _serve_in_thread(create_app(settings, context=ctx), port)
    run.base = f"http://127.0.0.1:{actual_port}"
    print(f"evalroom {__version__} demo: coordinator at {run.base}, state in {out}", flush=True)
    try:
        with httpx.Client(base_url=run.base, timeout=30) as client:
            _script(client, run)
            _expert_login_code(client, run)
        events = verify_stored_chain(ctx.store)
        run.say(f"event chain verified: {events} events, intact")
        files = _write_outputs(run, ctx)
        with (out / "exports" / "events.jsonl").open(encoding="utf-8") as f:
            audits = audit_draws(Event(**json.loads(line)) for line in f)
        if not audits or not all(a.ok for a in audits):
            raise RuntimeError(f"a draw does not verify: {[a.problems for a in audits]}")
        run.say(f"verify-draw: all {len(audits)} draws recomputed from the exported events and match")
        run.facts["committee"]["draws_verified"] = len(audits)
        export_bundle(ctx.store, out / "trust", ctx.seal().anchors)
        records = json.loads((out / "reports" / "signatures.json").read_text(encoding="utf-8"))
        offline = {f: verify_file(out / "reports" / f, load_bundle(out / "trust"), datetime.now(CHINA),
                                  evidence=records) for f in ("report-v1.pdf", "sheet-chair.json")}
        if not all(r.ok for r in offline.values()):
            raise RuntimeError(f"offline verification failed: {[r.lines for r in offline.values()]}")
        run.say(f"evalroom verify: the report's {run.facts['evaluation']['report']['signatures']} signatures and "
                "the chair's sheet signature are intact, valid and trusted against the exported trust bundle, each "
                "accounted for by its factor evidence")
        run.facts["evaluation"]["verified_offline"] = sorted(offline)
        run.facts["recordings"] = _recordings(run, ctx)
        run.facts["evidence"] = _evidence(run, ctx, settings)
        summary = {"evalroom_version": __version__, "base_url": run.base, "files": files,
                   "session": run.facts["session"], "offer": run.facts["offer"],
                   "committee": run.facts["committee"], "evaluation": run.facts["evaluation"],
                   "recordings": run.facts["recordings"], "supervision": run.facts["supervision"],
                   "after": run.facts["after"],
                   "evidence": run.facts["evidence"],
                   "checks": {"event_chain": "intact", "events": events}}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _print_where_to_look(run)
        if exit_after:
            return 0
        print("\nServing until Ctrl+C.", flush=True)
        while thread.is_alive():
            thread.join(0.5)
        return 0
    finally:
        _stop_agents(run)
        server.should_exit = True
        thread.join(15)


def _expert_login_code(client: httpx.Client, run: DemoRun) -> None:
    """A fresh one-time code for one of the host's experts, so that a person can open the expert's page on the
    finished session: its state, scores, report and signatures, as the expert saw them."""
    operator = _login(client, run, "jn-operator")
    session = run.facts["session"]
    committee = _check(client.get(f"/api/v1/sessions/{session['id']}/committee", headers=operator))
    member = next(m for m in committee["members"]
                  if m["venue_id"] == session["host_venue_id"] and m["state"] == "seated" and m["kind"] == "expert")
    issued = _check(client.post(f"/api/v1/committee/members/{member['member_id']}/login-code", headers=operator))
    run.facts["browser"] = {"expert": member["name"], "login_code": issued["login_code"],
                            "expires_at": issued["login_code_expires_at"]}


def _print_where_to_look(run: DemoRun) -> None:
    s = run.facts["session"]
    b = run.facts["browser"]
    print(f"""
In a browser (the users' pages; log in as below)
  staff login:            {run.base}/   jn-operator or xa-operator (hall operators: {run.base}/operator),
                          sd-supervisor or sn-supervisor (supervisors: {run.base}/supervisor, with the replay)
  an expert's seat:       {run.base}/expert   one-time code {b['login_code']} ({b['expert']}, until {b['expires_at']};
                          a new one from the host operator's page, "新登录码")

Where to look
  API docs (try it out):  {run.base}/docs
  health / readiness:     {run.base}/api/v1/health   {run.base}/api/v1/ready
  session {s['code']}:   {run.base}/api/v1/sessions/{s['id']}
  its live events:        {run.facts['ws_url']}  (send {{"type":"subscribe","token":...,"after":0}})
  its committee:          {run.base}/api/v1/sessions/{s['id']}/committee
  its report:             {run.out / 'reports' / 'report-v1.pdf'}   (and {run.base}/api/v1/sessions/{s['id']}/report.pdf)
  check the draws:        evalroom verify-draw --events {run.out / 'exports' / 'events.jsonl'}
  check the signatures:   evalroom verify {run.out / 'reports' / 'report-v1.pdf'} --trust {run.out / 'trust'}
                          pdfsig {run.out / 'reports' / 'report-v1.pdf'}
  check everything:       evalroom verify {run.out / run.facts['evidence']['bundle']} --log-key {run.out / 'log-key.txt'}
  the transparency log:   {run.base}/api/v1/log/checkpoint   (evalroom verify-log --url {run.base})
  replay (supervisors):   {run.base}/api/v1/sessions/{s['id']}/replay
  the publication:        {run.base}/publications   (public; {run.base}/api/v1/publications)
  the experts' fees:      {run.out / 'fees'}   (tables: {run.out / 'fee-tables.toml'})
  scoring tendency:       {run.out / 'analysis'}   ({run.base}/api/v1/analysis/tendency?from=...&to=...)
  logins (POST /api/v1/auth/login; also in {run.out / 'credentials.json'}):""")
    for user, pw in run.passwords.items():
        print(f"    {user:<14} {pw}")
    print(f"  everything produced:    {run.out / 'summary.json'}")
