"""Capacity: how many evaluation sessions a coordinator carries at once, each doing a day's work compressed in time.

    .venv/bin/python tests/benchmarks/bench_capacity.py [--database sqlite|postgres] [--coordinators N]
        [--coordinator-python PATH] [--steps 5,10,30,100] [--window 90] [--venues 2]

The load model, per session (everything through the public HTTP API and websockets, as the pages, the site
agents and the seats do it):

- **Venues**: a host and a guest venue, each with its real site agent (``evalroom site-agent``: its signed
  link, a heartbeat every few seconds, offers confirmed by itself). A province has a few dozen centres, not one
  per session: ``--venues`` host and as many guest venues serve all the sessions, round-robin, each agent
  reporting a room with enough seats for all of them.
- **People**, each with the session's event websocket open (``/api/v1/sessions/{id}/events/ws``): 5 experts
  (3 at the host, 2 at the guest), the host's hall operator, and the primary (host region) and secondary (guest
  region) supervisors. The three staff pages read the session's state (``GET /api/v1/sessions/{id}``) on every
  event they receive, as today's pages do. (The guest's operator follows the site link, not the session's
  events: 四不知.)
- **Preparation** (before the timed part, not measured): the session, the tender's import, the guest seats
  asked for and confirmed by the guest's agent, the committee plan, the verifiable draw, check-in opened, every
  expert checked in at a seat (ID card and face match), logged in with the one-time code and declared free of
  conflicts.
- **The day**, spread evenly over ``--window`` seconds for every session, the sessions' starts staggered over
  the first tenth of it: the host starts the session; each expert votes for the chair; the chair moves on; each
  expert hands in the qualification review (every bid passes); the chair moves on; each expert hands in the
  detailed score sheet (one of them far off on one bid, so the deviation check flags it); the chair reads the
  flags, the flagged expert explains, the chair confirms; the chair moves through detailed review, price
  scoring and summary to the recommendation (the report made: merge, PDF and its JSON twin). 25 writes, the
  pages' reads they cause (3 per event) and 8 streams per session.

Not in the model (and why): the signatures (real CMS and PAdES verification of 5 sheets × 2 and the report;
tests/benchmarks/bench_signing.py measures that work per session: about 2 s of CPU per session's report
round, which at these rates would dominate everything else) and media segment events (made in-process by the
relay; bench_media.py measures the relay, and since they are batched one ``media.recorded`` event per session
every 5 s is 0.2 events/s per session).

Reported for each step of the ramp (S sessions at once, fresh sessions each step):
- HTTP latency p50 / p99 by route kind: ``write`` (POST/PUT/PATCH), ``read`` (GET), and ``report`` (the
  chair's move out of the recommendation, which merges the sheets and renders the report's PDF in its
  transaction), measured by the client;
- delivery latency p50 / p99: from an event's ``recorded_at`` (the coordinator's clock when the transaction
  recorded it, a little before its commit; the same machine's clock as the client's) to its arrival on each
  subscriber; the report transaction's event apart (its recording precedes the commit by the report's making);
- events/s delivered (events × subscribers) and events/s committed (distinct events);
- CPU of each coordinator process (cores) and its memory (RSS, MiB) at the end of the step; the client's CPU.

The ramp ends after two steps in a row that miss the goal. The headline is the largest step whose delivery
p99 ≤ 100 ms and HTTP p99 ≤ 300 ms (writes and reads; the report's making is shown beside them, not held to
it), every session's day done and no request failed.

Prints Markdown for docs/benchmarks.md. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from websockets.asyncio.client import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster import clean_env, cluster, die_with_parent, process_cpu_seconds, stop_process
from figures import fmt_seconds, percentile

API = "/api/v1"
PASSWORD = "capacity benchmark password"
SPECIALTY = "A02"
HOST_EXPERTS, GUEST_EXPERTS = 3, 2
BIDS = ("L1/B1", "L1/B2", "L1/B3")
BEIJING = ZoneInfo("Asia/Shanghai")
SESSION_HOURS = timedelta(hours=2)
REPORT_PHASE = "report_signing"
"""The phase the session enters when the chair leaves the recommendation: the report is made on the way."""
SETTINGS = {
    "EVALROOM_CHECK_IN_LEAD_MINUTES": str(2 * 24 * 60),  # sessions start an hour ahead; check-in opens at once
    "EVALROOM_EXPERT_LOGIN_CODE_MINUTES": "120",
    "EVALROOM_ACCESS_TOKEN_MINUTES": "60",  # the longest allowed; each step logs in again
}


def id_number(address: str, i: int) -> str:
    """A valid PRC identity number (GB 11643 check digit), birth dates of the last century."""
    body = f"{address}{1960 + i % 30}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def project(tag: str) -> dict[str, Any]:
    return {
        "format": "evalroom-project-v1", "code": f"CAP-{tag}", "name": "容量基准工程施工", "kind": "works",
        "tenderer": f"容量基准招标人{tag}", "method": "comprehensive",
        "bidders": [{"code": f"B{i}", "name": f"容量基准投标人{i}"} for i in (1, 2, 3)],
        "lots": [{"code": "L1", "name": "第一标段", "bids": [
            {"bidder": "B1", "price": "9800000.00"}, {"bidder": "B2", "price": "9650000.00"},
            {"bidder": "B3", "price": "9900000.00"}]}],
        "criteria": [
            {"code": "T", "name": "技术部分", "part": "technical", "max": "30", "children": [
                {"code": "T1", "name": "施工方案", "max": "20"}, {"code": "T2", "name": "质量管理", "max": "10"}]},
            {"code": "C", "name": "商务部分", "part": "commercial", "children": [
                {"code": "C1", "name": "企业资质", "max": "5", "objective": True}]}],
        "price_rule": {"kind": "lowest_benchmark", "points": "30"},
        "tie_break": ["lower_price", "higher_technical"], "candidates": 2,
    }


# --- measurements ----------------------------------------------------------------------------------------
@dataclass
class Step:
    sessions: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"write": [], "read": [], "report": []})
    failures: dict[str, int] = field(default_factory=dict)
    deliveries: list[float] = field(default_factory=list)
    report_deliveries: list[float] = field(default_factory=list)
    events: set[int] = field(default_factory=set)
    window: float = math.nan
    cpu: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    client_cpu: float = math.nan
    prepared_in: float = math.nan
    completed: int = 0
    streams_lost: int = 0

    def fail(self, what: str) -> None:
        self.failures[what] = self.failures.get(what, 0) + 1

    def ok(self) -> bool:
        return (percentile(self.deliveries, 99) <= 0.1 and percentile(self.latencies["write"], 99) <= 0.3
                and percentile(self.latencies["read"], 99) <= 0.3 and not self.failures
                and self.completed == self.sessions)


class Api:
    """HTTP calls that time themselves into a step (when one is being measured)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.step: Step | None = None

    async def call(self, method: str, path: str, token: str, status: int = 200, kind: str | None = None,
                   **kw: Any) -> Any:
        """``kind``: the route kind the latency is counted under (default: read for GET, else write)."""
        started = time.perf_counter()
        try:
            resp = await self.http.request(method, API + path, headers={"Authorization": f"Bearer {token}"}, **kw)
        except httpx.HTTPError as exc:
            if self.step:
                self.step.fail(type(exc).__name__)
            raise
        if self.step is not None:
            self.step.latencies[kind or ("read" if method == "GET" else "write")].append(time.perf_counter() - started)
        if resp.status_code != status:
            if self.step:
                self.step.fail(f"{method} {resp.status_code} {resp.json().get('error', {}).get('code', '')}")
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else None

    async def login(self, username: str, password: str = PASSWORD) -> str:
        resp = await self.http.post(API + "/auth/login", json={"username": username, "password": password})
        resp.raise_for_status()
        return resp.json()["access_token"]


# --- the province: regions, venues with their agents, pools, staff ---------------------------------------
@dataclass
class Venue:
    id: str
    code: str
    region_id: str
    operator: str = ""
    seats: list[str] = field(default_factory=list)


@dataclass
class Province:
    admin: str
    hosts: list[Venue]
    guests: list[Venue]
    supervisors: list[tuple[str, str]]
    """(account id, username) of the primary (host region's) and the secondary (guest region's) supervisor."""
    id_numbers: dict[str, str]
    agents: list[subprocess.Popen[bytes]]
    seats_used: dict[str, int] = field(default_factory=dict)
    """Host venue id → seats given to sessions so far (each session keeps its own)."""


def write_inventory(path: Path, seats: int) -> None:
    rows = "\n".join(f'  {{ code = "A-{i:03d}", pc = "ok", network = "ok", microphone = "ok", speaker = "ok", '
                     f'camera = "ok" }},' for i in range(1, seats + 1))
    path.write_text(f'[[rooms]]\ncode = "R1"\nname = "远程异地评标室"\nkind = "shared"\nseats = [\n{rows}\n]\n',
                    encoding="utf-8")


def start_agent(python: str, home: Path, code: str, url: str) -> subprocess.Popen[bytes]:
    """The venue's ``evalroom site-agent``, run as a venue runs it: its key and inventory in ``home``."""
    log = (home / "agent.log").open("wb")
    return subprocess.Popen(
        [python, "-P", "-m", "evalroom", "site-agent", "--venue", code, "--coordinator", url,
         "--key", str(home / "key.pem"), "--inventory", str(home / "rooms.toml"),
         "--state-dir", str(home / "state"), "--auto-confirm"],
        stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=home,
        preexec_fn=die_with_parent)  # noqa: PLW1509 - only a preloaded C call


async def province(api: Api, root: Path, url: str, python: str, venues: int, seats: int, largest: int,
                   admin_login: tuple[str, str]) -> Province:
    """``largest``: the most sessions at once; each step's sessions are at a time of their own, so the pools
    need experts for one step (nobody sits on two committees at once)."""
    admin = await api.login(*admin_login)
    tag = secrets.token_hex(3).upper()
    regions = {}
    for code, name in (("SD", "山东省"), ("SN", "陕西省")):
        regions[code] = (await api.call("POST", "/regions", admin, 201, json={"code": f"{code}{tag}", "name": name}))["id"]
    made: dict[str, list[Venue]] = {"SD": [], "SN": []}
    agents = []
    for region in ("SD", "SN"):
        for i in range(venues):
            code = f"{region}{tag}-V{i}"
            v = await api.call("POST", "/venues", admin, 201, json={
                "code": code, "name": f"{region}容量基准交易中心{i}", "city": "济南" if region == "SD" else "西安",
                "region_id": regions[region]})
            venue = Venue(v["id"], code, regions[region])
            username = f"op-{code.lower()}"
            await api.call("POST", "/accounts", admin, 201, json={
                "username": username, "display_name": f"{code} 场地工作人员", "role": "hall-operator",
                "venue_id": venue.id, "password": PASSWORD})
            venue.operator = username
            home = root / code
            home.mkdir(parents=True)
            key = ed25519.Ed25519PrivateKey.generate()
            (home / "key.pem").write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
            public = base64.urlsafe_b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
            await api.call("POST", f"/venues/{venue.id}/credentials", admin, 201,
                           json={"public_key": public.decode(), "label": "capacity benchmark"})
            write_inventory(home / "rooms.toml", seats)
            agents.append(start_agent(python, home, code, url))
            made[region].append(venue)
    # Pools: enough experts of the specialty in both regions that every session's draw finds five.
    id_numbers = {}
    for region, address, count in (("SD", "370102", HOST_EXPERTS * largest + 30),
                                   ("SN", "610102", GUEST_EXPERTS * largest + 30)):
        rows = []
        for i in range(count):
            name = f"{region}专家{tag}{i:03d}"
            number = id_number(address, i)
            id_numbers[name] = number
            rows.append({"code": f"{region}{tag}-{i:04d}", "name": name, "id_number": number,
                         "employer": f"{region}某设计研究院第{i % 7 + 1}分院", "specialties": ["A0202"],
                         "ties": [], "credit_status": "active", "certificate": f"{region}CA {i:04d}"})
        await api.call("POST", f"/regions/{regions[region]}/experts/import", admin, json={
            "format": "json", "content": json.dumps(rows, ensure_ascii=False)})
    supervisors = []
    for region in ("SD", "SN"):
        username = f"sup-{region.lower()}-{tag.lower()}"
        supervisors.append(((await api.call("POST", "/accounts", admin, 201, json={
            "username": username, "display_name": f"{region} 行政监督", "role": "supervisor",
            "password": PASSWORD}))["id"], username))
    deadline = time.monotonic() + 120
    for v in made["SD"] + made["SN"]:
        while not (await api.call("GET", f"/venues/{v.id}", admin))["online"]:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the site agent of {v.code} did not come online; see {root / v.code}/agent.log")
            await asyncio.sleep(0.3)
        v.seats = [f"R1/A-{i:03d}" for i in range(1, seats + 1)]
    return Province(admin, made["SD"], made["SN"], supervisors, id_numbers, agents)


def step_start(number: int) -> datetime:
    """When the sessions of step ``number`` (from 0) are scheduled: tomorrow in Beijing from 08:00, three hours
    apart, so that no two steps overlap (an expert may sit on one committee at a time) and no session crosses
    midnight (a guest's booking may not)."""
    tomorrow = datetime.now(BEIJING).date() + timedelta(days=1)
    return datetime.combine(tomorrow, dtime(8), BEIJING) + number * timedelta(hours=3)


# --- one session ----------------------------------------------------------------------------------------
@dataclass
class Prepared:
    id: str
    host: Venue
    guest: Venue
    host_token: str
    guest_token: str
    experts: dict[str, str]  # member id → token


async def prepare(api: Api, p: Province, n: int, host: Venue, guest: Venue, host_token: str, guest_token: str,
                  host_seats: list[str], start: datetime) -> Prepared:
    tag = f"{secrets.token_hex(3).upper()}-{n}"
    s = await api.call("POST", "/sessions", host_token, 201, json={
        "code": f"CAP-{tag}", "title": f"容量基准 {n}", "scheduled_start": start.isoformat(),
        "scheduled_end": (start + SESSION_HOURS).isoformat()})
    sid = s["id"]
    for (account_id, _), level in zip(p.supervisors, ("primary", "secondary"), strict=True):
        await api.call("POST", f"/sessions/{sid}/supervisors", p.admin, 201,
                       json={"account_id": account_id, "level": level})
    await api.call("PUT", f"/sessions/{sid}/project", host_token, json=project(tag))
    offer = await api.call("POST", f"/sessions/{sid}/offers", p.admin, 201, json={
        "guest_venue_id": guest.id, "seats": GUEST_EXPERTS, "specialties": [SPECIALTY]})
    offer_id = offer.get("offer_id") or offer["id"]
    for _ in range(600):
        o = await api.call("GET", f"/offers/{offer_id}", guest_token)
        if o["state"] == "confirmed":
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("the guest's agent did not confirm the offer")
    guest_seats = list(o["assigned_seats"])
    await api.call("PUT", f"/sessions/{sid}/committee/plan", host_token, json={
        "project_type": "works", "total": HOST_EXPERTS + GUEST_EXPERTS,
        "quotas": [{"venue": "host", "specialties": {SPECIALTY: HOST_EXPERTS}},
                   {"venue": f"offer:{offer_id}", "specialties": {SPECIALTY: GUEST_EXPERTS}}],
        "parties": {"tenderer": f"容量基准招标人{tag}", "bidders": [f"容量基准投标人{i}" for i in (1, 2, 3)]}})
    await api.call("POST", f"/sessions/{sid}/committee/draws", host_token)
    await api.call("POST", f"/sessions/{sid}/check-in/open", host_token)
    members = (await api.call("GET", f"/sessions/{sid}/committee", p.admin))["members"]
    experts = {}
    seats = {host.id: list(host_seats), guest.id: guest_seats}
    for m in members:
        desk = host_token if m["venue_id"] == host.id else guest_token
        answer = await api.call("POST", "/committee/check-in", desk, json={
            "id_number": p.id_numbers[m["name"]], "id_card": "pass", "face_match": "pass", "face_score": "0.96",
            "seat": seats[m["venue_id"]].pop(0)})
        login = await api.http.post(API + "/auth/expert-login", json={"code": answer["login_code"]})
        login.raise_for_status()
        token = login.json()["access_token"]
        text = await api.call("GET", f"/sessions/{sid}/committee/declaration", token)
        await api.call("POST", f"/sessions/{sid}/committee/declaration", token,
                       json={"conflict": False, "text_sha256": text["sha256"]})
        experts[m["member_id"]] = token
    return Prepared(sid, host, guest, host_token, guest_token, experts)


async def follow(url: str, sid: str, token: str, step: Step, stop: asyncio.Event, ready: asyncio.Event,
                 on_event: Any = None) -> None:
    """A subscriber: every event's delivery latency into the step; ``on_event()`` after each (a page's read)."""
    reads: set[asyncio.Task[None]] = set()
    try:
        async with ws_connect(f"{url.replace('http', 'ws', 1)}{API}/sessions/{sid}/events/ws", open_timeout=120,
                              ping_interval=None, close_timeout=2, max_size=2**22) as ws:
            await ws.send(json.dumps({"type": "subscribe", "token": token, "after": 0}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 120))
            head = first.get("head", 0)
            ready.set()
            async for raw in ws:
                now = time.time()
                msg = json.loads(raw)
                if msg.get("type") != "event":
                    continue
                ev = msg["event"]
                if ev["seq"] <= head:  # the backlog of the preparation: not live
                    continue
                latency = now - datetime.fromisoformat(ev["recorded_at"]).timestamp()
                # The report is made inside the transaction that records this event: its latency from recording
                # includes the merge and the PDF (about a second), so it is counted apart.
                report = ev["kind"] == "session.phase_changed" and ev["payload"].get("phase") == REPORT_PHASE
                (step.report_deliveries if report else step.deliveries).append(latency)
                step.events.add(ev["seq"])
                if on_event is not None:
                    read = asyncio.get_running_loop().create_task(on_event())
                    reads.add(read)  # held until done: the loop keeps only a weak reference
                    read.add_done_callback(reads.discard)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - counted, not fatal
        ready.set()
        if not stop.is_set():
            step.streams_lost += 1
            print(f"a stream ended: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)


async def day(api: Api, p: Province, s: Prepared, window: float, offset: float) -> None:
    """The timed part of one session, its actions spread evenly over ``window`` seconds after ``offset``."""
    base = f"/sessions/{s.id}"
    members = sorted(s.experts)
    chair_token = s.experts[members[0]]
    actions: list[Any] = []

    def act(fn: Any) -> None:
        actions.append(fn)

    act(lambda: api.call("POST", f"{base}/state", s.host_token, json={"action": "start"}))
    for m in members:
        act(lambda m=m: api.call("POST", f"{base}/chair/votes", s.experts[m], json={"candidate_member_id": members[0]}))
    act(lambda: api.call("POST", f"{base}/phase", chair_token, json={"leave": "chair_election"}))
    for m in members:
        act(lambda m=m: api.call("POST", f"{base}/review", s.experts[m],
                                 json={"marks": {b: {"passed": True} for b in BIDS}}))
    act(lambda: api.call("POST", f"{base}/phase", chair_token, json={"leave": "review"}))
    for i, m in enumerate(members):
        far = i == len(members) - 1
        scores = {b: {"T1": "4" if far and b == "L1/B2" else str(15 + i % 3), "T2": "8", "C1": "5"} for b in BIDS}
        act(lambda m=m, scores=scores: api.call("POST", f"{base}/scores", s.experts[m], json={"scores": scores}))

    async def flags() -> None:
        for f in await api.call("GET", f"{base}/flags", chair_token):
            await api.call("POST", f"{base}/flags/{f['id']}/explanation", s.experts[f["member_id"]],
                           json={"text": "该投标人施工方案未针对雨季施工提出具体措施，按评分细则扣分。"})
            await api.call("POST", f"{base}/flags/{f['id']}/confirm", chair_token)

    act(flags)
    for leave in ("detailed_review", "price_scoring", "summary"):
        act(lambda leave=leave: api.call("POST", f"{base}/phase", chair_token, json={"leave": leave}))
    act(lambda: api.call("POST", f"{base}/phase", chair_token, json={"leave": "recommendation"}, kind="report"))
    gap = window * 0.9 / len(actions)
    await asyncio.sleep(offset)
    started = time.perf_counter()
    for i, action in enumerate(actions):
        await action()
        delay = started + (i + 1) * gap - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


async def run_step(api: Api, url: str, p: Province, n: int, window: float, pids: list[int], seats: int,
                   number: int) -> Step:
    """One step: ``n`` sessions prepared (scheduled after the earlier steps' sessions, so as not to overlap
    them), then their day, measured."""
    step = Step(n)
    t0 = time.perf_counter()
    host_tokens = {v.id: await api.login(v.operator) for v in p.hosts}
    guest_tokens = {v.id: await api.login(v.operator) for v in p.guests}
    # Seats at each host venue for the sessions of this step (a fresh block each step: earlier sessions keep theirs).
    gate = asyncio.Semaphore(4)
    used = p.seats_used

    async def one(i: int) -> Prepared:
        host, guest = p.hosts[i % len(p.hosts)], p.guests[i % len(p.guests)]
        first = used.get(host.id, 0)
        used[host.id] = first + HOST_EXPERTS
        if used[host.id] > seats:
            raise SystemExit(f"--seats {seats} is too few for the sessions asked for")
        async with gate:
            return await prepare(api, p, i, host, guest, host_tokens[host.id], guest_tokens[guest.id],
                                 host.seats[first:first + HOST_EXPERTS], step_start(number))

    outcomes = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    prepared = [o for o in outcomes if isinstance(o, Prepared)]
    for o in outcomes:
        if isinstance(o, Exception):
            step.fail(f"preparation: {str(o)[:160]}")
    step.prepared_in = time.perf_counter() - t0
    # A supervisor's token names the sessions they supervise at login: log in after the assignments.
    supervisors = [await api.login(username) for _, username in p.supervisors]
    stop = asyncio.Event()
    followers, readies = [], []
    api.step = step
    for s in prepared:
        def page_read(s: Prepared = s, token: str = s.host_token) -> Any:
            async def read() -> None:
                with contextlib.suppress(Exception):
                    await api.call("GET", f"/sessions/{s.id}", token)
            return read
        viewers = [(tok, None) for tok in s.experts.values()]
        viewers += [(tok, page_read(s, tok)) for tok in (s.host_token, *supervisors)]
        for token, on_event in viewers:
            ready = asyncio.Event()
            readies.append(ready)
            followers.append(asyncio.create_task(follow(url, s.id, token, step, stop, ready, on_event)))
    await asyncio.gather(*(r.wait() for r in readies))
    api.step = None
    step.deliveries.clear()
    step.latencies = {"write": [], "read": [], "report": []}
    step.report_deliveries.clear()
    await asyncio.sleep(1)
    api.step = step
    cpu0 = [process_cpu_seconds(pid) for pid in pids]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    rng = random.Random(n)
    results = await asyncio.gather(*(day(api, p, s, window, rng.uniform(0, window / 10)) for s in prepared),
                                   return_exceptions=True)
    await asyncio.sleep(1)  # the last deliveries
    step.window = time.perf_counter() - started
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    step.cpu = [(process_cpu_seconds(pid) - c) / step.window for pid, c in zip(pids, cpu0, strict=True)]
    step.rss = [rss_mib(pid) for pid in pids]
    step.client_cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / step.window
    step.completed = sum(1 for r in results if not isinstance(r, BaseException))  # of those prepared
    for r in results:
        if isinstance(r, BaseException):
            print(f"a session's day failed: {str(r)[:300]}", file=sys.stderr)
    api.step = None
    stop.set()
    for f in followers:
        f.cancel()
    await asyncio.gather(*followers, return_exceptions=True)
    return step


def table(steps: list[Step], label: str) -> str:
    lines = [("| setup | sessions | HTTP write p50 / p99 | HTTP read p50 / p99 | report p50 / p99 | delivery p50 / p99 "
             "| report delivery p50 | events/s (committed / delivered) | coordinator CPU (cores) | coordinator RSS "
             "(MiB) | client CPU | sessions done | within goal |"),
             "|---|---:|---|---|---|---|---|---|---|---|---:|---|---|"]
    for s in steps:
        w, r = s.latencies["write"], s.latencies["read"]
        lines.append(
            f"| {label} | {s.sessions} | {fmt_seconds(percentile(w, 50))} / {fmt_seconds(percentile(w, 99))} | "
            f"{fmt_seconds(percentile(r, 50))} / {fmt_seconds(percentile(r, 99))} | "
            f"{fmt_seconds(percentile(s.latencies['report'], 50))} / {fmt_seconds(percentile(s.latencies['report'], 99))} | "
            f"{fmt_seconds(percentile(s.deliveries, 50))} / {fmt_seconds(percentile(s.deliveries, 99))} | "
            f"{fmt_seconds(percentile(s.report_deliveries, 50))} | "
            f"{len(s.events) / s.window:.1f} / {(len(s.deliveries) + len(s.report_deliveries)) / s.window:.0f} | "
            f"{' + '.join(f'{c:.2f}' for c in s.cpu)} | {' + '.join(f'{m:.0f}' for m in s.rss)} | "
            f"{s.client_cpu:.2f} | {s.completed} of {s.sessions} | {'yes' if s.ok() else 'no'} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace, url: str, admin: tuple[str, str], pids: list[int],
                     root: Path) -> list[Step]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=3)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(300.0)) as http:
        api = Api(http)
        sizes = [int(x) for x in args.steps.split(",")]
        seats = HOST_EXPERTS * math.ceil(sum(sizes) / args.venues) + 10
        p = await province(api, root / "agents", url, args.coordinator_python, args.venues, max(seats, 12),
                           max(sizes), admin)
        steps = []
        try:
            for number, n in enumerate(sizes):
                step = await run_step(api, url, p, n, args.window, pids, max(seats, 12), number)
                print(f"{n} sessions: prepared in {step.prepared_in:.0f} s; delivery p99 "
                      f"{fmt_seconds(percentile(step.deliveries, 99))}, write p99 {fmt_seconds(percentile(step.latencies['write'], 99))}"
                      f", read p99 {fmt_seconds(percentile(step.latencies['read'], 99))}; failures {step.failures or 'none'}; "
                      f"streams lost {step.streams_lost}", file=sys.stderr, flush=True)
                steps.append(step)
                if len(steps) >= 2 and not steps[-1].ok() and not steps[-2].ok():
                    print("two steps in a row missed the goal: the ramp ends here", file=sys.stderr)
                    break
        finally:
            for agent in p.agents:
                stop_process(agent, grace=10)
        return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--coordinators", type=int, default=1)
    ap.add_argument("--coordinator-python", default=sys.executable)
    ap.add_argument("--steps", default="5,10,30,100", help="concurrent sessions at each step of the ramp")
    ap.add_argument("--window", type=float, default=90, help="seconds one session's day is compressed into")
    ap.add_argument("--venues", type=int, default=2, help="host venues (and as many guest venues)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with cluster(database=args.database, coordinators=args.coordinators, python=args.coordinator_python,
                 env=SETTINGS, keep=args.keep) as c:
        label = ("SQLite" if args.database == "sqlite" else "PostgreSQL") + (
            f" × {args.coordinators} (HAProxy)" if args.coordinators > 1 else "")
        steps = asyncio.run(main_async(args, c.url, (c.admin_username, c.admin_password), c.pids(), c.root))
        print(f"machine: {os.cpu_count()} cores; coordinator code {Path(c.evalroom_package).parent.parent}; "
              f"window {args.window:g} s; {args.venues} host + {args.venues} guest venues\n")
        print(table(steps, label))
        good = [s.sessions for s in steps if s.ok()]
        print(f"\nlargest step within the goal (delivery p99 ≤ 100 ms, HTTP p99 ≤ 300 ms): {max(good) if good else 'none'}")
        for s in steps:
            extra = [f"prepared in {s.prepared_in:.0f} s", f"window {s.window:.0f} s"]
            if s.failures:
                extra.append("failures " + ", ".join(f"{k}: {v}" for k, v in sorted(s.failures.items())))
            if s.streams_lost:
                extra.append(f"streams lost {s.streams_lost}")
            print(f"- {s.sessions} sessions: " + "; ".join(extra))


if __name__ == "__main__":
    main()
