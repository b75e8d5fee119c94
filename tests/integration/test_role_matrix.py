"""Every route, called as every role: the roles that must not reach it are refused.

MATRIX is written here by hand, independently of the route code, from docs/api.md. The first test fails when
the app has a route the matrix does not name (or the other way round), so a new route cannot ship without
deciding who may call it. The second calls each route as each role, with a principal bound inside the seeded
session (host operator, expert of the session, its primary supervisor, the host's site agent), and expects:
allowed roles succeed (2xx); public gets 401 ``not_authenticated``; other roles get 403 ``forbidden``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from conftest import PASSWORD, TokenFor, World, unique_code
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from evalroom.api.context import AppContext
from evalroom.domain.roles import Role
from evalroom.domain.roles import Principal
from evalroom.schemas import AccountCreate, CredentialCreate, OfferCreate, SessionCreate
from evalroom.services import accounts, inventory, offers, sessions

pytestmark = pytest.mark.timeout(600)

ALL = frozenset(Role)
AUTHENTICATED = ALL - {Role.PUBLIC}
ADMIN = frozenset({Role.COORDINATOR_ADMIN})
SESSION_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR, Role.EXPERT})
MANAGERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR})
VENUE_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT})
OFFER_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR})
SIGNED: frozenset[Role] = frozenset()

MATRIX: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/docs"): ALL,
    ("GET", "/docs/oauth2-redirect"): ALL,
    ("GET", "/api/v1/openapi.json"): ALL,
    ("GET", "/api/v1/health"): ALL,
    ("GET", "/api/v1/ready"): ALL,
    ("GET", "/api/v1/auth/jwks"): ALL,
    ("POST", "/api/v1/auth/login"): ALL,
    ("POST", "/api/v1/auth/logout"): AUTHENTICATED,
    ("GET", "/api/v1/auth/me"): AUTHENTICATED,
    ("POST", "/api/v1/accounts"): ADMIN,
    ("GET", "/api/v1/accounts"): ADMIN,
    ("POST", "/api/v1/regions"): ADMIN,
    ("GET", "/api/v1/regions"): ADMIN,
    ("POST", "/api/v1/venues"): ADMIN,
    ("GET", "/api/v1/venues"): ADMIN,
    ("GET", "/api/v1/venues/{venue_id}"): frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT}),
    ("POST", "/api/v1/sessions"): frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR}),
    ("GET", "/api/v1/sessions"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}"): SESSION_READERS,
    ("PATCH", "/api/v1/sessions/{session_id}"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/sessions/{session_id}/supervisors"): ADMIN,
    ("GET", "/api/v1/sessions/{session_id}/events"): SESSION_READERS,
    ("WS", "/api/v1/sessions/{session_id}/events/ws"): SESSION_READERS,
    ("GET", "/api/v1/events"): ADMIN,
    ("PATCH", "/api/v1/regions/{region_id}"): ADMIN,
    ("POST", "/api/v1/venues/{venue_id}/rooms"): MANAGERS,
    ("GET", "/api/v1/venues/{venue_id}/rooms"): VENUE_READERS,
    ("GET", "/api/v1/venues/{venue_id}/calendar"): VENUE_READERS,
    ("POST", "/api/v1/venues/{venue_id}/credentials"): ADMIN,
    ("GET", "/api/v1/venues/{venue_id}/credentials"): ADMIN,
    ("DELETE", "/api/v1/venues/{venue_id}/credentials/{credential_id}"): ADMIN,
    ("POST", "/api/v1/rooms/{room_id}/seats"): MANAGERS,
    ("PATCH", "/api/v1/rooms/{room_id}"): MANAGERS,
    ("PATCH", "/api/v1/seats/{seat_id}"): MANAGERS,
    ("GET", "/api/v1/seats/search"): MANAGERS,
    ("POST", "/api/v1/sessions/{session_id}/check-in/open"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/sessions/{session_id}/offers"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/offers"): OFFER_READERS,
    ("GET", "/api/v1/offers"): MANAGERS,
    ("GET", "/api/v1/offers/{offer_id}"): OFFER_READERS,
    ("PATCH", "/api/v1/offers/{offer_id}"): MANAGERS,
    ("POST", "/api/v1/offers/{offer_id}/cancel"): MANAGERS,
    ("POST", "/api/v1/offers/{offer_id}/confirm"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/offers/{offer_id}/decline"): frozenset({Role.HALL_OPERATOR}),
    # Not token-authenticated: a site agent signs every message with its venue credential. Its own tests
    # (tests/integration/test_site_link.py) show that tokens of every role are refused there.
    ("WS", "/api/v1/site/ws"): SIGNED,
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, with included routers flattened."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for r in routes:
            if hasattr(r, "original_router"):  # an included router (FastAPI >= 0.16x)
                walk(r.original_router.routes, prefix + r.include_context.prefix)
            elif isinstance(r, APIWebSocketRoute):
                found.add(("WS", prefix + r.path))
            elif isinstance(r, (APIRoute, Route)):
                found.update((m, prefix + r.path) for m in r.methods - {"HEAD"})
    walk(app.routes, "")
    return found


def test_matrix_names_every_route_and_nothing_else(client: TestClient) -> None:
    assert app_routes(client.app) == set(MATRIX)


Call = Callable[[TestClient, dict[str, str]], Any]


def _calls(ctx: AppContext, world: World) -> dict[tuple[str, str], Call]:
    """How to call each route with a valid request; bodies are unique per call so repeats succeed."""
    sid, start = world.session_id, ctx.clock.now() + timedelta(days=2)

    def login(c: TestClient, h: dict[str, str]) -> Any:
        with ctx.store.write() as tx:
            name = f"u{uuid.uuid4().hex[:10]}"
            accounts.create_account(tx, "system:test", AccountCreate(username=name, display_name="x",
                                                                   role=Role.SUPERVISOR, password=PASSWORD))
        return c.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}, headers=h)

    def new_supervisor() -> str:
        with ctx.store.write() as tx:
            return accounts.create_account(tx, "system:test", AccountCreate(
                username=f"u{uuid.uuid4().hex[:10]}", display_name="x", role=Role.SUPERVISOR, password=PASSWORD)).id

    host = world.host_venue_id
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="matrix")

    def new_public_key() -> str:
        raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def new_credential() -> str:
        with ctx.store.write() as tx:
            return inventory.register_credential(tx, "system:test", host, CredentialCreate(
                public_key=new_public_key(), label="x")).id

    def host_room() -> str:
        return inventory.list_rooms(ctx.store, admin, host)[0].id

    def host_seat() -> str:
        return inventory.list_rooms(ctx.store, admin, host)[0].seats[0].id

    def new_session(venue_id: str, hours_ahead: int = 48) -> str:
        begin = ctx.clock.now() + timedelta(hours=hours_ahead)
        with ctx.store.write() as tx:
            return sessions.create_session(tx, admin, SessionCreate(
                code=unique_code("S"), title="t", host_venue_id=venue_id, scheduled_start=begin,
                scheduled_end=begin + timedelta(hours=1))).id

    def new_offer(session_id: str, guest_id: str) -> str:
        with ctx.store.write() as tx:
            return offers.create_offer(tx, ctx.settings, admin, session_id,
                                       OfferCreate(guest_venue_id=guest_id, seats=1)).id

    session_offer: list[str] = []

    def offer_of_session() -> str:
        if not session_offer:
            session_offer.append(new_offer(sid, world.guest_venue_id))
        return session_offer[0]

    def session_body() -> dict[str, Any]:
        return {"code": unique_code("S"), "title": "t", "host_venue_id": world.host_venue_id,
                "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=1)).isoformat()}

    return {
        ("GET", "/docs"): lambda c, h: c.get("/docs", headers=h),
        ("GET", "/docs/oauth2-redirect"): lambda c, h: c.get("/docs/oauth2-redirect", headers=h),
        ("GET", "/api/v1/openapi.json"): lambda c, h: c.get("/api/v1/openapi.json", headers=h),
        ("GET", "/api/v1/health"): lambda c, h: c.get("/api/v1/health", headers=h),
        ("GET", "/api/v1/ready"): lambda c, h: c.get("/api/v1/ready", headers=h),
        ("GET", "/api/v1/auth/jwks"): lambda c, h: c.get("/api/v1/auth/jwks", headers=h),
        ("POST", "/api/v1/auth/login"): login,
        ("POST", "/api/v1/auth/logout"): lambda c, h: c.post("/api/v1/auth/logout", headers=h),
        ("GET", "/api/v1/auth/me"): lambda c, h: c.get("/api/v1/auth/me", headers=h),
        ("POST", "/api/v1/accounts"): lambda c, h: c.post("/api/v1/accounts", headers=h, json={
            "username": f"u{uuid.uuid4().hex[:10]}", "display_name": "x", "role": "supervisor", "password": PASSWORD}),
        ("GET", "/api/v1/accounts"): lambda c, h: c.get("/api/v1/accounts", headers=h),
        ("POST", "/api/v1/regions"): lambda c, h: c.post("/api/v1/regions", headers=h,
                                                         json={"code": unique_code("R"), "name": "x"}),
        ("GET", "/api/v1/regions"): lambda c, h: c.get("/api/v1/regions", headers=h),
        ("POST", "/api/v1/venues"): lambda c, h: c.post("/api/v1/venues", headers=h, json={
            "code": unique_code("V"), "name": "x", "city": "y", "region_id": world.region_id}),
        ("GET", "/api/v1/venues"): lambda c, h: c.get("/api/v1/venues", headers=h),
        ("GET", "/api/v1/venues/{venue_id}"): lambda c, h: c.get(f"/api/v1/venues/{world.host_venue_id}", headers=h),
        ("POST", "/api/v1/sessions"): lambda c, h: c.post("/api/v1/sessions", headers=h, json=session_body()),
        ("GET", "/api/v1/sessions"): lambda c, h: c.get("/api/v1/sessions", headers=h),
        ("GET", "/api/v1/sessions/{session_id}"): lambda c, h: c.get(f"/api/v1/sessions/{sid}", headers=h),
        ("PATCH", "/api/v1/sessions/{session_id}"): lambda c, h: c.patch(
            f"/api/v1/sessions/{sid}", headers=h, json={"title": f"t-{uuid.uuid4().hex[:6]}"}),
        ("POST", "/api/v1/sessions/{session_id}/supervisors"): lambda c, h: c.post(
            f"/api/v1/sessions/{sid}/supervisors", headers=h, json={"account_id": new_supervisor(), "level": "secondary"}),
        ("GET", "/api/v1/sessions/{session_id}/events"): lambda c, h: c.get(f"/api/v1/sessions/{sid}/events", headers=h),
        ("WS", "/api/v1/sessions/{session_id}/events/ws"): lambda c, h: _ws_outcome(c, sid, h),
        ("GET", "/api/v1/events"): lambda c, h: c.get("/api/v1/events", headers=h),
        ("PATCH", "/api/v1/regions/{region_id}"): lambda c, h: c.patch(
            f"/api/v1/regions/{world.region_id}", headers=h, json={"ca_name": f"CA {uuid.uuid4().hex[:6]}"}),
        ("POST", "/api/v1/venues/{venue_id}/rooms"): lambda c, h: c.post(
            f"/api/v1/venues/{host}/rooms", headers=h, json={"code": unique_code("R"), "name": "x", "kind": "shared"}),
        ("GET", "/api/v1/venues/{venue_id}/rooms"): lambda c, h: c.get(f"/api/v1/venues/{host}/rooms", headers=h),
        ("GET", "/api/v1/venues/{venue_id}/calendar"): lambda c, h: c.get(
            f"/api/v1/venues/{host}/calendar", headers=h,
            params={"from": start.isoformat(), "to": (start + timedelta(days=1)).isoformat()}),
        ("POST", "/api/v1/venues/{venue_id}/credentials"): lambda c, h: c.post(
            f"/api/v1/venues/{host}/credentials", headers=h, json={"public_key": new_public_key(), "label": "x"}),
        ("GET", "/api/v1/venues/{venue_id}/credentials"): lambda c, h: c.get(f"/api/v1/venues/{host}/credentials",
                                                                            headers=h),
        ("DELETE", "/api/v1/venues/{venue_id}/credentials/{credential_id}"): lambda c, h: c.delete(
            f"/api/v1/venues/{host}/credentials/{new_credential()}", headers=h),
        ("POST", "/api/v1/rooms/{room_id}/seats"): lambda c, h: c.post(
            f"/api/v1/rooms/{host_room()}/seats", headers=h, json={"code": unique_code("S")}),
        ("PATCH", "/api/v1/rooms/{room_id}"): lambda c, h: c.patch(
            f"/api/v1/rooms/{host_room()}", headers=h, json={"fault": f"lamp {uuid.uuid4().hex[:6]}"}),
        ("PATCH", "/api/v1/seats/{seat_id}"): lambda c, h: c.patch(
            f"/api/v1/seats/{host_seat()}", headers=h, json={"fault": f"mic {uuid.uuid4().hex[:6]}"}),
        ("GET", "/api/v1/seats/search"): lambda c, h: c.get("/api/v1/seats/search", headers=h, params={
            "seats": 1, "from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}),
        ("POST", "/api/v1/sessions/{session_id}/check-in/open"): lambda c, h: c.post(
            f"/api/v1/sessions/{new_session(host, hours_ahead=1)}/check-in/open", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/offers"): lambda c, h: c.post(
            f"/api/v1/sessions/{new_session(host)}/offers", headers=h, json={"seats": 1}),
        ("GET", "/api/v1/sessions/{session_id}/offers"): lambda c, h: c.get(f"/api/v1/sessions/{sid}/offers",
                                                                           headers=h),
        ("GET", "/api/v1/offers"): lambda c, h: c.get("/api/v1/offers", headers=h),
        ("GET", "/api/v1/offers/{offer_id}"): lambda c, h: c.get(f"/api/v1/offers/{offer_of_session()}", headers=h),
        ("PATCH", "/api/v1/offers/{offer_id}"): lambda c, h: c.patch(
            f"/api/v1/offers/{offer_of_session()}", headers=h,
            json={"respond_by": (ctx.clock.now() + timedelta(minutes=30)).isoformat()}),
        ("POST", "/api/v1/offers/{offer_id}/cancel"): lambda c, h: c.post(
            f"/api/v1/offers/{new_offer(new_session(host), world.guest_venue_id)}/cancel", headers=h,
            json={"reason": "postponed"}),
        ("POST", "/api/v1/offers/{offer_id}/confirm"): lambda c, h: c.post(
            f"/api/v1/offers/{new_offer(new_session(world.other_venue_id), host)}/confirm", headers=h,
            json={"version": 1}),
        ("POST", "/api/v1/offers/{offer_id}/decline"): lambda c, h: c.post(
            f"/api/v1/offers/{new_offer(new_session(world.other_venue_id), host)}/decline", headers=h,
            json={"version": 1, "reason": "no"}),
    }


class _WsOutcome:
    """The first reply to a subscribe, shaped like a response for the assertions below."""

    def __init__(self, first: dict[str, Any]) -> None:
        self.body = first
        if first["type"] == "subscribed":
            self.status_code = 200
        else:
            self.status_code = {"not_authenticated": 401, "forbidden": 403}.get(first["error"]["code"], 400)

    def json(self) -> dict[str, Any]:
        return self.body


def _ws_outcome(c: TestClient, sid: str, headers: dict[str, str]) -> _WsOutcome:
    token = headers.get("Authorization", "")[7:] or None
    with c.websocket_connect(f"/api/v1/sessions/{sid}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": token, "after": 0})
        return _WsOutcome(ws.receive_json())


@pytest.mark.parametrize("route", sorted(r for r in MATRIX if MATRIX[r] is not SIGNED), ids=lambda r: f"{r[0]} {r[1]}")
def test_every_role_on_every_route(route: tuple[str, str], client: TestClient, ctx: AppContext, world: World,
                                   token_for: TokenFor) -> None:
    call = _calls(ctx, world)[route]
    for role in Role:
        resp = call(client, token_for(role))
        if role in MATRIX[route]:
            assert 200 <= resp.status_code < 300, f"{role} should reach {route}: {resp.status_code} {resp.json()}"
        elif role is Role.PUBLIC:
            assert resp.status_code == 401, f"public reached {route}"
            assert resp.json()["error"]["code"] == "not_authenticated"
        else:
            assert resp.status_code == 403, f"{role} reached {route}: {resp.status_code}"
            assert resp.json()["error"]["code"] == "forbidden"
