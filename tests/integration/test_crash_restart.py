"""A coordinator killed with SIGKILL and restarted serves the same state; no acknowledged write is lost.

Runs the real ``evalroom serve`` in a subprocess (the production path, keys provisioned with ``evalroom keys
rotate`` on PostgreSQL), writes from four clients at once, kills the process mid-stream, restarts it, and
checks: everything acknowledged (201) before the kill is there, what was there before is unchanged, the
event chain is intact, and tokens issued before the crash still verify (the keys are on disk).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import PASSWORD, unique_code
from servers import Coordinator, evalroom_cli

from evalroom.storage.db import is_sqlite

pytestmark = pytest.mark.timeout(300)


def test_sigkill_mid_write_loses_nothing_acknowledged(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    if not is_sqlite(db_url):
        env["EVALROOM_DATABASE_URL"] = db_url
    # The first admin needs only the database, not token keys, so it can come before them.
    evalroom_cli("account", "create", "--data", str(data), "--username", "admin", "--role", "coordinator-admin",
                 env=env, stdin=PASSWORD + "\n")
    if not is_sqlite(db_url):
        evalroom_cli("keys", "rotate", "--data", str(data), env=env)
        evalroom_cli("keys", "sealing", "--data", str(data), env=env)
        evalroom_cli("keys", "log", "--data", str(data), env=env)

    first = Coordinator(data, env)
    auth = {"Authorization": "Bearer " + httpx.post(f"{first.base}/api/v1/auth/login", json={
        "username": "admin", "password": PASSWORD}).json()["access_token"]}
    before = [httpx.post(f"{first.base}/api/v1/regions", headers=auth, json={"code": unique_code("R"), "name": "既有"}).json()
              for _ in range(3)]

    acked: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(base_url=first.base, headers=auth, timeout=10) as c:
            while not stop.is_set():
                code = unique_code("W")
                try:
                    resp = c.post("/api/v1/regions", json={"code": code, "name": "写入"})
                except httpx.TransportError:
                    return  # the server died under us: this write was never acknowledged
                if resp.status_code == 201:
                    acked.append(code)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 40, "the writers made too little progress before the kill to test anything"

    second = Coordinator(data, env)
    try:
        # The token from before the crash still verifies: keys are durable too.
        regions = httpx.get(f"{second.base}/api/v1/regions", headers=auth).json()
        by_code = {r["code"]: r for r in regions}
        assert set(acked) <= set(by_code), f"lost acknowledged writes: {set(acked) - set(by_code)}"
        assert all(by_code[r["code"]] == r for r in before)
        verified = evalroom_cli("db", "verify-events", "--data", str(data), env=env)
        assert "intact" in verified.stdout
        # And it keeps working after the restart.
        assert httpx.post(f"{second.base}/api/v1/regions", headers=auth,
                          json={"code": unique_code("R"), "name": "重启后"}).status_code == 201
    finally:
        second.stop()
