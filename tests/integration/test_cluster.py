"""Two real ``evalroom serve`` processes on the suite's PostgreSQL behind a real HAProxy (tests/cluster.py).

- A subscriber on one coordinator sees a write made through the other, by PostgreSQL NOTIFY: the head poll is
  set to 30 s here, so nothing else could bring it within seconds.
- Exactly one coordinator leads the background jobs; when it is SIGKILLed mid-session the other takes over.
- Clients through the balancer while a coordinator is SIGKILLed: streams reconnect through the balancer to the
  other and resume from their last ``seq``; a writer retries what was not acknowledged; every acknowledged write
  reaches every stream once, in order, and nothing arrives twice.
- The transparency log goes on with one checkpoint per batch (sizes strictly increasing), from the new leader.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import psycopg
import pytest
from cluster import cluster
from pg import PgServer
from prometheus_client.parser import text_string_to_metric_families
from timebase import beijing
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]

SETTINGS = {"EVALROOM_EVENT_POLL_SECONDS": "30", "EVALROOM_LOG_BATCH_SECONDS": "0.5",
            "EVALROOM_HOUSEKEEPING_SECONDS": "0.5"}


def _ws_url(base: str, session_id: str) -> str:
    return base.replace("http://", "ws://") + f"/api/v1/sessions/{session_id}/events/ws"


def _leads(base: str) -> float | None:
    """The coordinator's ``evalroom_cluster_leader`` (None: not answering)."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.TransportError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "evalroom_cluster_leader":
                return sample.value
    return None


def _eventually(check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)
    return value


class Stream(threading.Thread):
    """A session's event stream through ``base`` that reconnects (through the same URL) after a broken
    connection and resumes after the last ``seq`` it received; keeps every event it received."""

    def __init__(self, base: str, session_id: str, token: str, after: int) -> None:
        super().__init__(daemon=True)
        self.base, self.session_id, self.token, self.cursor = base, session_id, token, after
        self.events: list[dict[str, Any]] = []
        self.reconnects = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                # No keepalive pings (as in evalroom/demo.py): websockets' sync client joins its receiving thread
                # from its keepalive thread and from close() at once, which CPython 3.11 does not survive on a
                # loaded machine ("release unlocked lock", seen in a moved-clock run).
                with connect(_ws_url(self.base, self.session_id), open_timeout=5, ping_interval=None) as ws:
                    ws.send(json.dumps({"type": "subscribe", "token": self.token, "after": self.cursor}))
                    assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
                    while not self.stopping.is_set():
                        try:
                            msg = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if msg["type"] == "event":
                            self.events.append(msg["event"])
                            self.cursor = msg["event"]["seq"]
            except (OSError, WebSocketException, TimeoutError, AssertionError):
                if not self.stopping.is_set():
                    self.reconnects += 1
                    time.sleep(0.2)


def test_two_coordinators_behind_a_balancer_share_events_one_leader_and_survive_a_sigkill(pg_server: PgServer) -> None:
    with cluster(database="postgres", coordinators=2, pg=pg_server, env=SETTINGS) as c:
        first, second = c.coordinators
        http = httpx.Client(base_url=c.url, timeout=30)
        login = http.post("/api/v1/auth/login", json={"username": c.admin_username, "password": c.admin_password})
        token = login.json()["access_token"]
        admin = {"Authorization": f"Bearer {token}"}
        region = http.post("/api/v1/regions", headers=admin, json={"code": "SD", "name": "山东省"}).json()
        venue = http.post("/api/v1/venues", headers=admin, json={
            "code": "JN-GGZY", "name": "济南", "city": "济南", "region_id": region["id"]}).json()
        assert http.post("/api/v1/accounts", headers=admin, json={
            "username": "jn-op", "display_name": "济南操作员", "role": "hall-operator", "venue_id": venue["id"],
            "password": "cluster operator password"}).status_code == 201
        op_token = http.post("/api/v1/auth/login", json={"username": "jn-op", "password": "cluster operator password"}
                             ).json()["access_token"]
        operator = {"Authorization": f"Bearer {op_token}"}
        session = http.post("/api/v1/sessions", headers=admin, json={
            "code": "CLUSTER-1", "title": "两个协调进程", "host_venue_id": venue["id"],
            "scheduled_start": beijing(30, 9).isoformat(), "scheduled_end": beijing(30, 17).isoformat()})
        assert session.status_code == 201, session.text
        sid = session.json()["id"]

        # A write through the second coordinator reaches a stream on the first, by NOTIFY.
        head = http.get("/api/v1/events", headers=admin, params={"limit": 1000}).json()["next_after"]
        with connect(_ws_url(first.base, sid), open_timeout=5, ping_interval=None) as ws:
            ws.send(json.dumps({"type": "subscribe", "token": token, "after": head}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            sent = time.monotonic()
            assert httpx.patch(f"{second.base}/api/v1/sessions/{sid}", headers=operator,
                               json={"title": "经第二个进程更名"}).status_code == 200
            msg = json.loads(ws.recv(timeout=10))
            assert msg["event"]["payload"] == {"title": "经第二个进程更名"}
            assert time.monotonic() - sent < 5, "reached the other coordinator only by its (30 s) poll"

        # One leader; kill it mid-session with clients on both coordinators through the balancer.
        leaders = _eventually(lambda: [p for p in c.coordinators if _leads(p.base) == 1], "a leader")
        assert len(leaders) == 1 and sum(_leads(p.base) or 0 for p in c.coordinators) == 1
        leader = leaders[0]
        survivor = second if leader is first else first
        head = http.get("/api/v1/events", headers=admin, params={"limit": 1000}).json()["next_after"]
        streams = [Stream(c.url, sid, token, head) for _ in range(6)]  # round-robin: three on each
        for s in streams:
            s.start()
        time.sleep(1)
        acknowledged: list[str] = []
        for i in range(60):
            title = f"第{i}次更名"
            for _attempt in range(20):  # what was not acknowledged is sent again
                try:
                    if http.patch(f"/api/v1/sessions/{sid}", headers=operator, json={"title": title}).status_code == 200:
                        acknowledged.append(title)
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            if i == 20:
                leader.kill()
        assert len(acknowledged) == 60

        def everyone_has_everything() -> bool:
            return all({e["payload"].get("title") for e in s.events} >= set(acknowledged) for s in streams)

        _eventually(everyone_has_everything, "every acknowledged write on every stream", timeout=60)
        for s in streams:
            s.stopping.set()
        for s in streams:
            s.join(5)
        assert sum(s.reconnects for s in streams) >= 1, "no stream was on the killed coordinator"
        for s in streams:
            seqs = [e["seq"] for e in s.events]
            assert seqs == sorted(set(seqs)), "an event delivered twice or out of order"
            titles = [e["payload"]["title"] for e in s.events if e["kind"] == "session.updated"]
            # a write committed whose answer was lost is sent again and lands twice: in order all the same
            assert list(dict.fromkeys(t for t in titles if t in acknowledged)) == acknowledged

        # The survivor leads now, and the log's batches go on, one checkpoint each.
        _eventually(lambda: _leads(survivor.base) == 1, "the survivor leads", timeout=30)
        with psycopg.connect(c.libpq_url) as conn:
            leaves = conn.execute("SELECT count(*) FROM log_leaves").fetchone()[0]
        assert http.patch(f"/api/v1/sessions/{sid}", headers=operator, json={"title": "最后一次"}).status_code == 200
        _eventually(lambda: _checkpointed(c.libpq_url) > leaves, "the new leader's next log batch", timeout=30)
        with psycopg.connect(c.libpq_url) as conn:
            sizes = [row[0] for row in conn.execute("SELECT size FROM log_checkpoints ORDER BY created_at, size")]
        assert len(sizes) >= 2 and sizes == sorted(set(sizes)), "two checkpoints for one batch"
        http.close()


def _checkpointed(url: str) -> int:
    """The size of the newest checkpoint."""
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT coalesce(max(size), 0) FROM log_checkpoints").fetchone()[0]
