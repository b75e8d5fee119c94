"""``evalroom demo``: a remote evaluation on the embedded default, driven through the real API.

The demo starts a real coordinator (uvicorn, SQLite under OUT) and then plays the people of a remote
evaluation against it over HTTP and the websocket, as their clients would: the coordinator admin registers
the regions and venues (济南 as host, 西安 as guest) and staff, the host operator creates the session, the
supervisors follow its events live. Each later capability extends the script, so that in the end the demo
runs a whole remote evaluation by itself.

``--exit`` stops after the script and writes ``OUT/summary.json`` listing what was produced, by kind.
Without it the coordinator keeps serving, so a person can log in with the printed credentials.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import uvicorn
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
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass
class DemoRun:
    base: str
    out: Path
    passwords: dict[str, str] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

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

    sd = _check(client.post("/api/v1/regions", json={"code": "SD", "name": "山东省"}, headers=admin), 201)
    sn = _check(client.post("/api/v1/regions", json={"code": "SN", "name": "陕西省"}, headers=admin), 201)
    host = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "JN-GGZY", "name": "济南市公共资源交易中心", "city": "济南", "region_id": sd["id"]}), 201)
    guest = _check(client.post("/api/v1/venues", headers=admin, json={
        "code": "XA-GGZY", "name": "西安市公共资源交易中心", "city": "西安", "region_id": sn["id"]}), 201)
    run.say(f"registered host venue {host['name']} and guest venue {guest['name']}")

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
    run.facts.update(session=session, ws_url=ws_url, live_event=live["kind"],
                     venues={"host": host["name"], "guest": guest["name"]})


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
                   "session": run.facts["session"], "checks": {"event_chain": "intact", "events": events}}
        (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _print_where_to_look(run)
        if exit_after:
            return 0
        print("\nServing until Ctrl+C.", flush=True)
        while thread.is_alive():
            thread.join(0.5)
        return 0
    finally:
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
