"""The session against real servers: a real ``evalroom serve`` (and real ``evalroom site-agent`` processes)
on the test's database, SQLite file or PostgreSQL.

- A coordinator killed (SIGKILL) mid-scoring restarts with every submitted sheet intact: three of five sheets
  are acknowledged, the process is killed, a new one starts; each acknowledged sheet is there with the hash
  it was acknowledged with, its member may repeat the submission (idempotent), the last two complete the
  phase and reveal all five, and the event chain is intact.
- A guest site agent killed mid-evaluation suspends the session by itself, and every venue hears it over its
  site link; the agent back, the session resumes. A seated expert's camera failing (the agent's inventory
  says so) suspends it again, as a media fault.

The committee world is built in-process first, on the same database and key directory the server then uses.
The test's clock starts at the real time, because the server checks the in-process tokens with its own.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from committee_world import CommitteeWorld, build, draw, members, open_check_in, seat_everyone
from servers import Agent, Coordinator, evalroom_cli, eventually, write_inventory
from session_world import import_project, sheet, to_detailed_review

from evalroom.clock import ManualClock
from evalroom.config import Settings, load_settings
from evalroom.storage.db import is_sqlite

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As conftest's, but at the real time of day the session's window may cross midnight in Beijing; and the
    test's own coordinator serves only: the background jobs are the ``evalroom serve`` processes' it starts."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "booking_may_cross_midnight": True,
                                                "log_batch_seconds": 300, "background_jobs": False})


def server_env(db_url: str, **settings: str) -> dict[str, str]:
    """The environment of ``evalroom serve`` on the test's database: no inherited EVALROOM_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    env |= {"EVALROOM_ENVIRONMENT": "development", "EVALROOM_BOOKING_MAY_CROSS_MIDNIGHT": "true"}
    env |= {f"EVALROOM_{k.upper()}": v for k, v in settings.items()}
    if not is_sqlite(db_url):
        env["EVALROOM_DATABASE_URL"] = db_url
    return env


def test_sheets_survive_a_sigkill_of_the_coordinator_mid_scoring(ctx, client, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 db_url: str) -> None:
    w: CommitteeWorld = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    experts, _chair = to_detailed_review(w)
    order = sorted(experts)
    env = server_env(db_url, site_offline_after_seconds="3600")  # no venue agents here: never swept offline
    sheets = {m: sheet(str(10 + i), "7") for i, m in enumerate(order)}
    url = f"/api/v1/sessions/{w.session_id}"

    first = Coordinator(tmp_path, env)
    try:
        acked = {}
        for m in order[:3]:
            resp = httpx.post(f"{first.base}{url}/scores", headers=experts[m], json=sheets[m], timeout=30)
            assert resp.status_code == 200, resp.text
            acked[m] = resp.json()["sha256"]
    finally:
        first.kill()

    second = Coordinator(tmp_path, env)
    try:
        with httpx.Client(base_url=second.base, timeout=30) as c:
            for m, digest in acked.items():
                own = c.get(f"{url}/sheets", headers=experts[m]).json()["sheets"]
                assert [(s["member_id"], s["sha256"]) for s in own] == [(m, digest)]
                assert own[0]["content"]["scores"] == {b: {k: f"{float(v):.2f}" for k, v in items.items()}
                                                       for b, items in sheets[m]["scores"].items()}
                again = c.post(f"{url}/scores", headers=experts[m], json=sheets[m]).json()
                assert again["sha256"] == digest and again["created"] is False
            for m in order[3:]:
                assert c.post(f"{url}/scores", headers=experts[m], json=sheets[m]).status_code == 200
            listed = c.get(f"{url}/sheets", headers=w.host_op()).json()
            assert listed["revealed"] is True
            by_member = {s["member_id"]: s["sha256"] for s in listed["sheets"]}
            assert set(by_member) == set(order) and all(by_member[m] == d for m, d in acked.items())
            assert c.get(f"{url}/status", headers=w.host_op()).json()["submitted"] == 5
    finally:
        second.stop()
    assert "intact" in evalroom_cli("db", "verify-events", "--data", str(tmp_path), env=env).stdout


def test_a_killed_site_agent_suspends_the_session_and_every_venue_hears_it(ctx, client, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                           db_url: str) -> None:
    w = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    import_project(w)
    draw(w)
    open_check_in(w)
    seat_everyone(w)
    # Offline after 10 s without a heartbeat (20 missed): a killed agent is noticed within seconds, and a
    # loaded machine (a moved-clock run on both cores) does not drop a live agent on its own.
    env = server_env(db_url, site_heartbeat_seconds="0.5", site_offline_after_seconds="10",
                     housekeeping_seconds="0.5")
    server = Coordinator(tmp_path, env)
    api = httpx.Client(base_url=server.base, headers=w.admin(), timeout=10)
    venues = {v: api.get(f"/api/v1/venues/{v}").json() for v in (w.host_venue_id, w.guest_venue_id)}
    agents: dict[str, Agent] = {}
    url = f"/api/v1/sessions/{w.session_id}"

    def status() -> dict[str, Any]:
        return httpx.get(f"{server.base}{url}/status", headers=w.host_op(), timeout=10).json()

    def kinds(agent: Agent) -> list[tuple[str, Any]]:
        return [(e["kind"], e["data"].get("action")) for e in agent.inbox() if e["kind"].startswith("session.")]

    try:
        # The world's rooms: six seats each, the host's hall shared, the guest's room single.
        for vid, kind in ((w.host_venue_id, "shared"), (w.guest_venue_id, "single")):
            agents[vid] = Agent(tmp_path / "agents", venues[vid], api, env, server.base, seats=6, kind=kind)
        eventually(lambda: all(v["online"] for v in status()["venues"]), "both venues online")
        started = httpx.post(f"{server.base}{url}/state", headers=w.host_op(), json={"action": "start"}, timeout=10)
        assert started.status_code == 200, started.text

        guest, host = agents[w.guest_venue_id], agents[w.host_venue_id]
        guest.kill()
        suspended = eventually(lambda: (s := status())["state"] == "suspended" and s, "the session suspends itself")
        assert [(f["venue_id"], f["cause"]) for f in suspended["faults"]] == [(w.guest_venue_id, "site_link")]
        # The host's agent heard the start and the automatic suspension, in that order, over its site link.
        eventually(lambda: ("session.state_changed", "suspend") in kinds(host), "the host venue hears it")
        assert [k for k in kinds(host) if k[0] == "session.state_changed"] == [
            ("session.state_changed", "start"), ("session.state_changed", "suspend")]
        refused = httpx.post(f"{server.base}{url}/state", headers=w.host_op(), json={"action": "resume"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"

        agents[w.guest_venue_id] = guest = Agent(tmp_path / "agents", venues[w.guest_venue_id], api, env,
                                                 server.base, state_exists=True, seats=6, kind="single")
        eventually(lambda: status()["faults"][0]["outcome"] == "continue", "the fault closes when the agent is back")
        resumed = httpx.post(f"{server.base}{url}/state", headers=w.host_op(), json={"action": "resume"})
        assert resumed.status_code == 200 and resumed.json()["state"] == "evaluating"
        # The guest's agent catches up: it missed its own venue's suspension while dead, and hears the resume.
        eventually(lambda: ("session.state_changed", "resume") in kinds(guest), "the guest venue hears the resume")
        assert [k[1] for k in kinds(guest) if k[0] == "session.state_changed"] == ["start", "suspend", "resume"]

        # A seated guest expert's camera fails: the agent's next heartbeat reports it; the session suspends.
        seat_code = next(m["seat"] for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id)
        write_inventory(guest.dir / "rooms.toml", 6, kind="single", broken={seat_code.split("/")[1]: "camera"})
        media = eventually(lambda: (s := status())["state"] == "suspended" and s, "a media fault suspends it")
        assert media["faults"][-1]["cause"] == "media" and "camera: fault" in media["faults"][-1]["detail"]
        write_inventory(guest.dir / "rooms.toml", 6, kind="single")
        eventually(lambda: status()["faults"][-1]["outcome"] == "continue", "the camera works again")
    finally:
        for agent in agents.values():
            if agent.proc.poll() is None:
                agent.stop()
        api.close()
        server.stop()
