"""The admin's status view (GET /api/v1/admin/status): what it reports follows the coordinator's real state."""

from __future__ import annotations

import base64

from conftest import TokenFor, World
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.auth.keys import KeyRing
from evalroom.domain.roles import Role
from evalroom.services import site_link, tlog
from evalroom.storage.models import Venue
from signing.note import NoteSigner, add_signature


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


def test_each_venue_shows_the_newest_checkpoint_its_witness_cosigned(client: TestClient, ctx: AppContext,
                                                                      world: World, token_for: TokenFor) -> None:
    admin = token_for(Role.COORDINATOR_ADMIN)
    key = tlog.load_or_create_log_key(ctx.settings)
    assert tlog.append_pending(ctx.store, key) > 0
    first = tlog.checkpoint(ctx.store)
    with ctx.store.read() as s:
        host_code = s.get(Venue, world.host_venue_id).code
    witness = NoteSigner(host_code, Ed25519PrivateKey.generate())
    line = add_signature(first.note, witness)[len(first.note):]
    tlog.add_cosignature(ctx.store, host_code, [witness.verifier.public], first.size,
                         base64.b64encode(first.root).decode(), line)
    with ctx.store.write() as tx:  # a newer checkpoint nobody cosigned: the venue's stays the older one
        tx.record(actor="system:test", kind="session.updated", session_id=world.session_id, payload={"title": "x"})
    tlog.append_pending(ctx.store, key)
    assert tlog.checkpoint(ctx.store).size > first.size
    venues = {v["id"]: v for v in client.get("/api/v1/admin/status", headers=admin).json()["venues"]}
    assert venues[world.host_venue_id]["witnessed_size"] == first.size
    assert venues[world.host_venue_id]["witnessed_at"] is not None
    assert (venues[world.guest_venue_id]["witnessed_size"], venues[world.guest_venue_id]["witnessed_at"]) == (None, None)
