"""Every route, called as every role: the roles that must not reach it are refused.

MATRIX is written here by hand, independently of the route code, from docs/api.md. The first test fails when
the app has a route the matrix does not name (or the other way round), so a new route cannot ship without
deciding who may call it. The second calls each route as each role, with a principal bound inside the seeded
session (host operator, expert of the session, its primary supervisor, the host's site agent), and expects:
allowed roles succeed (2xx); public gets 401 ``not_authenticated``; other roles get 403 ``forbidden``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from after_world import Seeded, seed_ended
from committee_world import (
    HOST_AREA,
    CommitteeWorld,
    Existing,
    bearer,
    build,
    draw,
    expert_row,
    host_only_plan,
    new_id_number,
    open_check_in,
    pool,
    seat_everyone,
)
from conftest import PASSWORD, SQLITE_ONLY, TokenFor, World, ok, unique_code
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from session_world import BIDS, elect, move, project_doc, review_all_pass, sheet, to_detailed_review, venues_online
from signing_world import seat_signers, setup_pki
from sqlalchemy import select
from starlette.routing import Route
from timebase import iso
from webauthn_soft import SoftAuthenticator

from evalroom.api.context import AppContext
from evalroom.clock import format_time
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.domain.session_states import PHASES
from evalroom.report_pdf import member_field
from evalroom.schemas import (
    AccountCreate,
    CheckIn,
    CommitteePlanSet,
    ComplaintCreate,
    ComplaintRuling,
    CredentialCreate,
    ObjectionCreate,
    OfferCreate,
    PublicationCreate,
    SessionCreate,
    SessionUpdate,
)
from evalroom.services import (
    accounts,
    committee,
    complaints,
    evaluation,
    experts,
    inventory,
    offers,
    publication,
    sessions,
    tlog,
    trust,
)
from evalroom.services import fees as fee_service
from evalroom.services.media import record_media_lines
from evalroom.services.replay import recorded_track
from evalroom.signing_client import SeatSigner
from evalroom.storage.models import CommitteeMember, Draw
from signing.cms import sign_detached
from signing.pades import sign_pdf
from signing.pki import issue_crl, issue_region_ca

pytestmark = pytest.mark.timeout(600)

ALL = frozenset(Role)
AUTHENTICATED = ALL - {Role.PUBLIC}
ADMIN = frozenset({Role.COORDINATOR_ADMIN})
SESSION_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR, Role.EXPERT})
MANAGERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR})
VENUE_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT})
OFFER_READERS = frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR})
EXPERT = frozenset({Role.EXPERT})
MOVERS = frozenset({Role.HALL_OPERATOR, Role.EXPERT})
OVERSEERS = frozenset({Role.COORDINATOR_ADMIN, Role.SUPERVISOR})
SIGNED: frozenset[Role] = frozenset()
BY_ADDRESS: frozenset[Role] = frozenset()
"""Not a role route: who may read it is decided by the client's address (or the metrics token), whatever token
it carries, which the assertions below (allowed roles 2xx, public 401, others 403) cannot express."""

MATRIX: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/docs"): ALL,
    ("GET", "/docs/oauth2-redirect"): ALL,
    ("GET", "/api/v1/openapi.json"): ALL,
    ("GET", "/api/v1/health"): ALL,
    ("GET", "/api/v1/ready"): ALL,
    # The web pages: no data in them, so no token to fetch them (they ask the API with their user's).
    ("GET", "/"): ALL,
    ("GET", "/expert"): ALL,
    ("GET", "/api/v1/web/config"): ALL,
    ("GET", "/operator"): ALL,
    ("GET", "/supervisor"): ALL,
    ("GET", "/admin"): ALL,
    # The transparency log: public and read-only.
    ("GET", "/api/v1/log/checkpoint"): ALL,
    ("GET", "/api/v1/log/key"): ALL,
    ("GET", "/api/v1/log/leaves"): ALL,
    ("GET", "/api/v1/log/proofs/inclusion"): ALL,
    ("GET", "/api/v1/log/proofs/consistency"): ALL,
    ("GET", "/api/v1/auth/jwks"): ALL,
    ("POST", "/api/v1/auth/login"): ALL,
    ("POST", "/api/v1/auth/logout"): AUTHENTICATED,
    ("GET", "/api/v1/auth/me"): AUTHENTICATED,
    ("POST", "/api/v1/accounts"): ADMIN,
    ("GET", "/api/v1/accounts"): ADMIN,
    ("PATCH", "/api/v1/accounts/{account_id}"): ADMIN,
    ("GET", "/api/v1/admin/status"): ADMIN,
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
    ("GET", "/api/v1/sessions/{session_id}/supervisors"): ADMIN,
    ("GET", "/api/v1/sessions/{session_id}/events"): SESSION_READERS,
    ("WS", "/api/v1/sessions/{session_id}/events/ws"): SESSION_READERS,
    # The media room: venues of the session (operators, site agents), its seated experts, supervisors, admin.
    ("WS", "/api/v1/sessions/{session_id}/media/ws"): frozenset(
        {Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SITE_AGENT, Role.SUPERVISOR, Role.EXPERT}),
    ("GET", "/api/v1/events"): ADMIN,
    ("PATCH", "/api/v1/regions/{region_id}"): ADMIN,
    ("POST", "/api/v1/regions/{region_id}/ca-certificates"): ADMIN,
    ("POST", "/api/v1/regions/{region_id}/crls"): ADMIN,
    ("GET", "/api/v1/regions/{region_id}/trust"): ADMIN,
    ("POST", "/api/v1/venues/{venue_id}/rooms"): MANAGERS,
    ("GET", "/api/v1/venues/{venue_id}/rooms"): VENUE_READERS,
    ("GET", "/api/v1/venues/{venue_id}/calendar"): VENUE_READERS,
    ("GET", "/api/v1/venues/{venue_id}/guest-sessions"): MANAGERS,
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
    # Expert pools: the coordinator's alone (venue staff must not know who the experts are).
    ("POST", "/api/v1/regions/{region_id}/experts/import"): ADMIN,
    ("GET", "/api/v1/regions/{region_id}/experts"): ADMIN,
    ("GET", "/api/v1/experts/{expert_id}"): ADMIN,
    ("PATCH", "/api/v1/experts/{expert_id}"): ADMIN,
    # The committee.
    ("PUT", "/api/v1/sessions/{session_id}/committee/plan"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/committee"): SESSION_READERS,
    ("POST", "/api/v1/sessions/{session_id}/committee/draws"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/committee/draws/{draw_id}"): OFFER_READERS,
    ("GET", "/api/v1/committee/rules"): OFFER_READERS,
    ("POST", "/api/v1/sessions/{session_id}/committee/representatives"): MANAGERS,
    ("POST", "/api/v1/sessions/{session_id}/committee/no-shows"): MANAGERS,
    ("POST", "/api/v1/committee/members/{member_id}/decline"): ADMIN,
    ("POST", "/api/v1/committee/members/{member_id}/void"): ADMIN,
    ("POST", "/api/v1/committee/check-in"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/committee/members/{member_id}/login-code"): frozenset({Role.HALL_OPERATOR}),
    ("GET", "/api/v1/sessions/{session_id}/committee/declaration"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/committee/declaration"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/chair/votes"): EXPERT,
    # The evaluation: the host imports the project; the host's operators (or the chair, an expert) move the
    # session; the members submit and answer; every reader of the session reads.
    ("PUT", "/api/v1/sessions/{session_id}/project"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/project"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/status"): SESSION_READERS,
    ("POST", "/api/v1/sessions/{session_id}/state"): MOVERS,
    ("POST", "/api/v1/sessions/{session_id}/phase"): MOVERS,
    ("POST", "/api/v1/sessions/{session_id}/extension"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/review"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/scores"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/scores/corrections"): EXPERT,
    ("GET", "/api/v1/sessions/{session_id}/sheets"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/sheets/{phase}/{member_id}"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/flags"): SESSION_READERS,
    ("POST", "/api/v1/sessions/{session_id}/flags/{flag_id}/explanation"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/flags/{flag_id}/confirm"): EXPERT,
    ("PUT", "/api/v1/sessions/{session_id}/dissent"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/ties"): EXPERT,
    ("GET", "/api/v1/sessions/{session_id}/ties"): SESSION_READERS,
    ("POST", "/api/v1/sessions/{session_id}/report/corrections"): MOVERS,
    ("GET", "/api/v1/sessions/{session_id}/scoring-form"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/report"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/report.pdf"): SESSION_READERS,
    # Signing: members register their own factors and sign their own documents; an operator of the member's
    # venue resets factors; the host's operators record deemed agreement and seal; the session's readers read.
    ("POST", "/api/v1/sessions/{session_id}/factors/totp"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/factors/webauthn/options"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/factors/webauthn"): EXPERT,
    ("DELETE", "/api/v1/sessions/{session_id}/members/{member_id}/factors"): frozenset({Role.HALL_OPERATOR}),
    ("GET", "/api/v1/sessions/{session_id}/signing/document"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/signing/challenges"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/signing/authorisations"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/signatures/sheets"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/signatures/report"): EXPERT,
    ("POST", "/api/v1/sessions/{session_id}/report/deemed-agreements"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/sessions/{session_id}/report/seal"): frozenset({Role.HALL_OPERATOR}),
    ("GET", "/api/v1/sessions/{session_id}/signatures"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/signatures/{signature_id}.p7s"): SESSION_READERS,
    ("GET", "/api/v1/sessions/{session_id}/report/verification"): SESSION_READERS,
    # Supervision: the session's supervisors mark it and record complaints; the primary rules (a secondary is
    # refused in tests/integration/test_supervision.py); overseers read and replay.
    ("POST", "/api/v1/sessions/{session_id}/annotations"): frozenset({Role.SUPERVISOR}),
    ("POST", "/api/v1/sessions/{session_id}/warnings"): frozenset({Role.SUPERVISOR}),
    ("POST", "/api/v1/sessions/{session_id}/expert-flags"): frozenset({Role.SUPERVISOR}),
    ("GET", "/api/v1/sessions/{session_id}/marks"): OVERSEERS,
    ("POST", "/api/v1/sessions/{session_id}/complaints"): frozenset({Role.SUPERVISOR}),
    ("GET", "/api/v1/sessions/{session_id}/complaints"): OVERSEERS,
    ("POST", "/api/v1/sessions/{session_id}/complaints/{complaint_id}/ruling"): frozenset({Role.SUPERVISOR}),
    ("POST", "/api/v1/sessions/{session_id}/complaints/{complaint_id}/decision"): frozenset({Role.SUPERVISOR}),
    ("GET", "/api/v1/sessions/{session_id}/replay"): OVERSEERS,
    ("GET", "/api/v1/sessions/{session_id}/recordings/{publisher}/{track}/{file}"): OVERSEERS,
    # After the session: the host (or the admin) publishes the candidates, which anyone reads; the host's
    # operators record objections and answers; fees are the host's and the admin's; the host's operators and the
    # tenderer's representative (an expert token) rate the experts.
    ("POST", "/api/v1/sessions/{session_id}/publication"): MANAGERS,
    ("GET", "/api/v1/publications"): ALL,
    ("GET", "/api/v1/publications/{publication_id}"): ALL,
    ("GET", "/publications"): ALL,
    ("POST", "/api/v1/publications/{publication_id}/objections"): frozenset({Role.HALL_OPERATOR}),
    ("GET", "/api/v1/publications/{publication_id}/objections"): frozenset(
        {Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR}),
    ("POST", "/api/v1/publications/{publication_id}/objections/{objection_id}/answer"): frozenset({Role.HALL_OPERATOR}),
    ("POST", "/api/v1/sessions/{session_id}/fee-batches"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/fee-batches"): MANAGERS,
    ("GET", "/api/v1/sessions/{session_id}/evidence"): frozenset({Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR,
                                                                  Role.SUPERVISOR}),
    ("GET", "/api/v1/fee-batches/{batch_id}"): MANAGERS,
    ("POST", "/api/v1/sessions/{session_id}/ratings"): frozenset({Role.HALL_OPERATOR, Role.EXPERT}),
    ("GET", "/api/v1/sessions/{session_id}/ratings"): frozenset(
        {Role.COORDINATOR_ADMIN, Role.HALL_OPERATOR, Role.SUPERVISOR}),
    # Analysis across sessions (docs/analysis.md): the admin over every session, a supervisor over their own;
    # the experts are the pool's, so venue staff and experts may not.
    ("GET", "/api/v1/analysis/tendency"): OVERSEERS,
    ("GET", "/api/v1/analysis/tendency/plots/{plot}"): OVERSEERS,
    # The one-time code from check-in is the credential: no token yet.
    ("POST", "/api/v1/auth/expert-login"): ALL,
    ("POST", "/api/v1/auth/refresh"): EXPERT,
    # Not token-authenticated: a site agent signs every message with its venue credential. Its own tests
    # (tests/integration/test_site_link.py) show that tokens of every role are refused there.
    ("WS", "/api/v1/site/ws"): SIGNED,
    # Prometheus metrics: loopback clients only by default, or a metrics token, never a role's token (docs/
    # operations.md "Metrics and logs"); tests/integration/test_metrics.py tests who gets in.
    ("GET", "/metrics"): BY_ADDRESS,
}


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """conftest's settings with a fee tables file (tests/after_world.py writes the world region's table)."""
    (tmp_path / "fees.toml").write_text("", encoding="utf-8")
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "fee_tables_file": str(tmp_path / "fees.toml")})


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

    # --- the committee ---------------------------------------------------------------------------------------
    # Built at first need and reused by the calls of one test (each route is its own test). Nothing here moves
    # the clock: the tokens of the roles are minted before their call, and a move would expire them. So the
    # world session is brought to start in an hour, within the two hours in which check-in may open.
    host_op = Principal(role=Role.HALL_OPERATOR, subject="matrix-op", venue_id=host)
    built: dict[str, Any] = {}

    def planned(c: TestClient) -> CommitteeWorld:
        """The world session with a committee plan (host 2×B01 + 1×D01, a guest of another region 2×B01)."""
        if "planned" not in built:
            begin = ctx.clock.now() + timedelta(hours=1)
            with ctx.store.write() as tx:
                sessions.update_session(tx, host_op, sid, SessionUpdate(scheduled_start=begin,
                                                                         scheduled_end=begin + timedelta(hours=8)))
            built["planned"] = build(ctx, c, existing=Existing(world.region_id, host, sid, world.primary_supervisor_id),
                                     # enough for the world session and the fresh ones at overlapping times:
                                     # nobody is drawn onto two committees at once
                                     host_rows=pool("专家H", HOST_AREA, {"B0101": 48, "D01": 32}))
        return built["planned"]

    def seated(c: TestClient) -> dict[str, dict[str, str]]:
        """The world session's committee drawn, checked in and seated: member id → that expert's headers."""
        if "seated" not in built:
            w = planned(c)
            draw(w)
            open_check_in(w)
            built["seated"] = seat_everyone(w)
        return built["seated"]

    def fresh_session(c: TestClient, plan: dict[str, Any] | None = None, *, drawn: bool = False,
                      check_in_open: bool = False, hours_ahead: int = 1) -> str:
        """A new session at the world's host, with a host-only plan (or ``plan``), drawn and open if asked."""
        planned(c)  # the host region's pool
        begin = ctx.clock.now() + timedelta(hours=hours_ahead)
        with ctx.store.write() as tx:
            session_id = sessions.create_session(tx, admin, SessionCreate(
                code=unique_code("S"), title="t", host_venue_id=host, scheduled_start=begin,
                scheduled_end=begin + timedelta(hours=8))).id
            committee.set_plan(tx, ctx.committee, admin, session_id,
                               CommitteePlanSet.model_validate(plan or host_only_plan()))
        if drawn:
            committee.request_draws(ctx.store, ctx.sealer, ctx.committee, ctx.settings, admin, session_id)
        if check_in_open:
            with ctx.store.write() as tx:
                sessions.open_check_in(tx, ctx.settings, host_op, session_id)
        return session_id

    def world_draw(c: TestClient) -> str:
        seated(c)
        with ctx.store.read() as s:
            return s.scalar(select(Draw.id).where(Draw.session_id == sid, Draw.purpose == "initial"))

    def drawn_members(session_id: str) -> list[CommitteeMember]:
        with ctx.store.read() as s:
            return list(s.scalars(select(CommitteeMember).where(CommitteeMember.session_id == session_id,
                                                                CommitteeMember.state == "drawn")
                                  .order_by(CommitteeMember.id)))

    def check_in_body(c: TestClient, member: CommitteeMember) -> dict[str, Any]:
        return {"id_number": planned(c).id_numbers[member.name], "id_card": "pass", "face_match": "pass",
                "seat": "R1/A-01"}

    def login_code(member_id: str) -> str:
        with ctx.store.write() as tx:
            return committee.reissue_login_code(tx, ctx.settings, host_op, member_id)["login_code"]

    def a_seated_host_member(c: TestClient) -> str:
        w = planned(c)
        with ctx.store.read() as s:
            return next(m for m in s.scalars(select(CommitteeMember).where(CommitteeMember.id.in_(list(seated(c)))))
                        if m.venue_id == w.host_venue_id).id

    def role_of(headers: dict[str, str]) -> Role | None:
        token = headers.get("Authorization", "")[7:]
        return ctx.tokens.verify(token).principal.role if token else None

    # The expert routes need the expert to be a member: token_for(Role.EXPERT) is bound to the session, but its
    # subject is nobody on the committee, so the services would answer 404. When a call is handed the expert's
    # headers it swaps in the token of a real member (of the world session, or of a fresh session where the
    # member must still be checked in); every other role's headers go through untouched, so their 401/403 is
    # still what is tested.
    def member_headers(h: dict[str, str], member: Callable[[], dict[str, str]]) -> dict[str, str]:
        return member() if role_of(h) is Role.EXPERT else h

    votes_cast: list[str] = []

    def next_voter(c: TestClient) -> dict[str, str]:
        experts_by_id = seated(c)
        voter = sorted(experts_by_id)[len(votes_cast)]
        votes_cast.append(voter)
        return experts_by_id[voter]

    def fresh_login(c: TestClient) -> dict[str, str]:
        code = login_code(a_seated_host_member(c))
        return bearer(c.post("/api/v1/auth/expert-login", json={"code": code}).json()["access_token"])

    declared: dict[str, str] = {}

    def checked_in_elsewhere(c: TestClient) -> dict[str, str]:
        """A member of a fresh session, checked in and logged in, who has still to declare."""
        session_id = fresh_session(c, drawn=True, check_in_open=True)
        member = drawn_members(session_id)[0]
        with ctx.store.write() as tx:
            code = committee.check_in(tx, ctx.sealer, ctx.settings, host_op,
                                      CheckIn.model_validate(check_in_body(c, member)))["login_code"]
        declared["session_id"] = session_id
        return bearer(c.post("/api/v1/auth/expert-login", json={"code": code}).json()["access_token"])

    def declare(c: TestClient, h: dict[str, str]) -> Any:
        expert = member_headers(h, lambda: checked_in_elsewhere(c))
        session_id = declared.pop("session_id", sid)
        text = c.get(f"/api/v1/sessions/{session_id}/committee/declaration", headers=expert)
        digest = text.json()["sha256"] if text.status_code == 200 else "0" * 64
        return c.post(f"/api/v1/sessions/{session_id}/committee/declaration", headers=expert,
                      json={"conflict": False, "text_sha256": digest})

    def new_expert_id() -> str:
        with ctx.store.write() as tx:
            row = expert_row(f"专家{uuid.uuid4().hex[:6]}", HOST_AREA, ["B01"])
            experts.import_experts(tx, ctx.sealer, ctx.committee.tree, "system:test", world.region_id,
                                   json.dumps([row], ensure_ascii=False).encode(), "json")
        return next(e.id for e in experts.list_experts(ctx.store, world.region_id, ctx.clock.now().date())
                    if e.name == row["name"])

    def member_of_fresh_draw(c: TestClient) -> str:
        return drawn_members(fresh_session(c, drawn=True))[0].id

    def check_in(c: TestClient, h: dict[str, str]) -> Any:
        member = drawn_members(fresh_session(c, drawn=True, check_in_open=True))[0]
        return c.post("/api/v1/committee/check-in", headers=h, json=check_in_body(c, member))

    def import_one(c: TestClient, h: dict[str, str]) -> Any:
        content = json.dumps([expert_row(f"专家{uuid.uuid4().hex[:6]}", HOST_AREA, ["B01"])], ensure_ascii=False)
        return c.post(f"/api/v1/regions/{world.region_id}/experts/import", headers=h,
                      json={"format": "json", "content": content})

    def representative(c: TestClient, h: dict[str, str]) -> Any:
        session_id = fresh_session(c, host_only_plan(total=7, representatives=2))
        return c.post(f"/api/v1/sessions/{session_id}/committee/representatives", headers=h,
                      json={"name": "招标人代表", "id_number": new_id_number(HOST_AREA)})

    # --- the evaluation --------------------------------------------------------------------------------------
    # The world session is started and walked through the phases at first need, like the committee above and
    # by the same rule (nothing moves the clock: the world session starts within the hour). Each step looks at
    # where the session stands rather than at what was built, because the calls of the phase and state routes
    # move it themselves: a call then works whichever roles were called before it.
    url = f"/api/v1/sessions/{sid}"

    def imported() -> None:
        """The tender imported on the world session (it has no committee plan of its own: the plan stays)."""
        if "imported" not in built:
            with ctx.store.write() as tx:
                evaluation.import_project(tx, ctx.committee, host_op, sid, project_doc())
            built["imported"] = True

    def started(c: TestClient) -> dict[str, dict[str, str]]:
        """The world session seated, its venues online and started (phase chair_election): member id → headers."""
        experts_by_id = seated(c)
        if "started" not in built:
            imported()
            w = planned(c)
            venues_online(w)
            ok(c.post(f"{url}/state", headers=w.host_op(), json={"action": "start"}))
            built["started"] = True
        return experts_by_id

    def status(c: TestClient) -> dict[str, Any]:
        return ok(c.get(f"{url}/status", headers=planned(c).admin()))

    def chair(c: TestClient) -> str:
        """The chair's member id, elected (everyone votes for the first member by id) if not yet."""
        experts_by_id = started(c)
        return status(c)["chair_member_id"] or elect(planned(c), experts_by_id)

    def finish(c: TestClient, phase: str) -> None:
        """Do the work that leaving ``phase`` needs (the sheets are resubmitted alike: a retry, no change)."""
        w, experts_by_id = planned(c), started(c)
        if phase == "chair_election":
            chair(c)
        elif phase == "review":
            review_all_pass(w, experts_by_id)
        elif phase == "detailed_review":
            for h in experts_by_id.values():
                ok(c.post(f"{url}/scores", headers=h, json=sheet("15", "7")))

    def at(c: TestClient, phase: str) -> dict[str, dict[str, str]]:
        """The world session started and moved (by the host operator) up to ``phase``: member id → headers."""
        experts_by_id = started(c)
        order = [p.value for p in PHASES]
        while (current := status(c)["phase"]) != phase:
            assert order.index(current) < order.index(phase), f"the world session is past {phase}: {current}"
            finish(c, current)
            move(planned(c), current)
        return experts_by_id

    def chair_headers(c: TestClient) -> dict[str, str]:
        return started(c)[chair(c)]

    def first_member(c: TestClient) -> dict[str, str]:
        experts_by_id = started(c)
        return experts_by_id[min(experts_by_id)]

    def change_state(c: TestClient, h: dict[str, str]) -> Any:
        """Suspend an evaluating session, resume a suspended one: every allowed call changes something."""
        chair(c)  # the chair suspends and resumes too, so elect one first
        action = "suspend" if status(c)["state"] == "evaluating" else "resume"
        return c.post(f"{url}/state", headers=member_headers(h, lambda: chair_headers(c)),
                      json={"action": action, "reason": "matrix"})

    def leave_phase(c: TestClient, h: dict[str, str]) -> Any:
        """Leave the phase the session is in, its work done first."""
        started(c)
        current = status(c)["phase"]
        finish(c, current)
        return c.post(f"{url}/phase", headers=member_headers(h, lambda: chair_headers(c)), json={"leave": current})

    def flagged(c: TestClient) -> tuple[str, str]:
        """Every detailed-review sheet in, the last member's C1 (objective) 3 where the others gave 5: flags on
        that member's sheet. (That member's id, the id of its flag on L1/B1.)"""
        if "flagged" not in built:
            experts_by_id = at(c, "detailed_review")
            off = max(experts_by_id)
            for m, h in experts_by_id.items():
                ok(c.post(f"{url}/scores", headers=h, json=sheet("15", "7", "3" if m == off else "5")))
            flag = next(f for f in ok(c.get(f"{url}/flags", headers=planned(c).admin()))
                        if f["member_id"] == off and f["bid"] == "L1/B1" and f["kind"] == "objective_mismatch")
            built["flagged"] = (off, flag["id"])
        return built["flagged"]

    def flagged_member(c: TestClient) -> dict[str, str]:
        return seated(c)[flagged(c)[0]]

    def explained(c: TestClient) -> str:
        """The flag on L1/B1 explained in writing by its member: resolved, for the chair to confirm."""
        member, flag_id = flagged(c)
        if "explained" not in built:
            ok(c.post(f"{url}/flags/{flag_id}/explanation", headers=seated(c)[member],
                      json={"text": "资质证书复印件模糊，按原件核对。"}))
            built["explained"] = True
        return flag_id

    def correct_report(c: TestClient, h: dict[str, str]) -> Any:
        """A post-report correction of the second member's T1 on L1/B1: each report version asks a new value."""
        experts_by_id = at(c, "report_signing")
        version = int(c.get(f"{url}/report", headers=planned(c).admin()).headers["X-Report-Version"])
        return c.post(f"{url}/report/corrections", headers=member_headers(h, lambda: chair_headers(c)), json={
            "member_id": sorted(experts_by_id)[1], "bid": "L1/B1", "criterion": "T1", "value": str(15 + version),
            "cause": "sum_error", "reason": "技术分汇总错误"})

    # --- signing: the world session in report signing, both regions' CAs registered, a seat per member ----
    def signing_ready(c: TestClient) -> tuple[dict[str, dict[str, str]], dict[str, SeatSigner]]:
        experts_by_id = at(c, "report_signing")
        if "signers" not in built:
            w = planned(c)
            built["signers"] = seat_signers(w, setup_pki(w), experts_by_id)
        return experts_by_id, built["signers"]

    def as_member(h: dict[str, str], c: TestClient) -> tuple[dict[str, str], SeatSigner | None]:
        """The headers to use, and the first member's seat when it is the expert's call."""
        if role_of(h) is not Role.EXPERT:
            return h, None
        experts_by_id, signers = signing_ready(c)
        return experts_by_id[min(experts_by_id)], signers[min(experts_by_id)]

    def webauthn_device(c: TestClient) -> tuple[SoftAuthenticator, dict[str, str]]:
        """The first member with a WebAuthn authenticator registered (the body of the registration route)."""
        if "webauthn" not in built:
            h = first_member(c)
            origin = ctx.settings.effective_public_url
            device = SoftAuthenticator(rp_id=origin.split("//")[1].split(":")[0], origin=origin)
            options = json.loads(c.post(f"{url}/factors/webauthn/options", headers=h).content)
            nonce = base64.urlsafe_b64decode(options["challenge"] + "==").hex()
            built["webauthn"] = (device, h, {"nonce": nonce, "credential": device.register(options)})
        return built["webauthn"][:2]

    def register_webauthn(c: TestClient, h: dict[str, str]) -> Any:
        webauthn_device(c)
        _, member_h, body = built["webauthn"]
        return c.post(f"{url}/factors/webauthn", headers=member_headers(h, lambda: member_h), json=body)

    def signing_challenge(c: TestClient, h: dict[str, str]) -> Any:
        at(c, "detailed_review")
        device, member_h = webauthn_device(c)
        if "webauthn_registered" not in built:
            built["webauthn_registered"] = ok(c.post(f"{url}/factors/webauthn", headers=member_h,
                                                     json=built["webauthn"][2]), 201)
        digest = hashlib.sha256(c.get(f"{url}/signing/document", headers=member_h,
                                      params={"document": "sheet", "phase": "review"}).content).hexdigest()
        return c.post(f"{url}/signing/challenges", headers=member_headers(h, lambda: member_h),
                      json={"document": "sheet", "phase": "review", "sha256": digest})

    def authorise(c: TestClient, h: dict[str, str]) -> Any:
        h, seat = as_member(h, c)
        digest, code = ("0" * 64, "123456") if seat is None else (seat.fetch("sheet", "review")[1], seat.totp.code())
        return c.post(f"{url}/signing/authorisations", headers=h, json={
            "document": "sheet", "phase": "review", "sha256": digest, "factor": {"kind": "totp", "code": code}})

    def sign_sheet(c: TestClient, h: dict[str, str]) -> Any:
        h, seat = as_member(h, c)
        auth, cms = str(uuid.uuid4()), b"not a signature at all"
        if seat is not None:
            content, digest = seat.fetch("sheet", "review")
            auth, cms = seat.authorise("sheet", "review", digest)["authorisation"], sign_detached(content, seat.signer, seat.now())
        return c.post(f"{url}/signatures/sheets", headers=h, json={"authorisation": auth,
                                                                   "cms": base64.b64encode(cms).decode()})

    def sign_report(c: TestClient, h: dict[str, str]) -> Any:
        h, seat = as_member(h, c)
        auth, pdf = str(uuid.uuid4()), b"%PDF-1.7 not signed"
        if seat is not None:
            pdf, digest = seat.fetch("report")
            auth = seat.authorise("report", None, digest)["authorisation"]
            pdf = sign_pdf(pdf, seat.signer, member_field(seat.member_id), name="x", reason="同意", location="seat", at=seat.now())
        return c.post(f"{url}/signatures/report", headers={**h, "Content-Type": "application/pdf"},
                      params={"authorisation": auth}, content=pdf)

    def seal(c: TestClient, h: dict[str, str]) -> Any:
        if role_of(h) is Role.HALL_OPERATOR:
            _, signers = signing_ready(c)
            for signer in signers.values():
                for phase in ("review", "detailed_review"):
                    signer.sign_sheet(phase)
                signer.sign_report()
        return c.post(f"{url}/report/seal", headers=h)

    def sheet_signature(c: TestClient) -> str:
        if "sheet_signature" not in built:
            _, signers = signing_ready(c)
            built["sheet_signature"] = signers[min(signers)].sign_sheet("review")["id"]
        return built["sheet_signature"]

    def logged(c: TestClient) -> None:
        """Something in the transparency log: the world's session's events, appended as the log does."""
        if "logged" not in built:
            planned(c)
            tlog.append_pending(ctx.store, c.app.state.log_key)  # type: ignore[attr-defined]
            built["logged"] = True

    # --- after the session: the world session (or a new one at the world's host) ended and sealed, written
    # into storage (tests/after_world.py; the way there is tested in test_after_session.py).
    def after(fresh: bool = False) -> Seeded:
        if fresh:
            return seed_ended(ctx, host)
        if "after" not in built:
            built["after"] = seed_ended(ctx, host, sid)
        return built["after"]

    def published(c: TestClient) -> str:
        if "published" not in built:
            after()
            with ctx.store.write() as tx:
                built["published"] = publication.publish(tx, ctx.settings, host_op, sid,
                                                         PublicationCreate())["publication_id"]
        return built["published"]

    def objection(c: TestClient) -> str:
        with ctx.store.write() as tx:
            return publication.record_objection(tx, ctx.settings, host_op, published(c), ObjectionCreate(
                objector="投标人甲公司", text="x"))["id"]

    def fee_batch() -> str:
        after()
        with ctx.store.write() as tx:
            return fee_service.issue(tx, ctx.settings, admin, sid)[0][0]["id"]

    def rate(c: TestClient, h: dict[str, str]) -> Any:
        seeded = after()
        expert = member_headers(h, lambda: bearer(ctx.tokens.issue(seeded.representative_principal()).token))
        return c.post(f"{url}/ratings", headers=expert, json={"member_id": seeded.experts[0], "score": 90})

    tie = {"lot": "L1", "order": ["L1/B2", "L1/B1"], "reason": "经评标委员会抽签决定"}
    period = {"from": iso(-180), "to": iso(180)}

    primary = Principal(role=Role.SUPERVISOR, subject="matrix-sup", supervised={sid: SupervisorLevel.PRIMARY})

    def new_complaint(accepted: bool = False) -> str:
        with ctx.store.write() as tx:
            cid = complaints.file_complaint(tx, ctx.settings, primary, sid, ComplaintCreate(
                complainant="投标人甲公司", subject="x", known_on=ctx.clock.now().date().isoformat()))["id"]
            if accepted:
                complaints.rule(tx, ctx.settings, primary, sid, cid, ComplaintRuling(accept=True, reason="x"))
        return cid

    def recorded_segment(c: TestClient) -> str:
        """A segment file of the world session's recordings, and its logged line."""
        if "segment" not in built:
            started(c)
            directory = recorded_track(ctx.settings, sid, "HOST/cam", "video-1")
            directory.mkdir(parents=True)
            (directory / "seg-000000.webm").write_bytes(b"\x1aE\xdf\xa3" + bytes(100))
            now = format_time(ctx.clock.now())
            record_media_lines(ctx.store, [{"room": sid, "publisher": "HOST/cam", "track": "video-1", "entry": {
                "type": "segment", "seq": 2, "index": 0, "file": "seg-000000.webm", "sha256": "0" * 64,
                "bytes": 104, "wallclock_start": now, "wallclock_end": now, "hash": "0" * 64}}])
            built["segment"] = f"{url}/recordings/HOST_cam/video-1/seg-000000.webm"
        return built["segment"]

    def settle_tie(c: TestClient, h: dict[str, str]) -> Any:
        """The chair of a session of its own where B1 and B2 tie at rank 1 (same price, same scores); other
        roles are refused by role before anything is looked at. It starts within the hour: no clock moves."""
        if role_of(h) is not Role.EXPERT:
            return c.post(f"{url}/ties", headers=h, json=tie)
        w = build(ctx, c, start=ctx.clock.now() + timedelta(hours=1))
        doc = project_doc()
        doc["lots"][0]["bids"][1]["price"] = doc["lots"][0]["bids"][0]["price"]
        experts_by_id, chair_id = to_detailed_review(w, doc)
        for headers in experts_by_id.values():
            ok(c.post(w.url("/scores"), headers=headers, json=sheet("15", "7")))
        for leave in ("detailed_review", "price_scoring", "summary"):
            move(w, leave)
        return c.post(w.url("/ties"), headers=experts_by_id[chair_id], json=tie)

    def region_ca_pem() -> tuple[Any, str]:
        """A new CA hierarchy's root (PEM), for the world's region."""
        ca = issue_region_ca("SD", ctx.clock.now() - timedelta(days=1))
        return ca, ca.root.certificate.public_bytes(Encoding.PEM).decode()

    def crl_of_registered_ca(c: TestClient, h: dict[str, str]) -> Any:
        ca, root = region_ca_pem()
        with ctx.store.write() as tx:
            trust.add_ca_certificates(tx, "system:test", world.region_id, root)
        crl = issue_crl(ca.root, [], ctx.clock.now() - timedelta(hours=1), ctx.clock.now() + timedelta(days=1))
        return c.post(f"/api/v1/regions/{world.region_id}/crls", headers=h,
                      json={"pem": crl.public_bytes(Encoding.PEM).decode()})

    def session_body() -> dict[str, Any]:
        return {"code": unique_code("S"), "title": "t", "host_venue_id": world.host_venue_id,
                "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=1)).isoformat()}

    return {
        ("GET", "/docs"): lambda c, h: c.get("/docs", headers=h),
        ("GET", "/docs/oauth2-redirect"): lambda c, h: c.get("/docs/oauth2-redirect", headers=h),
        ("GET", "/api/v1/openapi.json"): lambda c, h: c.get("/api/v1/openapi.json", headers=h),
        ("GET", "/api/v1/health"): lambda c, h: c.get("/api/v1/health", headers=h),
        ("GET", "/api/v1/ready"): lambda c, h: c.get("/api/v1/ready", headers=h),
        ("GET", "/"): lambda c, h: c.get("/", headers=h),
        ("GET", "/expert"): lambda c, h: c.get("/expert", headers=h),
        ("GET", "/api/v1/web/config"): lambda c, h: c.get("/api/v1/web/config", headers=h),
        ("GET", "/operator"): lambda c, h: c.get("/operator", headers=h),
        ("GET", "/supervisor"): lambda c, h: c.get("/supervisor", headers=h),
        ("GET", "/admin"): lambda c, h: c.get("/admin", headers=h),
        ("GET", "/api/v1/log/checkpoint"): lambda c, h: (logged(c), c.get("/api/v1/log/checkpoint", headers=h))[1],
        ("GET", "/api/v1/log/key"): lambda c, h: c.get("/api/v1/log/key", headers=h),
        ("GET", "/api/v1/log/leaves"): lambda c, h: (logged(c), c.get("/api/v1/log/leaves", headers=h,
                                                                       params={"start": 0, "end": 1}))[1],
        ("GET", "/api/v1/log/proofs/inclusion"): lambda c, h: (logged(c), c.get(
            "/api/v1/log/proofs/inclusion", headers=h, params={"index": 0, "size": 1}))[1],
        ("GET", "/api/v1/log/proofs/consistency"): lambda c, h: (logged(c), c.get(
            "/api/v1/log/proofs/consistency", headers=h, params={"from": 1, "to": 1}))[1],
        ("GET", "/api/v1/auth/jwks"): lambda c, h: c.get("/api/v1/auth/jwks", headers=h),
        ("POST", "/api/v1/auth/login"): login,
        ("POST", "/api/v1/auth/logout"): lambda c, h: c.post("/api/v1/auth/logout", headers=h),
        ("GET", "/api/v1/auth/me"): lambda c, h: c.get("/api/v1/auth/me", headers=h),
        ("POST", "/api/v1/accounts"): lambda c, h: c.post("/api/v1/accounts", headers=h, json={
            "username": f"u{uuid.uuid4().hex[:10]}", "display_name": "x", "role": "supervisor", "password": PASSWORD}),
        ("GET", "/api/v1/accounts"): lambda c, h: c.get("/api/v1/accounts", headers=h),
        ("PATCH", "/api/v1/accounts/{account_id}"): lambda c, h: c.patch(
            f"/api/v1/accounts/{new_supervisor()}", headers=h, json={"disabled": True}),
        ("GET", "/api/v1/admin/status"): lambda c, h: c.get("/api/v1/admin/status", headers=h),
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
        ("GET", "/api/v1/sessions/{session_id}/supervisors"): lambda c, h: c.get(
            f"/api/v1/sessions/{sid}/supervisors", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/events"): lambda c, h: c.get(f"/api/v1/sessions/{sid}/events", headers=h),
        ("WS", "/api/v1/sessions/{session_id}/events/ws"): lambda c, h: _ws_outcome(c, sid, h),
        ("WS", "/api/v1/sessions/{session_id}/media/ws"): lambda c, h: (started(c), _media_outcome(
            c, sid, member_headers(h, lambda: first_member(c))))[1],
        ("GET", "/api/v1/events"): lambda c, h: c.get("/api/v1/events", headers=h),
        ("POST", "/api/v1/regions/{region_id}/ca-certificates"): lambda c, h: c.post(
            f"/api/v1/regions/{world.region_id}/ca-certificates", headers=h, json={"pem": region_ca_pem()[1]}),
        ("POST", "/api/v1/regions/{region_id}/crls"): crl_of_registered_ca,
        ("GET", "/api/v1/regions/{region_id}/trust"): lambda c, h: c.get(
            f"/api/v1/regions/{world.region_id}/trust", headers=h),
        ("PATCH", "/api/v1/regions/{region_id}"): lambda c, h: c.patch(
            f"/api/v1/regions/{world.region_id}", headers=h, json={"ca_name": f"CA {uuid.uuid4().hex[:6]}"}),
        ("POST", "/api/v1/venues/{venue_id}/rooms"): lambda c, h: c.post(
            f"/api/v1/venues/{host}/rooms", headers=h, json={"code": unique_code("R"), "name": "x", "kind": "shared"}),
        ("GET", "/api/v1/venues/{venue_id}/rooms"): lambda c, h: c.get(f"/api/v1/venues/{host}/rooms", headers=h),
        ("GET", "/api/v1/venues/{venue_id}/guest-sessions"): lambda c, h: c.get(
            f"/api/v1/venues/{host}/guest-sessions", headers=h),
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
        ("POST", "/api/v1/regions/{region_id}/experts/import"): import_one,
        ("GET", "/api/v1/regions/{region_id}/experts"): lambda c, h: c.get(
            f"/api/v1/regions/{world.region_id}/experts", headers=h),
        ("GET", "/api/v1/experts/{expert_id}"): lambda c, h: c.get(f"/api/v1/experts/{new_expert_id()}", headers=h),
        ("PATCH", "/api/v1/experts/{expert_id}"): lambda c, h: c.patch(
            f"/api/v1/experts/{new_expert_id()}", headers=h, json={"credit_status": "suspended", "reason": "x"}),
        ("PUT", "/api/v1/sessions/{session_id}/committee/plan"): lambda c, h: c.put(
            f"/api/v1/sessions/{fresh_session(c)}/committee/plan", headers=h, json=host_only_plan()),
        ("GET", "/api/v1/sessions/{session_id}/committee"): lambda c, h: (planned(c), c.get(
            f"/api/v1/sessions/{sid}/committee", headers=h))[1],
        ("POST", "/api/v1/sessions/{session_id}/committee/draws"): lambda c, h: c.post(
            f"/api/v1/sessions/{fresh_session(c)}/committee/draws", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/committee/draws/{draw_id}"): lambda c, h: c.get(
            f"/api/v1/sessions/{sid}/committee/draws/{world_draw(c)}", headers=h),
        ("GET", "/api/v1/committee/rules"): lambda c, h: c.get("/api/v1/committee/rules", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/committee/representatives"): representative,
        ("POST", "/api/v1/sessions/{session_id}/committee/no-shows"): lambda c, h: c.post(
            f"/api/v1/sessions/{fresh_session(c, drawn=True, check_in_open=True, hours_ahead=0)}/committee/no-shows",
            headers=h),
        ("POST", "/api/v1/committee/members/{member_id}/decline"): lambda c, h: c.post(
            f"/api/v1/committee/members/{member_of_fresh_draw(c)}/decline", headers=h, json={"reason": "病假"}),
        ("POST", "/api/v1/committee/members/{member_id}/void"): lambda c, h: c.post(
            f"/api/v1/committee/members/{member_of_fresh_draw(c)}/void", headers=h, json={"reason": "利害关系"}),
        ("POST", "/api/v1/committee/check-in"): check_in,
        ("POST", "/api/v1/committee/members/{member_id}/login-code"): lambda c, h: c.post(
            f"/api/v1/committee/members/{a_seated_host_member(c)}/login-code", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/committee/declaration"): lambda c, h: c.get(
            f"/api/v1/sessions/{sid}/committee/declaration",
            headers=member_headers(h, lambda: next(iter(seated(c).values())))),
        ("POST", "/api/v1/sessions/{session_id}/committee/declaration"): declare,
        ("POST", "/api/v1/sessions/{session_id}/chair/votes"): lambda c, h: (started(c), c.post(
            f"/api/v1/sessions/{sid}/chair/votes", headers=member_headers(h, lambda: next_voter(c)),
            json={"candidate_member_id": min(seated(c))}))[1],
        ("POST", "/api/v1/auth/expert-login"): lambda c, h: c.post(
            "/api/v1/auth/expert-login", headers=h, json={"code": login_code(a_seated_host_member(c))}),
        ("POST", "/api/v1/auth/refresh"): lambda c, h: c.post(
            "/api/v1/auth/refresh", headers=member_headers(h, lambda: fresh_login(c))),
        ("PUT", "/api/v1/sessions/{session_id}/project"): lambda c, h: c.put(
            f"/api/v1/sessions/{new_session(host)}/project", headers=h, json=project_doc()),
        ("GET", "/api/v1/sessions/{session_id}/project"): lambda c, h: (imported(), c.get(f"{url}/project",
                                                                                         headers=h))[1],
        ("GET", "/api/v1/sessions/{session_id}/scoring-form"): lambda c, h: (imported(), c.get(
            f"{url}/scoring-form", headers=h))[1],
        ("GET", "/api/v1/sessions/{session_id}/status"): lambda c, h: c.get(f"{url}/status", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/state"): change_state,
        ("POST", "/api/v1/sessions/{session_id}/phase"): leave_phase,
        ("POST", "/api/v1/sessions/{session_id}/extension"): lambda c, h: (started(c), c.post(
            f"{url}/extension", headers=member_headers(h, lambda: first_member(c))))[1],
        ("POST", "/api/v1/sessions/{session_id}/review"): lambda c, h: (at(c, "review"), c.post(
            f"{url}/review", headers=member_headers(h, lambda: first_member(c)),
            json={"marks": {b: {"passed": True} for b in BIDS}}))[1],
        ("POST", "/api/v1/sessions/{session_id}/scores"): lambda c, h: (at(c, "detailed_review"), c.post(
            f"{url}/scores", headers=member_headers(h, lambda: first_member(c)), json=sheet("15", "7")))[1],
        ("POST", "/api/v1/sessions/{session_id}/scores/corrections"): lambda c, h: (flagged(c), c.post(
            f"{url}/scores/corrections", headers=member_headers(h, lambda: flagged_member(c)),
            json={"scores": {"L1/B1": {"C1": "5"}}, "reason": "核对资质证书原件后更正"}))[1],
        ("GET", "/api/v1/sessions/{session_id}/sheets"): lambda c, h: c.get(f"{url}/sheets", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/sheets/{phase}/{member_id}"): lambda c, h: (
            at(c, "review"), finish(c, "review"),  # every member's review sheet in: revealed
            c.get(f"{url}/sheets/review/{min(seated(c))}", headers=h))[2],
        ("GET", "/api/v1/sessions/{session_id}/flags"): lambda c, h: c.get(f"{url}/flags", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/flags/{flag_id}/explanation"): lambda c, h: c.post(
            f"{url}/flags/{flagged(c)[1]}/explanation", headers=member_headers(h, lambda: flagged_member(c)),
            json={"text": "资质证书复印件模糊，按原件核对。"}),
        ("POST", "/api/v1/sessions/{session_id}/flags/{flag_id}/confirm"): lambda c, h: c.post(
            f"{url}/flags/{explained(c)}/confirm", headers=member_headers(h, lambda: chair_headers(c))),
        ("PUT", "/api/v1/sessions/{session_id}/dissent"): lambda c, h: (at(c, "summary"), c.put(
            f"{url}/dissent", headers=member_headers(h, lambda: first_member(c)),
            json={"text": "本人认为乙公司技术方案更优，保留意见。"}))[1],
        ("POST", "/api/v1/sessions/{session_id}/ties"): settle_tie,
        ("GET", "/api/v1/sessions/{session_id}/ties"): lambda c, h: c.get(f"{url}/ties", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/report/corrections"): correct_report,
        ("GET", "/api/v1/sessions/{session_id}/report"): lambda c, h: (at(c, "report_signing"), c.get(
            f"{url}/report", headers=h))[1],
        ("GET", "/api/v1/sessions/{session_id}/report.pdf"): lambda c, h: (at(c, "report_signing"), c.get(
            f"{url}/report.pdf", headers=h))[1],
        ("POST", "/api/v1/sessions/{session_id}/factors/totp"): lambda c, h: (started(c), c.post(
            f"{url}/factors/totp", headers=member_headers(h, lambda: first_member(c))))[1],
        ("POST", "/api/v1/sessions/{session_id}/factors/webauthn/options"): lambda c, h: (started(c), c.post(
            f"{url}/factors/webauthn/options", headers=member_headers(h, lambda: first_member(c))))[1],
        ("POST", "/api/v1/sessions/{session_id}/factors/webauthn"): register_webauthn,
        ("DELETE", "/api/v1/sessions/{session_id}/members/{member_id}/factors"): lambda c, h: c.delete(
            f"{url}/members/{a_seated_host_member(c)}/factors", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/signing/document"): lambda c, h: (at(c, "detailed_review"), c.get(
            f"{url}/signing/document", headers=member_headers(h, lambda: first_member(c)),
            params={"document": "sheet", "phase": "review"}))[1],
        ("POST", "/api/v1/sessions/{session_id}/signing/challenges"): signing_challenge,
        ("POST", "/api/v1/sessions/{session_id}/signing/authorisations"): authorise,
        ("POST", "/api/v1/sessions/{session_id}/signatures/sheets"): sign_sheet,
        ("POST", "/api/v1/sessions/{session_id}/signatures/report"): sign_report,
        ("POST", "/api/v1/sessions/{session_id}/report/deemed-agreements"): lambda c, h: (
            at(c, "report_signing"), c.post(f"{url}/report/deemed-agreements", headers=h, json={
                "member_id": a_seated_host_member(c), "reason": "拒绝签字且未陈述理由"}))[1],
        ("POST", "/api/v1/sessions/{session_id}/report/seal"): seal,
        ("GET", "/api/v1/sessions/{session_id}/signatures"): lambda c, h: c.get(f"{url}/signatures", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/signatures/{signature_id}.p7s"): lambda c, h: c.get(
            f"{url}/signatures/{sheet_signature(c)}.p7s", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/report/verification"): lambda c, h: (at(c, "report_signing"), c.get(
            f"{url}/report/verification", headers=h))[1],
        ("POST", "/api/v1/sessions/{session_id}/annotations"): lambda c, h: c.post(
            f"{url}/annotations", headers=h, json={"text": "x"}),
        ("POST", "/api/v1/sessions/{session_id}/warnings"): lambda c, h: (started(c), c.post(
            f"{url}/warnings", headers=h, json={"text": "x"}))[1],
        ("POST", "/api/v1/sessions/{session_id}/expert-flags"): lambda c, h: c.post(
            f"{url}/expert-flags", headers=h, json={"member_id": min(started(c)), "text": "x"}),
        ("GET", "/api/v1/sessions/{session_id}/marks"): lambda c, h: c.get(f"{url}/marks", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/complaints"): lambda c, h: c.post(f"{url}/complaints", headers=h, json={
            "complainant": "x", "subject": "x", "known_on": ctx.clock.now().date().isoformat()}),
        ("GET", "/api/v1/sessions/{session_id}/complaints"): lambda c, h: c.get(f"{url}/complaints", headers=h),
        ("POST", "/api/v1/sessions/{session_id}/complaints/{complaint_id}/ruling"): lambda c, h: c.post(
            f"{url}/complaints/{new_complaint()}/ruling", headers=h, json={"accept": False, "reason": "x"}),
        ("POST", "/api/v1/sessions/{session_id}/complaints/{complaint_id}/decision"): lambda c, h: c.post(
            f"{url}/complaints/{new_complaint(accepted=True)}/decision", headers=h,
            json={"outcome": "dismissed", "text": "x"}),
        ("POST", "/api/v1/sessions/{session_id}/publication"): lambda c, h: c.post(
            f"/api/v1/sessions/{after(fresh=True).session_id}/publication", headers=h, json={}),
        ("GET", "/api/v1/publications"): lambda c, h: (published(c), c.get("/api/v1/publications", headers=h))[1],
        ("GET", "/api/v1/publications/{publication_id}"): lambda c, h: c.get(
            f"/api/v1/publications/{published(c)}", headers=h),
        ("GET", "/publications"): lambda c, h: (published(c), c.get("/publications", headers=h))[1],
        ("POST", "/api/v1/publications/{publication_id}/objections"): lambda c, h: c.post(
            f"/api/v1/publications/{published(c)}/objections", headers=h, json={"objector": "投标人乙公司", "text": "x"}),
        ("GET", "/api/v1/publications/{publication_id}/objections"): lambda c, h: c.get(
            f"/api/v1/publications/{published(c)}/objections", headers=h),
        ("POST", "/api/v1/publications/{publication_id}/objections/{objection_id}/answer"): lambda c, h: c.post(
            f"/api/v1/publications/{published(c)}/objections/{objection(c)}/answer", headers=h, json={"text": "x"}),
        ("POST", "/api/v1/sessions/{session_id}/fee-batches"): lambda c, h: (after(), c.post(
            f"{url}/fee-batches", headers=h))[1],
        ("GET", "/api/v1/sessions/{session_id}/evidence"): lambda c, h: (after(), c.get(f"{url}/evidence", headers=h))[1],
        ("GET", "/api/v1/sessions/{session_id}/fee-batches"): lambda c, h: (fee_batch(), c.get(
            f"{url}/fee-batches", headers=h))[1],
        ("GET", "/api/v1/fee-batches/{batch_id}"): lambda c, h: c.get(f"/api/v1/fee-batches/{fee_batch()}",
                                                                      headers=h, params={"format": "csv"}),
        ("POST", "/api/v1/sessions/{session_id}/ratings"): rate,
        ("GET", "/api/v1/sessions/{session_id}/ratings"): lambda c, h: c.get(f"{url}/ratings", headers=h),
        ("GET", "/api/v1/analysis/tendency"): lambda c, h: c.get(
            "/api/v1/analysis/tendency", headers=h, params={**period, "format": "csv"}),
        ("GET", "/api/v1/analysis/tendency/plots/{plot}"): lambda c, h: c.get(
            "/api/v1/analysis/tendency/plots/deviation.svg", headers=h, params=period),
        ("GET", "/api/v1/sessions/{session_id}/replay"): lambda c, h: c.get(f"{url}/replay", headers=h),
        ("GET", "/api/v1/sessions/{session_id}/recordings/{publisher}/{track}/{file}"): lambda c, h: c.get(
            recorded_segment(c), headers=h),
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


def _media_outcome(c: TestClient, sid: str, headers: dict[str, str]) -> _WsOutcome:
    token = headers.get("Authorization", "")[7:] or None
    with c.websocket_connect(f"/api/v1/sessions/{sid}/media/ws") as ws:
        ws.send_json({"type": "join", "token": token})
        first = ws.receive_json()
    return _WsOutcome({"type": "subscribed"} if first["type"] == "joined" else first)


def _ws_outcome(c: TestClient, sid: str, headers: dict[str, str]) -> _WsOutcome:
    token = headers.get("Authorization", "")[7:] or None
    with c.websocket_connect(f"/api/v1/sessions/{sid}/events/ws") as ws:
        ws.send_json({"type": "subscribe", "token": token, "after": 0})
        return _WsOutcome(ws.receive_json())


# Who may call a route is decided in the routes and services, the same on either database; the queries those
# checks run are exercised on PostgreSQL by each feature's own tests. So the matrix (every route as all 7 roles,
# some six minutes of the suite on both databases) runs on the embedded default only.
@SQLITE_ONLY
@pytest.mark.parametrize("route", sorted(r for r in MATRIX if MATRIX[r] is not SIGNED and MATRIX[r] is not BY_ADDRESS),
                         ids=lambda r: f"{r[0]} {r[1]}")
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
