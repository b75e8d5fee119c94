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
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from websockets.sync.client import connect as ws_connect

from evalroom import __version__
from evalroom.api.app import create_app
from evalroom.api.context import build_context
from evalroom.config import load_settings
from evalroom.errors import ConfigError
from evalroom.schemas import AccountCreate
from evalroom.services.accounts import create_account
from evalroom.storage.store import read_events, verify_stored_chain

__all__ = ["run_demo"]

MARKER = ".evalroom-demo"
SPECIALTIES = ["B01", "B02"]
"""Specialty codes the demo's expert pools cover (e.g. B01 roads and bridges, B02 construction cost)."""
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
        "code": "SD", "name": "山东省", "ca_name": "山东CA", "specialties": SPECIALTIES}), 201)
    sn = _check(client.post("/api/v1/regions", headers=admin, json={
        "code": "SN", "name": "陕西省", "ca_name": "陕西CA", "specialties": SPECIALTIES}), 201)
    host = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "JN-GGZY", "name": "济南市公共资源交易中心", "city": "济南", "region_id": sd["id"]}), 201)
    guest = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "XA-GGZY", "name": "西安市公共资源交易中心", "city": "西安", "region_id": sn["id"]}), 201)
    run.say(f"registered host venue {host['name']} and guest venue {guest['name']}")
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
    with ws_connect(ws_url, open_timeout=10) as ws:
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
                               json={"seats": 2, "specialties": ["B01"]}), 201)
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
    log = (home / "agent.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "evalroom", "site-agent", "--venue", venue["code"],
                             "--coordinator", run.base, "--key", str(key_file), "--inventory", str(home / "rooms.toml"),
                             "--state-dir", str(home / "state"), "--auto-confirm"],
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
    }


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
    settings = load_settings(environ={},
                             overrides={"data_dir": out, "port": port, "environment": "development"})
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
        events = verify_stored_chain(ctx.store)
        run.say(f"event chain verified: {events} events, intact")
        files = _write_outputs(run, ctx)
        summary = {"evalroom_version": __version__, "base_url": run.base, "files": files,
                   "session": run.facts["session"], "offer": run.facts["offer"],
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


def _print_where_to_look(run: DemoRun) -> None:
    s = run.facts["session"]
    print(f"""
Where to look
  API docs (try it out):  {run.base}/docs
  health / readiness:     {run.base}/api/v1/health   {run.base}/api/v1/ready
  session {s['code']}:   {run.base}/api/v1/sessions/{s['id']}
  its live events:        {run.facts['ws_url']}  (send {{"type":"subscribe","token":...,"after":0}})
  logins (POST /api/v1/auth/login; also in {run.out / 'credentials.json'}):""")
    for user, pw in run.passwords.items():
        print(f"    {user:<14} {pw}")
    print(f"  everything produced:    {run.out / 'summary.json'}")
