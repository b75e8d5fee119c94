"""Supervision through the API: marks (annotations, warnings every venue sees, flagged experts), complaints with
deadlines from the injected clock and the operator's calendar, what supervisors may not do, and the replay
timeline over real recordings (an in-process relay, the recorders' events as the coordinator records them)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from committee_world import build, members
from conftest import SQLITE_ONLY, ok, refused, snapshot
from fastapi.testclient import TestClient
from media_world import ffprobe_duration, publish, until
from session_world import elect, move, ready, sheet, to_detailed_review
from timebase import day, iso

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role, SupervisorLevel
from evalroom.services import tlog
from evalroom.services.media import record_media_lines
from evalroom.storage.store import read_venue_events
from media.relay import Relay

pytestmark = [pytest.mark.timeout(300), pytest.mark.dates]

# A made-up calendar for the test (not a real notice): the Monday and Tuesday after the session's Sunday (day 1)
# are rest days, the Saturday after them a make-up working day.
CALENDAR = f'holidays = ["{iso(2)}", "{iso(3)}"]\nworkdays = ["{iso(7)}"]\n'


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    (tmp_path / "calendar.toml").write_text(CALENDAR, encoding="utf-8")
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "work_calendar_file": str(tmp_path / "calendar.toml")})


def secondary(w: Any) -> dict[str, str]:
    return w.headers(Principal(role=Role.SUPERVISOR, subject="sn-supervisor",
                               supervised={w.session_id: SupervisorLevel.SECONDARY}))


def events_of(w: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    return ok(w.client.get(w.url("/events"), headers=headers, params={"limit": 1000}))["events"]


@SQLITE_ONLY
def test_marks_warnings_reach_every_venue_and_notes_stay_with_the_overseers(ctx: AppContext,
                                                                           client: TestClient) -> None:
    w = build(ctx, client)
    experts = ready(w)
    member, expert = next(iter(experts.items()))
    note = ok(client.post(w.url("/annotations"), headers=w.supervisor(), json={
        "text": "第3分钟主场摄像头画面短暂遮挡", "moment": (ctx.clock.now() - timedelta(minutes=1)).isoformat()}), 201)
    assert note["kind"] == "annotation" and note["level"] == "primary"
    warning = ok(client.post(w.url("/warnings"), headers=secondary(w), json={"text": "请关闭手机，独立评审。"}), 201)
    assert warning["level"] == "secondary"
    flag = ok(client.post(w.url("/expert-flags"), headers=w.supervisor(),
                          json={"member_id": member, "text": "评审期间多次离开座位"}), 201)
    assert flag["member_id"] == member

    # The warning is routed to both venues' site agents; the notes are not.
    with ctx.store.read() as s:
        for venue in (w.host_venue_id, w.guest_venue_id):
            kinds = [e.kind for e in read_venue_events(s, venue)]
            assert "supervision.warning" in kinds and "supervision.annotated" not in kinds
    # An expert reads the warning in full, and sees only that the notes exist.
    seen = {e["kind"]: e for e in events_of(w, expert)}
    assert seen["supervision.warning"]["payload"]["text"] == "请关闭手机，独立评审。"
    for kind in ("supervision.annotated", "supervision.expert_flagged"):
        assert seen[kind]["redacted"] and seen[kind]["payload"] == {}
    assert {e["kind"]: e for e in events_of(w, w.admin())}["supervision.expert_flagged"]["payload"]["text"]
    marks = ok(client.get(w.url("/marks"), headers=w.admin()))
    assert [m["kind"] for m in marks] == ["annotation", "warning", "expert_flag"]
    # The expert's record shows the flag and their place on this committee, for the admin who keeps the pool.
    flagged = next(m for m in members(w) if m["member_id"] == member)
    record = ok(client.get(f"/api/v1/experts/{flagged['expert_id']}", headers=w.admin()))
    assert [(f["level"], f["text"]) for f in record["flags"]] == [("primary", "评审期间多次离开座位")]
    assert [(x["session_id"], x["member_state"]) for x in record["sessions"]] == [(w.session_id, "seated")]
    others = ok(client.get(f"/api/v1/experts/{next(m['expert_id'] for m in members(w) if m['member_id'] != member)}",
                           headers=w.admin()))
    assert others["flags"] == []
    refused(client.get(w.url("/marks"), headers=w.host_op()), 403, "forbidden")


@SQLITE_ONLY
def test_bad_marks_change_nothing(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client)
    before = snapshot(ctx)
    # Not started yet: no warning to the venues.
    refused(client.post(w.url("/warnings"), headers=w.supervisor(), json={"text": "x"}), 409, "conflict")
    refused(client.post(w.url("/annotations"), headers=w.supervisor(), json={
        "text": "x", "moment": (ctx.clock.now() + timedelta(hours=1)).isoformat()}), 422, "invalid_input")
    refused(client.post(w.url("/annotations"), headers=w.supervisor(), json={"text": ""}), 422, "validation_failed")
    refused(client.post(w.url("/expert-flags"), headers=w.supervisor(),
                        json={"member_id": "00000000-0000-0000-0000-000000000000", "text": "x"}), 404, "not_found")
    # A supervisor of another session is told the session does not exist.
    other = w.headers(Principal(role=Role.SUPERVISOR, subject="x", supervised={"elsewhere": SupervisorLevel.PRIMARY}))
    refused(client.post(w.url("/annotations"), headers=other, json={"text": "x"}), 404, "not_found")
    assert snapshot(ctx) == before


@SQLITE_ONLY
def test_supervisors_change_neither_a_score_nor_a_phase(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client)
    experts, _chair = to_detailed_review(w)
    before = snapshot(ctx)
    for sup in (w.supervisor(), secondary(w)):
        refused(client.post(w.url("/scores"), headers=sup, json=sheet("15", "7")), 403, "forbidden")
        refused(client.post(w.url("/phase"), headers=sup, json={"leave": "detailed_review"}), 403, "forbidden")
        refused(client.post(w.url("/state"), headers=sup, json={"action": "suspend", "reason": "x"}), 403,
                "forbidden")
    assert snapshot(ctx) == before


def test_a_complaint_is_filed_ruled_and_decided_to_the_deadlines(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client)
    ready(w)
    assert ctx.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date() == day(1)
    filed = ok(client.post(w.url("/complaints"), headers=secondary(w), json={
        "complainant": "投标人乙公司", "subject": "认为评分明显偏低", "known_on": iso(1)}), 201)
    # Filed on Sunday day 1 (Beijing): the acceptance ruling is due on the 3rd working day after it, with Monday
    # and Tuesday rest days in the calendar: Wednesday, Thursday, Friday (day 6). Filing: 10 days from knowing.
    assert filed["deadlines"] == {"filing": iso(11), "acceptance": iso(6), "decision": None}
    assert (filed["state"], filed["late"], filed["overdue"]) == ("filed", False, None)
    cid = filed["id"]

    # Only the primary supervisor rules and decides.
    before = snapshot(ctx)
    refused(client.post(w.url(f"/complaints/{cid}/ruling"), headers=secondary(w),
                        json={"accept": True, "reason": "x"}), 403, "forbidden")
    refused(client.post(w.url(f"/complaints/{cid}/decision"), headers=secondary(w),
                        json={"outcome": "dismissed", "text": "x"}), 403, "forbidden")
    refused(client.post(w.url(f"/complaints/{cid}/ruling"), headers=w.host_op(),
                        json={"accept": True, "reason": "x"}), 403, "forbidden")
    refused(client.post(w.url(f"/complaints/{cid}/decision"), headers=w.supervisor(),
                        json={"outcome": "dismissed", "text": "x"}), 409, "conflict")  # not accepted yet
    assert snapshot(ctx) == before

    # Past that Friday (Beijing) the acceptance is overdue; the primary may still rule.
    ctx.clock.advance(timedelta(days=6))
    listed = ok(client.get(w.url("/complaints"), headers=w.admin()))
    assert [c["overdue"] for c in listed] == ["acceptance"]
    accepted = ok(client.post(w.url(f"/complaints/{cid}/ruling"), headers=w.supervisor(),
                              json={"accept": True, "reason": "符合受理条件"}))
    # Accepted on the make-up Saturday (day 7); 30 working days on, counted by hand (that Saturday itself not
    # counted; no rest days later in this calendar): Monday day 9 is the 1st, six five-day weeks on, Friday day 48
    # the 30th.
    assert accepted["state"] == "accepted" and accepted["deadlines"]["decision"] == iso(48)
    assert accepted["overdue"] is None
    decided = ok(client.post(w.url(f"/complaints/{cid}/decision"), headers=w.supervisor(),
                             json={"outcome": "dismissed", "text": "经复核，评分符合评分细则。"}))
    assert (decided["state"], decided["outcome"], decided["decided_by"]) == ("decided", "dismissed", w.supervisor_id)
    refused(client.post(w.url(f"/complaints/{cid}/ruling"), headers=w.supervisor(),
                        json={"accept": False, "reason": "x"}), 409, "conflict")

    # Each step is an event, and a leaf of the log that holds the event's hash but not its content.
    steps = [e for e in events_of(w, w.admin()) if e["kind"].startswith("complaint.")]
    assert [e["kind"] for e in steps] == ["complaint.filed", "complaint.ruled", "complaint.decided"]
    tlog.append_pending(ctx.store, client.app.state.log_key)  # type: ignore[attr-defined]
    size = tlog.checkpoint(ctx.store).size
    leaves = {json.loads(base64.b64decode(x["data"]))["seq"]: json.loads(base64.b64decode(x["data"]))
              for x in tlog.leaves(ctx.store, 0, size)}
    for step in steps:
        assert leaves[step["seq"]]["event_hash"] == step["hash"] and "payload" not in leaves[step["seq"]]
    # An expert sees that complaints exist, not what they say.
    expert_view = [e for e in events_of(w, next(iter(experts_of(w).values()))) if e["kind"].startswith("complaint.")]
    assert all(e["redacted"] and e["payload"] == {} for e in expert_view)


def experts_of(w: Any) -> dict[str, dict[str, str]]:
    from committee_world import members

    return {m["member_id"]: w.headers(Principal(role=Role.EXPERT, subject=m["member_id"], session_id=w.session_id,
                                                seat="x")) for m in members(w, "seated")}


@SQLITE_ONLY
def test_a_late_complaint_is_kept_and_can_only_be_refused(ctx: AppContext, client: TestClient) -> None:
    w = build(ctx, client)
    late = ok(client.post(w.url("/complaints"), headers=w.supervisor(), json={
        "complainant": "投标人丙公司", "subject": "x", "known_on": iso(-11)}), 201)
    assert late["late"] and late["deadlines"]["filing"] == iso(-1)
    before = snapshot(ctx)
    refused(client.post(w.url(f"/complaints/{late['id']}/ruling"), headers=w.supervisor(),
                        json={"accept": True, "reason": "x"}), 409, "complaint_late")
    refused(client.post(w.url("/complaints"), headers=w.supervisor(), json={
        "complainant": "x", "subject": "x", "known_on": iso(39)}), 422, "invalid_input")  # knew in the future
    refused(client.post(w.url("/complaints"), headers=w.supervisor(), json={
        "complainant": "x", "subject": "x", "known_on": "21/11/2026"}), 422, "validation_failed")
    assert snapshot(ctx) == before
    refusal = ok(client.post(w.url(f"/complaints/{late['id']}/ruling"), headers=w.supervisor(),
                             json={"accept": False, "reason": "超过法定投诉期限"}))
    assert refusal["state"] == "refused"


@SQLITE_ONLY
def test_replay_puts_both_venues_on_one_clock_and_streams_the_segments(ctx: AppContext, client: TestClient,
                                                                      tmp_path: Path) -> None:
    w = build(ctx, client)
    experts = ready(w)
    elect(w, experts)
    move(w, "chair_election")
    ok(client.post(w.url("/warnings"), headers=w.supervisor(), json={"text": "请保持安静"}), 201)
    sid = w.session_id

    async def record() -> None:
        relay = Relay(ctx.settings.effective_recordings_dir, segment_seconds=1.0,
                      on_record=lambda r: record_media_lines(ctx.store, [r]))
        host = await publish(relay, sid, "JN-GGZY/R1")
        guest = await publish(relay, sid, "XA-GGZY/R1")
        await until(lambda: len(relay.feeds(sid)) == 4, what="both venues' tracks at the relay")
        await asyncio.sleep(3.5)
        await relay.close_room(sid)
        await host.close()
        await guest.close()

    asyncio.run(record())
    timeline = ok(client.get(w.url("/replay"), headers=secondary(w)))
    tracks = {(t["venue"], t["kind"]): t for t in timeline["tracks"]}
    assert set(tracks) == {("JN-GGZY", "video"), ("JN-GGZY", "audio"), ("XA-GGZY", "video"), ("XA-GGZY", "audio")}
    assert all(t["sealed"] and len(t["segments"]) >= 2 for t in tracks.values())
    # One clock: the venues, recorded at the same time, start within a second of each other on the timeline,
    # and within a track the segments follow one another.
    starts = [t["segments"][0]["offset"] for t in tracks.values()]
    assert min(starts) >= 0 and max(starts) - min(starts) < 1.0, starts
    for t in tracks.values():
        ends = [s["offset"] + s["duration"] for s in t["segments"]]
        assert all(b["offset"] >= a_end - 0.05 for a_end, b in zip(ends, t["segments"][1:], strict=False))
    assert timeline["duration"] >= max(ends)
    kinds = [m["kind"] for m in timeline["markers"]]
    assert {"session.state_changed", "chair.elected", "session.phase_changed", "supervision.warning"} <= set(kinds)
    assert [m["offset"] for m in timeline["markers"]] == sorted(m["offset"] for m in timeline["markers"])

    # A segment as the player fetches it: whole, with the logged hash, and in part (a seek inside it). The
    # longest: how long each lasts depends on when frames came, which a loaded machine delays (and there the
    # logged duration, from the wall clock, can exceed what the file plays).
    segment = max(tracks[("XA-GGZY", "video")]["segments"], key=lambda s: s["duration"])
    whole = client.get(segment["url"], headers=w.admin())
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/webm"
    assert hashlib.sha256(whole.content).hexdigest() == whole.headers["X-Content-SHA256"] == segment["sha256"]
    (tmp_path / "seg.webm").write_bytes(whole.content)
    assert ffprobe_duration(tmp_path / "seg.webm") > 0.5
    part = client.get(segment["url"], headers={**w.admin(), "Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == whole.content[100:1100]
    # Only logged segments, and only to overseers.
    bad = segment["url"].rsplit("/", 1)[0]
    refused(client.get(f"{bad}/seg-999999.webm", headers=w.admin()), 404, "not_found")
    refused(client.get(f"{bad}/..%2F..%2Fevalroom.db", headers=w.admin()), 404, "not_found")
    refused(client.get(segment["url"], headers=next(iter(experts.values()))), 403, "forbidden")
    refused(client.get(w.url("/replay"), headers=w.host_op()), 403, "forbidden")
