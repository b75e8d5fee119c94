"""Login, lockout, logout and key rotation against the running coordinator."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
from conftest import PASSWORD, TokenFor, World
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from evalroom.api.context import AppContext
from evalroom.auth.keys import KeyRing
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.schemas import AccountCreate, SessionCreate, SupervisorAssign
from evalroom.services import accounts, sessions
from evalroom.storage.models import Account
from evalroom.storage.store import read_events

pytestmark = pytest.mark.dates


def _account(ctx: AppContext, username: str, role: Role = Role.SUPERVISOR) -> str:
    with ctx.store.write() as tx:
        return accounts.create_account(tx, "system:test", AccountCreate(username=username, display_name="x", role=role,
                                                                      password=PASSWORD)).id


def _login(client: TestClient, username: str, password: str = PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_gives_a_token_bound_to_current_assignments(client: TestClient, ctx: AppContext, world: World) -> None:
    with ctx.store.read() as s:
        username = s.get(Account, world.primary_supervisor_id).username
    resp = _login(client, username)
    assert resp.status_code == 200 and resp.json()["role"] == "supervisor"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {resp.json()['access_token']}"}).json()
    assert me["supervised"] == {world.session_id: "primary"}


def test_a_supervisors_sessions_are_looked_up_per_request_not_carried_in_the_token(
        client: TestClient, ctx: AppContext, world: World, token_for: TokenFor) -> None:
    with ctx.store.read() as s:
        username = s.get(Account, world.primary_supervisor_id).username
    token = _login(client, username).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert "sup" not in jwt.decode(token, options={"verify_signature": False})
    assert client.get(f"/api/v1/sessions/{world.other_session_id}", headers=headers).status_code == 404
    # Assigned after the login: the same token reaches the session at once.
    assert client.post(f"/api/v1/sessions/{world.other_session_id}/supervisors", headers=token_for(Role.COORDINATOR_ADMIN),
                       json={"account_id": world.primary_supervisor_id, "level": "secondary"}).status_code == 201
    assert client.get(f"/api/v1/sessions/{world.other_session_id}", headers=headers).status_code == 200
    me = client.get("/api/v1/auth/me", headers=headers).json()
    assert me["supervised"] == {world.session_id: "primary", world.other_session_id: "secondary"}
    # A year of assignments (tokens that named them passed the 8 KiB limit at about a hundred).
    with ctx.store.write() as tx:
        for i in range(150):
            sid = sessions.create_session(tx, Principal(role=Role.HALL_OPERATOR, subject="op", venue_id=world.host_venue_id),
                                          SessionCreate(code=f"Y{i:04d}-{uuid.uuid4().hex[:6].upper()}", title="往年项目",
                                                        scheduled_start=ctx.clock.now() + timedelta(days=2),
                                                        scheduled_end=ctx.clock.now() + timedelta(days=2, hours=4))).id
            sessions.assign_supervisor(tx, "system:test", sid, SupervisorAssign(account_id=world.primary_supervisor_id,
                                                                                 level=SupervisorLevel.PRIMARY))
    token = _login(client, username).json()["access_token"]
    assert len(token) < 1024
    listed = client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and len(listed.json()) == 152


def test_lockout_answers_like_an_unknown_user_and_ends_by_itself(client: TestClient, ctx: AppContext) -> None:
    _account(ctx, "locked-out")
    for _ in range(ctx.settings.login_max_failures):
        assert _login(client, "locked-out", "wrong password!").json()["error"]["code"] == "login_failed"
    locked, unknown = _login(client, "locked-out"), _login(client, "nobody-at-all")
    assert locked.status_code == unknown.status_code == 401
    def told(resp: Any) -> dict[str, Any]:
        return {k: v for k, v in resp.json()["error"].items() if k != "request_id"}  # each request its own id
    assert told(locked) == told(unknown), "a locked account must not be told apart from an unknown name"
    with ctx.store.read() as s:
        assert [e.kind for e in read_events(s, limit=1000)].count("account.locked") == 1
    ctx.clock.advance(timedelta(minutes=ctx.settings.login_lockout_minutes))
    assert _login(client, "locked-out").status_code == 200


def test_attempts_while_locked_do_not_extend_the_lock(client: TestClient, ctx: AppContext) -> None:
    _account(ctx, "victim")
    for _ in range(ctx.settings.login_max_failures):
        _login(client, "victim", "wrong password!")
    ctx.clock.advance(timedelta(minutes=ctx.settings.login_lockout_minutes - 1))
    for _ in range(20):
        _login(client, "victim", "attacker keeps guessing")
    ctx.clock.advance(timedelta(minutes=1))
    assert _login(client, "victim").status_code == 200


def test_a_running_coordinator_follows_key_rotation(client: TestClient, ctx: AppContext, token_for: TokenFor) -> None:
    old = token_for(Role.COORDINATOR_ADMIN)
    old_kid = ctx.keyring.active.kid
    new_kid = KeyRing.add_key(ctx.settings.effective_key_dir, ctx.clock.now() + timedelta(seconds=1)).kid
    assert client.get("/api/v1/ready").json()["checks"]["signing_key"] == new_kid
    assert {k["kid"] for k in client.get("/api/v1/auth/jwks").json()["keys"]} == {old_kid, new_kid}
    assert client.get("/api/v1/regions", headers=old).status_code == 200  # old tokens verify until retired
    KeyRing.retire(ctx.settings.effective_key_dir, old_kid)
    resp = client.get("/api/v1/regions", headers=old)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "token_invalid")
    assert client.get("/api/v1/regions", headers=token_for(Role.COORDINATOR_ADMIN)).status_code == 200


def test_logout_also_ends_an_open_event_stream(client: TestClient, world: World, token_for: TokenFor) -> None:
    headers = token_for(Role.SUPERVISOR)
    with client.websocket_connect(f"/api/v1/sessions/{world.session_id}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": headers["Authorization"][7:], "after": 0})
        assert ws.receive_json()["type"] == "subscribed"
        for _ in range(3):
            ws.receive_json()
        assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204  # an event: wakes the stream
        msg = ws.receive_json()
        assert msg["error"]["code"] == "token_revoked"
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_times_must_be_iso_text_not_unix_numbers(client: TestClient, world: World, token_for: TokenFor) -> None:
    resp = client.patch(f"/api/v1/sessions/{world.session_id}", headers=token_for(Role.HALL_OPERATOR),
                        json={"scheduled_start": 1900000000})
    assert resp.status_code == 422 and "ISO 8601" in resp.json()["error"]["message"]


def test_openapi_documents_the_real_error_body(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    create_region = spec["paths"]["/api/v1/regions"]["post"]["responses"]
    assert create_region["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_login_upgrades_a_weaker_password_hash(client: TestClient, ctx: AppContext) -> None:
    import base64
    import hashlib

    salt = b"0123456789abcdef"
    weak = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**10, r=8, p=1, dklen=32)
    _account(ctx, "old-timer")
    with ctx.store.write() as tx:
        account = tx.session.query(Account).filter_by(username="old-timer").one()
        account.password_hash = f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(weak).decode()}"
    assert _login(client, "old-timer").status_code == 200
    with ctx.store.read() as s:
        assert s.query(Account).filter_by(username="old-timer").one().password_hash.startswith("scrypt$16384$")
    assert _login(client, "old-timer").status_code == 200


def test_an_admin_disables_unlocks_and_resets_a_staff_account(client: TestClient, ctx: AppContext,
                                                              token_for: TokenFor) -> None:
    account_id = _account(ctx, "staff-one")
    admin = token_for(Role.COORDINATOR_ADMIN)
    token = _login(client, "staff-one").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    # Disabled: the token it holds stops working at once, and no login.
    answer = client.patch(f"/api/v1/accounts/{account_id}", headers=admin, json={"disabled": True})
    assert answer.status_code == 200 and answer.json()["disabled"] is True
    refused = client.get("/api/v1/auth/me", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"
    assert _login(client, "staff-one").status_code == 401
    assert client.patch(f"/api/v1/accounts/{account_id}", headers=admin, json={"disabled": False}).status_code == 200

    # Locked by failed logins, unlocked by the admin before the lock ends.
    for _ in range(ctx.settings.login_max_failures):
        _login(client, "staff-one", "wrong password!")
    locked = client.get("/api/v1/accounts", headers=admin).json()
    assert next(a for a in locked if a["id"] == account_id)["locked_until"] is not None
    assert _login(client, "staff-one").status_code == 401
    assert client.patch(f"/api/v1/accounts/{account_id}", headers=admin, json={"unlock": True}).json()["locked_until"] is None
    assert _login(client, "staff-one").status_code == 200

    # A new password: the old one stops working.
    assert client.patch(f"/api/v1/accounts/{account_id}", headers=admin,
                        json={"password": "a new long passphrase"}).status_code == 200
    assert _login(client, "staff-one").status_code == 401
    assert _login(client, "staff-one", "a new long passphrase").status_code == 200
    with ctx.store.read() as s:
        kinds = [e.kind for e in read_events(s, limit=1000) if e.payload.get("account_id") == account_id]
    assert {"account.disabled", "account.enabled", "account.unlocked", "account.password_set"} <= set(kinds)
    with ctx.store.read() as s:
        assert "a new long passphrase" not in str([e.payload for e in read_events(s, limit=1000)])


def test_account_changes_refuse_bad_input_and_change_nothing(client: TestClient, ctx: AppContext,
                                                            token_for: TokenFor) -> None:
    account_id = _account(ctx, "staff-two")
    admin = token_for(Role.COORDINATOR_ADMIN)
    for body in ({}, {"password": "short"}, {"unlock": False}, {"disabled": "yes"}):
        answer = client.patch(f"/api/v1/accounts/{account_id}", headers=admin, json=body)
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "validation_failed", body
    missing = client.patch("/api/v1/accounts/no-such-account", headers=admin, json={"disabled": True})
    assert missing.status_code == 404
    assert _login(client, "staff-two").status_code == 200
