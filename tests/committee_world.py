"""A committee-ready world, shared by the committee tests (test_committee, test_expert_pool, test_role_matrix).

:func:`build` seeds, through the services (setup, not the subject of these tests): a host region and a guest
region, a host and a guest venue each with room R1 of six working seats, a waiting session at the host that
starts :data:`START` (T0 + 1 day, 09:00 Beijing), an offer to the guest that the guest confirmed (two seats),
expert pools for both regions with valid identity numbers, and, through the API, the committee plan (works,
five members: the host 2×B01 + 1×D01, the guest 2×B01). ``build(..., existing=...)`` puts the same committee on
a session and host venue that already exist (conftest's ``world``), adding only the guest side.

The other functions walk the committee through the HTTP API as the people concerned would: the host asks
for the draw, the host's operator opens check-in, each venue's operator checks its members in by ID card,
experts log in with their one-time code and confirm the declaration. Header makers mint a token on every
call, because tests move the :class:`ManualClock` past a token's 15 minutes.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from conftest import ALL_OK, PASSWORD, T0, WORLD_POOL, ok, refused, snapshot, unique_code  # noqa: F401 - re-exported
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.domain.identity import id_number_with_check
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.schemas import (
    AccountCreate,
    OfferCreate,
    RegionCreate,
    SessionCreate,
    SupervisorAssign,
    VenueCreate,
)
from evalroom.services import accounts, experts, inventory, offers, registry, sessions
from evalroom.storage.models import EvalSession
from sites.protocol import Inventory, RoomReport, SeatReport

API = "/api/v1"
START = T0 + timedelta(days=1)
TITLE = "某道路工程施工招标"
TENDERER = "某市交通局"
BIDDERS = ["投标人甲公司", "投标人乙公司"]
HOST_AREA, GUEST_AREA = "370102", "610102"
"""Address codes (济南, 西安) that start the identity numbers of each pool."""
LIVE = ("drawn", "checked_in", "seated")
ACTOR = "system:test"

_serial = itertools.count(1)


# --- small helpers ----------------------------------------------------------------------------------------
def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_id_number(area: str) -> str:
    """A valid identity number (right check digit), never the same twice in a test run."""
    n = next(_serial)
    born = date(1960, 1, 1) + timedelta(days=n)
    return id_number_with_check(f"{area}{born:%Y%m%d}{n % 1000:03d}")


def expert_row(name: str, area: str, specialties: Iterable[str], employer: str = "某工程设计研究院",
               **extra: Any) -> dict[str, Any]:
    """One expert as the JSON import file has it (docs/formats.md)."""
    return {"name": name, "id_number": new_id_number(area), "employer": employer,
            "specialties": list(specialties), **extra}


def pool(prefix: str, area: str, mix: Mapping[str, int], start: int = 1) -> list[dict[str, Any]]:
    """``mix``: held specialty → how many experts; named ``{prefix}{n}`` from ``start``."""
    held = [sp for sp, n in mix.items() for _ in range(n)]
    return [expert_row(f"{prefix}{i}", area, [sp]) for i, sp in enumerate(held, start)]


def default_plan(offer_id: str | None, **overrides: Any) -> dict[str, Any]:
    quotas = [{"venue": "host", "specialties": {"B01": 2, "D01": 1}}]
    if offer_id is not None:
        quotas.append({"venue": f"offer:{offer_id}", "specialties": {"B01": 2}})
    return {"project_type": "works", "total": 5, "quotas": quotas,
            "parties": {"tenderer": TENDERER, "bidders": list(BIDDERS)}, **overrides}


def host_only_plan(**overrides: Any) -> dict[str, Any]:
    return {"project_type": "works", "total": 5, "quotas": [{"venue": "host", "specialties": {"B01": 3, "D01": 2}}],
            "parties": {"tenderer": TENDERER, "bidders": list(BIDDERS)}, **overrides}


# --- the world --------------------------------------------------------------------------------------------
@dataclass
class Existing:
    """A host side that exists already (conftest's ``world``): its region, venue, session and supervisor."""

    region_id: str
    venue_id: str
    session_id: str
    supervisor_id: str


@dataclass
class CommitteeWorld:
    ctx: AppContext
    client: TestClient
    host_region_id: str
    guest_region_id: str
    host_venue_id: str
    guest_venue_id: str
    session_id: str
    offer_id: str
    start: datetime
    supervisor_id: str
    host_seats: list[str]
    guest_seats: list[str]
    """The guest seats the confirmed offer booked, as ROOM/SEAT codes."""
    id_numbers: dict[str, str] = field(default_factory=dict)
    """Identity number by expert (or representative) name."""
    expert_ids: dict[str, str] = field(default_factory=dict)
    """Expert id by name (after import)."""

    # Header makers: a fresh token on every call.
    def headers(self, principal: Principal) -> dict[str, str]:
        return bearer(self.ctx.tokens.issue(principal).token)

    def admin(self) -> dict[str, str]:
        return self.headers(Principal(role=Role.COORDINATOR_ADMIN, subject="admin"))

    def op(self, venue_id: str) -> dict[str, str]:
        return self.headers(Principal(role=Role.HALL_OPERATOR, subject=f"op-{venue_id[:8]}", venue_id=venue_id))

    def host_op(self) -> dict[str, str]:
        return self.op(self.host_venue_id)

    def guest_op(self) -> dict[str, str]:
        return self.op(self.guest_venue_id)

    def supervisor(self) -> dict[str, str]:
        return self.headers(Principal(role=Role.SUPERVISOR, subject=self.supervisor_id,
                                      supervised={self.session_id: SupervisorLevel.PRIMARY}))

    def url(self, tail: str = "", session_id: str | None = None) -> str:
        return f"{API}/sessions/{session_id or self.session_id}{tail}"

    def seats_of(self, venue_id: str) -> list[str]:
        return self.host_seats if venue_id == self.host_venue_id else self.guest_seats


def _rooms(ctx: AppContext, tx: Any, venue_id: str, kind: str) -> None:
    inventory.report_inventory(tx, ctx.settings, ACTOR, venue_id, Inventory(rooms=[RoomReport(
        code="R1", name="评标室1", kind=kind, seats=[SeatReport(code=f"A-{i:02d}", devices=ALL_OK) for i in range(1, 7)])]))


def import_pool(w: CommitteeWorld, region_id: str, rows: list[dict[str, Any]]) -> None:
    """Import rows into a region's pool through the service, and remember their numbers and ids."""
    with w.ctx.store.write() as tx:
        experts.import_experts(tx, w.ctx.sealer, w.ctx.committee.tree, ACTOR, region_id,
                               json.dumps(rows, ensure_ascii=False).encode(), "json")
    w.id_numbers.update({r["name"]: r["id_number"] for r in rows})
    today = w.ctx.clock.now().date()
    w.expert_ids.update({e.name: e.id for e in experts.list_experts(w.ctx.store, region_id, today)})


def build(ctx: AppContext, client: TestClient, *, host_rows: list[dict[str, Any]] | None = None,
          guest_rows: list[dict[str, Any]] | None = None, plan: dict[str, Any] | bool = True, offer_seats: int = 2,
          existing: Existing | None = None, start: datetime = START,
          end: datetime | None = None) -> CommitteeWorld:
    """The world of the module docstring. ``host_rows``/``guest_rows`` replace the default pools (host: six
    B0101 experts 专家H1.., three D01 experts; guest: five B01 experts 专家G1..); ``plan``: the body to PUT,
    True for :func:`default_plan`, False for none; ``end``: the session's scheduled end, 8 hours after ``start``
    unless given."""
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="builder")
    with ctx.store.write() as tx:
        guest_region = registry.create_region(tx, ACTOR, RegionCreate(code=unique_code("R"), name="陕西省")).id
        guest = registry.create_venue(tx, ACTOR, VenueCreate(code=unique_code("V"), name="西安公共资源交易中心",
                                                             city="西安", region_id=guest_region)).id
        _rooms(ctx, tx, guest, "single")
        if existing is None:
            host_region = registry.create_region(tx, ACTOR, RegionCreate(code=unique_code("R"), name="山东省")).id
            host = registry.create_venue(tx, ACTOR, VenueCreate(code=unique_code("V"), name="济南公共资源交易中心",
                                                                city="济南", region_id=host_region)).id
            _rooms(ctx, tx, host, "shared")
            host_op = Principal(role=Role.HALL_OPERATOR, subject="host-op", venue_id=host)
            session_id = sessions.create_session(tx, host_op, SessionCreate(
                code=unique_code("S"), title=TITLE, scheduled_start=start, scheduled_end=end or start + timedelta(hours=8))).id
            supervisor = accounts.create_account(tx, ACTOR, AccountCreate(
                username=f"u{uuid.uuid4().hex[:10]}", display_name="监督", role=Role.SUPERVISOR, password=PASSWORD)).id
            sessions.assign_supervisor(tx, ACTOR, session_id, SupervisorAssign(account_id=supervisor,
                                                                               level=SupervisorLevel.PRIMARY))
        else:
            host_region, host, session_id = existing.region_id, existing.venue_id, existing.session_id
            supervisor = existing.supervisor_id
        offer_id = offers.create_offer(tx, ctx.settings, admin, session_id, OfferCreate(
            guest_venue_id=guest, seats=offer_seats, specialties=["B01"])).id
    with ctx.store.write() as tx:
        offers.confirm_offer(tx, Principal(role=Role.HALL_OPERATOR, subject="guest-op", venue_id=guest), offer_id, 1)
    with ctx.store.read() as s:
        session_start = s.get(EvalSession, session_id).scheduled_start
    booked = offers.venue_calendar(ctx.store, admin, guest, session_start - timedelta(days=1),
                                   session_start + timedelta(days=2))
    host_rooms = inventory.list_rooms(ctx.store, admin, host)
    w = CommitteeWorld(
        ctx=ctx, client=client, host_region_id=host_region, guest_region_id=guest_region, host_venue_id=host,
        guest_venue_id=guest, session_id=session_id, offer_id=offer_id, start=session_start, supervisor_id=supervisor,
        host_seats=[f"{r.code}/{s.code}" for r in host_rooms for s in r.seats],
        guest_seats=[f"{b.room_code}/{b.seat_code}" for b in booked if b.offer_id == offer_id])
    assert len(w.guest_seats) == offer_seats
    if existing is not None:  # conftest's world region already has its own small pool
        w.id_numbers.update({r["name"]: r["id_number"] for r in WORLD_POOL})
    import_pool(w, host_region, host_rows if host_rows is not None else pool("专家H", HOST_AREA, {"B0101": 6, "D01": 3}))
    import_pool(w, guest_region, guest_rows if guest_rows is not None else pool("专家G", GUEST_AREA, {"B01": 5}))
    if plan:
        set_plan(w, default_plan(offer_id) if plan is True else plan)
    return w


# --- the committee through the API ------------------------------------------------------------------------
def set_plan(w: CommitteeWorld, plan: dict[str, Any], session_id: str | None = None) -> dict[str, Any]:
    return ok(w.client.put(w.url("/committee/plan", session_id), headers=w.host_op(), json=plan))


def request_draws(w: CommitteeWorld, headers: dict[str, str] | None = None) -> httpx.Response:
    return w.client.post(w.url("/committee/draws"), headers=headers or w.host_op())


def draw(w: CommitteeWorld) -> list[dict[str, Any]]:
    return ok(request_draws(w))


def view(w: CommitteeWorld, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return ok(w.client.get(w.url("/committee"), headers=headers or w.admin()))


def members(w: CommitteeWorld, *states: str) -> list[dict[str, Any]]:
    """The members as the admin sees them (with names, venues and seats), of the given states if any."""
    return [m for m in view(w)["members"] if not states or m["state"] in states]


def events(w: CommitteeWorld, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return ok(w.client.get(w.url("/events"), headers=headers or w.admin(), params={"limit": 1000}))["events"]


def draw_records(evs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Draw id → {"committed", "performed" or "failed", "revealed"} → the event (as read)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for e in evs:
        if e["kind"].startswith("draw."):
            out.setdefault(e["payload"]["draw_id"], {})[e["kind"].removeprefix("draw.")] = e
    return out


def open_check_in(w: CommitteeWorld, before_start: timedelta = timedelta(hours=1)) -> None:
    """Move the clock to ``before_start`` ahead of the session's start (if it is earlier), and open check-in."""
    now = w.ctx.clock.now()
    if now < w.start - before_start:
        w.ctx.clock.advance(w.start - before_start - now)
    ok(w.client.post(w.url("/check-in/open"), headers=w.host_op()))


def free_seat(w: CommitteeWorld, venue_id: str) -> str:
    """The first seat of the venue (at the guest: of those booked) that no live member of the session holds."""
    taken = {m["seat"] for m in members(w, *LIVE) if m["venue_id"] == venue_id}
    return next(s for s in w.seats_of(venue_id) if s not in taken)


def check_in(w: CommitteeWorld, member: Mapping[str, Any], *, headers: dict[str, str] | None = None,
             **body: Any) -> httpx.Response:
    """The operator of the member's venue checks them in: ID card and face pass unless ``body`` says otherwise."""
    payload = {"id_number": w.id_numbers[member["name"]], "id_card": "pass", "face_match": "pass",
               "face_score": "0.9731", **body}
    payload.setdefault("seat", free_seat(w, member["venue_id"]))
    return w.client.post(f"{API}/committee/check-in", headers=headers or w.op(member["venue_id"]), json=payload)


def expert_login(w: CommitteeWorld, code: str) -> httpx.Response:
    return w.client.post(f"{API}/auth/expert-login", json={"code": code})


def login(w: CommitteeWorld, code: str) -> dict[str, str]:
    return bearer(ok(expert_login(w, code))["access_token"])


def checked_in(w: CommitteeWorld, member: Mapping[str, Any]) -> dict[str, str]:
    """Check the member in and log them in: their expert headers."""
    answer = ok(check_in(w, member))
    assert answer["checked_in"] is True, answer
    return login(w, answer["login_code"])


def declaration(w: CommitteeWorld, expert: dict[str, str]) -> dict[str, Any]:
    return ok(w.client.get(w.url("/committee/declaration"), headers=expert))


def declare(w: CommitteeWorld, expert: dict[str, str], conflict: bool = False, reason: str | None = None,
            text_sha256: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"conflict": conflict,
                            "text_sha256": text_sha256 or declaration(w, expert)["sha256"]}
    if reason is not None:
        body["reason"] = reason
    return w.client.post(w.url("/committee/declaration"), headers=expert, json=body)


def seat(w: CommitteeWorld, member: Mapping[str, Any]) -> dict[str, str]:
    """Check in, log in, declare no conflict: the member is seated; their expert headers."""
    expert = checked_in(w, member)
    assert ok(declare(w, expert))["state"] == "seated"
    return expert


def seat_everyone(w: CommitteeWorld) -> dict[str, dict[str, str]]:
    """Seat every drawn member; member id → expert headers."""
    return {m["member_id"]: seat(w, m) for m in members(w, "drawn")}
