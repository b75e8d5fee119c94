"""``/metrics``, request ids and JSON logs (docs/operations.md "Metrics and logs", docs/api.md "Errors").

Scrapes go through the app like Prometheus's would, from a loopback client address (TestClient's default
client, ``testclient``, is not an address, and so is refused like any other remote client), and are read back
with the Prometheus client's own parser.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SQLITE_ONLY, TokenFor, World, run_evalroom
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from evalroom.api.app import create_app
from evalroom.api.context import AppContext, build_context
from evalroom.clock import ManualClock
from evalroom.config import load_settings
from evalroom.domain.roles import Role
from evalroom.errors import ConfigError
from evalroom.logs import JsonFormatter, RequestIdFilter
from evalroom.services import tlog
from signing.note import NoteSigner, add_signature

LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "metrics-token-0123456789abcdef"
SESSION_ROUTE = "/api/v1/sessions/{session_id}"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of a scrape by (name, sorted labels)."""
    resp = client.get("/metrics", headers=headers or {})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests(samples: Samples, method: str, route: str, status_class: str) -> float:
    return value(samples, "evalroom_http_request_duration_seconds_count", method=method, route=route,
                 status_class=status_class)


def eventually(client: TestClient, check: Callable[[Samples], bool], seconds: float = 10) -> Samples:
    deadline = time.monotonic() + seconds
    while True:
        samples = scrape(client)
        if check(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


@pytest.fixture
def local(ctx: AppContext) -> Iterator[TestClient]:
    """The coordinator, called from loopback (the default ``metrics_access``)."""
    with TestClient(create_app(ctx.settings, context=ctx), client=LOOPBACK) as c:
        yield c


@contextmanager
def _context_with(tmp_path: Path, db_url: str, clock: ManualClock, **settings: Any) -> Iterator[AppContext]:
    """A coordinator context like conftest's ``ctx``, with other settings."""
    ctx = build_context(load_settings(environ={}, overrides={
        "data_dir": tmp_path, "database_url": db_url, "environment": "development", "log_batch_seconds": 300,
        **settings}), clock)
    try:
        yield ctx
    finally:
        ctx.close()


def _client(ctx: AppContext, address: str) -> TestClient:
    """A new app on ``ctx``, called from ``address`` (an app's lifespan runs once: one client per app)."""
    return TestClient(create_app(ctx.settings, context=ctx), client=(address, 40000))


# --- what a scrape shows ----------------------------------------------------------------------------------------
def test_requests_writes_and_a_stream_show_in_the_metrics(local: TestClient, ctx: AppContext, world: World,
                                                          token_for: TokenFor) -> None:
    operator = token_for(Role.HALL_OPERATOR)
    before = scrape(local)
    assert local.get(f"/api/v1/sessions/{world.session_id}", headers=operator).status_code == 200
    assert local.get("/api/v1/sessions/no-such-session", headers=operator).status_code == 404
    assert local.patch(f"/api/v1/sessions/{world.session_id}", headers=operator,
                       json={"title": "更名一次"}).status_code == 200
    assert local.get("/no/such/path").status_code == 404
    after = scrape(local)

    # Requests by route template, never by the path as sent.
    assert requests(after, "GET", SESSION_ROUTE, "2xx") == requests(before, "GET", SESSION_ROUTE, "2xx") + 1
    assert requests(after, "GET", SESSION_ROUTE, "4xx") == requests(before, "GET", SESSION_ROUTE, "4xx") + 1
    assert requests(after, "PATCH", SESSION_ROUTE, "2xx") == 1
    assert requests(after, "GET", "unmatched", "4xx") >= 1
    assert requests(after, "GET", "/metrics", "2xx") >= 1
    routes = {dict(labels)["route"] for name, labels in after if name == "evalroom_http_request_duration_seconds_count"}
    assert not any(world.session_id in r or "no-such-session" in r for r in routes), routes
    # The PATCH was a write transaction.
    assert value(after, "evalroom_write_seconds_count") >= value(before, "evalroom_write_seconds_count") + 1
    assert value(after, "evalroom_write_lock_wait_seconds_count") == value(after, "evalroom_write_seconds_count")
    assert value(after, "evalroom_write_seconds_sum") > 0

    # The database's view, read for this scrape.
    assert value(after, "evalroom_metrics_database_up") == 1
    assert value(after, "evalroom_chain_head_seq") == ctx.store.head()[0]
    assert value(after, "evalroom_notifier_lag_events") >= 0
    assert value(after, "evalroom_notifier_head_seq") <= value(after, "evalroom_chain_head_seq")
    assert value(after, "evalroom_build_info", version=local.get("/api/v1/health").json()["version"]) == 1
    assert value(after, "evalroom_cluster_leader") in (0, 1)
    assert ("evalroom_cluster_leadership_changes_total", ()) in after
    assert ("evalroom_cluster_notifications_total", ()) in after
    assert ("evalroom_media_node_up", (("backend", "embedded"), ("node", "embedded"))) in after
    assert value(after, "evalroom_streams", kind="session", state="live") == 0

    # A session event stream: one open stream while it is open, live once it has caught up; routed messages.
    with local.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": token_for(Role.SUPERVISOR)["Authorization"][7:], "after": 0})
        assert ws.receive_json()["type"] == "subscribed"
        for _ in range(4):  # the backlog: three seeded events and the rename
            assert ws.receive_json()["type"] == "event"
        samples = eventually(local, lambda s: value(s, "evalroom_streams", kind="session", state="live") == 1)
        assert value(samples, "evalroom_streams", kind="session", state="live") == 1
        assert value(samples, "evalroom_streams", kind="session", state="catching_up") == 0
        assert value(samples, "evalroom_streams", kind="site_link", state="live") == 0
        routed = value(samples, "evalroom_notifier_routed_messages_total")
        assert local.patch(f"/api/v1/sessions/{world.session_id}", headers=operator,
                           json={"title": "再更名"}).status_code == 200
        live = ws.receive_json()
        assert live["type"] == "event" and live["event"]["payload"] == {"title": "再更名"}
        samples = scrape(local)
        assert value(samples, "evalroom_notifier_routed_messages_total") >= routed + 1
        assert value(samples, "evalroom_notifier_head_seq") >= live["event"]["seq"]
        # The live message's lag from commit to send was observed (the backlog's were not: read, not routed).
        assert value(samples, "evalroom_event_delivery_seconds_count") == 1
    closed = eventually(local, lambda s: value(s, "evalroom_streams", kind="session", state="live") == 0)
    assert value(closed, "evalroom_streams", kind="session", state="live") == 0


def test_the_transparency_log_and_its_witnesses(local: TestClient, ctx: AppContext, world: World,
                                                clock: ManualClock) -> None:
    samples = scrape(local)
    assert value(samples, "evalroom_tlog_leaves") == 0
    assert value(samples, "evalroom_tlog_pending_events") == ctx.store.head()[0]
    assert ("evalroom_tlog_checkpoint_age_seconds", ()) not in samples  # nothing signed yet

    key = local.app.state.log_key
    assert tlog.append_pending(ctx.store, key) > 0
    clock.advance(timedelta(seconds=30))
    samples = scrape(local)
    newest = tlog.checkpoint(ctx.store)
    assert value(samples, "evalroom_tlog_leaves") == newest.size
    assert value(samples, "evalroom_tlog_pending_events") == 0
    assert value(samples, "evalroom_tlog_checkpoint_age_seconds") == pytest.approx(30)
    assert math.isinf(value(samples, "evalroom_tlog_cosigned_checkpoint_age_seconds"))  # no witness yet
    assert value(samples, "evalroom_tlog_cosigned_checkpoint_cosignatures") == 0

    # A venue's witness cosigns the newest checkpoint; then a new batch is signed that nobody cosigned yet.
    witness = NoteSigner("V-WITNESS", Ed25519PrivateKey.generate())
    line = add_signature(newest.note, witness)[len(newest.note):]
    assert tlog.add_cosignature(ctx.store, witness.name, [witness.verifier.public], newest.size,
                                base64.b64encode(newest.root).decode(), line) == 1
    clock.advance(timedelta(seconds=20))
    with ctx.store.write() as tx:
        tx.record(actor="system:test", kind="session.updated", session_id=world.session_id, payload={"title": "x"})
    tlog.append_pending(ctx.store, key)
    clock.advance(timedelta(seconds=5))
    samples = scrape(local)
    assert value(samples, "evalroom_tlog_checkpoint_age_seconds") == pytest.approx(5)
    assert value(samples, "evalroom_tlog_cosigned_checkpoint_age_seconds") == pytest.approx(55)
    assert value(samples, "evalroom_tlog_cosigned_checkpoint_cosignatures") == 1


@SQLITE_ONLY
def test_delivery_lag_is_observed_through_the_apps_own_registry(local: TestClient, ctx: AppContext) -> None:
    """The histogram's own rules (the live path is checked above, on a real stream)."""
    assert value(scrape(local), "evalroom_event_delivery_seconds_count") == 0
    local.app.state.metrics.observe_delivery(0.2)
    local.app.state.metrics.observe_delivery(-1)  # clocks differ: never a negative lag
    samples = scrape(local)
    assert value(samples, "evalroom_event_delivery_seconds_count") == 2
    assert value(samples, "evalroom_event_delivery_seconds_sum") == pytest.approx(0.2)
    # Another app in the same process counts its own.
    with TestClient(create_app(ctx.settings, context=ctx), client=LOOPBACK) as other:
        assert value(scrape(other), "evalroom_event_delivery_seconds_count") == 0


@SQLITE_ONLY
def test_janus_nodes_are_named_by_host_and_port_only(tmp_path: Path, db_url: str, clock: ManualClock) -> None:
    urls = "ws://10.0.0.8:8188,ws://media:secret-pw@10.0.0.9:8188"
    with (_context_with(tmp_path, db_url, clock, media_backend="janus", janus_urls=urls,
                        janus_recordings_dir=str(tmp_path / "mjr")) as ctx, _client(ctx, "127.0.0.1") as c):
        text = c.get("/metrics").text
        samples = scrape(c)
    for node in ("10.0.0.8:8188", "10.0.0.9:8188"):  # not connected: nothing has asked for media yet
        assert samples[("evalroom_media_node_up", (("backend", "janus"), ("node", node)))] == 0
    assert "secret-pw" not in text


# --- who may read them ------------------------------------------------------------------------------------------
@SQLITE_ONLY
@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_may_scrape(ctx: AppContext, address: str) -> None:
    with _client(ctx, address) as c:
        assert value(scrape(c), "evalroom_metrics_database_up") == 1


@SQLITE_ONLY
@pytest.mark.parametrize("address", ["testclient", "10.0.0.5", "::2", "192.168.1.127"])
def test_other_clients_are_refused_whatever_they_carry(ctx: AppContext, token_for: TokenFor, address: str) -> None:
    with _client(ctx, address) as c:
        for headers in ({}, token_for(Role.COORDINATOR_ADMIN), {"Authorization": f"Bearer {TOKEN}"}):
            resp = c.get("/metrics", headers=headers)
            assert resp.status_code == 403, resp.text
            error = resp.json()["error"]
            assert error["code"] == "forbidden" and error["request_id"] == resp.headers["x-request-id"]


@SQLITE_ONLY
def test_token_mode_wants_the_metrics_token(tmp_path: Path, db_url: str, clock: ManualClock,
                                            token_for: TokenFor) -> None:
    with (_context_with(tmp_path, db_url, clock, metrics_access="token", metrics_token=TOKEN) as ctx,
          _client(ctx, "10.0.0.5") as remote, _client(ctx, "127.0.0.1") as local):
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN},
                        {"Authorization": f"Bearer {TOKEN}x"}, token_for(Role.COORDINATOR_ADMIN)):
            for client in (remote, local):  # loopback is no exception in this mode
                resp = client.get("/metrics", headers=headers)
                assert resp.status_code == 403, (headers, resp.text)
                assert resp.json()["error"]["code"] == "forbidden"
        assert value(scrape(remote, {"Authorization": f"Bearer {TOKEN}"}), "evalroom_metrics_database_up") == 1


def test_token_mode_refuses_to_start_without_a_token() -> None:
    with pytest.raises(ConfigError, match="metrics_token"):
        load_settings(environ={"EVALROOM_METRICS_ACCESS": "token"})
    with pytest.raises(ConfigError, match="metrics_token"):
        load_settings(environ={"EVALROOM_METRICS_ACCESS": "token", "EVALROOM_METRICS_TOKEN": "too-short"})
    settings = load_settings(environ={"EVALROOM_METRICS_ACCESS": "token", "EVALROOM_METRICS_TOKEN": TOKEN})
    assert TOKEN not in repr(settings)  # a secret


@SQLITE_ONLY
def test_off_answers_like_an_unknown_path(tmp_path: Path, db_url: str, clock: ManualClock) -> None:
    with _context_with(tmp_path, db_url, clock, metrics_access="off") as ctx, _client(ctx, "127.0.0.1") as c:
        resp, unknown = c.get("/metrics"), c.get("/no-such-path")
        assert resp.status_code == unknown.status_code == 404
        assert resp.json()["error"]["code"] == "not_found"
        assert resp.json()["error"]["message"] == unknown.json()["error"]["message"]


# --- request ids ------------------------------------------------------------------------------------------------
HEX16 = re.compile(r"[0-9a-f]{16}")


@SQLITE_ONLY
def test_every_response_has_a_request_id_and_errors_carry_it(local: TestClient, token_for: TokenFor) -> None:
    ok = local.get("/api/v1/health")
    assert HEX16.fullmatch(ok.headers["x-request-id"])
    assert local.get("/api/v1/health").headers["x-request-id"] != ok.headers["x-request-id"]

    for resp in (local.get("/api/v1/sessions/nope", headers=token_for(Role.HALL_OPERATOR)),  # a service's error
                 local.get("/api/v1/sessions"),  # no token
                 local.post("/api/v1/auth/login", json={"nope": 1}),  # validation
                 local.post("/api/v1/auth/login", content=b"x", headers={"Content-Type": "text/plain"}),  # body limit
                 local.delete("/api/v1/health")):  # method not allowed
        error = resp.json()["error"]
        assert resp.status_code >= 400 and HEX16.fullmatch(resp.headers["x-request-id"]), resp.text
        assert error["request_id"] == resp.headers["x-request-id"]
        assert list(error)[:3] == ["code", "message", "request_id"]


@SQLITE_ONLY
@pytest.mark.parametrize("incoming", ["abc", "req-2026.12.01_A", "x" * 64])
def test_a_sane_incoming_request_id_is_kept(local: TestClient, incoming: str) -> None:
    resp = local.get("/api/v1/sessions", headers={"X-Request-ID": incoming})
    assert resp.headers["x-request-id"] == incoming == resp.json()["error"]["request_id"]
    assert local.get("/api/v1/health", headers={"X-Request-ID": incoming}).headers["x-request-id"] == incoming


@SQLITE_ONLY
@pytest.mark.parametrize("incoming", [b"", b"x" * 65, b"has space", b"semi;colon", "新的".encode(), b"a/b",
                                      b'quote"d', b"\xff"])
def test_a_malformed_incoming_request_id_is_replaced(local: TestClient, incoming: bytes) -> None:
    resp = local.get("/api/v1/sessions", headers={"X-Request-ID": incoming})  # type: ignore[dict-item]
    assert HEX16.fullmatch(resp.headers["x-request-id"])
    assert resp.json()["error"]["request_id"] == resp.headers["x-request-id"]


@SQLITE_ONLY
def test_websocket_errors_carry_no_request_id(local: TestClient, world: World) -> None:
    with local.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": "not-a-token", "after": 0})
        reply = ws.receive_json()
    assert reply["type"] == "error" and set(reply["error"]) == {"code", "message"}


# --- logs -------------------------------------------------------------------------------------------------------
@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The evalroom loggers' records as the JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("evalroom")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


@SQLITE_ONLY
def test_json_log_lines_carry_the_request_id(ctx: AppContext, json_lines: Callable[[], list[dict[str, Any]]]) -> None:
    app = create_app(ctx.settings, context=ctx)

    def talks() -> dict[str, str]:  # a synchronous route: it runs in the thread pool, the request's context copied
        logging.getLogger("evalroom.test").info("handling it")
        return {}

    def fails() -> None:
        raise RuntimeError("broken on purpose")

    app.add_api_route("/test/talks", talks)
    app.add_api_route("/test/fails", fails)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as c:
        c.get("/test/talks", headers={"X-Request-ID": "trace-me-1"})
        failed = c.get("/test/fails")
    logging.getLogger("evalroom.test").info("outside any request")

    lines = json_lines()
    (talked,) = [line for line in lines if line["message"] == "handling it"]
    assert talked["request_id"] == "trace-me-1"
    assert talked["level"] == "INFO" and talked["logger"] == "evalroom.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", talked["time"])
    # The 500: its body, header and log line name the same request, and the line has the traceback.
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal"
    rid = failed.headers["x-request-id"]
    assert failed.json()["error"]["request_id"] == rid
    (logged,) = [line for line in lines if line["message"] == "unhandled error on GET /test/fails"]
    assert logged["request_id"] == rid and logged["level"] == "ERROR"
    assert "RuntimeError: broken on purpose" in logged["exception"]
    (outside,) = [line for line in lines if line["message"] == "outside any request"]
    assert "request_id" not in outside


def test_the_command_logs_json_when_asked(tmp_path: Path) -> None:
    done = run_evalroom("-v", "db", "upgrade", "--data", str(tmp_path), env={"EVALROOM_LOG_FORMAT": "json"})
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    text = run_evalroom("-v", "db", "current", "--data", str(tmp_path))
    assert text.returncode == 0 and not text.stderr.lstrip().startswith("{")
