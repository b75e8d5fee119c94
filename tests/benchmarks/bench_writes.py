"""Acknowledged writes per second, SQLite (WAL, synchronous=FULL) and PostgreSQL side by side in one run.

    .venv/bin/python tests/benchmarks/bench_writes.py [--appends 400] [--requests 400]
    /tmp/evalroom-before/.venv/bin/python tests/benchmarks/bench_writes.py     (another checkout's code)

Two levels:
- store: ``store.write()`` transactions that each record one event (the chain-head lock, the append, the
  commit), from 1 writer and from 4 writers with separate engines (as separate coordinator processes would be),
  all on the coordinator's own chain; then from 4 and from 16 writers each recording events of a session of
  its own (since the chain per session, different sessions' writes do not wait for each other's chain lock);
- http: ``POST /api/v1/regions`` against a real ``evalroom serve`` subprocess from 4 client threads; each
  answer is sent only after the commit, so this is the rate of durable, acknowledged writes.

PostgreSQL is the private test server from tests/pg.py (fsync off: it measures the coordinator's path, not the
disk). Prints a Markdown table for docs/benchmarks.md. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pg import start_pg  # noqa: E402
from servers import Coordinator, evalroom_cli  # noqa: E402

import evalroom  # noqa: E402
from evalroom.clock import SystemClock  # noqa: E402
from evalroom.storage import migrate  # noqa: E402
from evalroom.storage.db import make_engine  # noqa: E402
from evalroom.storage.store import Store, verify_stored_chain  # noqa: E402

PASSWORD = "benchmark password"


def _parallel(n: int, work: Callable[[int], None]) -> float:
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def store_rate(url: str, writers: int, appends: int, *, sessions: bool = False) -> float:
    """Appends/s; ``sessions``: each writer records events of a session of its own, else all the
    coordinator's own."""
    def work(i: int) -> None:
        engine = make_engine(url)
        store = Store(engine, SystemClock())
        session_id = str(uuid.uuid4()) if sessions else None
        for k in range(appends // writers):
            with store.write() as tx:
                tx.record(actor=f"system:bench-{i}", kind="bench.appended", payload={"k": k}, session_id=session_id)
        engine.dispose()

    elapsed = _parallel(writers, work)
    engine = make_engine(url)
    verify_stored_chain(Store(engine, SystemClock()))
    engine.dispose()
    return appends / elapsed


def http_rate(data: Path, env: dict[str, str], requests: int, clients: int = 4) -> float:
    if "EVALROOM_DATABASE_URL" in env:  # on a shared database the keys are provisioned, never made at start-up
        for what in ("rotate", "sealing", "log"):
            evalroom_cli("keys", what, "--data", str(data), env=env)
    evalroom_cli("account", "create", "--data", str(data), "--username", "bench", "--role", "coordinator-admin",
         env=env, stdin=PASSWORD + "\n")
    server = Coordinator(data, env)
    try:
        token = httpx.post(f"{server.base}/api/v1/auth/login", json={"username": "bench", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        def work(i: int) -> None:
            with httpx.Client(base_url=server.base, headers=headers) as c:
                for k in range(requests // clients):
                    resp = c.post("/api/v1/regions", json={"code": f"B{i}-{k}", "name": "基准"})
                    assert resp.status_code == 201, resp.text

        return requests / _parallel(clients, work)
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--appends", type=int, default=400)
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    rows = []
    with start_pg() as pg, tempfile.TemporaryDirectory() as tmp:
        for name in ("SQLite", "PostgreSQL"):
            urls = []
            for label in ("one", "four", "four-sessions", "sixteen-sessions"):
                if name == "SQLite":
                    url = f"sqlite:///{tmp}/{label}.db"
                else:
                    url = pg.sqlalchemy_url(pg.create_database())
                engine = make_engine(url)
                migrate.upgrade(engine)
                engine.dispose()
                urls.append(url)
            one = store_rate(urls[0], 1, args.appends)
            four = store_rate(urls[1], 4, args.appends)
            four_s = store_rate(urls[2], 4, args.appends, sessions=True)
            sixteen_s = store_rate(urls[3], 16, args.appends, sessions=True)
            data = Path(tmp) / f"http-{name}"
            env = dict(base_env)
            if name == "PostgreSQL":
                env["EVALROOM_DATABASE_URL"] = pg.sqlalchemy_url(pg.create_database())
            http = http_rate(data, env, args.requests)
            rows.append((name, one, four, four_s, sixteen_s, http))
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          f"{args.appends} appends, {args.requests} requests per figure; code {Path(evalroom.__file__).parents[1]}\n")
    print("| database | store, 1 writer | store, 4 writers | store, 4 writers on 4 sessions | "
          "store, 16 writers on 16 sessions | HTTP POST, 4 clients |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, *figures in rows:
        print(f"| {name} | " + " | ".join(f"{f:,.0f}" for f in figures) + " |")


if __name__ == "__main__":
    main()
