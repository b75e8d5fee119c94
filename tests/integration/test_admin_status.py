"""The admin's status view (GET /api/v1/admin/status): what it reports follows the coordinator's real state."""

from __future__ import annotations

from conftest import TokenFor, World
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.auth.keys import KeyRing
from evalroom.domain.roles import Role
from evalroom.services import site_link


def test_the_status_names_the_database_keys_media_log_and_venue_links(client: TestClient, ctx: AppContext,
                                                                      world: World, token_for: TokenFor) -> None:
    admin = token_for(Role.COORDINATOR_ADMIN)
    before = client.get("/api/v1/admin/status", headers=admin).json()
    assert before["database"]["backend"] == ctx.engine.url.get_backend_name()
    assert before["database"]["chain_head"] == ctx.store.head()[0]
    tokens = [k for k in before["keys"] if k["kind"] == "token"]
    assert [k["id"] for k in tokens if k["active"]] == [ctx.keyring.active.kid]
    assert {k["kind"] for k in before["keys"]} == {"token", "sealing", "log"}
    assert before["media"]["backend"] == ctx.settings.media_backend and before["media"]["nodes"]
    venues = {v["id"]: v for v in before["venues"]}
    assert {world.host_venue_id, world.guest_venue_id} <= set(venues)
    assert venues[world.host_venue_id]["online"] is False

    # A key rotated and a venue that says hello show on the next read.
    rotated = KeyRing.add_key(ctx.settings.effective_key_dir, ctx.clock.now()).kid
    with ctx.store.write() as tx:
        site_link.link_opened(tx, "site-agent:test", world.host_venue_id, "link-1", ctx.settings)
    after = client.get("/api/v1/admin/status", headers=admin).json()
    assert [k["id"] for k in after["keys"] if k["kind"] == "token" and k["active"]] == [rotated]
    assert len([k for k in after["keys"] if k["kind"] == "token"]) == len(tokens) + 1
    host = next(v for v in after["venues"] if v["id"] == world.host_venue_id)
    assert host["online"] is True and host["last_heartbeat_at"] is not None
    assert after["database"]["chain_head"] > before["database"]["chain_head"]
