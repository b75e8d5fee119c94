"""Real site agents (``evalroom site-agent`` processes) against a real coordinator (``evalroom serve``), with
the impaired-link relay (tests/netrelay.py) between them: 40 ms one-way delay and 2 % loss, then a 30 s
outage during which the host changes and makes offers. The agents must notice, reconnect by themselves,
catch up with every event routed to their venue — nothing missed, nothing twice — and act on the offers
they missed. What the guest's agent received must not name the host or the project (blind pairing).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import PASSWORD, unique_code
from netrelay import ImpairedRelay
from servers import Agent, Coordinator, evalroom_cli

pytestmark = pytest.mark.timeout(300)

OUTAGE_SECONDS = 30
HOST_SECRETS = ("绝密路桥工程", "泉城交易中心", "泉城")


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        time.sleep(0.2)


def test_agents_catch_up_after_an_outage_on_an_impaired_link(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    env.update(EVALROOM_SITE_HEARTBEAT_SECONDS="0.5", EVALROOM_SITE_OFFLINE_AFTER_SECONDS="4",
               EVALROOM_HOUSEKEEPING_SECONDS="0.5")
    evalroom_cli("account", "create", "--data", str(data), "--username", "admin", "--role", "coordinator-admin",
                 env=env, stdin=PASSWORD + "\n")
    coordinator = Coordinator(data, env)
    agents: list[Agent] = []
    relay = ImpairedRelay("127.0.0.1", coordinator.port, delay=0.04, loss=0.02, seed=11).start()
    token = httpx.post(f"{coordinator.base}/api/v1/auth/login",
                       json={"username": "admin", "password": PASSWORD}).json()["access_token"]
    api = httpx.Client(base_url=coordinator.base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    try:
        region = api.post("/api/v1/regions", json={"code": unique_code("R"), "name": "测试省"}).json()
        host = api.post("/api/v1/venues", json={"code": unique_code("JN"), "name": HOST_SECRETS[1], "city": HOST_SECRETS[2],
                                                "region_id": region["id"]}).json()
        guest = api.post("/api/v1/venues", json={"code": unique_code("XA"), "name": "长安交易中心", "city": "长安",
                                                 "region_id": region["id"]}).json()
        url = f"http://127.0.0.1:{relay.port}"
        agents = [Agent(tmp_path, venue, api, env, url) for venue in (host, guest)]
        host_agent, guest_agent = agents

        def online(venue: dict[str, Any]) -> bool:
            return api.get(f"/api/v1/venues/{venue['id']}").json()["online"]

        def usable_seats(venue: dict[str, Any]) -> int:
            rooms = api.get(f"/api/v1/venues/{venue['id']}/rooms").json()
            return sum(seat["usable"] for room in rooms for seat in room["seats"])

        _eventually(lambda: online(host) and online(guest), "both venues online")
        _eventually(lambda: usable_seats(guest) == 4, "the guest's inventory reported")

        start = datetime.now(UTC) + timedelta(days=1)
        start = start.replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in Beijing

        def session(title: str) -> str:
            return api.post("/api/v1/sessions", json={
                "code": unique_code("S"), "title": title, "host_venue_id": host["id"],
                "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=3)).isoformat()}).json()["id"]

        def offer(session_id: str, seats: int) -> str:
            resp = api.post(f"/api/v1/sessions/{session_id}/offers",
                            json={"guest_venue_id": guest["id"], "seats": seats, "specialties": ["B01"]})
            resp.raise_for_status()
            return resp.json()["offer_id"]

        def state(offer_id: str) -> tuple[str, int]:
            body = api.get(f"/api/v1/offers/{offer_id}").json()
            return body["state"], body["version"]

        sessions = [session(HOST_SECRETS[0]) for _ in range(3)]
        first = offer(sessions[0], 2)
        _eventually(lambda: state(first) == ("confirmed", 1), "the guest's agent confirms the first offer")

        with relay.outage():
            cut = time.monotonic()
            second = offer(sessions[1], 1)  # made while the guest is unreachable
            change = api.patch(f"/api/v1/offers/{first}", json={"ends_at": (start + timedelta(hours=2)).isoformat()})
            assert change.status_code == 200 and change.json()["state"] == "pending"
            third = offer(sessions[2], 1)
            api.post(f"/api/v1/offers/{third}/cancel", json={"reason": HOST_SECRETS[0] + "暂停"}).raise_for_status()
            _eventually(lambda: not online(guest) and not online(host), "the coordinator notices both links are gone")
            assert state(second) == ("pending", 1)
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut)))

        _eventually(lambda: online(host) and online(guest), "both venues back online")
        _eventually(lambda: state(second) == ("confirmed", 1), "the offer made during the outage is confirmed")
        _eventually(lambda: state(first) == ("confirmed", 2), "the changed offer is confirmed again")
        assert state(third)[0] == "cancelled"

        db = sqlite3.connect(f"file:{data / 'evalroom.db'}?mode=ro", uri=True)
        try:
            for agent in agents:
                def caught_up(agent: Agent = agent) -> bool:
                    routed = [row[0] for row in db.execute(
                        "SELECT e.seq FROM event_venues v JOIN events e ON e.id = v.event_id WHERE v.venue_id = ? ORDER BY e.seq",
                        (agent.venue["id"],))]
                    return [e["seq"] for e in agent.inbox()] == routed
                _eventually(caught_up, f"{agent.venue['code']}'s agent has every event routed to it, in order",
                            timeout=30)
                status = agent.status()
                assert status["duplicates"] == 0
                assert status["connections"] >= 2  # it did reconnect
                kinds = [e["kind"] for e in agent.inbox()]
                assert "venue.offline" in kinds  # learned after the fact that it had been marked offline
        finally:
            db.close()

        guest_kinds = [(e["kind"], e["data"].get("offer", {}).get("offer_id")) for e in guest_agent.inbox()]
        for expected in (("offer.created", second), ("offer.changed", first), ("offer.created", third),
                         ("offer.cancelled", third), ("offer.confirmed", second)):
            assert expected in guest_kinds
        text = (guest_agent.state / "inbox.jsonl").read_text(encoding="utf-8")
        for secret in (*HOST_SECRETS, host["id"], host["code"], *sessions):
            assert secret not in text, f"the guest's agent learned {secret!r}"
        assert relay.stats.held_during_outage > 0 and relay.stats.chunks > 50  # the link really was in the way
    finally:
        api.close()
        for agent in agents:
            agent.stop()
        relay.stop()
        coordinator.stop()


def test_an_offer_recorded_but_not_acted_on_is_answered_after_a_restart(tmp_path: Path) -> None:
    """The agent stopped after writing an offer to its inbox and before confirming it: on the next start it
    resumes after that event (so the coordinator does not send it again) and still confirms the offer."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    evalroom_cli("account", "create", "--data", str(data), "--username", "admin", "--role", "coordinator-admin",
                 env=env, stdin=PASSWORD + "\n")
    coordinator = Coordinator(data, env)
    token = httpx.post(f"{coordinator.base}/api/v1/auth/login",
                       json={"username": "admin", "password": PASSWORD}).json()["access_token"]
    api = httpx.Client(base_url=coordinator.base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    agent: Agent | None = None
    try:
        region = api.post("/api/v1/regions", json={"code": unique_code("R"), "name": "测试省"}).json()
        host, guest = (api.post("/api/v1/venues", json={"code": unique_code("V"), "name": n, "city": n,
                                                        "region_id": region["id"]}).json() for n in ("甲", "乙"))
        start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
        session = api.post("/api/v1/sessions", json={
            "code": unique_code("S"), "title": "t", "host_venue_id": host["id"],
            "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=2)).isoformat()}).json()
        offer = api.post(f"/api/v1/sessions/{session['id']}/offers",
                         json={"guest_venue_id": guest["id"], "seats": 1}).json()
        # The inbox as the agent left it: the offer's event written, nothing done about it.
        db = sqlite3.connect(f"file:{data / 'evalroom.db'}?mode=ro", uri=True)
        try:
            seq = db.execute("SELECT max(e.seq) FROM event_venues v JOIN events e ON e.id = v.event_id "
                             "WHERE v.venue_id = ?", (guest["id"],)).fetchone()[0]
        finally:
            db.close()
        state = tmp_path / guest["code"] / "state"
        state.mkdir(parents=True)
        guest_offer = {k: offer[k] for k in ("offer_id", "state", "version", "seats")}
        (state / "inbox.jsonl").write_text(json.dumps({"seq": seq, "kind": "offer.created", "at": "",
                                                       "data": {"offer": guest_offer}}) + "\n", encoding="utf-8")
        agent = Agent(tmp_path, guest, api, env, coordinator.base, state_exists=True)
        _eventually(lambda: api.get(f"/api/v1/offers/{offer['offer_id']}").json()["state"] == "confirmed",
                    "the restarted agent confirms the offer it had not answered")
        assert all(e["seq"] > seq for e in agent.inbox()[1:]), "the offer's event was not sent again"
    finally:
        if agent is not None:
            agent.stop()
        api.close()
        coordinator.stop()
