"""Shared fixtures.

``db_url`` runs a test once on SQLite and once on PostgreSQL (a private server for the whole run, see
tests/pg.py); each test gets a fresh database cloned from a migrated template (a file copy for SQLite).
``ctx``/``client`` build the real coordinator on that database with a :class:`ManualClock`, so tests move time instead of sleeping.
``world`` seeds a host and a guest venue, a session and the people around it; ``token_for`` mints tokens
bound the way each role's real token is.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))

from pg import PgServer, start_pg  # noqa: E402
from timebase import T0  # noqa: E402,F401  (09:00 Beijing on a Saturday; re-exported for the tests' imports)

from evalroom.api.app import create_app  # noqa: E402
from evalroom.api.context import AppContext, build_context  # noqa: E402
from evalroom.clock import ManualClock  # noqa: E402
from evalroom.config import Settings, load_settings  # noqa: E402
from evalroom.domain.identity import id_number_with_check  # noqa: E402
from evalroom.domain.roles import Principal, Role, SupervisorLevel  # noqa: E402
from evalroom.schemas import AccountCreate, RegionCreate, SessionCreate, SupervisorAssign, VenueCreate  # noqa: E402
from evalroom.services import accounts, experts, inventory, registry, sessions  # noqa: E402
from evalroom.storage import migrate  # noqa: E402
from evalroom.storage.db import make_engine  # noqa: E402
from evalroom.storage.models import Base  # noqa: E402
from sites.devices import DEVICES, DeviceState  # noqa: E402
from sites.protocol import Inventory, RoomReport, SeatReport  # noqa: E402

SPECIALTY = "B01"
WORLD_POOL = [{"name": f"库内专家{i}", "id_number": id_number_with_check(f"370102196006150{i:02d}"),
               "employer": f"某设计院{i}", "specialties": [f"{SPECIALTY}01"]} for i in range(4)]
"""The world region's expert pool (as imported): four active experts of SPECIALTY."""
ALL_OK = {d: DeviceState.OK for d in DEVICES}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with start_pg() as server:
        yield server


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """A database at the newest schema, cloned for each test (much faster than migrating each time)."""
    name = pg_server.create_database()
    engine = make_engine(pg_server.sqlalchemy_url(name))
    migrate.upgrade(engine)
    engine.dispose()
    return name


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""For tests whose subject is not storage (signature checks, media paths): the embedded default's database
only. Everything that stores or reads runs on both elsewhere."""


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database file at the newest schema, copied for each test: migrating takes a few tenths of a
    second, which a thousand tests would pay each. The template itself is migrated from empty, and
    tests/integration/test_storage.py checks the result against the models, and down and up again."""
    path = tmp_path_factory.mktemp("sqlite-template") / "evalroom.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "evalroom.db")
        yield f"sqlite:///{tmp_path / 'evalroom.db'}"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = server.create_database(template=request.getfixturevalue("pg_template"))
    yield server.sqlalchemy_url(name)
    server.drop_database(name)


def run_evalroom(*args: str, stdin: str = "", env: dict[str, str] | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The ``evalroom`` command in a subprocess, with no EVALROOM_* variable of the test run leaking in."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    return subprocess.run([sys.executable, "-m", "evalroom", *args], input=stdin, text=True, capture_output=True,
                          env={**base, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``evalroom demo --exit`` run once for the whole test run (it takes most of a minute): its output directory
    and the finished process. Tests read it; none may change it (copy it first)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, run_evalroom("demo", "--out", str(out), "--exit", "--port", "0", timeout=600)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> ManualClock:
    """The coordinator's clock, at T0; or moved by the ``timedelta`` a test passes as its indirect parameter, to
    show that the coordinator keeps to its own clock wherever the machine's is."""
    return ManualClock(T0 + getattr(request, "param", timedelta(0)))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return test_settings(tmp_path, db_url)


def test_settings(tmp_path: Path, db_url: str, **more: object) -> Settings:
    """The suite's settings, with ``more`` for a module's own fixture. The transparency log's batches are taken
    by the tests that are about it (append_pending), not by a background task writing between a test's
    "before" and "after"."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300, **more})


test_settings.__test__ = False  # a helper named test_*: not for pytest to collect


@pytest.fixture
def ctx(settings: Settings, clock: ManualClock) -> Iterator[AppContext]:
    context = build_context(settings, clock)
    yield context
    context.close()


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx.settings, context=ctx)) as c:
        yield c


def ok(resp: httpx.Response, status: int = 200) -> Any:
    """The body of a response that must have ``status``."""
    assert resp.status_code == status, resp.text
    return resp.json()


def refused(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error of a response that must be refused with ``status`` and ``code``, and say something."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]


def snapshot(ctx: AppContext) -> dict[str, Any]:
    """Every table's row count and the event chain head: equal before and after means nothing changed."""
    with ctx.store.read() as s:
        counts = {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    return {"counts": counts, "head": ctx.store.head()}


def unique_code(prefix: str = "C") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


@dataclass
class World:
    """A host venue (济南) and a guest venue (西安), a waiting session hosted at 济南, and staff. Every venue
    has one room "R1" with four working seats A-01..A-04 (single-project at the guest, shared elsewhere), and
    the region's expert pool holds four active experts of :data:`SPECIALTY` (B0101, below B01)."""

    region_id: str
    host_venue_id: str
    guest_venue_id: str
    other_venue_id: str
    session_id: str
    other_session_id: str
    admin_id: str
    primary_supervisor_id: str
    secondary_supervisor_id: str


@pytest.fixture
def world(ctx: AppContext) -> World:
    with ctx.store.write() as tx:
        region = registry.create_region(tx, "system:test", RegionCreate(code=unique_code("R"), name="山东省"))
        # The region's pool: what makes its venues able to lend experts of SPECIALTY (seat search, guest draws).
        experts.import_experts(tx, ctx.sealer, ctx.committee.tree, "system:test", region.id,
                               json.dumps(WORLD_POOL, ensure_ascii=False).encode(), "json")

        def venue(city: str) -> str:
            return registry.create_venue(tx, "system:test", VenueCreate(
                code=unique_code("V"), name=f"{city}公共资源交易中心", city=city, region_id=region.id)).id

        host, guest, other = venue("济南"), venue("西安"), venue("青岛")

        def account(role: Role, venue_id: str | None = None) -> str:
            return accounts.create_account(tx, "system:test", AccountCreate(
                username=f"u{uuid.uuid4().hex[:10]}", display_name="测试", role=role, venue_id=venue_id,
                password=PASSWORD)).id

        admin = account(Role.COORDINATOR_ADMIN)
        primary, secondary = account(Role.SUPERVISOR), account(Role.SUPERVISOR)
        host_op = Principal(role=Role.HALL_OPERATOR, subject="host-op", venue_id=host)
        other_op = Principal(role=Role.HALL_OPERATOR, subject="other-op", venue_id=other)
        start = ctx.clock.now() + timedelta(days=1)
        session = sessions.create_session(tx, host_op, SessionCreate(
            code=unique_code("S"), title="某道路工程施工招标", scheduled_start=start,
            scheduled_end=start + timedelta(hours=8)))
        other_session = sessions.create_session(tx, other_op, SessionCreate(
            code=unique_code("S"), title="另一个项目", scheduled_start=start, scheduled_end=start + timedelta(hours=8)))
        for venue_id, kind in ((host, "shared"), (guest, "single"), (other, "shared")):
            inventory.report_inventory(tx, ctx.settings, "system:test", venue_id, Inventory(rooms=[RoomReport(
                code="R1", name="评标室1", kind=kind,
                seats=[SeatReport(code=f"A-{i:02d}", devices=ALL_OK) for i in range(1, 5)])]))
        sessions.assign_supervisor(tx, "system:test", session.id, SupervisorAssign(account_id=primary, level=SupervisorLevel.PRIMARY))
        sessions.assign_supervisor(tx, "system:test", session.id, SupervisorAssign(account_id=secondary, level=SupervisorLevel.SECONDARY))
    return World(region_id=region.id, host_venue_id=host, guest_venue_id=guest, other_venue_id=other,
                 session_id=session.id, other_session_id=other_session.id, admin_id=admin,
                 primary_supervisor_id=primary, secondary_supervisor_id=secondary)


TokenFor = Callable[..., dict[str, str]]


@pytest.fixture
def token_for(ctx: AppContext, world: World) -> TokenFor:
    """``token_for(role)``: Authorization headers for a principal of ``role`` bound inside ``world``'s session
    (operator and site agent at the host venue, expert in the session, primary supervisor); keyword arguments
    override the bindings. ``token_for(Role.PUBLIC)`` gives no header."""

    def make(role: Role, **bindings: object) -> dict[str, str]:
        if role is Role.PUBLIC:
            return {}
        defaults: dict[str, object] = {
            Role.COORDINATOR_ADMIN: {},
            Role.HALL_OPERATOR: {"venue_id": world.host_venue_id},
            Role.SITE_AGENT: {"venue_id": world.host_venue_id},
            Role.EXPERT: {"session_id": world.session_id, "seat": "A-01"},
            Role.SUPERVISOR: {"supervised": {world.session_id: SupervisorLevel.PRIMARY}},
        }[role]
        principal = Principal(role=role, subject=f"{role.value}-{uuid.uuid4().hex[:6]}", **{**defaults, **bindings})
        return {"Authorization": f"Bearer {ctx.tokens.issue(principal).token}"}

    return make
