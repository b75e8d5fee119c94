"""Malformed and hostile input gets a 4xx with a stable code and changes nothing.

"Changes nothing" is checked, not assumed: before and after each request we take a snapshot of every table's
row count and the event chain head, and they must be equal.
"""

from __future__ import annotations

import base64
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from conftest import TokenFor, World, snapshot, unique_code
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select
from timebase import iso

from evalroom.api.context import AppContext
from evalroom.auth.keys import KeyRing
from evalroom.auth.tokens import AUDIENCE_SITE, TokenService
from evalroom.domain.roles import Principal, Role
from evalroom.storage.models import Expert


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _admin_claims(ctx: AppContext) -> dict[str, Any]:
    now = int(ctx.clock.now().timestamp())
    return {"iss": ctx.settings.issuer, "aud": "evalroom-api", "sub": "mallory", "iat": now, "exp": now + 600,
            "jti": uuid.uuid4().hex, "role": "coordinator-admin"}


def _hs256(claims: dict[str, Any], kid: str, secret: bytes) -> str:
    """Algorithm confusion: an HMAC token keyed with our public key, which a naive verifier would accept."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _forged_tokens(ctx: AppContext, tmp_path: Path) -> dict[str, tuple[dict[str, str], str]]:
    """Authorization headers that must all be refused, with the code each must get."""
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="mallory")
    claims = _admin_claims(ctx)
    kid = ctx.keyring.active.kid
    foreign_ring = KeyRing([KeyRing.add_key(tmp_path / "foreign", ctx.clock.now())])
    public_pem = ctx.keyring.active.public_key.public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    no_jti = {k: v for k, v in claims.items() if k != "jti"}
    other_issuer = TokenService(ctx.keyring, issuer="someone-else", clock=ctx.clock, lifetime=timedelta(minutes=5))
    return {
        "no header": ({}, "not_authenticated"),
        "basic auth": ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "not_authenticated"),
        "garbage": (_bearer("not.a.jwt"), "token_invalid"),
        "foreign key": (_bearer(TokenService(foreign_ring, issuer=ctx.settings.issuer, clock=ctx.clock,
                                             lifetime=timedelta(minutes=5)).issue(admin).token), "token_invalid"),
        "alg none": (_bearer(f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(claims)}."), "token_invalid"),
        "hs256 with public key": (_bearer(_hs256(claims, kid, public_pem)), "token_invalid"),
        "missing jti": (_bearer(jwt.encode(no_jti, ctx.keyring.active.private_key, algorithm="ES256",
                                           headers={"kid": kid})), "token_invalid"),
        "wrong audience": (_bearer(ctx.tokens.issue(admin, audience=AUDIENCE_SITE).token), "token_wrong_audience"),
        "wrong issuer": (_bearer(other_issuer.issue(admin).token), "token_invalid"),
    }


def test_forged_and_foreign_tokens_are_refused(client: TestClient, ctx: AppContext, tmp_path: Path) -> None:
    before = snapshot(ctx)
    for name, (headers, code) in _forged_tokens(ctx, tmp_path).items():
        for resp in (client.get("/api/v1/regions", headers=headers),
                     client.post("/api/v1/regions", headers=headers, json={"code": unique_code("R"), "name": "x"})):
            assert resp.status_code == 401, name
            assert resp.json()["error"]["code"] == code, name
            assert resp.headers["www-authenticate"] == "Bearer"
    assert snapshot(ctx) == before


def test_expired_token_is_refused_one_second_after_expiry(client: TestClient, ctx: AppContext, token_for: TokenFor) -> None:
    headers = token_for(Role.COORDINATOR_ADMIN)
    assert client.get("/api/v1/regions", headers=headers).status_code == 200
    ctx.clock.advance(timedelta(minutes=ctx.settings.access_token_minutes) - timedelta(seconds=1))
    assert client.get("/api/v1/regions", headers=headers).status_code == 200
    ctx.clock.advance(timedelta(seconds=1))
    before = snapshot(ctx)
    resp = client.post("/api/v1/regions", headers=headers, json={"code": unique_code("R"), "name": "x"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "token_expired")
    assert snapshot(ctx) == before


def test_revoked_token_is_refused(client: TestClient, token_for: TokenFor) -> None:
    headers = token_for(Role.COORDINATOR_ADMIN)
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    resp = client.get("/api/v1/regions", headers=headers)
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "token_revoked")


Request = Callable[[TestClient], Any]


def _bad_requests(ctx: AppContext, world: World, token_for: TokenFor) -> dict[str, tuple[Request, int, str]]:
    admin, op = token_for(Role.COORDINATOR_ADMIN), token_for(Role.HALL_OPERATOR)
    start = ctx.clock.now() + timedelta(days=1)
    window = {"scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=2)).isoformat()}
    session_url = f"/api/v1/sessions/{world.session_id}"

    def post(path: str, body: Any, headers: dict[str, str] = admin) -> Request:
        return lambda c: c.post(path, json=body, headers=headers)

    def raw(path: str, content: Any, ctype: str = "application/json") -> Request:
        return lambda c: c.post(path, content=content, headers={**admin, "content-type": ctype})

    return {
        "wrong type": (post("/api/v1/regions", {"code": 42, "name": "x"}), 422, "validation_failed"),
        "bool for string": (post("/api/v1/regions", {"code": "RX", "name": True}), 422, "validation_failed"),
        "unknown field": (post("/api/v1/regions", {"code": "RX", "name": "x", "admin": True}), 422, "validation_failed"),
        "empty name": (post("/api/v1/regions", {"code": "RX", "name": ""}), 422, "validation_failed"),
        "lower-case code": (post("/api/v1/regions", {"code": "rx", "name": "x"}), 422, "validation_failed"),
        "list body": (post("/api/v1/regions", [1, 2]), 422, "validation_failed"),
        "malformed json": (raw("/api/v1/regions", b'{"code": "RX",'), 400, "malformed_json"),
        "not json": (raw("/api/v1/regions", b"code=RX", "application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
        "oversized": (raw("/api/v1/regions", b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'), 413, "body_too_large"),
        "oversized, streamed": (raw("/api/v1/regions", iter([b"x" * 400_000] * 4)), 413, "body_too_large"),
        "duplicate region code": (lambda c: c.post("/api/v1/regions", headers=admin, json={
            "code": c.get("/api/v1/regions", headers=admin).json()[0]["code"], "name": "x"}), 409, "conflict"),
        "unknown region": (post("/api/v1/venues", {"code": "VX", "name": "x", "city": "y",
                                                   "region_id": str(uuid.uuid4())}), 404, "not_found"),
        "region id not a uuid": (post("/api/v1/venues", {"code": "VX", "name": "x", "city": "y",
                                                         "region_id": "../../etc"}), 422, "validation_failed"),
        "operator without venue": (post("/api/v1/accounts", {"username": "opx", "display_name": "x", "role": "hall-operator",
                                                             "password": "long enough password"}), 422, "validation_failed"),
        "short password": (post("/api/v1/accounts", {"username": "opx", "display_name": "x", "role": "supervisor",
                                                     "password": "short"}), 422, "validation_failed"),
        "experts have no accounts": (post("/api/v1/accounts", {"username": "opx", "display_name": "x", "role": "expert",
                                                               "password": "long enough password"}), 422, "validation_failed"),
        "end before start": (post("/api/v1/sessions", {"code": "SX", "title": "t", "host_venue_id": world.host_venue_id,
                                                       "scheduled_start": window["scheduled_end"],
                                                       "scheduled_end": window["scheduled_start"]}), 422, "validation_failed"),
        "naive time": (post("/api/v1/sessions", {"code": "SX", "title": "t", "host_venue_id": world.host_venue_id,
                                                 "scheduled_start": f"{iso(10)}T09:00:00",
                                                 "scheduled_end": f"{iso(10)}T17:00:00"}), 422, "validation_failed"),
        "window in the past": (post("/api/v1/sessions", {"code": "SX", "title": "t", "host_venue_id": world.host_venue_id,
                                                         "scheduled_start": (start - timedelta(days=3)).isoformat(),
                                                         "scheduled_end": (start - timedelta(days=2)).isoformat()}),
                               422, "invalid_input"),
        "admin session without host": (post("/api/v1/sessions", {"code": "SX", "title": "t", **window}), 422, "invalid_input"),
        "empty change": (lambda c: c.patch(session_url, headers=op, json={}), 422, "validation_failed"),
        "reschedule end before start": (lambda c: c.patch(session_url, headers=op, json={
            "scheduled_end": (start - timedelta(hours=1)).isoformat()}), 422, "invalid_input"),
        "negative after": (lambda c: c.get("/api/v1/events?after=-1", headers=admin), 422, "validation_failed"),
        "huge limit": (lambda c: c.get("/api/v1/events?limit=100000", headers=admin), 422, "validation_failed"),
        "after not a number": (lambda c: c.get("/api/v1/events?after=abc", headers=admin), 422, "validation_failed"),
        "unknown route": (lambda c: c.get("/api/v1/nothing-here", headers=admin), 404, "not_found"),
        "wrong method": (lambda c: c.delete("/api/v1/regions", headers=admin), 405, "method_not_allowed"),
        "assign a non-supervisor": (post(f"/api/v1/sessions/{world.session_id}/supervisors",
                                         {"account_id": world.admin_id, "level": "secondary"}), 404, "not_found"),
        "second primary": (post(f"/api/v1/sessions/{world.session_id}/supervisors",
                                {"account_id": world.secondary_supervisor_id, "level": "primary"}), 409, "conflict"),
    }


CASES = (
    "wrong type", "bool for string", "unknown field", "empty name", "lower-case code", "list body", "malformed json",
    "not json", "oversized", "oversized, streamed", "duplicate region code", "unknown region", "region id not a uuid",
    "operator without venue", "short password", "experts have no accounts", "end before start", "naive time",
    "window in the past", "admin session without host", "empty change", "reschedule end before start",
    "negative after", "huge limit", "after not a number", "unknown route", "wrong method",
    "assign a non-supervisor", "second primary",
)


@pytest.mark.parametrize("case", CASES)
def test_bad_request_gets_stable_code_and_changes_nothing(case: str, client: TestClient, ctx: AppContext,
                                                          world: World, token_for: TokenFor) -> None:
    cases = _bad_requests(ctx, world, token_for)
    assert set(cases) == set(CASES), "every case in the table must be run"
    call, status, code = cases[case]
    before = snapshot(ctx)
    resp = call(client)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert snapshot(ctx) == before


def test_validation_errors_say_where_but_do_not_echo_input(client: TestClient, token_for: TokenFor) -> None:
    secret = "s3cr3t-value-that-must-not-be-echoed"
    resp = client.post("/api/v1/regions", headers=token_for(Role.COORDINATOR_ADMIN),
                       json={"code": "RX", "name": "x", secret: secret})
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["loc"] == ["body", secret]
    assert all(secret not in d["msg"] for d in resp.json()["error"]["details"])


def test_numbers_dates_and_times_past_the_apis_bounds_are_refused_naming_the_field(
        client: TestClient, ctx: AppContext, world: World, token_for: TokenFor) -> None:
    """The class of the fuzzer's finds (an integer SQLite cannot hold, an impossible date that passed the schema,
    a time whose UTC form overflows): each is 422 validation_failed that names its field, and changes nothing."""
    admin, supervisor = token_for(Role.COORDINATOR_ADMIN), token_for(Role.SUPERVISOR)
    with ctx.store.read() as s:
        expert_id = s.scalars(select(Expert.id)).first()
    session, huge = f"/api/v1/sessions/{world.session_id}", str(2**64)
    year = ctx.clock.now().year
    window = {"code": "SX", "title": "t", "host_venue_id": world.host_venue_id}
    requests: dict[str, tuple[Request, str]] = {
        "publications offset": (lambda c: c.get("/api/v1/publications", params={"offset": huge}), "offset"),
        "report version": (lambda c: c.get(f"{session}/report", headers=admin, params={"version": huge}), "version"),
        "events after": (lambda c: c.get("/api/v1/events", headers=admin, params={"after": 2**63}), "after"),
        "log size": (lambda c: c.get("/api/v1/log/checkpoint", params={"size": huge}), "size"),
        "log proof": (lambda c: c.get("/api/v1/log/proofs/consistency", params={"from": 1, "to": huge}), "to"),
        "0000-00-00": (lambda c: c.post(f"{session}/complaints", headers=supervisor, json={
            "complainant": "x", "subject": "x", "known_on": "0000-00-00"}), "known_on"),
        "30 February": (lambda c: c.patch(f"/api/v1/experts/{expert_id}", headers=admin, json={
            "reason": "x", "unavailable": [{"from": f"{year}-02-30", "to": f"{year}-03-01"}]}), "from"),
        "year 9999 behind UTC": (lambda c: c.post("/api/v1/sessions", headers=admin, json={
            **window, "scheduled_start": "9999-12-31T23:00:00-23:59",
            "scheduled_end": "9999-12-31T23:30:00-23:59"}), "scheduled_start"),
        "year 1 ahead of UTC": (lambda c: c.post("/api/v1/sessions", headers=admin, json={
            **window, "scheduled_start": "0001-01-01T00:00:00+14:00",
            "scheduled_end": "0001-01-01T01:00:00+14:00"}), "scheduled_start"),
        "query time": (lambda c: c.get(f"/api/v1/venues/{world.host_venue_id}/calendar", headers=admin, params={
            "from": "9999-12-31T23:00:00-23:59", "to": "9999-12-31T23:30:00-23:59"}), "from"),
        "query date": (lambda c: c.get("/api/v1/analysis/tendency", headers=admin, params={
            "from": "9999-12-30", "to": "9999-12-31"}), "from"),
    }
    for name, (call, field) in requests.items():
        before = snapshot(ctx)
        resp = call(client)
        assert resp.status_code == 422, (name, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "validation_failed" and field in error["message"], (name, error)
        assert snapshot(ctx) == before, name
    with client.websocket_connect(f"{session}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": admin["Authorization"].removeprefix("Bearer "), "after": 2**64})
        assert ws.receive_json()["error"]["code"] == "validation_failed"
