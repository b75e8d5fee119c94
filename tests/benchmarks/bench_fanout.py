"""Live event fan-out: how long a write takes, and how long until every subscriber of its session has it.

    .venv/bin/python tests/benchmarks/bench_fanout.py [--database sqlite|postgres] [--coordinators N]
        [--coordinator-python PATH] [--grid "1x1@10,3x12@10,10x12@35,100x10@20"] [--seconds 20]
    .venv/bin/python tests/benchmarks/bench_fanout.py --url http://HOST:PORT --admin-password PW
        [--coordinator-pid PID ...]                 (a coordinator already running; nothing is started)

Each grid point ``SxK@R`` is S evaluation sessions, K subscribers of each session's event websocket
(``/api/v1/sessions/{id}/events/ws``, docs/protocols.md), and title changes (``PATCH /api/v1/sessions/{id}``
with a new ``title``, a ``session.updated`` event each) sent at a fixed total rate of R writes per second,
round-robin over the sessions, for ``--seconds`` seconds. The rate is open-loop: each write is sent at its
scheduled moment whatever the answers to the earlier ones, as independent operators would, so a slow
coordinator shows as growing latency rather than as a lower offered rate.

- write latency: the PATCH round trip (from the moment it is handed to the HTTP client to its answer), of the
  writes answered 200;
- delivery latency: for every subscriber of the written session, from the same send moment to the arrival of
  the ``session.updated`` event carrying that title (each title is unique) on that subscriber's websocket;
- writes/s done: writes answered 200 divided by the time from the first send to the last answer (or by
  ``--seconds``, if that is longer);
- deliveries missing: every subscriber must receive every successful write of its session; what has not
  arrived ``--drain`` seconds after the last write was sent is missing (counted against all expected);
- CPU, in cores: utime + stime (/proc/PID/stat) of each coordinator process (with any child processes) over
  the measured window (first send to the last answer or delivery), divided by its wall time; the same for this
  client process (getrusage), so a reader can tell whether the client was the bottleneck. The notes under the
  table add the client's scheduling lag (how late writes left against their schedule), the HAProxy process's
  CPU and the load average at the start of each point.

Everything is set up through the public HTTP API only (an admin's login, a region, a host venue with a hall
operator, fresh sessions for each grid point: the admin creates them, the operator changes their titles;
the admin subscribes), so the same harness measures old and new coordinator code. The client is one asyncio
process (``websockets``, and ``httpx.AsyncClient`` with keep-alive HTTP/1.1 connections), no threads. The
writes are spread over ``--http-clients`` clients of ``--http-connections`` connections each: httpcore's pool
does work proportional to its connections times its waiting requests on every request, which with a few
hundred writes in flight took most of the client's CPU with a single pool. Subscribers send ``after`` = the
session's last event, so no backlog is replayed, and offer permessage-deflate as browsers do
(``--ws-compression none`` to measure without).

The coordinators are started by tests/cluster.py with ``--coordinator-python`` (default: this Python), so
another checkout's code can be measured from this one: ``git worktree add /tmp/evalroom-before REV``, give
it its own virtualenv, and pass ``--coordinator-python /tmp/evalroom-before/.venv/bin/python``. SQLite is the
embedded default (WAL, synchronous=FULL) in a temporary data directory; PostgreSQL is a private server
(tests/pg.py, fsync off) with one database shared by ``--coordinators`` processes, HAProxy (round-robin,
websockets passed through) in front of them when there are several. Tokens are fetched again for each grid
point (access tokens live 15 minutes by default).

Prints a Markdown table for docs/benchmarks.md. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import signal
import ssl
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster import HAProxy, cluster, process_cpu_seconds
from figures import fmt_seconds, percentile

API = "/api/v1"
OPERATOR_PASSWORD = "fan-out operator password"
DEFAULT_GRID = "1x1@10,3x12@10,10x12@35,100x10@20"


# --- grid and formatting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    sessions: int
    subscribers: int
    rate: float

    @property
    def label(self) -> str:
        return f"{self.sessions} × {self.subscribers} @{self.rate:g}/s"


def parse_grid(text: str) -> list[Point]:
    points = []
    for item in text.split(","):
        try:
            shape, rate = item.strip().split("@")
            s, k = shape.lower().split("x")
            points.append(Point(int(s), int(k), float(rate)))
        except ValueError:
            raise SystemExit(f"bad grid point {item!r}: expected SxK@R, e.g. 10x12@35") from None
    return points


# --- the world, through the public API -------------------------------------------------------------------
@dataclass
class World:
    url: str
    tag: str
    admin: tuple[str, str]
    venue_id: str = ""
    operator: tuple[str, str] = ("", OPERATOR_PASSWORD)


def _ok(resp: httpx.Response, what: str, status: int = 200) -> dict[str, Any]:
    if resp.status_code != status:
        raise RuntimeError(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")
    return resp.json()


async def login(http: httpx.AsyncClient, who: tuple[str, str]) -> tuple[str, datetime]:
    body = _ok(await http.post(f"{API}/auth/login", json={"username": who[0], "password": who[1]}),
               f"login as {who[0]}")
    return body["access_token"], datetime.fromisoformat(body["expires_at"])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_world(http: httpx.AsyncClient, world: World) -> None:
    """A region, a host venue and its hall operator (who may change the venue's sessions)."""
    token, _ = await login(http, world.admin)
    h = _auth(token)
    region = _ok(await http.post(f"{API}/regions", headers=h, json={"code": f"FO-{world.tag}", "name": "扇出基准"}),
                 "create region", 201)
    venue = _ok(await http.post(f"{API}/venues", headers=h, json={
        "code": f"FO-{world.tag}-V", "name": "扇出基准主场", "city": "济南", "region_id": region["id"]}),
        "create venue", 201)
    world.venue_id = venue["id"]
    username = f"fo-op-{world.tag.lower()}"
    _ok(await http.post(f"{API}/accounts", headers=h, json={
        "username": username, "display_name": "扇出基准操作员", "role": "hall-operator",
        "venue_id": world.venue_id, "password": OPERATOR_PASSWORD}), "create operator", 201)
    world.operator = (username, OPERATOR_PASSWORD)


async def make_sessions(http: httpx.AsyncClient, world: World, admin_token: str, n: int,
                        prefix: str) -> list[tuple[str, int]]:
    """``n`` sessions at the host venue, scheduled a week ahead; each with the seq of its last event."""
    h = _auth(admin_token)
    start = (datetime.now(UTC) + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    out = []
    for i in range(n):
        s = _ok(await http.post(f"{API}/sessions", headers=h, json={
            "code": f"{prefix}-{i}", "title": f"扇出基准 {prefix} {i}", "host_venue_id": world.venue_id,
            "scheduled_start": (start + timedelta(minutes=i)).isoformat(),
            "scheduled_end": (start + timedelta(hours=4, minutes=i)).isoformat()}), "create session", 201)
        page = _ok(await http.get(f"{API}/sessions/{s['id']}/events", headers=h, params={"after": 0, "limit": 100}),
                   "read session events")
        out.append((s["id"], page["next_after"]))
    return out


# --- one grid point --------------------------------------------------------------------------------------
@dataclass
class Result:
    point: Point
    writes_sent: int = 0
    write_latencies: list[float] = field(default_factory=list)
    write_failures: dict[str, int] = field(default_factory=dict)
    delivery_latencies: list[float] = field(default_factory=list)
    expected: int = 0
    missing: int = 0
    duplicates: int = 0
    unexpected: int = 0
    closed_early: dict[str, int] = field(default_factory=dict)
    done_rate: float = math.nan
    window: float = math.nan
    coordinator_cpu: list[float] = field(default_factory=list)
    proxy_cpu: float | None = None
    proxy_down_events: int = 0
    proxy_abnormal: list[str] = field(default_factory=list)
    client_cpu: float = math.nan
    send_lag_p99: float = math.nan
    send_lag_max: float = math.nan
    peak_in_flight: int = 0
    connect_seconds: float = math.nan
    load: tuple[float, float, float] = (math.nan, math.nan, math.nan)


def _client_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Subscriber:
    def __init__(self, index: int, session: int) -> None:
        self.index = index
        self.session = session
        self.got: dict[str, float] = {}   # title → arrival (perf_counter)
        self.duplicates = 0
        self.others = 0
        self.closed: str | None = None


async def run_point(url: str, world: World, point: Point, seconds: float, drain: float, number: int,
                    pids: list[int], proxy: HAProxy | None, args: argparse.Namespace) -> Result:
    proxy_pid = proxy.pid if proxy else None
    downs = proxy.down_events() if proxy else 0
    abnormal = len(proxy.abnormal_requests()) if proxy else 0
    result = Result(point, load=os.getloadavg())
    # Idle connections are dropped after 3 s, before uvicorn's own 5 s keep-alive limit closes them under us.
    limits = httpx.Limits(max_connections=args.http_connections, max_keepalive_connections=args.http_connections,
                          keepalive_expiry=3)
    tls = ssl.create_default_context()  # one for all the clients: each loads the CA bundle otherwise
    async with contextlib.AsyncExitStack() as clients:
        writers_http = [await clients.enter_async_context(
            httpx.AsyncClient(base_url=url, limits=limits, timeout=httpx.Timeout(300.0), verify=tls))
            for _ in range(args.http_clients)]
        http = writers_http[0]
        admin_token, expires = await login(http, world.admin)
        op_token, _ = await login(http, world.operator)
        margin = (expires - datetime.now(UTC)).total_seconds()
        if margin < seconds + drain + 120:
            print(f"warning: tokens live {margin:.0f} s, the point may outlast them", file=sys.stderr)
        prefix = f"FO-{world.tag}-{number}"
        sessions = await make_sessions(http, world, admin_token, point.sessions, prefix)

        # Subscribers: K per session, connected a few at a time; all subscribed before the first write.
        ws_base = url.replace("http", "ws", 1)
        subs = [Subscriber(i * point.subscribers + j, i) for i in range(point.sessions) for j in range(point.subscribers)]
        by_session: list[list[Subscriber]] = [[] for _ in sessions]
        for sub in subs:
            by_session[sub.session].append(sub)
        sent_at: dict[str, float] = {}
        subscribed = 0
        all_subscribed = asyncio.Event()
        stop = asyncio.Event()
        gate = asyncio.Semaphore(args.connect_concurrency)

        async def follow(sub: Subscriber) -> None:
            nonlocal subscribed
            session_id, after = sessions[sub.session]
            counted = False
            try:
                async with gate:
                    ws = await ws_connect(f"{ws_base}{API}/sessions/{session_id}/events/ws", open_timeout=120,
                                          ping_interval=None, close_timeout=2, max_size=2**22,
                                          compression="deflate" if args.ws_compression == "deflate" else None)
                    await ws.send(json.dumps({"type": "subscribe", "token": admin_token, "after": after}))
                    first = json.loads(await asyncio.wait_for(ws.recv(), 120))
                    if first.get("type") != "subscribed":
                        raise RuntimeError(f"subscribe answered {first}")
                subscribed += 1
                counted = True
                if subscribed == len(subs):
                    all_subscribed.set()
                async with ws:
                    async for raw in ws:  # ends when the server closes normally; this task is cancelled at the end
                        now = time.perf_counter()
                        msg = json.loads(raw)
                        if msg.get("type") == "event" and msg["event"].get("kind") == "session.updated":
                            title = msg["event"].get("payload", {}).get("title")
                            if title in sub.got:
                                sub.duplicates += 1
                            elif title is not None:
                                sub.got[title] = now
                        elif msg.get("type") == "error":
                            sub.closed = msg.get("error", {}).get("code", "error")
                        else:
                            sub.others += 1
                    if not stop.is_set():
                        sub.closed = sub.closed or f"closed by the server ({ws.close_code})"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — a subscriber that dies is reported, not fatal
                if not stop.is_set():
                    sub.closed = sub.closed or f"{type(exc).__name__}: {str(exc)[:80]}"
                    if not counted:
                        subscribed += 1  # do not wait for it forever
                        if subscribed == len(subs):
                            all_subscribed.set()

        t_connect = time.perf_counter()
        followers = [asyncio.create_task(follow(s)) for s in subs]
        try:
            await asyncio.wait_for(all_subscribed.wait(), 600)
            result.connect_seconds = time.perf_counter() - t_connect
            await asyncio.sleep(1.0)  # let every stream settle into waiting

            # Writes: open-loop at the given rate, round-robin over the sessions.
            h = _auth(op_token)
            n = round(point.rate * seconds)
            ok_titles: list[tuple[str, int]] = []
            acks: list[float] = []
            lags: list[float] = []
            in_flight = 0

            async def write(i: int, title: str) -> None:
                nonlocal in_flight
                session_id, _ = sessions[i % len(sessions)]
                t = time.perf_counter()
                sent_at[title] = t
                in_flight += 1
                result.peak_in_flight = max(result.peak_in_flight, in_flight)
                try:
                    resp = await writers_http[i % len(writers_http)].patch(
                        f"{API}/sessions/{session_id}", headers=h, json={"title": title})
                    status = str(resp.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                finally:
                    in_flight -= 1
                done = time.perf_counter()
                acks.append(done)
                if status == "200":
                    result.write_latencies.append(done - t)
                    ok_titles.append((title, i % len(sessions)))
                else:
                    result.write_failures[status] = result.write_failures.get(status, 0) + 1

            cpu0 = [process_cpu_seconds(p) for p in pids]
            proxy0 = process_cpu_seconds(proxy_pid) if proxy_pid else None
            client0 = _client_cpu()
            t0 = time.perf_counter() + 0.05
            writers = []
            for i in range(n):
                target = t0 + i / point.rate
                delay = target - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                lags.append(time.perf_counter() - target)
                writers.append(asyncio.create_task(write(i, f"fanout {world.tag} p{number} w{i}")))
            result.writes_sent = n
            last_sent = time.perf_counter()

            # Wait for every answer and every delivery, at most --drain seconds after the last send.
            deadline = last_sent + drain
            while time.perf_counter() < deadline:
                if all(w.done() for w in writers) and all(
                        all(t in sub.got for sub in by_session[s]) for t, s in ok_titles):
                    break
                await asyncio.sleep(0.05)
            t_end = time.perf_counter()
            result.window = t_end - t0
            # The client's first: reading the others' /proc entries is work of the client's too.
            result.client_cpu = (_client_cpu() - client0) / result.window
            result.coordinator_cpu = [(process_cpu_seconds(p) - c) / result.window for p, c in zip(pids, cpu0, strict=True)]
            if proxy_pid and proxy0 is not None:
                result.proxy_cpu = (process_cpu_seconds(proxy_pid) - proxy0) / result.window
            for w in writers:
                if not w.done():
                    w.cancel()
                    result.write_failures["no answer"] = result.write_failures.get("no answer", 0) + 1
            if acks:
                result.done_rate = len(result.write_latencies) / max(seconds, max(acks) - t0)
            result.send_lag_p99 = percentile(lags, 99)
            result.send_lag_max = max(lags) if lags else math.nan

            for title, s in ok_titles:
                for sub in by_session[s]:
                    result.expected += 1
                    if title in sub.got:
                        result.delivery_latencies.append(sub.got[title] - sent_at[title])
                    else:
                        result.missing += 1
            ok = {t for t, _ in ok_titles}
            for sub in subs:
                result.duplicates += sub.duplicates
                result.unexpected += sum(1 for t in sub.got if t not in ok)
                if sub.closed:
                    result.closed_early[sub.closed] = result.closed_early.get(sub.closed, 0) + 1
        finally:
            stop.set()
            for f in followers:
                f.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
    if proxy:
        result.proxy_down_events = proxy.down_events() - downs
        result.proxy_abnormal = proxy.abnormal_requests()[abnormal:]
    return result


# --- the whole run ---------------------------------------------------------------------------------------
def table(rows: list[Result], database: str, coordinators: str) -> str:
    lines = [("| database | coordinators | sessions × subscribers | writes/s (asked / done) | write p50 / p99 | "
              "delivery p50 / p99 | deliveries missing | coordinator CPU (cores) | client CPU |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p = r.point
        cpu = " + ".join(f"{c:.2f}" for c in r.coordinator_cpu) if r.coordinator_cpu else "n/a"
        lines.append(
            f"| {database} | {coordinators} | {p.sessions} × {p.subscribers} | {p.rate:g} / {r.done_rate:.1f} | "
            f"{fmt_seconds(percentile(r.write_latencies, 50))} / {fmt_seconds(percentile(r.write_latencies, 99))} | "
            f"{fmt_seconds(percentile(r.delivery_latencies, 50))} / {fmt_seconds(percentile(r.delivery_latencies, 99))} | "
            f"{r.missing} of {r.expected} | {cpu} | {r.client_cpu:.2f} |")
    return "\n".join(lines)


def notes(rows: list[Result]) -> str:
    out = []
    for r in rows:
        extra = [f"load average at start {r.load[0]:.2f} {r.load[1]:.2f} {r.load[2]:.2f}",
                 f"{r.writes_sent} writes sent, {len(r.write_latencies)} answered 200",
                 f"subscribed in {r.connect_seconds:.1f} s",
                 f"measured window {r.window:.1f} s",
                 f"client send lag p99 {r.send_lag_p99 * 1000:.1f} ms (max {r.send_lag_max * 1000:.1f} ms)",
                 f"peak writes in flight {r.peak_in_flight}"]
        if r.proxy_cpu is not None:
            extra.append(f"HAProxy CPU {r.proxy_cpu:.2f} cores")
        if r.proxy_down_events:
            extra.append(f"HAProxy marked a coordinator DOWN {r.proxy_down_events} time(s)")
        if r.proxy_abnormal:
            extra.append(f"HAProxy logged {len(r.proxy_abnormal)} abnormal request(s), e.g. {r.proxy_abnormal[0]!r}")
        if r.write_failures:
            extra.append("failed writes " + ", ".join(f"{k}: {v}" for k, v in sorted(r.write_failures.items())))
        if r.duplicates or r.unexpected:
            extra.append(f"duplicate deliveries {r.duplicates}, deliveries of failed writes {r.unexpected}")
        if r.closed_early:
            extra.append("subscribers lost " + ", ".join(f"{k}: {v}" for k, v in sorted(r.closed_early.items())))
        out.append(f"- {r.point.label}: " + "; ".join(extra))
    return "\n".join(out)


async def run_all(url: str, admin: tuple[str, str], grid: list[Point], args: argparse.Namespace,
                  pids: list[int], proxy: HAProxy | None) -> list[Result]:
    world = World(url=url, tag=secrets.token_hex(3).upper(), admin=admin)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await make_world(http, world)
    rows = []
    for number, point in enumerate(grid, 1):
        r = await run_point(url, world, point, args.seconds, args.drain, number, pids, proxy, args)
        print(f"{point.label}: write p50 {fmt_seconds(percentile(r.write_latencies, 50))}, delivery p50 "
              f"{fmt_seconds(percentile(r.delivery_latencies, 50))}, missing {r.missing} of {r.expected}",
              file=sys.stderr, flush=True)
        rows.append(r)
        await asyncio.sleep(args.pause)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--coordinators", type=int, default=1, help="more than 1 needs postgres; HAProxy goes in front")
    ap.add_argument("--coordinator-python", default=sys.executable,
                    help="the Python that runs the coordinators (another checkout's virtualenv); default: this one")
    ap.add_argument("--grid", default=DEFAULT_GRID, help="comma-separated SxK@R: sessions x subscribers @ writes/s")
    ap.add_argument("--seconds", type=float, default=20, help="writing time per grid point")
    ap.add_argument("--drain", type=float, default=30,
                    help="after the last write is sent, how long answers and deliveries may still take")
    ap.add_argument("--pause", type=float, default=3, help="seconds between grid points")
    ap.add_argument("--url", help="an existing coordinator (or proxy): start nothing")
    ap.add_argument("--admin-username", default="admin")
    ap.add_argument("--admin-password", help="with --url")
    ap.add_argument("--coordinator-pid", type=int, action="append", default=[],
                    help="with --url: a coordinator process on this machine whose CPU to report (repeatable)")
    ap.add_argument("--http-clients", type=int, default=16, help="HTTP clients the writes are spread over")
    ap.add_argument("--http-connections", type=int, default=32, help="connections per HTTP client")
    ap.add_argument("--connect-concurrency", type=int, default=50, help="websockets opened at once")
    ap.add_argument("--ws-compression", choices=["deflate", "none"], default="deflate",
                    help="permessage-deflate, as browsers offer it (default), or none")
    ap.add_argument("--keep", action="store_true", help="keep the cluster's temporary directory (logs)")
    args = ap.parse_args()
    if args.coordinators > 1 and args.database != "postgres" and not args.url:
        ap.error("--coordinators > 1 needs --database postgres")
    if args.url and not args.admin_password:
        ap.error("--url needs --admin-password")
    grid = parse_grid(args.grid)
    # SIGTERM unwinds like Ctrl+C, so that every process started is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    header = [(f"machine: {os.cpu_count()} cores; client python {sys.version.split()[0]}; "
               f"{args.seconds:g} s of writes per point, drain up to {args.drain:g} s; "
               f"websocket compression {args.ws_compression}")]
    with contextlib.ExitStack() as stack:
        if args.url:
            url, admin, pids, proxy = args.url.rstrip("/"), (args.admin_username, args.admin_password), \
                args.coordinator_pid, None
            coordinators = str(len(pids)) if pids else "?"
            header.append(f"coordinator: {url} (not started here)")
        else:
            c = stack.enter_context(cluster(database=args.database, coordinators=args.coordinators,
                                            python=args.coordinator_python, keep=args.keep))
            url, admin, pids = c.url, (c.admin_username, c.admin_password), c.pids()
            proxy = c.proxy
            coordinators = str(args.coordinators) + (" (HAProxy)" if c.proxy else "")
            header.append(f"coordinator code: {Path(c.evalroom_package).parent.parent} "
                          f"(python {args.coordinator_python})" + (f"; files kept in {c.root}" if args.keep else ""))
        rows = asyncio.run(run_all(url, admin, grid, args, pids, proxy))
    database = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[args.database]
    print("\n".join(header) + "\n")
    print(table(rows, database, coordinators))
    print()
    print(notes(rows))


if __name__ == "__main__":
    main()
