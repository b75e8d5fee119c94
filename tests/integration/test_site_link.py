"""The site link in process: the coordinator's websocket against the real protocol code (sites.protocol),
driven by the test as an agent would, with the test's manual clock (the agent process itself is exercised in
tests/integration/test_site_agent.py)."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from conftest import SPECIALTY, TokenFor, World
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from evalroom.api.context import AppContext
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import CredentialCreate, OfferCreate
from evalroom.services import inventory, offers, site_link
from evalroom.storage.models import Seat, Venue
from sites.protocol import PROTOCOL, Channel, Ed25519Signer, decode, encode, es256_verifier

WS = "/api/v1/site/ws"


def _register(ctx: AppContext, venue_id: str) -> Ed25519Signer:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with ctx.store.write() as tx:
        inventory.register_credential(tx, "system:test", venue_id, CredentialCreate(
            public_key=base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), label="test"))
    return Ed25519Signer(key)


def _venue_code(ctx: AppContext, venue_id: str) -> str:
    with ctx.store.read() as s:
        return s.get(Venue, venue_id).code


class Agent:
    """The agent's half of the protocol over a TestClient websocket."""

    def __init__(self, ctx: AppContext, ws: Any, signer: Ed25519Signer) -> None:
        self.ctx, self.ws, self.signer = ctx, ws, signer
        self.sent: list[str] = []
        self.later: list[tuple[str, dict[str, Any]]] = []
        first = decode(ws.receive_text())
        self.channel = Channel(first["ch"], skew=timedelta(minutes=2))
        kind, _ = self.channel.open(first, now=ctx.clock.now(), verify=self._verify)
        assert kind == "challenge"

    def _verify(self, kid: str, data: bytes, sig: bytes) -> bool:
        key = self.ctx.keyring.get(kid)
        return es256_verifier(lambda k: key.public_key if key and k == kid else None)(kid, data, sig)

    def send(self, kind: str, body: dict[str, Any]) -> str:
        frame = encode(self.channel.seal(kind, body, now=self.ctx.clock.now(), signer=self.signer))
        self.sent.append(frame)
        self.ws.send_text(frame)
        return frame

    def receive(self) -> tuple[str, dict[str, Any]]:
        return self.channel.open(decode(self.ws.receive_text()), now=self.ctx.clock.now(), verify=self._verify)

    def hello(self, venue_code: str, after: int = 0) -> dict[str, Any]:
        self.send("hello", {"protocol": PROTOCOL, "venue": venue_code, "after": after})
        kind, body = self.receive()
        assert kind == "welcome", body
        return body

    def until(self, kind: str) -> dict[str, Any]:
        """The next message of ``kind``; messages of other kinds that come first are kept for later."""
        for i, (k, body) in enumerate(self.later):
            if k == kind:
                del self.later[i]
                return body
        while True:
            k, body = self.receive()
            if k == kind:
                return body
            self.later.append((k, body))


def _inventory(camera: str = "ok") -> dict[str, Any]:
    ok = {d: "ok" for d in ("pc", "network", "microphone", "speaker")}
    return {"rooms": [{"code": "R9", "name": "新评标室", "kind": "shared",
                       "seats": [{"code": "S-01", "devices": {**ok, "camera": camera}},
                                 {"code": "S-02", "devices": {**ok, "camera": "ok"}}]}]}


def _online(ctx: AppContext, venue_id: str) -> bool:
    with ctx.store.read() as s:
        return s.get(Venue, venue_id).online


def _eventually(check: Any, timeout: float = 10.0) -> None:
    """The server finishes a closed link on its own loop, a moment after the client has gone."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _seat(ctx: AppContext, venue_id: str, room: str, code: str) -> Seat:
    rooms = inventory.list_rooms(ctx.store, Principal(role=Role.COORDINATOR_ADMIN, subject="t"), venue_id)
    room_id = next(r.id for r in rooms if r.code == room)
    with ctx.store.read() as s:
        return s.scalar(select(Seat).where(Seat.room_id == room_id, Seat.code == code))


def test_hello_inventory_heartbeat_and_offline(client: TestClient, ctx: AppContext, world: World) -> None:
    signer = _register(ctx, world.guest_venue_id)
    code = _venue_code(ctx, world.guest_venue_id)
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        welcome = agent.hello(code)
        assert welcome["venue_id"] == world.guest_venue_id and welcome["heartbeat_ms"] > 0
        with ctx.store.read() as s:
            assert s.get(Venue, world.guest_venue_id).online
        n = agent.channel.sent + 1
        agent.send("inventory", _inventory(camera="fault"))
        result = agent.until("result")
        assert result == {"ref": n, "ok": True, "changes": result["changes"]} and result["changes"] > 0
        seat = _seat(ctx, world.guest_venue_id, "R9", "S-01")
        assert seat.camera == "fault"
        # The seats of room R1 that the report left out are no longer known to work.
        assert _seat(ctx, world.guest_venue_id, "R1", "A-01").camera == "unknown"
        agent.send("heartbeat", {})
        agent.send("inventory", _inventory(camera="ok"))
        assert agent.until("result")["ok"]
        assert _seat(ctx, world.guest_venue_id, "R9", "S-01").camera == "ok"
    _eventually(lambda: not _online(ctx, world.guest_venue_id))  # the link closed: offline, and an event
    kinds = [e["kind"] for e in site_link.venue_feed(ctx.store, ctx.settings, world.guest_venue_id, after=0, limit=1000)]
    assert kinds.count("venue.online") == 1 and kinds[-1] == "venue.offline"


def test_events_resume_after_the_last_seen_and_offers_are_blind(client: TestClient, ctx: AppContext,
                                                                world: World) -> None:
    signer = _register(ctx, world.guest_venue_id)
    code = _venue_code(ctx, world.guest_venue_id)
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="t")
    with ctx.store.write() as tx:
        first = offers.create_offer(tx, ctx.settings, admin, world.session_id,
                                    OfferCreate(guest_venue_id=world.guest_venue_id, seats=2, specialties=[SPECIALTY]))
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(code)
        ev = agent.until("event")
        while ev["kind"] != "offer.created":
            ev = agent.until("event")
        offer = ev["data"]["offer"]
        assert offer["offer_id"] == first.id and offer["seats"] == 2 and offer["specialties"] == [SPECIALTY]
        text = json.dumps(ev, ensure_ascii=False)
        for secret in (world.session_id, world.host_venue_id, _venue_code(ctx, world.host_venue_id), "济南", "道路工程"):
            assert secret not in text
        last = ev["seq"]
        n = agent.channel.sent + 1
        agent.send("confirm", {"offer_id": first.id, "version": 1})
        result = agent.until("result")
        assert result["ref"] == n and result["ok"] and result["offer"]["state"] == "confirmed"
        assert len(result["offer"]["assigned_seats"]) == 2
        confirmed = agent.until("event")
        while confirmed["kind"] != "offer.confirmed":
            confirmed = agent.until("event")
        assert confirmed["seq"] > last and confirmed["data"]["offer"]["assigned_seats"] == result["offer"]["assigned_seats"]
    # Reconnect after the offer.created event: the confirmation comes again, nothing before it does.
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(code, after=last)
        again = agent.until("event")
        assert again["seq"] > last and again["kind"] in ("venue.offline", "venue.online", "offer.confirmed")
        seen = [again["seq"]]
        while again["kind"] != "offer.confirmed":
            again = agent.until("event")
            seen.append(again["seq"])
        assert seen == sorted(set(seen)) and again == confirmed


def test_a_replayed_message_is_refused_and_changes_nothing(client: TestClient, ctx: AppContext, world: World) -> None:
    signer = _register(ctx, world.guest_venue_id)
    code = _venue_code(ctx, world.guest_venue_id)
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(code)
        faulty = agent.send("inventory", _inventory(camera="fault"))
        agent.until("result")
        agent.send("inventory", _inventory(camera="ok"))
        agent.until("result")
        ws.send_text(faulty)  # the same signed frame again
        assert agent.until("error")["error"]["code"] == "message_replayed"
    assert _seat(ctx, world.guest_venue_id, "R9", "S-01").camera == "ok"
    # Replayed on a new connection, the frame is bound to the old connection and does not verify.
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(code)
        ws.send_text(faulty)
        assert agent.until("error")["error"]["code"] == "signature_invalid"
    assert _seat(ctx, world.guest_venue_id, "R9", "S-01").camera == "ok"


def test_stale_forged_and_foreign_messages_are_refused(client: TestClient, ctx: AppContext, world: World,
                                                       token_for: TokenFor) -> None:
    signer = _register(ctx, world.guest_venue_id)
    host_signer = _register(ctx, world.host_venue_id)
    code = _venue_code(ctx, world.guest_venue_id)

    def refused(send: Any) -> str:
        with client.websocket_connect(WS) as ws:
            agent = Agent(ctx, ws, signer)
            send(agent, ws)
            body = agent.until("error")
            with pytest.raises(WebSocketDisconnect):
                ws.receive_text()  # closed after the error
            return body["error"]["code"]

    def stale(agent: Agent, ws: Any) -> None:
        env = agent.channel.seal("hello", {"protocol": PROTOCOL, "venue": code, "after": 0},
                                 now=ctx.clock.now() - timedelta(minutes=10), signer=signer)
        ws.send_text(encode(env))

    def tampered(agent: Agent, ws: Any) -> None:
        env = agent.channel.seal("hello", {"protocol": PROTOCOL, "venue": code, "after": 0},
                                 now=ctx.clock.now(), signer=signer)
        env["body"]["after"] = 5
        ws.send_text(encode(env))

    def other_venues_key(agent: Agent, ws: Any) -> None:
        env = agent.channel.seal("hello", {"protocol": PROTOCOL, "venue": code, "after": 0},
                                 now=ctx.clock.now(), signer=host_signer)
        ws.send_text(encode(env))

    def bearer_token_instead(agent: Agent, ws: Any) -> None:
        for role in Role:
            headers = token_for(role)
            if headers:
                ws.send_text(json.dumps({"type": "hello", "token": headers["Authorization"][7:]}))
                return

    assert refused(stale) == "message_stale"
    assert refused(tampered) == "signature_invalid"
    assert refused(other_venues_key) == "signature_invalid"
    assert refused(bearer_token_instead) == "validation_failed"
    assert not _online(ctx, world.guest_venue_id)


def test_a_revoked_credential_cannot_connect(client: TestClient, ctx: AppContext, world: World) -> None:
    signer = _register(ctx, world.guest_venue_id)
    with ctx.store.write() as tx:
        inventory.revoke_credential(tx, "system:test", world.guest_venue_id, signer.kid)
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.send("hello", {"protocol": PROTOCOL, "venue": _venue_code(ctx, world.guest_venue_id), "after": 0})
        assert agent.until("error")["error"]["code"] == "signature_invalid"


def test_confirm_of_another_venues_offer_is_not_found(client: TestClient, ctx: AppContext, world: World) -> None:
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="t")
    with ctx.store.write() as tx:
        offer = offers.create_offer(tx, ctx.settings, admin, world.session_id,
                                    OfferCreate(guest_venue_id=world.guest_venue_id, seats=1))
    signer = _register(ctx, world.other_venue_id)
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(_venue_code(ctx, world.other_venue_id))
        agent.send("confirm", {"offer_id": offer.id, "version": 1})
        result = agent.until("result")
        assert not result["ok"] and result["error"]["code"] == "not_found"
        agent.send("heartbeat", {})  # a business error keeps the link
        agent.send("inventory", {"rooms": "none"})
        assert agent.until("result")["error"]["code"] == "validation_failed"
    assert offers.get_offer_view(ctx.store, ctx.settings, admin, offer.id)["state"] == "pending"


def test_housekeeping_sweeps_venues_whose_heartbeats_stopped(ctx: AppContext, world: World) -> None:
    """The sweep any coordinator process runs, for links held by a process that died."""
    with ctx.store.write() as tx:
        site_link.link_opened(tx, "site-agent:t", world.guest_venue_id, "link-1", ctx.settings)
    ctx.clock.advance(timedelta(seconds=ctx.settings.site_offline_after_seconds - 1))
    assert site_link.housekeep(ctx.store, ctx.settings) == 0
    ctx.clock.advance(timedelta(seconds=2))
    assert site_link.housekeep(ctx.store, ctx.settings) == 1
    assert not _online(ctx, world.guest_venue_id)
    last = site_link.venue_feed(ctx.store, ctx.settings, world.guest_venue_id, after=0, limit=1000)[-1]
    assert last["kind"] == "venue.offline" and last["data"]["reason"] == "heartbeat_timeout"
    # A late heartbeat on that link finds it swept; the link is taken back online.
    assert not site_link.record_heartbeat(ctx.store, world.guest_venue_id, "link-1")
    with ctx.store.write() as tx:
        assert site_link.reopen_link(tx, "site-agent:t", world.guest_venue_id, "link-1", ctx.settings)
    assert _online(ctx, world.guest_venue_id)
    with ctx.store.write() as tx:  # but a newer link of the venue is not displaced by an old one
        site_link.link_opened(tx, "site-agent:t", world.guest_venue_id, "link-2", ctx.settings)
        assert not site_link.reopen_link(tx, "site-agent:t", world.guest_venue_id, "link-1", ctx.settings)


def test_the_coordinator_closes_a_link_that_went_silent(client: TestClient, ctx: AppContext, world: World) -> None:
    signer = _register(ctx, world.guest_venue_id)
    with client.websocket_connect(WS) as ws:
        agent = Agent(ctx, ws, signer)
        agent.hello(_venue_code(ctx, world.guest_venue_id))
        ctx.clock.advance(timedelta(seconds=ctx.settings.site_offline_after_seconds + 1))
        seat = _seat(ctx, world.guest_venue_id, "R1", "A-01")
        with ctx.store.write() as tx:  # any news wakes the link's loop, which then notices the silence
            inventory.mark_seat(tx, Principal(role=Role.COORDINATOR_ADMIN, subject="t"), seat.id, "broken")
        assert agent.until("error")["error"]["code"] == "not_authenticated"
    _eventually(lambda: not _online(ctx, world.guest_venue_id))
    # Marked offline once, by the link itself or by the app's housekeeper, whichever looked first.
    feed = site_link.venue_feed(ctx.store, ctx.settings, world.guest_venue_id, after=0, limit=1000)
    offline = [e for e in feed if e["kind"] == "venue.offline"]
    assert [e["data"]["reason"] for e in offline] == ["heartbeat_timeout"]
