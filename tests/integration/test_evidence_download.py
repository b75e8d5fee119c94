"""An ended session's evidence bundle downloaded through the API (GET /sessions/{id}/evidence): the same bundle as
``evalroom export``, checked offline, recorded as taken, refused before the session ends and outside the
caller's scope, and no file left behind on the coordinator."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from after_world import seed_ended
from conftest import TokenFor, World, refused
from fastapi.testclient import TestClient

from evalroom.api.context import AppContext
from evalroom.domain.roles import Role
from evalroom.evidence.verify import verify_bundle
from evalroom.storage.store import read_events


def test_the_host_and_the_supervisor_download_a_bundle_that_verifies(client: TestClient, ctx: AppContext,
                                                                     world: World, token_for: TokenFor,
                                                                     tmp_path: Path) -> None:
    url = f"/api/v1/sessions/{world.session_id}/evidence"
    refused(client.get(url, headers=token_for(Role.HALL_OPERATOR)), 409, "conflict")  # still waiting
    seed_ended(ctx, world.host_venue_id, world.session_id)
    refused(client.get(url, headers=token_for(Role.HALL_OPERATOR, venue_id=world.other_venue_id)), 404, "not_found")

    answer = client.get(url, headers=token_for(Role.HALL_OPERATOR))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip" and answer.headers["x-evidence-incomplete"] == "0"
    assert "evidence-" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        session = json.loads(bundle.read("session.json"))
        assert session["id"] == world.session_id and session["state"] == "ended"
    path = tmp_path / "bundle.zip"
    path.write_bytes(answer.content)
    log_key = client.get("/api/v1/log/key").text.strip()
    report = verify_bundle(path, log_key=log_key)
    # after_world writes the sealed report straight into storage, without the report.produced event a real
    # session logs, and the verifier says exactly that; everything else (index, log proofs, events, trust)
    # holds. A bundle of a session run for real verifies whole (test_evidence_bundle.py, the demo's).
    assert report.problems and all(p.startswith("report/report-v1.") for p in report.problems), report.problems
    assert any("index" in line or "checkpoint" in line for line in report.lines), report.lines

    assert client.get(url, headers=token_for(Role.SUPERVISOR)).status_code == 200
    with ctx.store.read() as s:
        taken = [e for e in read_events(s, session_id=world.session_id, limit=10_000)
                 if e.kind == "session.evidence_exported"]
    assert [e.actor.split(":")[0] for e in taken] == ["hall-operator", "supervisor"]
    assert list((ctx.settings.data_dir / "exports").iterdir()) == []  # each download's file is removed after it
