"""Offers (要约) through the HTTP API on SQLite and PostgreSQL: the lifecycle, expiry, change and cancel,
drawing a guest venue, blind pairing (四不知) for host and guest, single-project rooms, faults, the midnight
rule, and bad input that gets a stable code and changes nothing."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ALL_OK, SPECIALTY, T0, TokenFor, World, ok, refused, snapshot, unique_code
from fastapi.testclient import TestClient
from timebase import iso

from evalroom.api.app import create_app
from evalroom.api.context import AppContext, build_context
from evalroom.clock import format_time
from evalroom.config import Settings, load_settings
from evalroom.domain.draw_audit import audit_draws
from evalroom.domain.events import Event
from evalroom.domain.roles import Principal, Role
from evalroom.services import committee, draws, inventory, site_link
from sites.devices import DeviceState, RoomKind
from sites.pairing import Candidate, rank
from sites.protocol import Inventory, RoomReport, SeatReport

pytestmark = pytest.mark.dates

API = "/api/v1"
START = T0 + timedelta(days=1)
"""world.session's scheduled start: 09:00 Beijing on the day after T0 (a Sunday); it runs for 8 hours."""
END = START + timedelta(hours=8)


def _settings(tmp_path: Path, db_url: str, **extra: Any) -> Settings:
    """conftest's settings, with the app's housekeeper out of the way: it would expire offers on its own
    schedule while a test moves the clock (these tests run housekeeping themselves, when they mean to)."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "housekeeping_seconds": 300,
                                                "log_batch_seconds": 300, **extra})


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return _settings(tmp_path, db_url)


@dataclass
class Api:
    client: TestClient
    ctx: AppContext
    world: World
    token_for: TokenFor

    # Tokens are minted on each call: tests move the clock past their lifetime.
    def admin(self) -> dict[str, str]:
        return self.token_for(Role.COORDINATOR_ADMIN)

    def op(self, venue_id: str | None = None) -> dict[str, str]:
        return self.token_for(Role.HALL_OPERATOR, venue_id=venue_id or self.world.host_venue_id)

    @property
    def guest_op(self) -> dict[str, str]:
        return self.op(self.world.guest_venue_id)

    @property
    def other_op(self) -> dict[str, str]:
        return self.op(self.world.other_venue_id)

    def post_offer(self, headers: dict[str, str], session_id: str | None = None, **body: Any) -> httpx.Response:
        body.setdefault("seats", 2)
        body.setdefault("specialties", [SPECIALTY])
        return self.client.post(f"{API}/sessions/{session_id or self.world.session_id}/offers", headers=headers,
                                json={k: _json(v) for k, v in body.items()})

    def offer_to(self, venue_id: str, session_id: str | None = None, **body: Any) -> dict[str, Any]:
        """The admin names the guest venue."""
        return ok(self.post_offer(self.admin(), session_id, guest_venue_id=venue_id, **body), 201)

    def confirm(self, headers: dict[str, str], offer_id: str, version: int = 1, **body: Any) -> httpx.Response:
        return self.client.post(f"{API}/offers/{offer_id}/confirm", headers=headers, json={"version": version, **body})

    def decline(self, headers: dict[str, str], offer_id: str, reason: str, version: int = 1) -> httpx.Response:
        return self.client.post(f"{API}/offers/{offer_id}/decline", headers=headers,
                                json={"version": version, "reason": reason})

    def offer(self, offer_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return ok(self.client.get(f"{API}/offers/{offer_id}", headers=headers or self.admin()))

    def calendar(self, venue_id: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return ok(self.calendar_resp(venue_id, headers))

    def calendar_resp(self, venue_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.get(f"{API}/venues/{venue_id}/calendar", headers=headers or self.admin(),
                               params={"from": (START - timedelta(days=1)).isoformat(),
                                       "to": (START + timedelta(days=2)).isoformat()})

    def events(self, session_id: str | None = None, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        page = ok(self.client.get(f"{API}/sessions/{session_id or self.world.session_id}/events",
                                  headers=headers or self.admin(), params={"limit": 1000}))
        return page["events"]

    def kinds(self, session_id: str | None = None) -> list[str]:
        return [e["kind"] for e in self.events(session_id) if e["kind"].startswith("offer.")]

    def seat_ids(self, venue_id: str) -> dict[str, str]:
        rooms = ok(self.client.get(f"{API}/venues/{venue_id}/rooms", headers=self.admin()))
        return {f"{r['code']}/{s['code']}": s["id"] for r in rooms for s in r["seats"]}

    def search(self, headers: dict[str, str], seats: int, start: datetime = START, end: datetime = END) -> dict[str, Any]:
        return ok(self.client.get(f"{API}/seats/search", headers=headers, params={
            "seats": seats, "from": start.isoformat(), "to": end.isoformat(), "specialty": [SPECIALTY]}))

    def new_session(self, headers: dict[str, str], start: datetime = START, end: datetime = END) -> str:
        return ok(self.client.post(f"{API}/sessions", headers=headers, json={
            "code": unique_code("S"), "title": "第三个项目", "scheduled_start": start.isoformat(),
            "scheduled_end": end.isoformat()}), 201)["id"]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@pytest.fixture
def api(client: TestClient, ctx: AppContext, world: World, token_for: TokenFor) -> Api:
    return Api(client, ctx, world, token_for)


def _codes(offer: dict[str, Any]) -> list[str]:
    return offer["assigned_seats"] if "assigned_seats" in offer else offer["seat_codes"]


# --- lifecycle --------------------------------------------------------------------------------------------
def test_admin_names_guest_and_guest_confirms(api: Api) -> None:
    w = api.world
    created = api.offer_to(w.guest_venue_id)
    assert (created["state"], created["version"], created["guest_venue_id"], created["seats"]) == \
        ("pending", 1, w.guest_venue_id, 2)
    assert created["seat_ids"] == [] and created["proposed_by"] == "host"
    listed = ok(api.client.get(f"{API}/offers", headers=api.guest_op))
    assert [o["offer_id"] for o in listed] == [created["offer_id"]] and listed[0]["state"] == "pending"
    assert ok(api.client.get(f"{API}/offers", headers=api.other_op)) == [], "another venue sees the offer"

    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, created["offer_id"], version=2), 409, "conflict")
    assert snapshot(api.ctx) == before

    confirmed = ok(api.confirm(api.guest_op, created["offer_id"]))
    assert confirmed["state"] == "confirmed" and confirmed["assigned_seats"] == ["R1/A-01", "R1/A-02"]
    full = api.offer(created["offer_id"])
    seats = api.seat_ids(w.guest_venue_id)
    assert full["seat_ids"] == [seats["R1/A-01"], seats["R1/A-02"]] and full["state"] == "confirmed"
    booked = api.calendar(w.guest_venue_id, api.guest_op)
    assert sorted((b["room_code"], b["seat_code"]) for b in booked) == [("R1", "A-01"), ("R1", "A-02")]
    assert all(b["offer_id"] == created["offer_id"] and b["session_id"] is None for b in booked)
    assert all(datetime.fromisoformat(b["starts_at"]) == START and datetime.fromisoformat(b["ends_at"]) == END
               for b in booked)
    assert [b["session_id"] for b in api.calendar(w.guest_venue_id)] == [w.session_id] * 2  # admins see it

    # Confirming twice is refused and books nothing more.
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, created["offer_id"]), 409, "conflict")
    assert snapshot(api.ctx) == before

    events = [e for e in api.events() if e["kind"].startswith("offer.")]
    assert [e["kind"] for e in events] == ["offer.created", "offer.confirmed"]
    assert events[1]["payload"]["offer"]["state"] == "confirmed"
    assert events[1]["payload"]["offer"]["seat_ids"] == full["seat_ids"]


def test_guest_declines_with_a_reason(api: Api) -> None:
    w = api.world
    created = api.offer_to(w.other_venue_id)
    before = snapshot(api.ctx)
    refused(api.decline(api.other_op, created["offer_id"], "工位检修", version=3), 409, "conflict")
    assert snapshot(api.ctx) == before
    declined = ok(api.decline(api.other_op, created["offer_id"], "工位检修"))
    assert declined["state"] == "declined" and declined["decline_reason"] == "工位检修"
    assert api.offer(created["offer_id"])["reason"] == "工位检修"
    assert api.calendar(w.other_venue_id) == []
    before = snapshot(api.ctx)
    refused(api.confirm(api.other_op, created["offer_id"]), 409, "conflict")
    refused(api.decline(api.other_op, created["offer_id"], "again"), 409, "conflict")
    assert snapshot(api.ctx) == before
    assert api.kinds() == ["offer.created", "offer.declined"]
    # A declined venue may be asked again for the same session.
    again = api.offer_to(w.other_venue_id)
    assert again["offer_id"] != created["offer_id"] and again["state"] == "pending"


def test_confirm_with_named_seats(api: Api) -> None:
    w = api.world
    seats = api.seat_ids(w.guest_venue_id)
    created = api.offer_to(w.guest_venue_id)
    before = snapshot(api.ctx)
    for named, code in (([seats["R1/A-03"]], "invalid_input"),  # too few
                        ([seats["R1/A-03"], seats["R1/A-03"]], "invalid_input"),  # twice
                        ([seats["R1/A-03"], str(uuid.uuid4())], "not_enough_seats"),  # unknown
                        ([seats["R1/A-03"], api.seat_ids(w.other_venue_id)["R1/A-01"]], "not_enough_seats")):
        refused(api.confirm(api.guest_op, created["offer_id"], seat_ids=named),
                422 if code == "invalid_input" else 409, code)
    assert snapshot(api.ctx) == before
    confirmed = ok(api.confirm(api.guest_op, created["offer_id"], seat_ids=[seats["R1/A-04"], seats["R1/A-03"]]))
    assert sorted(confirmed["assigned_seats"]) == ["R1/A-03", "R1/A-04"]
    assert sorted(api.offer(created["offer_id"])["seat_ids"]) == sorted([seats["R1/A-03"], seats["R1/A-04"]])
    assert sorted(b["seat_code"] for b in api.calendar(w.guest_venue_id)) == ["A-03", "A-04"]


# --- expiry -----------------------------------------------------------------------------------------------
def test_an_unanswered_offer_expires(api: Api) -> None:
    created = api.offer_to(api.world.guest_venue_id)
    respond_by = datetime.fromisoformat(created["respond_by"])
    assert respond_by == T0 + timedelta(minutes=api.ctx.settings.offer_response_minutes)
    api.ctx.clock.advance(respond_by - T0 - timedelta(seconds=1))
    assert site_link.housekeep(api.ctx.store, api.ctx.settings) == 0, "expired before its deadline"
    api.ctx.clock.advance(timedelta(seconds=1))
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, created["offer_id"]), 409, "offer_expired")
    refused(api.decline(api.guest_op, created["offer_id"], "太晚了"), 409, "offer_expired")
    # Overdue is expired even before the housekeeper records it: the host cannot revive it by a change.
    refused(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.op(), json={"seats": 3}),
            409, "offer_expired")
    assert snapshot(api.ctx) == before
    assert api.offer(created["offer_id"])["state"] == "pending"

    assert site_link.housekeep(api.ctx.store, api.ctx.settings) == 1
    assert api.offer(created["offer_id"])["state"] == "expired"
    expired = [e for e in api.events() if e["kind"] == "offer.expired"]
    assert len(expired) == 1 and expired[0]["actor"] == "system:coordinator"
    assert expired[0]["payload"]["offer"]["offer_id"] == created["offer_id"]
    assert site_link.housekeep(api.ctx.store, api.ctx.settings) == 0, "expired twice"
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, created["offer_id"]), 409, "offer_expired")
    assert snapshot(api.ctx) == before
    assert api.calendar(api.world.guest_venue_id) == []


def test_a_confirmed_offer_does_not_expire(api: Api) -> None:
    created = api.offer_to(api.world.guest_venue_id)
    ok(api.confirm(api.guest_op, created["offer_id"]))
    api.ctx.clock.advance(timedelta(hours=3))
    assert site_link.housekeep(api.ctx.store, api.ctx.settings) == 0
    assert api.offer(created["offer_id"])["state"] == "confirmed"
    assert len(api.calendar(api.world.guest_venue_id)) == 2


# --- change and cancel ------------------------------------------------------------------------------------
def test_change_asks_again_and_cancel_releases(api: Api) -> None:
    w = api.world
    created = api.offer_to(w.guest_venue_id)
    ok(api.confirm(api.guest_op, created["offer_id"]))
    assert len(api.calendar(w.guest_venue_id)) == 2
    new_start, new_end = START + timedelta(hours=1), START + timedelta(hours=5)
    changed = ok(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.op(), json={
        "starts_at": new_start.isoformat(), "ends_at": new_end.isoformat()}))
    assert (changed["state"], changed["version"]) == ("pending", 2)
    assert api.calendar(w.guest_venue_id) == [], "a change keeps the old seats"
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, created["offer_id"], version=1), 409, "conflict")
    assert snapshot(api.ctx) == before
    reconfirmed = ok(api.confirm(api.guest_op, created["offer_id"], version=2))
    assert reconfirmed["state"] == "confirmed" and reconfirmed["version"] == 2
    booked = api.calendar(w.guest_venue_id)
    assert len(booked) == 2 and all(datetime.fromisoformat(b["starts_at"]) == new_start and
                                    datetime.fromisoformat(b["ends_at"]) == new_end for b in booked)

    cancelled = ok(api.client.post(f"{API}/offers/{created['offer_id']}/cancel", headers=api.op(),
                                   json={"reason": "项目延期"}))
    assert cancelled["state"] == "cancelled"
    assert api.calendar(w.guest_venue_id) == []
    assert api.offer(created["offer_id"])["reason"] == "项目延期"

    before = snapshot(api.ctx)
    refused(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.op(),
                             json={"seats": 3}), 409, "conflict")
    refused(api.client.post(f"{API}/offers/{created['offer_id']}/cancel", headers=api.op(),
                            json={"reason": "again"}), 409, "conflict")
    refused(api.confirm(api.guest_op, created["offer_id"], version=2), 409, "conflict")
    assert snapshot(api.ctx) == before
    assert api.kinds() == ["offer.created", "offer.confirmed", "offer.changed", "offer.confirmed",
                           "offer.cancelled"]
    change = next(e for e in api.events() if e["kind"] == "offer.changed")
    assert set(change["payload"]["changes"]) >= {"starts_at", "ends_at"}
    # The seats are free again: another session can have them.
    later = api.offer_to(w.guest_venue_id, w.other_session_id)
    assert ok(api.confirm(api.guest_op, later["offer_id"]))["state"] == "confirmed"


def test_change_of_a_pending_offer_and_cancel_of_a_pending_offer(api: Api) -> None:
    created = api.offer_to(api.world.guest_venue_id)
    changed = ok(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.admin(), json={"seats": 3}))
    assert (changed["state"], changed["version"], changed["seats"]) == ("pending", 2, 3)
    assert ok(api.confirm(api.guest_op, created["offer_id"], version=2))["assigned_seats"] == \
        ["R1/A-01", "R1/A-02", "R1/A-03"]
    before = snapshot(api.ctx)
    refused(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.op(),
                             json={"seats": 3}), 422, "invalid_input")  # changes nothing
    refused(api.client.patch(f"{API}/offers/{created['offer_id']}", headers=api.other_op,
                             json={"seats": 1}), 404, "not_found")  # not its offer
    refused(api.client.post(f"{API}/offers/{created['offer_id']}/cancel", headers=api.guest_op,
                            json={"reason": "x"}), 404, "not_found")  # the guest does not cancel
    assert snapshot(api.ctx) == before


# --- drawing ----------------------------------------------------------------------------------------------
def _drawn(api: Api, session_id: str | None = None) -> list[dict[str, Any]]:
    """Each guest draw's record with the seed its draw.revealed event made public."""
    events = api.events(session_id)
    seeds = {e["payload"]["draw_id"]: e["payload"]["seed"] for e in events if e["kind"] == "draw.revealed"}
    commitments = {e["payload"]["draw_id"]: e["payload"]["commitment"] for e in events if e["kind"] == "draw.committed"}
    drawn = [e["payload"] for e in events if e["kind"] == "offer.guest_drawn"]
    for d in drawn:
        assert hashlib.sha256(bytes.fromhex(seeds[d["draw_id"]])).hexdigest() == commitments[d["draw_id"]]
    return [{**d, "seed": seeds[d["draw_id"]]} for d in drawn]


def _recompute(draw: dict[str, Any]) -> list[str]:
    candidates = [Candidate(venue_id=c["venue_id"], free_seats=c["free_seats"],
                            last_lent_at=datetime.fromisoformat(c["last_lent_at"]) if c["last_lent_at"] else None)
                  for c in draw["candidates"]]
    return [c.venue_id for c in rank(candidates, bytes.fromhex(draw["seed"]))]


def test_host_without_a_guest_gets_one_drawn_verifiably(api: Api) -> None:
    w = api.world
    first = ok(api.post_offer(api.op()), 201)
    assert first["proposed_by"] == "coordinator" and first["guest_hidden"] is True
    assert "guest_venue_id" not in first
    chosen = api.offer(first["offer_id"])["guest_venue_id"]
    assert chosen in {w.guest_venue_id, w.other_venue_id}
    (draw,) = _drawn(api)
    assert draw["offer_id"] == first["offer_id"] and draw["chosen"] == chosen
    assert len(bytes.fromhex(draw["seed"])) >= 16
    assert {c["venue_id"] for c in draw["candidates"]} == {w.guest_venue_id, w.other_venue_id}, "host drawn"
    assert all(c["free_seats"] == 4 and c["last_lent_at"] is None for c in draw["candidates"])
    assert _recompute(draw)[0] == chosen
    assert _recompute(draw) == [c["venue_id"] for c in draw["candidates"]]
    # Commit (the seed's hash, with the request) before the candidates are read; reveal after the offer.
    kinds = [e["kind"] for e in api.events() if e["kind"].startswith(("offer.", "draw."))]
    assert kinds == ["draw.committed", "offer.guest_drawn", "offer.created", "draw.revealed"]
    assert [e["seq"] for e in api.events() if e["kind"] == "draw.committed"] < \
        [e["seq"] for e in api.events() if e["kind"] == "offer.guest_drawn"]

    # evalroom verify-draw's audit recomputes the guest draw from the events; an altered choice is caught.
    logged = [Event(**{k: v for k, v in e.items() if k != "redacted"}) for e in api.events()]
    [audit] = audit_draws(logged)
    assert audit.ok and (audit.purpose, audit.outcome) == ("guest", "drawn"), audit.problems
    other = next(c["venue_id"] for c in draw["candidates"] if c["venue_id"] != chosen) if len(
        draw["candidates"]) > 1 else w.host_venue_id
    altered = [Event(**{**ev.as_dict(), "payload": {**ev.payload, "chosen": other}})
               if ev.kind == "offer.guest_drawn" else ev for ev in logged]
    assert audit_draws(altered)[0].problems == ["the chosen guest venue is not the first in the recomputed order"]

    # The venue drawn declines; the next draw never asks it (or the host) again.
    drawn_op = api.op(chosen)
    ok(api.decline(drawn_op, first["offer_id"], "人手不足"))
    second = ok(api.post_offer(api.op()), 201)
    second_guest = api.offer(second["offer_id"])["guest_venue_id"]
    assert second_guest not in {chosen, w.host_venue_id}
    draw2 = _drawn(api)[1]
    assert [c["venue_id"] for c in draw2["candidates"]] == [second_guest] == _recompute(draw2)

    # Nobody is left to ask.
    before = snapshot(api.ctx)
    refused(api.post_offer(api.op()), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before


def test_a_guest_draw_interrupted_after_its_commitment_is_finished_with_its_seed(api: Api) -> None:
    w = api.world
    with api.ctx.store.write() as tx:
        pending = draws.commit(tx, api.ctx.sealer, w.session_id, "hall-operator:crash", "guest", request={
            "seats": 1, "specialties": [SPECIALTY], "starts_at": format_time(START), "ends_at": format_time(END),
            "respond_by": format_time(START - timedelta(hours=1))})
    assert committee.complete_pending_draws(api.ctx.store, api.ctx.sealer, api.ctx.committee, api.ctx.settings) == 1
    logged = [Event(**{k: v for k, v in e.items() if k != "redacted"}) for e in api.events()]
    [audit] = audit_draws(logged)
    assert audit.draw_id == pending.id and audit.ok and audit.outcome == "drawn", audit.problems
    [drawn] = _drawn(api)
    assert drawn["draw_id"] == pending.id and api.offer(drawn["offer_id"])["guest_venue_id"] == drawn["chosen"]
    assert committee.complete_pending_draws(api.ctx.store, api.ctx.sealer, api.ctx.committee, api.ctx.settings) == 0


def test_draw_skips_venues_without_enough_seats_or_specialty(api: Api) -> None:
    before = snapshot(api.ctx)
    refused(api.post_offer(api.op(), seats=5), 409, "not_enough_seats")
    refused(api.post_offer(api.op(), specialties=["Z99"]), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before


def test_a_venue_lends_only_what_its_regions_pool_can_supply(api: Api) -> None:
    """Coverage comes from the pool itself: B0101 experts qualify for a request for B01 (the tree), but not
    for A02; suspended experts do not count; a region needs as many able experts as seats."""
    w = api.world
    client = api.client
    search = {"from": (api.ctx.clock.now() + timedelta(days=2)).isoformat(),
              "to": (api.ctx.clock.now() + timedelta(days=2, hours=2)).isoformat()}

    def venues(**params: Any) -> set[str]:
        found = ok(client.get(f"{API}/seats/search", headers=api.admin(), params={**search, **params}))
        return {v["venue_id"] for v in found["venues"]}

    everyone = {w.host_venue_id, w.guest_venue_id, w.other_venue_id}
    assert venues(seats=4, specialty="B01") == everyone  # the region's four B0101 experts
    assert venues(seats=4, specialty="B0101") == everyone
    assert venues(seats=1, specialty="A02") == set()
    region = ok(client.get(f"{API}/regions", headers=api.admin()))
    assert next(r for r in region if r["id"] == w.region_id)["specialties"] == ["B0101"]
    pool = ok(client.get(f"{API}/regions/{w.region_id}/experts", headers=api.admin()))
    ok(client.patch(f"{API}/experts/{pool[0]['id']}", headers=api.admin(),
                    json={"credit_status": "suspended", "reason": "年度考核不合格"}))
    assert venues(seats=4, specialty="B01") == set()  # three able experts left for four seats
    assert venues(seats=3, specialty="B01") == everyone
    before = snapshot(api.ctx)
    refused(api.post_offer(api.op(), seats=4), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before


def test_draw_prefers_the_venue_that_lent_least_recently(api: Api) -> None:
    w = api.world
    # 'other' lends seats to world.session; then sessions hosted at the guest venue draw among host and other.
    lent = api.offer_to(w.other_venue_id)
    ok(api.confirm(api.other_op, lent["offer_id"]))
    lent_at = api.ctx.clock.now()
    api.ctx.clock.advance(timedelta(minutes=1))
    for _ in range(4):
        session_id = api.new_session(api.guest_op)
        drawn = ok(api.post_offer(api.guest_op, session_id), 201)
        assert api.offer(drawn["offer_id"])["guest_venue_id"] == w.host_venue_id
        (draw,) = _drawn(api, session_id)
        by_venue = {c["venue_id"]: c for c in draw["candidates"]}
        assert set(by_venue) == {w.host_venue_id, w.other_venue_id}
        assert by_venue[w.host_venue_id]["last_lent_at"] is None
        assert datetime.fromisoformat(by_venue[w.other_venue_id]["last_lent_at"]) == lent_at
        assert by_venue[w.other_venue_id]["free_seats"] == 2
        assert _recompute(draw)[0] == w.host_venue_id
    # Once the host venue has lent too (later than 'other'), 'other' is the least recently used.
    api.ctx.clock.advance(timedelta(minutes=1))
    confirmed = ok(api.confirm(api.op(), _first_pending_to(api, w.host_venue_id)))
    assert confirmed["state"] == "confirmed"
    final_session = api.new_session(api.guest_op)
    final = ok(api.post_offer(api.guest_op, final_session), 201)
    assert api.offer(final["offer_id"])["guest_venue_id"] == w.other_venue_id


def _first_pending_to(api: Api, venue_id: str) -> str:
    pending = [o for o in ok(api.client.get(f"{API}/offers", headers=api.op(venue_id))) if o["state"] == "pending"]
    assert pending
    return pending[0]["offer_id"]


# --- blind pairing ----------------------------------------------------------------------------------------
@dataclass
class Identity:
    id: str
    code: str
    name: str
    city: str

    @property
    def strings(self) -> tuple[str, ...]:
        return self.id, self.code, self.name, self.city


def _venue(api: Api, venue_id: str) -> Identity:
    v = ok(api.client.get(f"{API}/venues/{venue_id}", headers=api.admin()))
    return Identity(v["id"], v["code"], v["name"], v["city"])


def _ws_events(api: Api, headers: dict[str, str], n: int) -> str:
    """Every event of the session over the websocket, as raw text; checks that no more than ``n`` come."""
    frames = []
    with api.client.websocket_connect(f"{API}/sessions/{api.world.session_id}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": headers["Authorization"][7:], "after": 0})
        assert ws.receive_json()["type"] == "subscribed"
        for _ in range(n):
            raw = ws.receive_text()
            assert json.loads(raw)["type"] == "event"
            frames.append(raw)
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    return "\n".join(frames)


def _absent(text: str, secrets: tuple[str, ...], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"{where} shows {secret!r}"


def _named_op(api: Api, username: str, venue_id: str) -> dict[str, str]:
    principal = Principal(role=Role.HALL_OPERATOR, subject=username, venue_id=venue_id)
    return {"Authorization": f"Bearer {api.ctx.tokens.issue(principal).token}"}


DECLINE_REASON = "DECLINE-青岛工位整修-7Q"
CANCEL_REASON = "CANCEL-主场说明-某道路工程施工招标-延期-9X"


def test_host_does_not_learn_its_guests_until_check_in(api: Api) -> None:
    w = api.world
    host_op = api.op()
    before = snapshot(api.ctx)
    refused(api.post_offer(host_op, guest_venue_id=w.guest_venue_id), 403, "forbidden")
    assert snapshot(api.ctx) == before

    drawn = ok(api.post_offer(host_op), 201)
    first_guest = api.offer(drawn["offer_id"])["guest_venue_id"]
    second_guest = ({w.guest_venue_id, w.other_venue_id} - {first_guest}).pop()
    named = api.offer_to(second_guest)
    # The guests' operators answer under their own user names, which would tell the host who they are.
    confirmer, decliner = "guest-op-zhang-5k", "guest-op-li-8m"
    confirmed = ok(api.confirm(_named_op(api, confirmer, first_guest), drawn["offer_id"]))
    ok(api.decline(_named_op(api, decliner, second_guest), named["offer_id"], DECLINE_REASON))
    seat_ids = api.offer(drawn["offer_id"])["seat_ids"]
    assert len(seat_ids) == 2 and confirmed["state"] == "confirmed"
    secrets = (*_venue(api, w.guest_venue_id).strings, *_venue(api, w.other_venue_id).strings, DECLINE_REASON,
               *seat_ids, confirmer, decliner)
    offer_ids = (drawn["offer_id"], named["offer_id"])

    def host_texts(headers: dict[str, str]) -> dict[str, str]:
        n = len(api.events(headers=headers))
        return {
            **{f"GET /offers/{i}": api.client.get(f"{API}/offers/{i}", headers=headers).text for i in offer_ids},
            "GET /sessions/{sid}/offers": api.client.get(f"{API}/sessions/{w.session_id}/offers", headers=headers).text,
            "GET /sessions/{sid}/events": api.client.get(f"{API}/sessions/{w.session_id}/events", headers=headers,
                                                         params={"limit": 1000}).text,
            "events websocket": _ws_events(api, headers, n),
            "GET /seats/search": api.client.get(f"{API}/seats/search", headers=headers, params={
                "seats": 1, "from": START.isoformat(), "to": END.isoformat()}).text,
            "GET /sessions/{sid}/status": api.client.get(f"{API}/sessions/{w.session_id}/status",
                                                         headers=headers).text,
        }

    texts = host_texts(host_op)
    for where, text in texts.items():
        _absent(text, secrets, where)
    # The checks above looked at real content.
    for i in offer_ids:
        assert i in texts["GET /sessions/{sid}/offers"] and i in texts["events websocket"]
    listed = json.loads(texts["GET /sessions/{sid}/offers"])
    assert sorted(o["state"] for o in listed) == ["confirmed", "declined"] and all(o["guest_hidden"] for o in listed)
    events = [e for e in json.loads(texts["GET /sessions/{sid}/events"])["events"] if e["kind"].startswith("offer.")]
    assert [e["kind"] for e in events] == ["offer.guest_drawn", "offer.created", "offer.created",
                                           "offer.confirmed", "offer.declined"]
    assert all(e["redacted"] for e in events)
    assert not any(k in events[0]["payload"] for k in ("seed", "candidates", "chosen"))
    # ... while the admin and the session's supervisor see everything.
    for headers in (api.admin(), api.token_for(Role.SUPERVISOR)):
        full = api.client.get(f"{API}/sessions/{w.session_id}/offers", headers=headers).text
        assert first_guest in full and second_guest in full and DECLINE_REASON in full

    # Check-in opens from 2 hours before the start; then the host may know its guests.
    refused(api.client.post(f"{API}/sessions/{w.session_id}/check-in/open", headers=api.op()), 409, "conflict")
    api.ctx.clock.advance(START - timedelta(hours=2) - T0 - timedelta(seconds=1))
    refused(api.client.post(f"{API}/sessions/{w.session_id}/check-in/open", headers=api.op()), 409, "conflict")
    api.ctx.clock.advance(timedelta(seconds=1))
    refused(api.client.post(f"{API}/sessions/{w.session_id}/check-in/open", headers=api.guest_op), 404, "not_found")
    ok(api.client.post(f"{API}/sessions/{w.session_id}/check-in/open", headers=api.op()))

    host_op = api.op()
    texts = host_texts(host_op)
    assert first_guest in texts["GET /sessions/{sid}/status"]  # the confirmed guest takes part: now named
    status = json.loads(texts["GET /sessions/{sid}/status"])
    assert [v["role"] for v in status["venues"]] == ["host", "guest"]
    for where in ("GET /sessions/{sid}/offers", "GET /sessions/{sid}/events", "events websocket"):
        for secret in (first_guest, second_guest, DECLINE_REASON, *seat_ids):
            assert secret in texts[where], f"{where} still hides {secret!r} after check-in opened"
    for where in ("GET /sessions/{sid}/events", "events websocket"):
        for secret in (confirmer, decliner):
            assert secret in texts[where], f"{where} still hides {secret!r} after check-in opened"
    assert first_guest in texts[f"GET /offers/{drawn['offer_id']}"]
    assert DECLINE_REASON in texts[f"GET /offers/{named['offer_id']}"]
    draw_event = next(e for e in json.loads(texts["GET /sessions/{sid}/events"])["events"]
                      if e["kind"] == "offer.guest_drawn")
    assert draw_event["payload"]["chosen"] == first_guest and not draw_event["redacted"]
    # Search stays blind for the host: the coordinator draws, the host does not choose.
    assert json.loads(texts["GET /seats/search"])["venues"] is None


def test_guest_does_not_learn_the_project_or_the_host(api: Api) -> None:
    w = api.world
    guest_op = api.guest_op
    session = ok(api.client.get(f"{API}/sessions/{w.session_id}", headers=api.admin()))
    host = _venue(api, w.host_venue_id)
    secrets = (*host.strings, w.session_id, session["code"], session["title"], CANCEL_REASON)
    texts: dict[str, str] = {}

    first = api.offer_to(w.guest_venue_id)
    texts["GET /offers"] = api.client.get(f"{API}/offers", headers=guest_op).text
    texts["GET /offers/{id}"] = api.client.get(f"{API}/offers/{first['offer_id']}", headers=guest_op).text
    resp = api.confirm(guest_op, first["offer_id"])
    assert resp.status_code == 200
    texts["confirm"] = resp.text
    texts["calendar"] = api.calendar_resp(w.guest_venue_id, guest_op).text
    texts["rooms"] = api.client.get(f"{API}/venues/{w.guest_venue_id}/rooms", headers=guest_op).text
    ok(api.client.post(f"{API}/offers/{first['offer_id']}/cancel", headers=api.op(), json={"reason": CANCEL_REASON}))
    assert CANCEL_REASON in api.offer(first["offer_id"])["reason"]
    texts["GET /offers/{id} after cancel"] = api.client.get(f"{API}/offers/{first['offer_id']}", headers=guest_op).text
    texts["GET /offers after cancel"] = api.client.get(f"{API}/offers", headers=guest_op).text

    second = api.offer_to(w.guest_venue_id)
    resp = api.decline(guest_op, second["offer_id"], "副场自己的理由")
    assert resp.status_code == 200
    texts["decline"] = resp.text
    texts["GET /offers at the end"] = api.client.get(f"{API}/offers", headers=guest_op).text

    for where, text in texts.items():
        _absent(text, secrets, where)
    assert first["offer_id"] in texts["GET /offers"] and "R1/A-01" in texts["confirm"]
    assert json.loads(texts["GET /offers/{id} after cancel"])["state"] == "cancelled"
    assert len(json.loads(texts["calendar"])) == 2 and "A-01" in texts["rooms"]
    assert "副场自己的理由" in texts["decline"]

    refused(api.client.get(f"{API}/sessions/{w.session_id}", headers=guest_op), 404, "not_found")
    refused(api.client.get(f"{API}/sessions/{w.session_id}/offers", headers=guest_op), 404, "not_found")
    refused(api.client.get(f"{API}/sessions/{w.session_id}/events", headers=guest_op), 404, "not_found")
    refused(api.calendar_resp(w.host_venue_id, guest_op), 404, "not_found")


def test_search_host_gets_a_count_admin_the_list(api: Api) -> None:
    w = api.world
    host_result = api.search(api.op(), 2)
    assert host_result == {"count": 2, "venues": None}
    admin_result = api.search(api.admin(), 2)
    assert admin_result["count"] == 3 == len(admin_result["venues"])
    assert {v["venue_id"] for v in admin_result["venues"]} == {w.host_venue_id, w.guest_venue_id, w.other_venue_id}
    assert all(v["free_seats"] == 4 for v in admin_result["venues"])
    assert api.search(api.admin(), 5)["count"] == 0
    # Venues that lent are listed after those that never did.
    lent = api.offer_to(w.other_venue_id, seats=1)
    ok(api.confirm(api.other_op, lent["offer_id"]))
    listed = api.search(api.admin(), 1)["venues"]
    assert listed[-1]["venue_id"] == w.other_venue_id and listed[-1]["free_seats"] == 3
    assert listed[-1]["last_lent_at"] is not None and all(v["last_lent_at"] is None for v in listed[:-1])


# --- rooms: single-project and shared ---------------------------------------------------------------------
def test_single_project_room_holds_one_session_shared_room_several(api: Api) -> None:
    w = api.world
    first = api.offer_to(w.guest_venue_id)
    ok(api.confirm(api.guest_op, first["offer_id"]))
    # Two seats are still free in the guest's room, but it is single-project: another session gets none.
    assert api.search(api.admin(), 2)["count"] == 2
    overlapping = api.offer_to(w.guest_venue_id, w.other_session_id, starts_at=START + timedelta(hours=7),
                               ends_at=END + timedelta(hours=1))
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, overlapping["offer_id"]), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before
    # Right after the first session ends, the room is free again (half-open windows).
    ok(api.client.post(f"{API}/offers/{overlapping['offer_id']}/cancel", headers=api.admin(), json={"reason": "x"}))
    back_to_back = api.offer_to(w.guest_venue_id, w.other_session_id, starts_at=END, ends_at=END + timedelta(hours=2))
    assert ok(api.confirm(api.guest_op, back_to_back["offer_id"]))["assigned_seats"] == ["R1/A-01", "R1/A-02"]
    # Nor does a third session overlapping the first.
    third_session = api.new_session(api.op())
    refused(api.confirm(api.guest_op, api.offer_to(w.guest_venue_id, third_session)["offer_id"]), 409,
            "not_enough_seats")

    # The shared room at 'other' hosts two sessions at once.
    a = api.offer_to(w.other_venue_id, w.session_id)
    b = api.offer_to(w.other_venue_id, third_session)
    ok(api.confirm(api.other_op, a["offer_id"]))
    ok(api.confirm(api.other_op, b["offer_id"]))
    booked = api.calendar(w.other_venue_id)
    assert len(booked) == 4 and len({b["seat_code"] for b in booked}) == 4
    assert {b["session_id"] for b in booked} == {w.session_id, third_session}


# --- faults -----------------------------------------------------------------------------------------------
def test_faulty_seats_and_rooms_are_not_offered(api: Api) -> None:
    w = api.world
    seats = api.seat_ids(w.guest_venue_id)
    assert api.search(api.admin(), 4)["count"] == 3
    offer = api.offer_to(w.guest_venue_id, seats=3)
    marked = ok(api.client.patch(f"{API}/seats/{seats['R1/A-01']}", headers=api.guest_op,
                                 json={"fault": "摄像头损坏"}))
    assert marked["usable"] is False and marked["fault"] == "摄像头损坏"
    assert api.search(api.admin(), 4)["count"] == 2
    assert api.search(api.admin(), 3)["count"] == 3
    before = snapshot(api.ctx)
    refused(api.confirm(api.guest_op, offer["offer_id"], seat_ids=[seats["R1/A-01"], seats["R1/A-02"],
                                                                    seats["R1/A-03"]]), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before
    confirmed = ok(api.confirm(api.guest_op, offer["offer_id"]))
    assert confirmed["assigned_seats"] == ["R1/A-02", "R1/A-03", "R1/A-04"]

    # A room marked faulty: none of its seats is offered.
    other_offer = api.offer_to(w.other_venue_id, seats=1)
    room_id = ok(api.client.get(f"{API}/venues/{w.other_venue_id}/rooms", headers=api.other_op))[0]["id"]
    room = ok(api.client.patch(f"{API}/rooms/{room_id}", headers=api.other_op, json={"fault": "空调故障"}))
    assert room["fault"] == "空调故障" and not any(s["usable"] for s in room["seats"])
    found = api.search(api.admin(), 1)
    assert {v["venue_id"] for v in found["venues"]} == {w.host_venue_id}
    before = snapshot(api.ctx)
    refused(api.confirm(api.other_op, other_offer["offer_id"]), 409, "not_enough_seats")
    assert snapshot(api.ctx) == before
    # Cleared, it is offered again.
    ok(api.client.patch(f"{API}/rooms/{room_id}", headers=api.other_op, json={"fault": None}))
    assert ok(api.confirm(api.other_op, other_offer["offer_id"]))["assigned_seats"] == ["R1/A-01"]


def test_a_device_fault_reported_by_the_site_agent_takes_the_seat_out(api: Api) -> None:
    w = api.world
    with api.ctx.store.write() as tx:
        inventory.report_inventory(tx, api.ctx.settings, "system:test", w.host_venue_id, Inventory(rooms=[RoomReport(
            code="R1", name="评标室1", kind=RoomKind.SHARED,
            seats=[SeatReport(code=f"A-{i:02d}", devices={**ALL_OK, "microphone": DeviceState.FAULT} if i == 2 else ALL_OK)
                   for i in range(1, 4)])]))  # A-04 not reported: unknown
    by_venue = {v["venue_id"]: v["free_seats"] for v in api.search(api.admin(), 1)["venues"]}
    assert by_venue[w.host_venue_id] == 2
    session_id = api.new_session(api.guest_op)
    offer = api.offer_to(w.host_venue_id, session_id, seats=2)
    assert ok(api.confirm(api.op(), offer["offer_id"]))["assigned_seats"] == ["R1/A-01", "R1/A-03"]


# --- midnight ---------------------------------------------------------------------------------------------
NIGHT_START = START + timedelta(hours=14)  # 23:00 Beijing
NIGHT_END = NIGHT_START + timedelta(hours=2)  # 01:00 Beijing the next day


def test_window_across_local_midnight_is_refused_by_default(api: Api) -> None:
    before = snapshot(api.ctx)
    refused(api.post_offer(api.admin(), guest_venue_id=api.world.guest_venue_id, starts_at=NIGHT_START,
                           ends_at=NIGHT_END), 422, "invalid_input")
    refused(api.client.get(f"{API}/seats/search", headers=api.admin(), params={
        "seats": 1, "from": NIGHT_START.isoformat(), "to": NIGHT_END.isoformat()}), 422, "invalid_input")
    assert snapshot(api.ctx) == before
    # Ending exactly at local midnight is fine.
    api.offer_to(api.world.guest_venue_id, starts_at=NIGHT_START, ends_at=NIGHT_START + timedelta(hours=1))


@pytest.fixture
def night_client(tmp_path: Path, db_url: str, ctx: AppContext, world: World) -> Iterator[TestClient]:
    night = build_context(_settings(tmp_path, db_url, booking_may_cross_midnight=True), ctx.clock)
    with TestClient(create_app(night.settings, context=night)) as c:
        yield c


def test_window_across_local_midnight_is_allowed_when_configured(night_client: TestClient, api: Api) -> None:
    resp = night_client.post(f"{API}/sessions/{api.world.session_id}/offers", headers=api.admin(), json={
        "guest_venue_id": api.world.guest_venue_id, "seats": 2, "starts_at": NIGHT_START.isoformat(),
        "ends_at": NIGHT_END.isoformat()})
    created = ok(resp, 201)
    assert datetime.fromisoformat(created["ends_at"]) == NIGHT_END
    confirmed = ok(night_client.post(f"{API}/offers/{created['offer_id']}/confirm", headers=api.guest_op,
                                     json={"version": 1}))
    assert confirmed["state"] == "confirmed"
    assert len(api.calendar(api.world.guest_venue_id)) == 2


# --- bad input --------------------------------------------------------------------------------------------
def _bad_offer_requests(api: Api, offer_id: str) -> dict[str, tuple[Any, int, str]]:
    w = api.world
    admin = api.admin()
    sid = w.session_id

    def post(body: dict[str, Any], headers: dict[str, str] = admin) -> Any:
        return lambda: api.client.post(f"{API}/sessions/{sid}/offers", headers=headers, json=body)

    guest = {"guest_venue_id": w.guest_venue_id}
    return {
        "unknown guest venue": (post({"guest_venue_id": str(uuid.uuid4()), "seats": 2}), 404, "not_found"),
        "guest is the host": (post({"guest_venue_id": w.host_venue_id, "seats": 2}), 422, "invalid_input"),
        "unknown session": (lambda: api.client.post(f"{API}/sessions/{uuid.uuid4()}/offers", headers=admin,
                                                    json={**guest, "seats": 2}), 404, "not_found"),
        "negative seats": (post({**guest, "seats": -2}), 422, "validation_failed"),
        "zero seats": (post({**guest, "seats": 0}), 422, "validation_failed"),
        "seats as a string": (post({**guest, "seats": "2"}), 422, "validation_failed"),
        "seats as a float": (post({**guest, "seats": 2.0}), 422, "validation_failed"),
        "specialties not a list": (post({**guest, "seats": 2, "specialties": "B01"}), 422, "validation_failed"),
        "guest id not a uuid": (post({"guest_venue_id": "西安", "seats": 2}), 422, "validation_failed"),
        "unknown field": (post({**guest, "seats": 2, "host_venue_id": w.guest_venue_id}), 422, "validation_failed"),
        "naive time": (post({**guest, "seats": 2, "starts_at": f"{iso(1)}T09:00:00",
                             "ends_at": f"{iso(1)}T17:00:00"}), 422, "validation_failed"),
        "window in the past": (post({**guest, "seats": 2, "starts_at": (T0 - timedelta(days=1)).isoformat(),
                                     "ends_at": (T0 - timedelta(hours=20)).isoformat()}), 422, "invalid_input"),
        "end before start": (post({**guest, "seats": 2, "starts_at": END.isoformat(),
                                   "ends_at": START.isoformat()}), 422, "invalid_input"),
        "end equals start": (post({**guest, "seats": 2, "starts_at": START.isoformat(),
                                   "ends_at": START.isoformat()}), 422, "invalid_input"),
        "longer than three days": (post({**guest, "seats": 2, "starts_at": START.isoformat(),
                                         "ends_at": (START + timedelta(days=4)).isoformat()}), 422, "invalid_input"),
        "respond_by after start": (post({**guest, "seats": 2, "respond_by": (START + timedelta(minutes=1)).isoformat()}),
                                   422, "invalid_input"),
        "respond_by in the past": (post({**guest, "seats": 2, "respond_by": (T0 - timedelta(minutes=1)).isoformat()}),
                                   422, "invalid_input"),
        "second live offer to the same guest": (post({**guest, "seats": 1}), 409, "conflict"),
        "confirm by another venue's operator": (lambda: api.confirm(api.other_op, offer_id), 404, "not_found"),
        "confirm by the host's operator": (lambda: api.confirm(api.op(), offer_id), 404, "not_found"),
        "confirm by an admin": (lambda: api.confirm(admin, offer_id), 403, "forbidden"),
        "confirm an unknown offer": (lambda: api.confirm(api.guest_op, str(uuid.uuid4())), 404, "not_found"),
        "confirm with an unknown field": (lambda: api.confirm(api.guest_op, offer_id, seats=2), 422,
                                          "validation_failed"),
        "confirm with version as a string": (lambda: api.client.post(
            f"{API}/offers/{offer_id}/confirm", headers=api.guest_op, json={"version": "1"}), 422, "validation_failed"),
        "confirm with version 0": (lambda: api.confirm(api.guest_op, offer_id, version=0), 422, "validation_failed"),
        "confirm with seat ids not uuids": (lambda: api.confirm(api.guest_op, offer_id, seat_ids=["R1/A-01", "x"]),
                                            422, "validation_failed"),
        "confirm with no seat ids": (lambda: api.confirm(api.guest_op, offer_id, seat_ids=[]), 422,
                                     "validation_failed"),
        "decline without a reason": (lambda: api.client.post(f"{API}/offers/{offer_id}/decline",
                                                             headers=api.guest_op, json={"version": 1}),
                                     422, "validation_failed"),
        "decline with an empty reason": (lambda: api.decline(api.guest_op, offer_id, ""), 422, "validation_failed"),
        "cancel without a reason": (lambda: api.client.post(f"{API}/offers/{offer_id}/cancel", headers=admin,
                                                            json={}), 422, "validation_failed"),
        "empty change": (lambda: api.client.patch(f"{API}/offers/{offer_id}", headers=admin, json={}), 422,
                         "validation_failed"),
        "change into the past": (lambda: api.client.patch(f"{API}/offers/{offer_id}", headers=admin, json={
            "starts_at": (T0 - timedelta(days=1)).isoformat()}), 422, "invalid_input"),
        "unknown offer": (lambda: api.client.get(f"{API}/offers/{uuid.uuid4()}", headers=admin), 404, "not_found"),
        "search for zero seats": (lambda: api.client.get(f"{API}/seats/search", headers=admin, params={
            "seats": 0, "from": START.isoformat(), "to": END.isoformat()}), 422, "validation_failed"),
        "calendar with naive times": (lambda: api.client.get(f"{API}/venues/{w.guest_venue_id}/calendar",
                                                             headers=admin, params={"from": f"{iso(1)}T00:00:00",
                                                                                    "to": f"{iso(2)}T00:00:00"}),
                                      422, "invalid_input"),
    }


BAD_CASES = (
    "unknown guest venue", "guest is the host", "unknown session", "negative seats", "zero seats",
    "seats as a string", "seats as a float", "specialties not a list", "guest id not a uuid", "unknown field",
    "naive time", "window in the past", "end before start", "end equals start", "longer than three days",
    "respond_by after start", "respond_by in the past", "second live offer to the same guest",
    "confirm by another venue's operator", "confirm by the host's operator", "confirm by an admin",
    "confirm an unknown offer", "confirm with an unknown field", "confirm with version as a string",
    "confirm with version 0", "confirm with seat ids not uuids", "confirm with no seat ids",
    "decline without a reason", "decline with an empty reason", "cancel without a reason", "empty change",
    "change into the past", "unknown offer", "search for zero seats", "calendar with naive times",
)


def test_bad_offer_input_gets_stable_codes_and_changes_nothing(api: Api) -> None:
    """One world for all cases (they share the pending offer, and none may change it)."""
    offer = api.offer_to(api.world.guest_venue_id)
    cases = _bad_offer_requests(api, offer["offer_id"])
    assert set(cases) == set(BAD_CASES), "every case in the table must be run"
    for name in BAD_CASES:
        call, status, code = cases[name]
        before = snapshot(api.ctx)
        resp = call()
        assert resp.status_code == status, (name, resp.text)
        body = resp.json()
        assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], (name, body)
        assert snapshot(api.ctx) == before, name
    assert api.offer(offer["offer_id"])["state"] == "pending" and api.offer(offer["offer_id"])["version"] == 1
    # ... and the offer is still answerable after all of it.
    assert ok(api.confirm(api.guest_op, offer["offer_id"]))["state"] == "confirmed"

