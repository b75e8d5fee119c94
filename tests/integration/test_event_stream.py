"""The session event websocket: backlog then live, resume after reconnect, and its refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import TokenFor, World
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from evalroom.api.app import create_app
from evalroom.api.context import AppContext
from evalroom.clock import ManualClock, SystemClock
from evalroom.config import load_settings
from evalroom.domain.events import Event, verify_events
from evalroom.domain.roles import Role
from evalroom.storage.db import make_engine
from evalroom.storage.store import Store

SEEDED = ["session.created", "session.supervisor_assigned", "session.supervisor_assigned"]


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"][7:]


def _subscribe(ws: Any, token: str | None, after: int = 0) -> dict[str, Any]:
    ws.send_json({"type": "subscribe", "token": token, "after": after})
    return ws.receive_json()


def _events(ws: Any, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        msg = ws.receive_json()
        assert msg["type"] == "event", msg
        out.append(msg["event"])
    return out


def _rename(client: TestClient, world: World, token_for: TokenFor, title: str) -> None:
    resp = client.patch(f"/api/v1/sessions/{world.session_id}", headers=token_for(Role.HALL_OPERATOR), json={"title": title})
    assert resp.status_code == 200


def test_backlog_then_live_events_in_order(client: TestClient, world: World, token_for: TokenFor) -> None:
    url = f"/api/v1/sessions/{world.session_id}/events/ws"
    with client.websocket_connect(url) as ws:
        assert _subscribe(ws, _token(token_for(Role.SUPERVISOR)))["type"] == "subscribed"
        backlog = _events(ws, 3)
        assert [e["kind"] for e in backlog] == SEEDED
        assert all(e["session_id"] == world.session_id for e in backlog)
        _rename(client, world, token_for, "第一次更名")
        (live,) = _events(ws, 1)
        assert live["kind"] == "session.updated" and live["payload"] == {"title": "第一次更名"}
        assert live["seq"] > backlog[-1]["seq"]


def test_reconnect_resumes_after_last_seen_without_loss_or_duplicates(client: TestClient, world: World,
                                                                      token_for: TokenFor) -> None:
    url = f"/api/v1/sessions/{world.session_id}/events/ws"
    token = _token(token_for(Role.EXPERT))
    with client.websocket_connect(url) as ws:
        _subscribe(ws, token)
        seen = _events(ws, 3)
    # While disconnected: changes to this session and to another one.
    for i in range(5):
        _rename(client, world, token_for, f"title {i}")
    other_op = token_for(Role.HALL_OPERATOR, venue_id=world.other_venue_id)
    assert client.patch(f"/api/v1/sessions/{world.other_session_id}", headers=other_op, json={"title": "x"}).status_code == 200
    with client.websocket_connect(url) as ws:
        reply = _subscribe(ws, token, after=seen[-1]["seq"])
        assert reply["after"] == seen[-1]["seq"]
        missed = _events(ws, 5)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}, "an event of another session, or a duplicate, arrived"
    assert [e["payload"]["title"] for e in missed] == [f"title {i}" for i in range(5)]
    assert len({e["seq"] for e in seen + missed}) == 8


def test_events_written_by_another_coordinator_process_arrive(client: TestClient, ctx: AppContext, world: World,
                                                              token_for: TokenFor) -> None:
    """A second store on its own engine stands for another coordinator on the shared database; only the
    head poll can tell this process about its writes."""
    other = make_engine(ctx.settings.effective_database_url)
    try:
        with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
            _subscribe(ws, _token(token_for(Role.COORDINATOR_ADMIN)))
            _events(ws, 3)
            with Store(other, SystemClock()).write() as tx:
                tx.record(actor="system:other-process", kind="session.noted", session_id=world.session_id,
                          payload={"note": "from elsewhere"})
            (ev,) = _events(ws, 1)
            assert ev["actor"] == "system:other-process"
    finally:
        other.dispose()


def test_stream_is_a_valid_chain_segment(client: TestClient, ctx: AppContext, world: World, token_for: TokenFor) -> None:
    with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        _subscribe(ws, _token(token_for(Role.COORDINATOR_ADMIN)))
        streamed = _events(ws, 3)
    page = client.get("/api/v1/events?limit=1000", headers=token_for(Role.COORDINATOR_ADMIN)).json()
    by_seq = {e["seq"]: e for e in page["events"]}
    assert all(by_seq[e["seq"]] == e for e in streamed)
    verify_events([Event(**{k: v for k, v in e.items() if k != "redacted"}) for e in page["events"]])


def _refusal(ws: Any) -> tuple[str, int]:
    msg = ws.receive_json()
    assert msg["type"] == "error"
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return msg["error"]["code"], closed.value.code


@pytest.mark.parametrize("message, code, close", [
    ("not json", "malformed_json", 4400),
    ('{"type": "hello"}', "validation_failed", 4422),
    ('{"type": "subscribe", "token": "x", "after": -1}', "validation_failed", 4422),
    ('{"type": "subscribe", "token": "x", "after": 0, "extra": 1}', "validation_failed", 4422),
    ('{"type": "subscribe", "token": "garbage", "after": 0}', "token_invalid", 4401),
    ('{"type": "subscribe", "after": 0}', "not_authenticated", 4401),
])
def test_bad_subscribe_is_refused_and_closed(message: str, code: str, close: int, client: TestClient, world: World) -> None:
    with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        ws.send_text(message)
        assert _refusal(ws) == (code, close)


def test_out_of_scope_and_forbidden_roles_are_refused(client: TestClient, world: World, token_for: TokenFor) -> None:
    url = f"/api/v1/sessions/{world.session_id}/events/ws"
    for headers, expected in ((token_for(Role.HALL_OPERATOR, venue_id=world.guest_venue_id), ("not_found", 4404)),
                              (token_for(Role.SITE_AGENT), ("forbidden", 4403))):
        with client.websocket_connect(url) as ws:
            ws.send_json({"type": "subscribe", "token": _token(headers), "after": 0})
            assert _refusal(ws) == expected


def test_stream_ends_when_the_token_expires(client: TestClient, ctx: AppContext, world: World, token_for: TokenFor) -> None:
    with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        _subscribe(ws, _token(token_for(Role.SUPERVISOR)))
        _events(ws, 3)
        ctx.clock.advance(timedelta(minutes=ctx.settings.access_token_minutes))
        _rename(client, world, token_for, "after expiry")  # wakes the stream
        assert _refusal(ws) == ("token_expired", 4401)


def test_subscribe_must_come_in_time(tmp_path: Path, db_url: str, clock: ManualClock) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                    "environment": "development", "websocket_auth_seconds": 0.2})
    with TestClient(create_app(settings, clock)) as c, c.websocket_connect(
            "/api/v1/sessions/00000000-0000-0000-0000-000000000000/events/ws") as ws:
        assert _refusal(ws) == ("not_authenticated", 4401)
