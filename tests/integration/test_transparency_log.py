"""The transparency log in the coordinator (services/tlog.py, api/routes/log.py): public facts of a session
appended in batches under one signed checkpoint each; proofs served by the public API verify with the
stand-alone verifier (signing/tlog.py) and the checkpoints with the log's published key; a log rewritten after
a checkpoint cannot prove itself consistent with it; confidential payloads stay out."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from committee_world import CommitteeWorld, build, draw, events, open_check_in, seat_everyone
from conftest import ok, refused
from session_world import import_project, venues_online
from sqlalchemy import text

from evalroom.services import tlog
from evalroom.storage.models import LogLeaf, LogNode
from signing.note import NoteVerifier, open_note, parse_checkpoint
from signing.tlog import MemoryTree, ProofError, leaf_hash, root_hash, verify_consistency, verify_inclusion

API = "/api/v1/log"
# The witness test runs real servers and tokens minted here: the world's clock at the real time.
from test_session_servers import clock, settings  # noqa: E402, F401

pytestmark = pytest.mark.dates


@pytest.fixture
def w(ctx, client) -> CommitteeWorld:  # type: ignore[no-untyped-def]
    # The session starts an hour after the real time this module's clock starts at (a fixed date would be in
    # the past one day).
    return build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))


def drawn(w: CommitteeWorld) -> None:
    import_project(w)
    draw(w)


def started(w: CommitteeWorld) -> None:
    open_check_in(w)
    seat_everyone(w)
    venues_online(w)
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))


def rewrite_first_leaf(w: CommitteeWorld) -> None:
    """What a dishonest log would do: leaf 0 replaced and every node over it recomputed, checkpoints kept — its
    operator first turning off the database's own refusal (migration 0012), as a database owner can."""
    with w.ctx.store.write_quiet() as s:
        for table in ("log_leaves", "log_nodes"):
            s.execute(text(f"DROP TRIGGER {table}_no_update") if s.get_bind().dialect.name == "sqlite" else
                      text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        leaf = s.get(LogLeaf, 0)
        leaf.data = b'{"rewritten": true}'
        leaf.leaf_hash = leaf_hash(leaf.data)
        tree = MemoryTree()
        for row in s.query(LogLeaf).order_by(LogLeaf.index):
            tree.append(row.leaf_hash)
        for level, hashes in enumerate(tree.levels):
            for index, value in enumerate(hashes):
                s.get(LogNode, (level, index)).hash = value


def get(w: CommitteeWorld, tail: str, **params: Any) -> Any:
    return w.client.get(f"{API}{tail}", params=params)  # no token: the log is public


def b64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_public_facts_are_logged_in_batches_and_every_proof_verifies(w: CommitteeWorld) -> None:
    key = w.client.app.state.log_key  # type: ignore[attr-defined]
    drawn(w)
    first = tlog.append_pending(w.ctx.store, key)
    assert first > 0 and tlog.append_pending(w.ctx.store, key) == 0  # nothing new: no empty checkpoint
    started(w)
    second = tlog.append_pending(w.ctx.store, key)
    size = first + second
    verifier = NoteVerifier.from_vkey(get(w, "/key").text.strip())
    note = get(w, "/checkpoint").text
    cp = parse_checkpoint(open_note(note, verifier))
    assert cp.size == size and cp.origin == key.origin

    logged = events(w, w.admin())  # every event of the session is a leaf
    leaves = ok(get(w, "/leaves", start=0, end=size))
    assert [leaf["event_seq"] for leaf in leaves] == [e["seq"] for e in logged]
    docs = [json.loads(base64.b64decode(leaf["data"])) for leaf in leaves]
    by_kind = {d["kind"]: d for d in docs}
    assert by_kind["draw.committed"]["payload"]["commitment"]  # public: the commitment itself
    assert "payload" not in by_kind["draw.performed"]  # who was drawn: only the event's hash
    assert all(d["event_hash"] == e["hash"] for d, e in zip(docs, logged, strict=True))

    tree = MemoryTree()
    for leaf in leaves:
        assert base64.b64decode(leaf["leaf_hash"]) == leaf_hash(base64.b64decode(leaf["data"]))
        tree.append(base64.b64decode(leaf["leaf_hash"]))
    assert root_hash(tree, size) == cp.root
    for index in (0, first - 1, size - 1):
        p = ok(get(w, "/proofs/inclusion", index=index, size=size))
        verify_inclusion(index, size, base64.b64decode(p["leaf_hash"]), b64(p["proof"]), cp.root)
    old = parse_checkpoint(open_note(get(w, "/checkpoint", size=first).text, verifier))
    c = ok(get(w, "/proofs/consistency", **{"from": first, "to": size}))
    verify_consistency(first, size, b64(c["proof"]), old.root, cp.root)
    refused(get(w, "/proofs/inclusion", index=size, size=size), 422, "invalid_input")
    refused(get(w, "/proofs/consistency", **{"from": 1, "to": size + 1}), 422, "invalid_input")


def test_a_log_rewritten_after_a_checkpoint_is_caught(w: CommitteeWorld) -> None:
    """What a witness does before cosigning: prove the new tree consistent with the last checkpoint it saw.
    A log that changed a leaf it had already checkpointed (and rebuilt its nodes) cannot."""
    key = w.client.app.state.log_key  # type: ignore[attr-defined]
    drawn(w)
    first = tlog.append_pending(w.ctx.store, key)
    seen = parse_checkpoint(open_note(get(w, "/checkpoint").text, key.signer.verifier))
    rewrite_first_leaf(w)
    started(w)
    size = first + tlog.append_pending(w.ctx.store, key)
    newest = parse_checkpoint(open_note(get(w, "/checkpoint").text, key.signer.verifier))
    c = ok(get(w, "/proofs/consistency", **{"from": first, "to": size}))
    with pytest.raises(ProofError):
        verify_consistency(first, size, b64(c["proof"]), seen.root, newest.root)


def test_venue_agents_cosign_checkpoints_and_raise_the_alarm_on_a_rewritten_log(ctx, client, tmp_path,  # type: ignore[no-untyped-def]
                                                                                 db_url: str) -> None:
    """Real site agents as witnesses of a real coordinator's log: each cosigns the checkpoints it verified
    consistent with the last one it cosigned; after the log is rewritten under them, both refuse and alarm."""
    import subprocess
    import sys
    from datetime import timedelta

    import httpx
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from servers import Agent, Coordinator, evalroom_cli
    from servers import eventually as wait
    from test_session_servers import server_env

    from signing.note import NoteSigner, signers_of

    w = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    env = server_env(db_url, log_batch_seconds="0.3")
    server = Coordinator(tmp_path, env)
    api = httpx.Client(base_url=server.base, headers=w.admin(), timeout=10)
    agents: list[Agent] = []

    try:
        venues = [api.get(f"/api/v1/venues/{v}").json() for v in (w.host_venue_id, w.guest_venue_id)]
        agents = [Agent(tmp_path / "agents", v, api, env, server.base) for v in venues]
        witnesses = [NoteSigner(v["code"], load_pem_private_key((a.dir / "venue-key.pem").read_bytes(), None)
                                ).verifier for v, a in zip(venues, agents, strict=True)]
        drawn(w)  # public facts: the draw's commitment and seed
        wait(lambda: len(signers_of(httpx.get(f"{server.base}{API}/checkpoint").text, witnesses)) == 2,
             "both venues cosign the newest checkpoint")

        # evalroom verify-log: the whole log against the signed checkpoint, saved and checked again offline;
        # an inclusion proof from the API; a changed leaf in the saved copy is caught.
        saved = tmp_path / "log"
        online = evalroom_cli("verify-log", "--url", server.base, "--save", str(saved), env=env)
        assert "verdict: OK" in online.stdout, online.stdout
        size = int(httpx.get(f"{server.base}{API}/checkpoint").text.split("\n")[1])
        (tmp_path / "proof.json").write_text(httpx.get(f"{server.base}{API}/proofs/inclusion",
                                                       params={"index": 0, "size": size}).text)
        offline = evalroom_cli("verify-log", "--dir", str(saved), "--proof", str(tmp_path / "proof.json"), env=env)
        assert "inclusion: leaf 0 is in the checkpointed tree" in offline.stdout and "verdict: OK" in offline.stdout
        lines = (saved / "leaves.jsonl").read_text().splitlines()
        (saved / "leaves.jsonl").write_text("\n".join([json.dumps({"data": base64.b64encode(b"forged").decode()}),
                                                       *lines[1:]]) + "\n")
        changed = subprocess.run([sys.executable, "-m", "evalroom", "verify-log", "--dir", str(saved)], env=env,
                                 capture_output=True, text=True)
        assert changed.returncode == 1 and "do not hash to the checkpoint's root" in changed.stdout

        rewrite_first_leaf(w)  # the log rewritten under the witnesses
        started(w)  # more facts: a new checkpoint over the rewritten tree

        def alarms() -> set[str]:
            page = api.get("/api/v1/events", params={"limit": 1000}).json()["events"]
            return {e["payload"]["venue"] for e in page if e["kind"] == "log.witness_alarm"}

        assert wait(lambda: alarms() == {v["code"] for v in venues}, "both witnesses alarm")
        newest = httpx.get(f"{server.base}{API}/checkpoint").text
        assert signers_of(newest, witnesses) == []  # nobody cosigned the rewritten log
    finally:
        for agent in agents:
            if agent.proc.poll() is None:
                agent.stop()
        api.close()
        server.stop()


def test_nobody_but_the_log_writes_leaves(w: CommitteeWorld, token_for) -> None:  # type: ignore[no-untyped-def]
    """Every route on the log is a GET, and every role that tries to write there is refused with nothing
    changed; in the code, only the appender (services/tlog.py) makes the log's rows."""
    import ast
    from pathlib import Path

    from conftest import snapshot

    from evalroom.domain.roles import Role

    drawn(w)
    tlog.append_pending(w.ctx.store, w.client.app.state.log_key)  # type: ignore[attr-defined]
    from test_role_matrix import app_routes

    log_routes = {(m, p) for m, p in app_routes(w.client.app) if p.startswith(API)}
    assert len(log_routes) == 5 and {m for m, _ in log_routes} == {"GET"}
    before = snapshot(w.ctx)
    for role in Role:
        for _, path in log_routes:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                resp = w.client.request(method, path, headers=token_for(role), json={"data": "AA=="})
                assert resp.status_code == 405, (role, method, path, resp.status_code)
    assert snapshot(w.ctx) == before
    root = Path(__file__).resolve().parents[2]
    writers = set()
    for path in [*root.glob("evalroom/**/*.py"), *root.glob("sites/**/*.py"), *root.glob("signing/**/*.py"),
                 *root.glob("media/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("LogLeaf", "LogNode", "LogHead", "LogCheckpoint")):
                writers.add(path.relative_to(root).as_posix())
    assert writers == {"evalroom/services/tlog.py"}
