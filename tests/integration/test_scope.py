"""Within a role that may call a route, only resources in the caller's scope are visible.

Out of scope answers 404 ``not_found``, the same as a session that does not exist, so that nobody learns that
a session exists from a 403 (the blindness rules, 四不知).
"""

from __future__ import annotations

from datetime import timedelta

from conftest import TokenFor, World, unique_code
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.domain.roles import Role, SupervisorLevel


def _status(resp) -> tuple[int, str | None]:  # noqa: ANN001
    body = resp.json()
    return resp.status_code, body.get("error", {}).get("code") if isinstance(body, dict) else None


def test_operator_of_another_venue_cannot_see_or_change_the_session(client: TestClient, world: World, token_for: TokenFor) -> None:
    guest_op = token_for(Role.HALL_OPERATOR, venue_id=world.guest_venue_id)
    url = f"/api/v1/sessions/{world.session_id}"
    assert _status(client.get(url, headers=guest_op)) == (404, "not_found")
    assert _status(client.patch(url, headers=guest_op, json={"title": "x"})) == (404, "not_found")
    assert _status(client.get(url + "/events", headers=guest_op)) == (404, "not_found")
    assert client.get("/api/v1/sessions", headers=guest_op).json() == []
    # An unknown id answers exactly the same as an out-of-scope one.
    unknown = client.get("/api/v1/sessions/00000000-0000-0000-0000-000000000000", headers=guest_op)
    assert _status(unknown) == (404, "not_found")


def test_host_operator_sees_only_host_sessions(client: TestClient, world: World, token_for: TokenFor) -> None:
    listed = client.get("/api/v1/sessions", headers=token_for(Role.HALL_OPERATOR)).json()
    assert [s["id"] for s in listed] == [world.session_id]


def test_expert_sees_only_own_session(client: TestClient, world: World, token_for: TokenFor) -> None:
    own = token_for(Role.EXPERT)
    other = token_for(Role.EXPERT, session_id=world.other_session_id, seat="B-02")
    assert client.get(f"/api/v1/sessions/{world.session_id}", headers=own).status_code == 200
    assert _status(client.get(f"/api/v1/sessions/{world.session_id}", headers=other)) == (404, "not_found")
    assert [s["id"] for s in client.get("/api/v1/sessions", headers=other).json()] == [world.other_session_id]


def test_supervisors_see_assigned_sessions_only(client: TestClient, world: World, token_for: TokenFor) -> None:
    secondary = token_for(Role.SUPERVISOR, supervised={world.session_id: SupervisorLevel.SECONDARY})
    unassigned = token_for(Role.SUPERVISOR, supervised={})
    assert client.get(f"/api/v1/sessions/{world.session_id}/events", headers=secondary).status_code == 200
    assert _status(client.get(f"/api/v1/sessions/{world.session_id}", headers=unassigned)) == (404, "not_found")
    assert client.get("/api/v1/sessions", headers=unassigned).json() == []


def test_supervisor_cannot_change_a_session(client: TestClient, world: World, token_for: TokenFor) -> None:
    resp = client.patch(f"/api/v1/sessions/{world.session_id}", headers=token_for(Role.SUPERVISOR), json={"title": "x"})
    assert _status(resp) == (403, "forbidden")


def test_venue_is_visible_to_its_own_operator_and_agent_only(client: TestClient, world: World, token_for: TokenFor) -> None:
    url = f"/api/v1/venues/{world.host_venue_id}"
    assert client.get(url, headers=token_for(Role.SITE_AGENT)).status_code == 200
    assert _status(client.get(url, headers=token_for(Role.SITE_AGENT, venue_id=world.guest_venue_id))) == (404, "not_found")
    assert _status(client.get(url, headers=token_for(Role.HALL_OPERATOR, venue_id=world.guest_venue_id))) == (404, "not_found")


def test_operator_cannot_create_a_session_at_another_venue(client: TestClient, ctx: AppContext, world: World,
                                                           token_for: TokenFor) -> None:
    start = ctx.clock.now() + timedelta(days=1)
    resp = client.post("/api/v1/sessions", headers=token_for(Role.HALL_OPERATOR), json={
        "code": unique_code("S"), "title": "t", "host_venue_id": world.guest_venue_id,
        "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=1)).isoformat()})
    assert _status(resp) == (403, "forbidden")
