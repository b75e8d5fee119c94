"""Property-based testing of the whole HTTP API, as every role, against a coordinator holding a real world.

Schemathesis reads the coordinator's own OpenAPI document and generates requests for every operation: valid
ones (within the schema) and invalid ones (just outside it: wrong types, out-of-range numbers, impossible dates,
missing fields). Each is sent as each role, with its real token, to a coordinator that holds the world the
demo leaves behind (venues, rooms, a committee, sheets with flags, a signed and sealed report, recordings, a
publication, a fee batch, ratings): a copy of ``evalroom demo``'s data directory, so half the path parameters
are ids that exist (a session, its members, flags, signatures, recordings) and the handlers behind them run.

The property: no response is a server error, and every error answers in the documented shape
``{"error": {"code", "message", "details"?}}`` with a code from docs/api.md (evalroom.errors.ErrorCode).
Routes that end the caller's token (logout, an expert's refresh) get a token of their own for every request,
so that the rest stays authenticated.

The examples are derandomised (the same requests every run, so CI is repeatable); ``EVALROOM_FUZZ_EXAMPLES``
raises their number per operation, role and mode, and ``EVALROOM_FUZZ_RANDOM=1`` explores afresh.
``test_the_check_finds_a_route_that_fails`` shows that the harness reports a route that raises.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from evalroom.api.app import create_app
from evalroom.api.context import AppContext, build_context
from evalroom.clock import ManualClock
from evalroom.config import load_settings
from evalroom.domain.roles import Principal, Role
from evalroom.errors import ErrorCode
from evalroom.schemas import AccountCreate
from evalroom.services import accounts
from evalroom.storage import models as m

pytestmark = pytest.mark.timeout(900)

EXAMPLES = int(os.environ.get("EVALROOM_FUZZ_EXAMPLES", "2"))
"""Requests per operation, caller and generation mode (valid, invalid): 124 operations × 7 callers × 2 × 2, about a
minute; CI's budget. Raise it to explore further."""
RANDOM = os.environ.get("EVALROOM_FUZZ_RANDOM") == "1"
TOKEN_ENDERS = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/refresh")}
"""Operations that revoke the token they are called with: each request gets a fresh one."""
CODES = frozenset(c.value for c in ErrorCode)


@dataclass(frozen=True)
class Failure:
    caller: str
    method: str
    path: str
    status: int
    problem: str
    request: str

    def __str__(self) -> str:
        return f"{self.caller} {self.method} {self.path} → {self.status}: {self.problem}\n    {self.request}"


def problem_with(response: httpx.Response) -> str | None:
    """What is wrong with a response, or None: a server error, or an error not in the documented shape."""
    if response.status_code >= 500:
        return f"server error: {response.text[:300]}"
    if response.status_code < 400:
        return None
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"an error that is not JSON ({response.headers.get('content-type')})"
    try:
        body = response.json()
    except ValueError:
        return "an error body that does not parse"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(error, dict):
        return f"not {{'error': {{...}}}}: {str(body)[:200]}"
    if not set(error) <= {"code", "message", "request_id", "details"} or not isinstance(error.get("message"), str):
        return f"an error with fields {sorted(error)}"
    if error.get("code") not in CODES:
        return f"an undocumented code {error.get('code')!r}"
    if "details" in error and not isinstance(error["details"], list):
        return "details that are not a list"
    return None


Caller = Callable[[], dict[str, str]]
"""A caller's Authorization header (made afresh for each request where the operation ends the token)."""


def fuzz(client: TestClient, app: FastAPI, callers: dict[str, Caller], real: dict[str, list[str]], *,
         examples: int = EXAMPLES, only: Iterable[tuple[str, str]] | None = None
         ) -> tuple[list[Failure], Counter[tuple[str, str, str]]]:
    """Every operation of ``app``'s OpenAPI document (or ``only`` those), as every caller: the failures found and
    the requests sent by (caller, method, path). A path parameter takes a real id from ``real`` (by its name)
    half the time."""
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    wanted = set(only) if only is not None else None
    failures: list[Failure] = []
    sent: Counter[tuple[str, str, str]] = Counter()
    for operation in operations:
        method, path = operation.method.upper(), operation.path
        if wanted is not None and (method, path) not in wanted:
            continue
        for caller, header in callers.items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM,
                          suppress_health_check=list(HealthCheck), phases=[Phase.generate])
                @given(data=st.data())
                def one(data: st.DataObject) -> None:
                    case = data.draw(operation.as_strategy(mode))
                    for name in list(case.path_parameters or {}):
                        if name in real and real[name] and data.draw(st.booleans()):
                            case.path_parameters[name] = data.draw(st.sampled_from(real[name]))
                    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=header())
                    request = {k: v for k, v in kwargs.items() if k in ("method", "url", "params", "headers")}
                    if "json" in kwargs:
                        request["json"] = kwargs["json"]
                    elif kwargs.get("data") is not None:
                        request["content"] = kwargs["data"]
                    response = client.request(**request)
                    sent[caller, method, path] += 1
                    problem = problem_with(response)
                    if problem is not None:
                        shown = {k: v for k, v in request.items() if k != "headers"}
                        failures.append(Failure(caller, method, path, response.status_code, problem,
                                                json.dumps(shown, ensure_ascii=False, default=str)[:400]))

                try:
                    one()
                except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
                    assert mode is GenerationMode.NEGATIVE, (method, path)
    return failures, sent


# --- the world --------------------------------------------------------------------------------------------
@dataclass
class FuzzWorld:
    ctx: AppContext
    client: TestClient
    callers: dict[str, Caller]
    real: dict[str, list[str]]


def _real_ids(ctx: AppContext, data_dir: Path) -> dict[str, list[str]]:
    """Ids that exist, by the path parameter's name."""
    tables = {"region_id": m.Region, "expert_id": m.Expert, "venue_id": m.Venue, "credential_id": m.VenueCredential,
              "room_id": m.Room, "seat_id": m.Seat, "session_id": m.EvalSession, "offer_id": m.Offer,
              "member_id": m.CommitteeMember, "flag_id": m.Flag, "signature_id": m.SignatureRecord,
              "complaint_id": m.Complaint, "publication_id": m.Publication, "objection_id": m.Objection,
              "batch_id": m.FeeBatch, "draw_id": m.Draw}
    with ctx.store.read() as s:
        real = {name: sorted(s.scalars(select(model.id)).all())[:20] for name, model in tables.items()}
    tracks = [p for p in (data_dir / "recordings").glob("*/*/*") if p.is_dir()]
    real["publisher"] = sorted({p.parent.name for p in tracks})
    real["track"] = sorted({p.name for p in tracks})
    real["file"] = sorted({f.name for p in tracks for f in p.iterdir()})[:10]
    real["phase"] = ["review", "detailed_review"]
    assert all(real[k] for k in ("session_id", "member_id", "draw_id", "flag_id", "signature_id", "publication_id",
                                 "batch_id", "publisher")), {k: len(v) for k, v in real.items()}
    return real


@pytest.fixture(scope="module")
def world(demo_run: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    out, result = demo_run
    assert result.returncode == 0, result.stderr[-3000:]
    data = tmp_path_factory.mktemp("fuzz") / "world"
    shutil.copytree(out, data, ignore=shutil.ignore_patterns("agents", "evidence", "exports", "media"))
    settings_ = load_settings(environ={}, overrides={
        "data_dir": data, "environment": "development", "check_in_lead_minutes": 2 * 24 * 60,
        "fee_tables_file": data / "fee-tables.toml", "log_batch_seconds": 300})
    ctx = build_context(settings_, ManualClock(datetime.now(UTC)))
    passwords = json.loads((data / "credentials.json").read_text(encoding="utf-8"))
    with TestClient(create_app(settings_, context=ctx), raise_server_exceptions=False) as client:

        def login(username: str) -> dict[str, str]:
            resp = client.post("/api/v1/auth/login", json={"username": username, "password": passwords[username]})
            assert resp.status_code == 200, resp.text
            return {"Authorization": f"Bearer {resp.json()['access_token']}"}

        with ctx.store.read() as s:
            session = s.scalars(select(m.EvalSession)).one()
            member = s.scalars(select(m.CommitteeMember).where(
                m.CommitteeMember.session_id == session.id, m.CommitteeMember.kind == "expert",
                m.CommitteeMember.state == "seated")).first()
        assert member is not None
        expert = Principal(role=Role.EXPERT, subject=member.id, session_id=session.id, seat="R1/S1")
        staff = {"admin": "admin", "host-operator": "jn-operator", "guest-operator": "xa-operator",
                 "primary-supervisor": "sd-supervisor", "secondary-supervisor": "sn-supervisor"}
        headers = {caller: login(username) for caller, username in staff.items()}
        headers["expert"] = {"Authorization": f"Bearer {ctx.tokens.issue(expert).token}"}
        callers: dict[str, Caller] = {caller: (lambda h=h: h) for caller, h in headers.items()}
        callers["public"] = dict
        real = _real_ids(ctx, data)
        # Account changes (disable, a new password) get an account of their own: disabling a caller's own account
        # would turn the rest of its requests into token_revoked.
        with ctx.store.write() as tx:
            real["account_id"] = [accounts.create_account(tx, "system:test", AccountCreate(
                username="fuzz-spare", display_name="x", role=Role.SUPERVISOR, password="a spare account's pass")).id]
        yield FuzzWorld(ctx, client, callers, real)
    ctx.close()


def _fresh(world: FuzzWorld, caller: str) -> Caller:
    """A caller whose every request carries a new token of the same principal (for the token-ending routes)."""
    if caller == "public":
        return dict
    token = world.callers[caller]()["Authorization"].removeprefix("Bearer ")
    principal = world.ctx.tokens.verify(token).principal
    return lambda: {"Authorization": f"Bearer {world.ctx.tokens.issue(principal).token}"}


# --- the tests --------------------------------------------------------------------------------------------
def test_no_request_of_any_role_gets_a_server_error_or_an_undocumented_error(world: FuzzWorld) -> None:
    ops = {(r.method.upper(), r.path) for r in (
        x.ok() for x in schemathesis.openapi.from_dict(world.client.app.openapi()).get_all_operations())}  # type: ignore[attr-defined]
    assert TOKEN_ENDERS <= ops
    failures, sent = fuzz(world.client, world.client.app, world.callers, world.real,  # type: ignore[arg-type]
                          only=ops - TOKEN_ENDERS)
    fresh = {caller: _fresh(world, caller) for caller in world.callers}
    more, sent_more = fuzz(world.client, world.client.app, fresh, world.real, only=TOKEN_ENDERS)  # type: ignore[arg-type]
    tried = set(sent + sent_more)
    assert tried == {(caller, *op) for caller in world.callers for op in ops}  # every operation as every caller
    assert [str(f) for f in failures + more] == []


def _integers(node: Any, where: str) -> Iterable[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if node.get("type") == "integer":
            yield where, node
        for key, value in node.items():
            yield from _integers(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _integers(value, f"{where}[{i}]")


def test_every_integer_the_api_takes_is_bounded_in_the_openapi_document(world: FuzzWorld) -> None:
    """Every integer of every query, path and body carries a minimum and a maximum: a number past the maximum
    is a 422 that names it, never a database overflow. (Responses may hold any integer.)"""
    spec = world.client.app.openapi()  # type: ignore[attr-defined]
    schemas = spec["components"]["schemas"]
    taken = set()

    def refs(node: Any) -> Iterable[str]:
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"].rsplit("/", 1)[-1]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    inputs: list[tuple[str, Any]] = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            inputs += [(f"{method} {path} {p['in']} {p['name']}", p["schema"]) for p in op.get("parameters", [])]
            if "requestBody" in op:
                inputs.append((f"{method} {path} body", op["requestBody"]))
    pending = [name for _, node in inputs for name in refs(node)]
    while pending:  # request bodies and every schema they refer to
        name = pending.pop()
        if name not in taken:
            taken.add(name)
            inputs.append((f"schema {name}", schemas[name]))
            pending += refs(schemas[name])
    unbounded = [where for label, node in inputs for where, integer in _integers(node, label)
                 if "minimum" not in integer or "maximum" not in integer]
    assert len(inputs) > 100 and unbounded == []


def test_the_check_finds_a_route_that_fails(world: FuzzWorld) -> None:
    """The harness is able to fail: a route that raises on some of its valid input, and one that answers an
    error of its own shape, are both reported."""
    app = FastAPI()

    @app.get("/boom")
    def boom(n: int) -> dict[str, int]:
        if n > 3:
            raise RuntimeError("an unexpected exception")
        return {"n": n}

    @app.get("/odd")
    def odd() -> Any:
        from fastapi.responses import JSONResponse
        return JSONResponse({"detail": "not our shape"}, status_code=418)

    with TestClient(app, raise_server_exceptions=False) as client:
        failures, sent = fuzz(client, app, {"public": dict}, {}, examples=20)
    assert sent[("public", "GET", "/boom")] > 0
    found = {(f.path, f.problem.split(":")[0]) for f in failures}
    assert ("/boom", "server error") in found, failures
    assert any(path == "/odd" and problem.startswith("not {") for path, problem in found), failures
