"""A coordinator killed (SIGKILL) mid-scoring restarts with every submitted sheet intact.

The session is brought to the detailed review in-process (the committee world, on the test's database and
key directory), then a real ``evalroom serve`` on the same database and keys takes the experts' sheets over
HTTP. Three of five are acknowledged, the process is killed, a new one starts: each acknowledged sheet is
there with the hash it was acknowledged with, its member may repeat the submission (idempotent), the last
two complete the phase and reveal all five, and the event chain is intact.

The test's clock starts at the real time, because the server checks the in-process tokens with its own.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from committee_world import CommitteeWorld, build
from servers import Coordinator, evalroom_cli
from session_world import sheet, to_detailed_review

from evalroom.clock import ManualClock
from evalroom.config import Settings, load_settings
from evalroom.storage.db import is_sqlite

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As conftest's, but at the real time of day the session's window may cross midnight in Beijing."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "booking_may_cross_midnight": True})


def test_sheets_survive_a_sigkill_of_the_coordinator_mid_scoring(ctx, client, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                 db_url: str) -> None:
    w: CommitteeWorld = build(ctx, client, start=ctx.clock.now() + timedelta(hours=1))
    experts, _chair = to_detailed_review(w)
    order = sorted(experts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    env |= {"EVALROOM_ENVIRONMENT": "development", "EVALROOM_SITE_OFFLINE_AFTER_SECONDS": "3600",
            "EVALROOM_BOOKING_MAY_CROSS_MIDNIGHT": "true"}
    if not is_sqlite(db_url):
        env["EVALROOM_DATABASE_URL"] = db_url
    sheets = {m: sheet(str(10 + i), "7") for i, m in enumerate(order)}
    url = f"/api/v1/sessions/{w.session_id}"

    first = Coordinator(tmp_path, env)
    try:
        acked = {}
        for m in order[:3]:
            resp = httpx.post(f"{first.base}{url}/scores", headers=experts[m], json=sheets[m], timeout=30)
            assert resp.status_code == 200, resp.text
            acked[m] = resp.json()["sha256"]
    finally:
        first.kill()

    second = Coordinator(tmp_path, env)
    try:
        with httpx.Client(base_url=second.base, timeout=30) as c:
            for m, digest in acked.items():
                own = c.get(f"{url}/sheets", headers=experts[m]).json()["sheets"]
                assert [(s["member_id"], s["sha256"]) for s in own] == [(m, digest)]
                assert own[0]["content"]["scores"] == {b: {k: f"{float(v):.2f}" for k, v in items.items()}
                                                       for b, items in sheets[m]["scores"].items()}
                again = c.post(f"{url}/scores", headers=experts[m], json=sheets[m]).json()
                assert again["sha256"] == digest and again["created"] is False
            for m in order[3:]:
                assert c.post(f"{url}/scores", headers=experts[m], json=sheets[m]).status_code == 200
            listed = c.get(f"{url}/sheets", headers=w.host_op()).json()
            assert listed["revealed"] is True
            by_member = {s["member_id"]: s["sha256"] for s in listed["sheets"]}
            assert set(by_member) == set(order) and all(by_member[m] == d for m, d in acked.items())
            assert c.get(f"{url}/status", headers=w.host_op()).json()["submitted"] == 5
    finally:
        second.stop()
    assert "intact" in evalroom_cli("db", "verify-events", "--data", str(tmp_path), env=env).stdout
