"""The committee through the HTTP API on SQLite and PostgreSQL: the plan and its rules, the verifiable draw
(commit → perform → reveal) with avoidance and blindness, a pool too small, a draw interrupted by a crash,
check-in by ID card at the member's venue, the one-time login code and the expert's token, the no-conflict
declaration and replacements, refusals and absences, the tenderer's representatives, and the chair election.

The world is tests/committee_world.py: host 济南 (山东 pool) and guest 西安 (陕西 pool), a session starting
T0 + 1 day, a confirmed offer of two guest seats, the plan host 2×B01 + 1×D01, guest 2×B01.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from committee_world import (
    API,
    BIDDERS,
    GUEST_AREA,
    HOST_AREA,
    TENDERER,
    TITLE,
    CommitteeWorld,
    build,
    check_in,
    checked_in,
    declaration,
    declare,
    default_plan,
    draw,
    draw_records,
    events,
    expert_login,
    expert_row,
    host_only_plan,
    import_pool,
    login,
    members,
    new_id_number,
    ok,
    open_check_in,
    pool,
    refused,
    request_draws,
    seat,
    seat_everyone,
    set_plan,
    snapshot,
    view,
)
from conftest import unique_code
from fastapi.testclient import TestClient
from session_world import import_project, venues_online
from sqlalchemy import select
from timebase import iso

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.draw import verify
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import OfferCreate, SessionCreate, VenueCreate
from evalroom.services import committee, offers, registry, sessions
from evalroom.storage.models import Base

pytestmark = pytest.mark.dates

DRAW_DETAIL = {"slots", "pool", "excluded", "picks", "members"}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """conftest's settings, with the app's housekeeper out of the way: it would complete pending draws (and
    expire offers) on its own schedule; the crash test completes them itself."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "housekeeping_seconds": 300,
                                                "log_batch_seconds": 300})


@pytest.fixture
def w(ctx: AppContext, client: TestClient) -> CommitteeWorld:
    return build(ctx, client)


def expert_of(w: CommitteeWorld) -> dict[str, str]:
    """An expert token bound to the session (not a member): what any expert of the session sees."""
    return w.headers(Principal(role=Role.EXPERT, subject="someone", session_id=w.session_id, seat="A-01"))


def kinds(evs: list[dict[str, Any]], prefix: str = "") -> list[str]:
    return [e["kind"] for e in evs if e["kind"].startswith(prefix)]


def verify_draw(record: dict[str, dict[str, Any]]) -> list[str]:
    return verify(record["committed"]["payload"], record["performed"]["payload"], record["revealed"]["payload"])


def all_stored_text(ctx: AppContext) -> str:
    """Every row of every table, as text: what an operator of the database could read."""
    with ctx.store.read() as s:
        return "\n".join(repr(tuple(row)) for t in Base.metadata.sorted_tables for row in s.execute(select(t)))


def assert_no_plain_id_numbers(w: CommitteeWorld) -> None:
    numbers = list(w.id_numbers.values())
    assert numbers
    everything = json.dumps(ok(w.client.get(f"{API}/events", headers=w.admin(), params={"limit": 1000})),
                            ensure_ascii=False)
    everything += json.dumps([view(w), view(w, w.host_op()), events(w)], ensure_ascii=False)
    everything += all_stored_text(w.ctx)
    leaked = [n for n in numbers if n in everything]
    assert leaked == [], "identity numbers stored or shown unmasked"


# --- the plan ---------------------------------------------------------------------------------------------
def test_bad_plans_are_refused_with_every_problem_named_and_change_nothing(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client, plan=False)
    admin = Principal(role=Role.COORDINATOR_ADMIN, subject="t")
    with ctx.store.write() as tx:
        # A pending offer of this session to a third venue, and a confirmed offer of another session.
        other_venue = registry.create_venue(tx, "system:test", VenueCreate(
            code=unique_code("V"), name="咸阳公共资源交易中心", city="咸阳", region_id=w.guest_region_id)).id
        pending = offers.create_offer(tx, ctx.settings, admin, w.session_id,
                                      OfferCreate(guest_venue_id=other_venue, seats=2)).id
        later = w.start + timedelta(days=2)
        other_session = sessions.create_session(tx, admin, SessionCreate(
            code=unique_code("S"), title="另一个项目", host_venue_id=w.host_venue_id, scheduled_start=later,
            scheduled_end=later + timedelta(hours=8))).id
        foreign = offers.create_offer(tx, ctx.settings, admin, other_session,
                                      OfferCreate(guest_venue_id=w.guest_venue_id, seats=2)).id
    with ctx.store.write() as tx:
        offers.confirm_offer(tx, Principal(role=Role.HALL_OPERATOR, subject="g", venue_id=w.guest_venue_id), foreign, 1)

    host = {"venue": "host", "specialties": {"B01": 2, "D01": 1}}
    guest = {"venue": f"offer:{w.offer_id}", "specialties": {"B01": 2}}
    cases: dict[str, tuple[dict[str, Any], list[str]]] = {
        "even total": (default_plan(w.offer_id, total=6, quotas=[{"venue": "host", "specialties": {"B01": 2, "D01": 2}},
                                                                 guest]),
                       ["odd number of members (got 6)"]),
        "total 3 for works": (default_plan(w.offer_id, total=3, quotas=[{"venue": "host", "specialties": {"D01": 1}},
                                                                        guest]),
                              ["at least 5 members (got 3)"]),
        "total 4: even and too small at once": (
            default_plan(w.offer_id, total=4, quotas=[{"venue": "host", "specialties": {"B01": 1, "D01": 1}}, guest]),
            ["odd number of members (got 4)", "at least 5 members (got 4)"]),
        "quotas larger than the committee": (
            default_plan(w.offer_id, quotas=[{"venue": "host", "specialties": {"B01": 3, "D01": 1}}, guest]),
            ["add up to 6 experts but the committee has 5 expert seats"]),
        "unknown specialty": (default_plan(w.offer_id, quotas=[{"venue": "host", "specialties": {"B01": 2, "Z99": 1}},
                                                               guest]),
                              ["unknown specialty Z99"]),
        "unknown project type": (default_plan(w.offer_id, project_type="bridges"), ["unknown project type 'bridges'"]),
        "offer not confirmed": (default_plan(w.offer_id, quotas=[host, {"venue": f"offer:{pending}",
                                                                        "specialties": {"B01": 2}}]),
                                [f"offer:{pending} is not a confirmed offer of this session"]),
        "offer of another session": (default_plan(w.offer_id, quotas=[host, {"venue": f"offer:{foreign}",
                                                                             "specialties": {"B01": 2}}]),
                                     [f"offer:{foreign} is not a confirmed offer of this session"]),
        "guest quota beyond the seats lent": (
            default_plan(w.offer_id, quotas=[{"venue": "host", "specialties": {"B01": 1, "D01": 1}},
                                             {"venue": f"offer:{w.offer_id}", "specialties": {"B01": 3}}]),
            ["lends 2 seat(s); the quota asks for 3 experts"]),
        "representatives break the 2/3 share": (
            default_plan(w.offer_id, representatives=2, quotas=[{"venue": "host", "specialties": {"D01": 1}}, guest]),
            ["experts must be at least 2/3 of the committee: 3 of 5 is too few"]),
        "two quotas for the host": (
            default_plan(w.offer_id, quotas=[{"venue": "host", "specialties": {"B01": 2}},
                                             {"venue": "host", "specialties": {"D01": 1}}, guest]),
            ["host venue has two quotas"]),
    }
    for name, (body, fragments) in cases.items():
        before = snapshot(ctx)
        error = refused(client.put(w.url("/committee/plan"), headers=w.host_op(), json=body), 422, "invalid_input")
        for fragment in fragments:
            assert fragment in error["message"], (name, error["message"])
        assert snapshot(ctx) == before, name
        refused(client.get(w.url("/committee"), headers=w.admin()), 404, "not_found")  # no committee row
    # The same rules through the schema: a quota of zero or a negative total never reaches them.
    for body in (default_plan(w.offer_id, total=-5),
                 default_plan(w.offer_id, quotas=[{"venue": "offer:nope", "specialties": {"B01": 2}}])):
        before = snapshot(ctx)
        refused(client.put(w.url("/committee/plan"), headers=w.host_op(), json=body), 422, "validation_failed")
        assert snapshot(ctx) == before
    # Another venue's operator may not plan the host's committee.
    refused(client.put(w.url("/committee/plan"), headers=w.guest_op(), json=default_plan(w.offer_id)), 404, "not_found")

    planned = set_plan(w, default_plan(w.offer_id))
    assert planned["plan_version"] == 1 and planned["plan"]["total"] == 5
    assert planned["plan"]["quotas"] == default_plan(w.offer_id)["quotas"]
    assert set_plan(w, default_plan(w.offer_id))["plan_version"] == 2, "the plan may change until the draw"
    plan_events = [e for e in events(w) if e["kind"] == "committee.plan_set"]
    assert [e["payload"]["version"] for e in plan_events] == [1, 2]
    # The event names the guest by its offer (blind pairing), never the guest venue or its region.
    assert w.guest_venue_id not in json.dumps(plan_events) and w.guest_region_id not in json.dumps(plan_events)


# --- the draw ---------------------------------------------------------------------------------------------
AVOIDED = {
    # name: (row extras, the reason code avoidance must give)
    "回避甲": ({"employer": "投标人甲公司"}, "employed_by_bidder"),
    "回避乙": ({"ties": [TENDERER]}, "tied_to_tenderer"),
    "回避丙": ({"credit_status": "blacklisted"}, "blacklisted"),
    "回避丁": ({"punished": True}, "punished"),
    "回避戊": ({"unavailable": [f"{iso(0)}..{iso(2)}"]}, "unavailable"),  # around the session's day(1)
    "回避己": ({"evaluations": [f"{iso(1 - 30)}:" + TENDERER]}, "recent_same_tenderer"),  # 30 days before
    "回避庚": ({"employer": "某市交通局"}, "employed_by_tenderer"),
}


def test_the_draw_is_committed_performed_revealed_verifiable_and_blind(ctx: AppContext, client: TestClient) -> None:
    avoided = [expert_row(name, HOST_AREA, ["B0101"], **extra) for name, (extra, _) in AVOIDED.items()]
    # Evaluated for the same tenderer 113 days ago: outside the 90-day window, so eligible.
    long_ago = expert_row("往年庚", HOST_AREA, ["B0101"], evaluations=[f"{iso(1 - 113)}:" + TENDERER])
    w = build(ctx, client, host_rows=pool("专家H", HOST_AREA, {"B0101": 3, "D01": 2}) + avoided + [long_ago])

    drawn = draw(w)
    assert len(drawn) == 1
    d = drawn[0]
    assert (d["purpose"], d["outcome"], d["members"]) == ("initial", "drawn", 5)
    assert d["commitment"] == hashlib.sha256(bytes.fromhex(d["seed"])).hexdigest()

    evs = events(w)
    draw_evs = [e for e in evs if e["kind"].startswith("draw.")]
    assert [e["kind"] for e in draw_evs] == ["draw.committed", "draw.performed", "draw.revealed"]
    assert draw_evs[0]["seq"] < draw_evs[1]["seq"] < draw_evs[2]["seq"]
    assert not any(e["redacted"] for e in draw_evs), "the admin sees the whole draw"
    record = draw_records(evs)[d["draw_id"]]
    assert verify_draw(record) == []
    committed, performed, revealed = (record[k]["payload"] for k in ("committed", "performed", "revealed"))
    assert committed["commitment"] == d["commitment"] == hashlib.sha256(bytes.fromhex(revealed["seed"])).hexdigest()
    assert revealed["seed"] == d["seed"]
    # A tampered record does not verify: the check has teeth.
    assert verify(committed, {**performed, "picks": list(reversed(performed["picks"]))}, revealed)
    assert verify({"commitment": "0" * 64}, performed, revealed)

    # Members per quota: venue and specialty.
    everyone = members(w)
    per_quota = Counter((m["venue_id"], m["specialty"]) for m in everyone)
    assert per_quota == {(w.host_venue_id, "B01"): 2, (w.host_venue_id, "D01"): 1, (w.guest_venue_id, "B01"): 2}
    assert all(m["state"] == "drawn" and m["kind"] == "expert" and m["draw_id"] == d["draw_id"] for m in everyone)
    guest_experts = {w.expert_ids[n] for n in w.id_numbers if n.startswith("专家G")}
    assert {m["expert_id"] for m in everyone if m["venue_id"] == w.guest_venue_id} <= guest_experts
    assert sorted(m["expert_id"] for m in everyone) == sorted(p["expert_id"] for p in performed["picks"])

    # Avoidance: never drawn, listed as excluded with the reason.
    excluded = {x["expert_id"]: x["reasons"] for x in performed["excluded"]}
    for name, (_, reason) in AVOIDED.items():
        expert_id = w.expert_ids[name]
        assert reason in excluded.get(expert_id, []), (name, excluded.get(expert_id))
        assert expert_id not in {p["expert_id"] for p in performed["pool"]}
    assert w.expert_ids["往年庚"] in {p["expert_id"] for p in performed["pool"]}
    assert not {m["expert_id"] for m in everyone} & set(excluded)

    # Blindness: the host's operator and an expert see the draw without pool, picks, exclusions or slots.
    for reader in (w.host_op(), expert_of(w)):
        seen = {e["kind"]: e for e in events(w, reader)}
        perf = seen["draw.performed"]
        assert perf["redacted"] is True and not DRAW_DETAIL & set(perf["payload"]), perf["payload"].keys()
        assert perf["hash"] == record["performed"]["hash"], "the hash is of the full event"
        assert not any(m["expert_id"] in json.dumps(seen) for m in everyone)
        assert seen["draw.committed"]["payload"]["commitment"] == d["commitment"]
        assert seen["draw.revealed"]["payload"]["seed"] == d["seed"]
    for reader in (w.admin(), w.supervisor()):
        perf = next(e for e in events(w, reader) if e["kind"] == "draw.performed")
        assert perf["redacted"] is False and DRAW_DETAIL <= set(perf["payload"])

    # Before check-in the host's operator sees counts, not who was drawn.
    as_host = view(w, w.host_op())
    assert as_host["counts"] == {"drawn": 5} and as_host["members"] == []
    assert not any(m["name"] in json.dumps(as_host, ensure_ascii=False) for m in everyone)
    assert not any(m["expert_id"] in json.dumps(as_host) for m in everyone)
    as_supervisor = view(w, w.supervisor())
    assert len(as_supervisor["members"]) == 5 and all(m["name"] for m in as_supervisor["members"])

    # Drawn once: another request has no vacancy to fill, and the plan is frozen.
    before = snapshot(ctx)
    refused(request_draws(w), 409, "conflict")
    refused(client.put(w.url("/committee/plan"), headers=w.host_op(), json=default_plan(w.offer_id)), 409, "conflict")
    assert snapshot(ctx) == before


def test_the_draw_record_is_whole_for_overseers_and_for_the_host_once_check_in_opens(w: CommitteeWorld) -> None:
    (d,) = draw(w)
    record_url = w.url(f"/committee/draws/{d['draw_id']}")

    def record(headers: dict[str, str]) -> dict[str, Any]:
        answer = ok(w.client.get(record_url, headers=headers))
        assert answer["draw_id"] == d["draw_id"] and answer["purpose"] == "initial"
        assert [e["kind"] for e in answer["events"]] == ["draw.committed", "draw.performed", "draw.revealed"]
        return answer

    def checked(answer: dict[str, Any]) -> list[str]:
        return verify(*(e["payload"] for e in answer["events"]))

    picked = {m["expert_id"] for m in members(w)}
    for overseer in (w.admin(), w.supervisor()):
        whole = record(overseer)
        assert whole["whole"] is True and checked(whole) == []
    # Before check-in: the host proves the seed was committed to, and learns nobody drawn nor the guest venue.
    blind = record(w.host_op())
    committed, performed, revealed = (e["payload"] for e in blind["events"])
    assert blind["whole"] is False and performed.keys().isdisjoint(DRAW_DETAIL)
    assert hashlib.sha256(bytes.fromhex(revealed["seed"])).hexdigest() == committed["commitment"] == d["commitment"]
    text = json.dumps(blind)
    assert w.guest_venue_id not in text and not any(e in text for e in picked)
    # Others: a guest's operator and an expert cannot read it; an unknown draw is not found.
    refused(w.client.get(record_url, headers=w.guest_op()), 404, "not_found")
    refused(w.client.get(record_url, headers=expert_of(w)), 403, "forbidden")
    refused(w.client.get(w.url(f"/committee/draws/{uuid.uuid4()}"), headers=w.admin()), 404, "not_found")
    # From check-in on, the host reads it whole and recomputes it.
    open_check_in(w)
    whole = record(w.host_op())
    assert whole["whole"] is True and checked(whole) == []
    assert {p["expert_id"] for p in whole["events"][1]["payload"]["picks"]} == picked


def test_a_pool_too_small_fails_the_draw_and_a_later_draw_has_a_new_commitment(ctx: AppContext,
                                                                               client: TestClient) -> None:
    w = build(ctx, client, guest_rows=pool("专家G", GUEST_AREA, {"B01": 1})
              + [expert_row("黑名单G", GUEST_AREA, ["B01"], credit_status="blacklisted")])
    error = refused(request_draws(w), 409, "pool_too_small")
    label = f"guest venue of offer {w.offer_id}"
    assert "pool too small" in error["message"] and "B01" in error["message"] and label in error["message"]
    assert error["details"] == [{"venue": label, "specialty": "B01", "needed": 2, "eligible": 1, "shared": False}]
    evs = events(w)
    assert kinds(evs, "draw.") == ["draw.committed", "draw.failed", "draw.revealed"]
    failed = next(e for e in evs if e["kind"] == "draw.failed")
    assert failed["payload"]["error"]["code"] == "pool_too_small"
    first = draw_records(evs)[failed["payload"]["draw_id"]]
    assert first["committed"]["payload"]["commitment"] == \
        hashlib.sha256(bytes.fromhex(first["revealed"]["payload"]["seed"])).hexdigest()
    assert view(w)["members"] == [] and view(w)["counts"] == {}
    host_seen = next(e for e in events(w, w.host_op()) if e["kind"] == "draw.failed")
    assert host_seen["redacted"] is True and not DRAW_DETAIL & set(host_seen["payload"])

    import_pool(w, w.guest_region_id, pool("新增G", GUEST_AREA, {"B01": 2}))
    second = draw(w)
    assert second[0]["outcome"] == "drawn" and second[0]["members"] == 5
    assert second[0]["commitment"] != first["committed"]["payload"]["commitment"]
    records = draw_records(events(w))
    assert len(records) == 2 and verify_draw(records[second[0]["draw_id"]]) == []
    assert len(members(w)) == 5


def test_nobody_is_drawn_onto_two_committees_at_the_same_time(w: CommitteeWorld) -> None:
    """Session A's drawn host experts are excluded (engaged_elsewhere) from the draw of an overlapping session B
    at the same venue, which then has just enough others; a session on another day may draw them again."""
    def session_at(start: timedelta) -> str:
        with w.ctx.store.write() as tx:
            return sessions.create_session(tx, Principal(role=Role.HALL_OPERATOR, subject="host-op",
                                                         venue_id=w.host_venue_id), SessionCreate(
                code=unique_code("S"), title=TITLE, scheduled_start=w.start + start,
                scheduled_end=w.start + start + timedelta(hours=8))).id

    def performed(sid: str) -> dict[str, Any]:
        evs = ok(w.client.get(w.url("/events", sid), headers=w.admin(), params={"limit": 1000}))["events"]
        return next(e for e in evs if e["kind"] == "draw.performed")["payload"]

    def drawn_and_engaged(sid: str, plan: dict[str, Any]) -> tuple[set[str], set[str]]:
        set_plan(w, plan, sid)
        ok(w.client.post(w.url("/committee/draws", sid), headers=w.host_op()))
        record = performed(sid)
        return ({m["expert_id"] for m in record["members"]},
                {x["expert_id"] for x in record["excluded"] if "engaged_elsewhere" in x["reasons"]})

    draw(w)
    in_a = {m["expert_id"] for m in performed(w.session_id)["members"] if m["venue_id"] == w.host_venue_id}
    assert len(in_a) == 3
    # B overlaps A by an hour and needs every host expert A has not drawn (6 B01 + 3 D01 in the pool).
    in_b, engaged = drawn_and_engaged(session_at(timedelta(hours=7)), {
        "project_type": "works", "total": 5, "quotas": [{"venue": "host", "specialties": {"B01": 4, "D01": 1}}],
        "parties": {"tenderer": TENDERER, "bidders": list(BIDDERS)}})
    assert engaged == in_a and not in_b & in_a and len(in_b) == 5
    # C is the next day: A's experts are free for it (B's are not engaged then either).
    in_c, engaged = drawn_and_engaged(session_at(timedelta(days=1)), host_only_plan())
    assert engaged == set() and len(in_c) == 5


def test_after_a_failed_draw_the_plan_can_be_set_again(w: CommitteeWorld) -> None:
    # The guest withdraws after the plan was set: the draw fails and tells the host to set the plan again.
    ok(w.client.post(f"{API}/offers/{w.offer_id}/cancel", headers=w.host_op(), json={"reason": "场地检修"}))
    error = refused(request_draws(w), 409, "conflict")
    assert "set the plan again" in error["message"]
    set_plan(w, host_only_plan())
    assert draw(w)[0]["outcome"] == "drawn"
    assert Counter(m["venue_id"] for m in members(w)) == {w.host_venue_id: 5}


def test_a_draw_interrupted_after_its_commitment_is_completed_with_the_committed_seed(ctx: AppContext,
                                                                                     client: TestClient) -> None:
    w = build(ctx, client)
    # The coordinator crashed right after committing: the commitment is logged, nothing was drawn yet.
    with ctx.store.write() as tx:
        pending = committee._commit(tx, ctx.sealer, w.session_id, "hall-operator:crash", None)
        draw_id, commitment = pending.id, pending.commitment
    assert kinds(events(w), "draw.") == ["draw.committed"]
    assert view(w)["draws"] == [{"draw_id": draw_id, "purpose": "initial", "commitment": commitment, "outcome": None,
                                 "seed": None, "vacancy_member_id": None, "members": 0}]

    assert committee.complete_pending_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings) == 1
    record = draw_records(events(w))[draw_id]
    assert set(record) == {"committed", "performed", "revealed"}
    assert verify_draw(record) == []
    assert hashlib.sha256(bytes.fromhex(record["revealed"]["payload"]["seed"])).hexdigest() == commitment
    assert len(members(w)) == 5
    assert committee.complete_pending_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings) == 0


def test_a_draw_request_first_completes_an_interrupted_draw(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client)
    with ctx.store.write() as tx:
        pending = committee._commit(tx, ctx.sealer, w.session_id, "hall-operator:crash", None)
        draw_id, commitment = pending.id, pending.commitment
    # The next request completes the interrupted draw with its committed seed instead of committing anew;
    # the committee it asked for is then drawn, so that draw is the answer.
    [answer] = ok(request_draws(w))
    assert (answer["draw_id"], answer["commitment"], answer["outcome"]) == (draw_id, commitment, "drawn")
    refused(request_draws(w), 409, "conflict")  # now nothing is left to draw
    evs = events(w)
    assert kinds(evs, "draw.") == ["draw.committed", "draw.performed", "draw.revealed"]
    record = draw_records(evs)[draw_id]
    assert record["committed"]["payload"]["commitment"] == commitment and verify_draw(record) == []
    assert [d["outcome"] for d in view(w)["draws"]] == ["drawn"] and len(members(w)) == 5


# --- check-in ---------------------------------------------------------------------------------------------
def test_check_in_at_the_members_venue_by_id_card(w: CommitteeWorld) -> None:
    ctx = w.ctx
    draw(w)
    guests = [m for m in members(w) if m["venue_id"] == w.guest_venue_id]
    g1, g2 = guests
    # Before the host opens check-in nobody is on a committee being checked in.
    before = snapshot(ctx)
    refused(check_in(w, g1, seat=w.guest_seats[0]), 404, "not_on_committee")
    assert snapshot(ctx) == before

    open_check_in(w)
    answer = ok(check_in(w, g1, seat=w.guest_seats[0]))
    assert answer["checked_in"] is True
    assert answer["member"] == {"member_id": g1["member_id"], "name": g1["name"], "kind": "expert",
                                "specialty": "B01", "state": "checked_in", "seat": w.guest_seats[0]}
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", answer["login_code"])
    assert answer["login_code_expires_at"].startswith((ctx.clock.now() + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M"))
    assert w.session_id not in json.dumps(answer), "the guest's operator checks in without knowing the session"

    cases = {
        "the host's operator, not the member's venue": (
            {"headers": w.host_op(), "seat": w.host_seats[0]}, 404, "not_on_committee"),
        "an ID number with a wrong check digit": (
            {"id_number": w.id_numbers[g2["name"]][:-1] + ("0" if w.id_numbers[g2["name"]][-1] != "0" else "1"),
                 "seat": w.guest_seats[1]}, 422, "invalid_input"),
        "a guest seat not booked for the evaluation": ({"seat": "R1/A-05"}, 422, "invalid_input"),
        "a seat another member holds": ({"seat": w.guest_seats[0]}, 409, "conflict"),
        "a seat that does not exist": ({"seat": "R9/Z-01"}, 404, "not_found"),
        "someone not drawn": ({"id_number": new_id_number(GUEST_AREA), "seat": w.guest_seats[1]}, 404,
                              "not_on_committee"),
    }
    for name, (body, status, code) in cases.items():
        before = snapshot(ctx)
        refused(check_in(w, g2, **body), status, code)
        assert snapshot(ctx) == before, name
    refused(check_in(w, g1, seat=w.guest_seats[1]), 404, "not_on_committee")  # checked in already

    # A failed face match is recorded and changes nothing else.
    failed = ok(check_in(w, g2, seat=w.guest_seats[1], face_match="fail", face_score="0.31"))
    assert failed["checked_in"] is False and "login_code" not in failed and failed["member"]["state"] == "drawn"
    assert "face" in failed["reason"]
    event = [e for e in events(w) if e["kind"] == "committee.check_in_failed"]
    assert len(event) == 1 and event[0]["payload"]["member_id"] == g2["member_id"]
    assert event[0]["payload"]["face_match"] == "fail" and event[0]["payload"]["face_score"] == "0.31"
    assert next(m for m in members(w) if m["member_id"] == g2["member_id"])["state"] == "drawn"

    ok(check_in(w, g2, seat=w.guest_seats[1]))
    host_member = next(m for m in members(w) if m["venue_id"] == w.host_venue_id)
    ok(check_in(w, host_member, seat="R1/A-06"))  # any working seat of the host's own room
    checked = [e["payload"] for e in events(w) if e["kind"] == "committee.member_checked_in"]
    assert [(p["member_id"], p["seat_code"]) for p in checked] == [
        (g1["member_id"], w.guest_seats[0]), (g2["member_id"], w.guest_seats[1]), (host_member["member_id"], "R1/A-06")]
    # The host's operator now sees who has checked in, and only them.
    as_host = view(w, w.host_op())
    assert sorted(m["member_id"] for m in as_host["members"]) == sorted(
        [g1["member_id"], g2["member_id"], host_member["member_id"]])
    assert as_host["counts"] == {"checked_in": 3, "drawn": 2}
    assert_no_plain_id_numbers(w)


# --- the expert's login -----------------------------------------------------------------------------------
def test_a_guest_venue_sees_the_session_it_lends_seats_to_from_check_in_on(w: CommitteeWorld) -> None:
    url = f"{API}/venues/{w.guest_venue_id}/guest-sessions"
    draw(w)
    # Before check-in opens the guest knows nothing of the session (四不知).
    assert ok(w.client.get(url, headers=w.guest_op())) == []
    refused(w.client.get(url, headers=w.host_op()), 404, "not_found")  # another venue's list
    open_check_in(w)
    host_members = [m for m in members(w) if m["venue_id"] == w.host_venue_id]
    guest_members = [m for m in members(w) if m["venue_id"] == w.guest_venue_id]
    (seen,) = ok(w.client.get(url, headers=w.guest_op()))
    assert (seen["session_id"], seen["title"], seen["state"]) == (w.session_id, TITLE, "waiting")
    assert (seen["members"], seen["expected"]) == ([], 2)
    assert [(v["role"], v["venue_id"]) for v in seen["venues"]] == [("host", None), ("guest", w.guest_venue_id)]
    ok(check_in(w, guest_members[0], seat=w.guest_seats[0]))
    (seen,) = ok(w.client.get(url, headers=w.guest_op()))
    assert [(m["name"], m["state"], m["seat"]) for m in seen["members"]] == [
        (guest_members[0]["name"], "checked_in", w.guest_seats[0])]
    assert seen["expected"] == 1
    text = json.dumps(seen, ensure_ascii=False)
    assert w.host_venue_id not in text and not any(m["name"] in text for m in host_members)
    # The host lends no seats to its own session; the admin reads any venue's list.
    assert ok(w.client.get(f"{API}/venues/{w.host_venue_id}/guest-sessions", headers=w.host_op())) == []
    assert [x["session_id"] for x in ok(w.client.get(url, headers=w.admin()))] == [w.session_id]


def test_the_login_code_works_once_expires_and_binds_the_token_to_session_and_seat(w: CommitteeWorld) -> None:
    ctx, client = w.ctx, w.client
    draw(w)
    open_check_in(w)
    member = next(m for m in members(w) if m["venue_id"] == w.host_venue_id)
    code = ok(check_in(w, member, seat="R1/A-03"))["login_code"]

    token = login(w, code.replace("-", "").lower())  # typed without dashes, in lower case
    refused(expert_login(w, code), 401, "login_failed")  # once only
    me = ok(client.get(f"{API}/auth/me", headers=token))
    seat_ids = {f"{r['code']}/{s['code']}": s["id"] for r in ok(client.get(
        f"{API}/venues/{w.host_venue_id}/rooms", headers=w.admin())) for s in r["seats"]}
    assert (me["role"], me["subject"], me["session_id"], me["seat"]) == \
        ("expert", member["member_id"], w.session_id, seat_ids["R1/A-03"])
    assert ok(client.get(w.url(), headers=token))["title"] == TITLE
    with ctx.store.write() as tx:
        other = sessions.create_session(tx, Principal(role=Role.HALL_OPERATOR, subject="h", venue_id=w.host_venue_id),
                                        SessionCreate(code=unique_code("S"), title="另一个项目",
                                                      scheduled_start=w.start, scheduled_end=w.start + timedelta(hours=8))).id
    refused(client.get(f"{API}/sessions/{other}", headers=token), 404, "not_found")
    refused(client.get(w.url()), 401, "not_authenticated")

    def reissue(headers: dict[str, str] | None = None) -> Any:
        return client.post(f"{API}/committee/members/{member['member_id']}/login-code", headers=headers or w.host_op())

    refused(reissue(w.guest_op()), 404, "not_found")  # not at the guest's desk
    # A code expires after expert_login_code_minutes.
    late = ok(reissue())["login_code"]
    ctx.clock.advance(timedelta(minutes=ctx.settings.expert_login_code_minutes))
    refused(expert_login(w, late), 401, "login_failed")
    assert ok(client.get(w.url(), headers=token))["title"] == TITLE, "the token outlives the code"
    # A re-issued code kills the one before it; logging in with it retires the old token.
    replaced, newest = ok(reissue())["login_code"], ok(reissue())["login_code"]
    refused(expert_login(w, replaced), 401, "login_failed")
    second = login(w, newest)
    refused(client.get(w.url(), headers=token), 401, "token_revoked")
    assert ok(client.get(w.url(), headers=second))["title"] == TITLE

    # Refresh: a new token for the seat's current login; the old one is revoked.
    refreshed = ok(client.post(f"{API}/auth/refresh", headers=second))
    third = {"Authorization": f"Bearer {refreshed['access_token']}"}
    assert refreshed["role"] == "expert"
    refused(client.get(w.url(), headers=second), 401, "token_revoked")
    refused(client.post(f"{API}/auth/refresh", headers=second), 401, "token_revoked")
    again = ok(client.get(f"{API}/auth/me", headers=third))
    assert (again["subject"], again["session_id"], again["seat"]) == (member["member_id"], w.session_id, me["seat"])
    # A token not issued for a member's login cannot be refreshed.
    refused(client.post(f"{API}/auth/refresh", headers=expert_of(w)), 401, "token_revoked")

    evs = events(w)
    assert kinds(evs, "committee.expert_logged_in") == ["committee.expert_logged_in"] * 2
    assert kinds(evs, "committee.login_code_issued") == ["committee.login_code_issued"] * 3
    assert not any(c in json.dumps(evs) for c in (code, late, replaced, newest)), "codes are never logged"


# --- the declaration --------------------------------------------------------------------------------------
def test_declaration_seats_or_recuses_and_a_recusal_is_replaced(w: CommitteeWorld) -> None:
    ctx, client = w.ctx, w.client
    initial = draw(w)[0]
    open_check_in(w)
    first = members(w)
    host_member = next(m for m in first if m["venue_id"] == w.host_venue_id)
    guest_member = next(m for m in first if m["venue_id"] == w.guest_venue_id)

    expert = checked_in(w, host_member)
    shown = declaration(w, expert)
    assert TITLE in shown["text"] and TENDERER in shown["text"] and host_member["name"] in shown["text"]
    assert all(b in shown["text"] for b in BIDDERS)
    assert shown["sha256"] == hashlib.sha256(shown["text"].encode()).hexdigest() and shown["state"] == "checked_in"
    refused(client.get(w.url("/committee/declaration"), headers=expert_of(w)), 404, "not_found")  # not a member

    before = snapshot(ctx)
    refused(declare(w, expert, text_sha256=hashlib.sha256(b"an older text").hexdigest()), 409, "conflict")
    refused(client.post(w.url("/committee/declaration"), headers=expert,
                        json={"conflict": True, "text_sha256": shown["sha256"]}), 422, "validation_failed")
    assert snapshot(ctx) == before
    assert ok(declare(w, expert)) == {"member_id": host_member["member_id"], "state": "seated", "replacements": []}
    assert declaration(w, expert)["state"] == "seated"
    # Sitting on this committee goes on the expert's record, for the same-tenderer rule of later draws.
    record = ok(client.get(f"{API}/experts/{host_member['expert_id']}", headers=w.admin()))
    assert {"date": w.start.astimezone(ctx.settings.zone).date().isoformat(), "tenderer": TENDERER,
            "source": "session"} in record["recent_evaluations"]
    refused(declare(w, expert), 409, "conflict")  # declared already

    recusing = checked_in(w, guest_member)
    answer = ok(declare(w, recusing, conflict=True, reason="与投标人乙公司有经济往来"))
    assert answer["state"] == "recused" and len(answer["replacements"]) == 1
    replacement_draw = answer["replacements"][0]
    assert (replacement_draw["purpose"], replacement_draw["outcome"], replacement_draw["members"]) == \
        ("replacement", "drawn", 1)
    assert replacement_draw["vacancy_member_id"] == guest_member["member_id"]
    assert replacement_draw["commitment"] != initial["commitment"]
    refused(client.get(w.url(), headers=recusing), 401, "token_revoked")

    now = members(w)
    new = [m for m in now if m["replaces_member_id"] == guest_member["member_id"]]
    assert len(new) == 1 and new[0]["state"] == "drawn"
    assert (new[0]["venue_id"], new[0]["specialty"]) == (guest_member["venue_id"], guest_member["specialty"])
    assert new[0]["expert_id"] not in {m["expert_id"] for m in first}
    assert next(m for m in now if m["member_id"] == guest_member["member_id"])["vacancy_reason"] == "与投标人乙公司有经济往来"
    record = draw_records(events(w))[replacement_draw["draw_id"]]
    assert verify_draw(record) == []
    assert record["committed"]["payload"]["vacancy_member_id"] == guest_member["member_id"]
    excluded = {x["expert_id"]: x["reasons"] for x in record["performed"]["payload"]["excluded"]}
    assert all("already_drawn" in excluded[m["expert_id"]] for m in first if m["venue_id"] == w.guest_venue_id)
    decl = [e["payload"] for e in events(w) if e["kind"] == "committee.declaration"]
    assert [(p["member_id"], p["conflict"]) for p in decl] == [(host_member["member_id"], False),
                                                                (guest_member["member_id"], True)]
    assert "committee.member_recused" in kinds(events(w))
    # The replacement takes the seat the recused member left at the guest.
    assert ok(check_in(w, new[0]))["member"]["seat"] in w.guest_seats


# --- refusals and absences --------------------------------------------------------------------------------
def test_a_declined_expert_is_replaced_and_only_the_admin_records_it(w: CommitteeWorld) -> None:
    ctx, client = w.ctx, w.client
    draw(w)
    first = members(w)
    target = next(m for m in first if m["specialty"] == "D01")
    url = f"{API}/committee/members/{target['member_id']}/decline"
    for headers, status in ((w.host_op(), 403), (w.supervisor(), 403), ({}, 401)):
        before = snapshot(ctx)
        assert client.post(url, headers=headers, json={"reason": "电话告知不能参加"}).status_code == status
        assert snapshot(ctx) == before
    refused(client.post(f"{API}/committee/members/{uuid.uuid4()}/decline", headers=w.admin(),
                        json={"reason": "x"}), 404, "not_found")

    answer = ok(client.post(url, headers=w.admin(), json={"reason": "电话告知不能参加"}))
    assert answer["state"] == "declined" and [r["outcome"] for r in answer["replacements"]] == ["drawn"]
    new = [m for m in members(w) if m["replaces_member_id"] == target["member_id"]]
    assert len(new) == 1 and (new[0]["venue_id"], new[0]["specialty"]) == (w.host_venue_id, "D01")
    assert new[0]["expert_id"] not in {m["expert_id"] for m in first}
    declined = [e for e in events(w) if e["kind"] == "committee.member_declined"]
    assert len(declined) == 1 and declined[0]["payload"]["reason"] == "电话告知不能参加"
    assert verify_draw(draw_records(events(w))[answer["replacements"][0]["draw_id"]]) == []
    before = snapshot(ctx)
    refused(client.post(url, headers=w.admin(), json={"reason": "again"}), 409, "conflict")
    assert snapshot(ctx) == before


def test_members_not_checked_in_by_the_start_are_absent_and_replaced(w: CommitteeWorld) -> None:
    ctx, client = w.ctx, w.client
    draw(w)
    no_shows = w.url("/committee/no-shows")
    refused(client.post(no_shows, headers=w.host_op()), 409, "conflict")  # check-in is not even open
    open_check_in(w)
    before = snapshot(ctx)
    refused(client.post(no_shows, headers=w.host_op()), 409, "conflict")  # before the scheduled start
    assert snapshot(ctx) == before
    first = members(w)
    present = first[0]
    checked_in(w, present)

    ctx.clock.advance(w.start - ctx.clock.now())
    answer = ok(client.post(no_shows, headers=w.host_op()))
    absent = {m["member_id"] for m in first[1:]}
    assert set(answer["absent"]) == absent
    assert len(answer["replacements"]) == 4 and all(r["outcome"] == "drawn" for r in answer["replacements"])
    now = {m["member_id"]: m for m in members(w)}
    assert {mid for mid, m in now.items() if m["state"] == "no_show"} == absent
    assert now[present["member_id"]]["state"] == "checked_in"
    replacements = [m for m in now.values() if m["replaces_member_id"] in absent]
    assert sorted(m["replaces_member_id"] for m in replacements) == sorted(absent)
    for m in replacements:
        gone = now[m["replaces_member_id"]]
        assert (m["venue_id"], m["specialty"], m["state"]) == (gone["venue_id"], gone["specialty"], "drawn")
    assert not {m["expert_id"] for m in replacements} & {m["expert_id"] for m in first}
    assert kinds(events(w), "committee.member_no_show") == ["committee.member_no_show"] * 4
    records = draw_records(events(w))
    assert all(verify_draw(records[r["draw_id"]]) == [] for r in answer["replacements"])


# --- representatives --------------------------------------------------------------------------------------
def test_the_host_names_the_tenderers_representatives_up_to_the_plan(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client, plan=False)
    set_plan(w, default_plan(w.offer_id, total=7, representatives=2))
    url = w.url("/committee/representatives")

    def rep(name: str) -> dict[str, Any]:
        w.id_numbers[name] = new_id_number(HOST_AREA)
        return {"name": name, "id_number": w.id_numbers[name]}

    refused(client.post(url, headers=w.guest_op(), json=rep("代表零")), 404, "not_found")
    bad = rep("代表错")
    bad["id_number"] = bad["id_number"][:-1] + ("1" if bad["id_number"][-1] != "1" else "2")
    before = snapshot(ctx)
    refused(client.post(url, headers=w.host_op(), json=bad), 422, "invalid_input")
    assert snapshot(ctx) == before
    first = ok(client.post(url, headers=w.host_op(), json=rep("代表甲")), 201)
    assert first["state"] == "drawn"
    second = ok(client.post(url, headers=w.admin(), json=rep("代表乙")), 201)
    before = snapshot(ctx)
    refused(client.post(url, headers=w.host_op(), json=rep("代表丙")), 409, "conflict")
    assert snapshot(ctx) == before

    draw(w)
    everyone = members(w)
    reps = [m for m in everyone if m["kind"] == "representative"]
    assert sorted(m["member_id"] for m in reps) == sorted([first["member_id"], second["member_id"]])
    assert all(m["venue_id"] == w.host_venue_id and m["specialty"] is None for m in reps)
    assert Counter(m["kind"] for m in everyone) == {"expert": 5, "representative": 2}
    named = [e["payload"] for e in events(w) if e["kind"] == "committee.representative_named"]
    assert [p["member_id"] for p in named] == [first["member_id"], second["member_id"]]
    # A representative checks in at the host like anyone else.
    open_check_in(w)
    assert ok(check_in(w, next(m for m in reps if m["name"] == "代表甲")))["checked_in"] is True
    assert_no_plain_id_numbers(w)


# --- the chair --------------------------------------------------------------------------------------------
def start(w: CommitteeWorld) -> None:
    """Start the session: the chair is elected in its first phase."""
    import_project(w)
    venues_online(w)
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))


def test_the_chair_is_elected_by_rounds_among_the_tied(w: CommitteeWorld) -> None:
    ctx, client = w.ctx, w.client
    draw(w)
    open_check_in(w)
    everyone = members(w)
    experts = {m["member_id"]: seat(w, m) for m in everyone[:4]}
    votes = w.url("/chair/votes")

    def vote(voter: str, candidate: str) -> Any:
        return client.post(votes, headers=experts[voter], json={"candidate_member_id": candidate})

    a, b, c, d = sorted(experts)
    before = snapshot(ctx)
    refused(vote(a, a), 409, "phase_closed")  # the election is the first phase of the evaluation, not yet begun
    assert snapshot(ctx) == before
    last = everyone[4]["member_id"]
    experts[last] = seat(w, everyone[4])
    start(w)
    a, b, c, d, e = ids = sorted(experts)
    refused(client.post(votes, headers=w.host_op(), json={"candidate_member_id": a}), 403, "forbidden")

    # Round 1: a 2-2-1 split.
    for voter, candidate in ((a, a), (b, a), (c, b), (d, b)):
        result = ok(vote(voter, candidate))
        assert result["round"] == 1 and result["chair"] is None
    refused(vote(d, c), 409, "conflict")  # once per round
    closed = ok(vote(e, c))
    assert closed == {"round": 1, "votes_cast": 5, "voters": 5, "chair": None, "next_candidates": sorted([a, b])}
    assert view(w)["election"] == {"round": 2, "candidates": sorted([a, b]), "votes_cast": 0, "voted": False}

    # Round 2: only the tied stand.
    before = snapshot(ctx)
    refused(vote(c, c), 422, "invalid_input")
    assert snapshot(ctx) == before
    for voter, candidate in ((a, b), (b, b), (c, a), (d, b)):
        assert ok(vote(voter, candidate))["chair"] is None
    # Each member's view says whether they have voted in this round, and to no one for whom.
    assert (view(w, experts[a])["election"]["voted"], view(w, experts[e])["election"]["voted"]) == (True, False)
    elected = ok(vote(e, a))
    assert elected["round"] == 2 and elected["chair"] == b
    assert view(w)["chair_member_id"] == b
    refused(vote(a, a), 409, "conflict")  # elected already

    evs = events(w)
    cast = [e_["payload"] for e_ in evs if e_["kind"] == "chair.vote_cast"]
    assert [(p["round"], p["voter_member_id"], p["candidate_member_id"]) for p in cast] == [
        (1, a, a), (1, b, a), (1, c, b), (1, d, b), (1, e, c), (2, a, b), (2, b, b), (2, c, a), (2, d, b), (2, e, a)]
    rounds = [e_["payload"] for e_ in evs if e_["kind"] == "chair.round_closed"]
    assert rounds == [
        {"round": 1, "counts": {a: 2, b: 2, c: 1, d: 0, e: 0}, "chair_member_id": None, "next_candidates": sorted([a, b])},
        {"round": 2, "counts": {a: 2, b: 3}, "chair_member_id": b, "next_candidates": []},
    ]
    assert [e_["payload"] for e_ in evs if e_["kind"] == "chair.elected"] == [{"member_id": b, "round": 2}]
    assert kinds(evs, "chair.")[-2:] == ["chair.round_closed", "chair.elected"]
    assert set(ids) == {m["member_id"] for m in everyone}



def test_a_member_voided_during_the_election_neither_votes_nor_stands(w: CommitteeWorld) -> None:
    """A voided member's part in the evaluation does not count (domain/members.py): neither their vote in the
    open round nor their candidacy; their replacement, once seated, votes in their place."""
    client = w.client
    draw(w)
    open_check_in(w)
    experts = seat_everyone(w)
    start(w)
    a, b, c, d, e = sorted(experts)
    votes = w.url("/chair/votes")

    def vote(voter: str, candidate: str, headers: dict[str, str] | None = None) -> Any:
        return client.post(votes, headers=headers or experts[voter], json={"candidate_member_id": candidate})

    for voter in (a, b, c):
        ok(vote(voter, c))
    voided = ok(client.post(f"{API}/committee/members/{c}/void", headers=w.admin(),
                            json={"reason": "事后发现与投标人有利害关系"}))
    assert voided["state"] == "voided" and voided["replacements"][0]["outcome"] == "drawn"
    refused(vote(d, a), 409, "conflict")  # no vote while a place is empty
    replacement = next(m for m in members(w) if m["replaces_member_id"] == c)
    seat(w, replacement)

    ok(vote(d, a))
    result = ok(vote(e, a))
    # The void restarted the election in round 2 among the seated: c's vote and candidacy are gone.
    assert result == {"round": 2, "votes_cast": 2, "voters": 5, "chair": None}, result
    election = view(w)["election"]
    assert election["round"] == 2 and c not in election["candidates"] and replacement["member_id"] in election["candidates"]
    restarted = [e_ for e_ in events(w) if e_["kind"] == "chair.election_restarted"]
    assert [r["payload"]["round"] for r in restarted] == [2] and restarted[0]["payload"]["member_id"] == c
