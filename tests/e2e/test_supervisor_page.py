"""The supervisor's page in Chromium: log in, choose a session, watch the live wall, replay both venues' real recordings in sync (play,
seek with the keyboard and by an event marker, every track's element on the right segment at the right offset
with frames decoded, 2× speed), annotate the replayed moment, warn every venue, and record a complaint the
primary supervisor rules on (and a late one the server refuses to accept, its message shown); axe-core clean.

The recorders anchor segments on the machine's wall clock while the coordinator stamps events with the test's
injected clock, so this module's clock starts at the wall clock and is moved up to it (:func:`to_wall_clock`)
before each step of the session: the events then sit where they happened in the recordings, as they do in a real
coordinator whose clock is the wall clock."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import asyncio
import re
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from committee_world import API, TITLE, CommitteeWorld, build, draw, members, open_check_in, seat_everyone
from conftest import PASSWORD, SQLITE_ONLY, ok
from media_world import publish, until
from playwright.sync_api import expect
from session_world import elect, import_project, move, venues_online
from timebase import soon_on_one_day
from web_world import accessibility_violations, browser, live, open_seat, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.clock import ManualClock, parse_time
from evalroom.services.media import record_media_lines
from evalroom.storage.models import Account
from media.relay import Relay

pytestmark = pytest.mark.timeout(300)

VENUES = ("JN-GGZY", "XA-GGZY")
NEAR = 0.1  # s: a paused player puts each element exactly at its offset; allow for a frame's rounding
SEAM = 0.25  # js/replay.js: a shorter hole between two segments of a track holds the earlier one
MEDIA = """() => [...document.querySelectorAll('#replay-tracks video, #replay-tracks audio')].map((e) => ({
    publisher: e.dataset.publisher, track: e.dataset.track, src: e.currentSrc, time: e.currentTime,
    ready: e.readyState, width: e.videoWidth || 0, rate: e.playbackRate, duration: e.duration}))"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC))


def to_wall_clock(clock: Any) -> None:
    behind = datetime.now(UTC) - clock.now()
    if behind > timedelta(0):
        clock.advance(behind)


def a_running_session(ctx: AppContext, client: Any) -> tuple[CommitteeWorld, dict[str, dict[str, str]]]:
    """The committee seated, both venues online, started on the wall clock: (world, experts)."""
    # Check-in opens at once (its lead is 2 hours); the window stays on one day in Beijing.
    start, end = soon_on_one_day(datetime.now(UTC), timedelta(minutes=30), timedelta(hours=8))
    w = build(ctx, client, start=start, end=end)
    import_project(w)
    draw(w)
    open_check_in(w)
    experts = seat_everyone(w)
    venues_online(w)
    to_wall_clock(ctx.clock)
    ok(client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))
    return w, experts


def a_recorded_session(ctx: AppContext, client: Any) -> tuple[CommitteeWorld, dict[str, Any]]:
    """Both venues recorded for a few seconds by an in-process relay (its recorders' events put in as the
    coordinator records them), with the chair elected, a supervisor's warning and an annotation made meanwhile:
    (world, the replay timeline)."""
    w, experts = a_running_session(ctx, client)
    sid = w.session_id

    def step(action: Any) -> None:
        to_wall_clock(ctx.clock)
        action()

    async def record() -> None:
        relay = Relay(ctx.settings.effective_recordings_dir, segment_seconds=1.0,
                      on_record=lambda r: record_media_lines(ctx.store, [r]))
        host = await publish(relay, sid, f"{VENUES[0]}/R1", size=(320, 180))
        guest = await publish(relay, sid, f"{VENUES[1]}/R1", size=(320, 180))
        await until(lambda: len(relay.feeds(sid)) == 4, what="both venues' tracks at the relay")
        await asyncio.to_thread(step, lambda: (elect(w, experts), move(w, "chair_election")))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(step, lambda: ok(client.post(w.url("/warnings"), headers=w.supervisor(),
                                                             json={"text": "请保持安静"}), 201))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(step, lambda: ok(client.post(w.url("/annotations"), headers=w.supervisor(),
                                                             json={"text": "JN-GGZY 专家离席"}), 201))
        await asyncio.sleep(1.5)
        await relay.close_room(sid)
        await host.close()
        await guest.close()

    # Playwright's sync API keeps an event loop on this thread: the relay runs on a thread of its own.
    failed: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(record(), failed))
    thread.start()
    thread.join(120)
    assert not thread.is_alive() and not failed, failed
    to_wall_clock(ctx.clock)
    return w, ok(client.get(w.url("/replay"), headers=w.supervisor()))


def _run(coroutine: Any, failed: list[BaseException]) -> None:
    try:
        asyncio.run(coroutine)
    except BaseException as err:  # noqa: BLE001 - handed to the test's thread
        failed.append(err)


def log_in(page: Any, live: str, w: CommitteeWorld, at: str = "/supervisor") -> None:
    """Log the session's primary supervisor in (on this page's own form, or on the staff login at ``/``, which
    sends them here) and choose the session."""
    with w.ctx.store.read() as s:
        username = s.get(Account, w.supervisor_id).username
    page.goto(f"{live}{at}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live}/supervisor")
    page.get_by_role("button", name=re.compile(TITLE)).click()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(page.locator("#state")).to_have_text("评审中")


def covering(track: dict[str, Any], t: float) -> dict[str, Any] | None:
    """The segment a track shows at ``t``: a segment spans its first to its last packet's arrival, so the next
    one starts about a frame after it ends; in that seam the earlier one's last frame holds."""
    started = [s for s in track["segments"] if s["offset"] <= t]
    return started[-1] if started and t < started[-1]["offset"] + started[-1]["duration"] + SEAM else None


def position(page: Any) -> float:
    return float(page.locator("#replay-position").get_attribute("data-offset"))


def shows(page: Any, timeline: dict[str, Any], t: float) -> list[dict[str, Any]]:
    """Wait until every track's element holds the segment that covers ``t``, with a frame decoded: the elements."""
    expected = {(tr["publisher"], tr["track"]): covering(tr, t) for tr in timeline["tracks"]}
    assert all(expected.values()), (t, [(tr["publisher"], tr["track"], [(s["offset"], s["duration"])
                                                                       for s in tr["segments"]], tr["gaps"])
                                        for tr in timeline["tracks"]])

    def arrived() -> bool:
        media = page.evaluate(MEDIA)
        return len(media) == len(expected) and all(
            m["src"].endswith("#" + expected[(m["publisher"], m["track"])]["url"].rsplit("/", 1)[1])
            and m["ready"] >= 2 for m in media)

    for _ in range(100):
        if arrived():
            break
        page.wait_for_timeout(100)
    media = page.evaluate(MEDIA)
    for m in media:
        seg = expected[(m["publisher"], m["track"])]
        assert m["src"].startswith("blob:") and m["src"].endswith("#" + seg["url"].rsplit("/", 1)[1]), (m, seg)
        assert m["ready"] >= 2, m  # the current frame is decoded
        assert abs(m["time"] - min(t - seg["offset"], m["duration"])) < NEAR, (m, seg, t)
        if m["track"].startswith("video"):
            assert m["width"] == 320, m
    return media


@SQLITE_ONLY
def test_a_supervisor_replays_both_venues_in_sync_seeks_and_marks(ctx: AppContext, client: Any, live: str,
                                                                   page: Any) -> None:
    w, timeline = a_recorded_session(ctx, client)
    tracks = {(t["venue"], t["kind"]) for t in timeline["tracks"]}
    assert tracks == {(v, k) for v in VENUES for k in ("video", "audio")}
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))  # uncaught errors of the page's scripts
    log_in(page, live, w)

    # Every track of both venues, grouped by venue; the markers listed and drawn.
    for venue in VENUES:
        group = page.locator(f'#replay-tracks section[data-venue="{venue}"]')
        expect(group.locator("video")).to_have_count(1)
        expect(group.locator("audio")).to_have_count(1)
    markers = page.locator("#replay-markers button")
    expect(markers).to_have_count(len(timeline["markers"]))
    expect(page.locator("#replay-ticks .tick")).to_have_count(len(timeline["markers"]))
    expect(page.locator("#replay-markers")).to_contain_text("监督提示")
    expect(page.locator("#replay-markers")).to_contain_text("监督批注")
    expect(page.locator("#replay-markers")).to_contain_text("推选组长")
    # At 0 (the start) nothing was recorded yet: every track says so.
    first = min(s["offset"] for t in timeline["tracks"] for s in t["segments"][:1])
    assert first > 0
    expect(page.locator("#replay-tracks .note:not([hidden])")).to_have_count(4)
    expect(page.locator("#replay-tracks .note").first).to_have_text("此时段无录像")
    assert accessibility_violations(page) == []

    # Play: the position advances, every track's element plays, and paused they hold the position's frames.
    page.evaluate("""() => { window.played = new Set();
        for (const e of document.querySelectorAll('#replay-tracks video, #replay-tracks audio'))
            e.addEventListener('playing', () => window.played.add(e.dataset.publisher + ' ' + e.dataset.track)); }""")
    page.get_by_role("button", name="播放").click()
    page.wait_for_function("(least) => Number(document.getElementById('replay-position').dataset.offset) > least",
                           arg=first + 1.5, timeout=20000)
    page.get_by_role("button", name="暂停").click()
    assert page.evaluate("() => window.played.size") == 4
    shows(page, timeline, position(page))

    # Seek with the keyboard: Home, then one second per arrow.
    start = int(max(t["segments"][0]["offset"] for t in timeline["tracks"])) + 2
    page.locator("#replay-seek").focus()
    page.keyboard.press("Home")
    for _ in range(start):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#replay-position")).to_have_attribute("data-offset", f"{start:.2f}")
    shows(page, timeline, start)
    t0 = parse_time(timeline["t0"])
    shown = (t0 + timedelta(seconds=start)).astimezone(ZoneInfo("Asia/Shanghai"))  # web_world's browser's zone
    expect(page.locator("#replay-position")).to_contain_text(shown.strftime("%Y-%m-%d %H:%M:%S"))

    # Click the warning's marker: every track jumps to the moment the warning was given.
    warning = next(m for m in timeline["markers"] if m["kind"] == "supervision.warning")
    page.locator('#replay-markers button[data-kind="supervision.warning"]').click()
    expect(page.locator("#replay-position")).to_have_attribute("data-offset", f"{warning['offset']:.2f}")
    shows(page, timeline, warning["offset"])
    screenshot(page, "supervisor-replay")

    # 2× on every element.
    page.get_by_label("2×").check()
    assert {m["rate"] for m in page.evaluate(MEDIA)} == {2}

    # Annotate the replayed moment; then a warning every venue sees.
    expect(page.locator("#annotate-moment")).to_contain_text("回放位置")
    page.get_by_label("批注").fill("此时主场画面晃动")
    page.get_by_role("button", name="批注此刻").click()
    expect(page.locator("#annotate-status")).to_have_text("已批注。")
    page.get_by_label("监督提示（各场地均可见）").fill("请各场地保持安静")
    page.get_by_role("button", name="发送提示").click()
    expect(page.locator("#warn-status")).to_have_text("提示已发送至各场地。")
    marks = ok(client.get(w.url("/marks"), headers=w.admin()))
    note = next(m for m in marks if m["text"] == "此时主场画面晃动")
    assert note["kind"] == "annotation" and note["level"] == "primary"
    assert abs((parse_time(note["moment"]) - t0).total_seconds() - warning["offset"]) < 0.01
    assert any(m["kind"] == "warning" and m["text"] == "请各场地保持安静" for m in marks)
    expect(page.locator("#marks-list tr")).to_have_count(4)  # two made during the recording, two now
    assert errors == []


@SQLITE_ONLY
def test_the_live_wall_and_complaints_the_primary_rules_on(ctx: AppContext, client: Any, live: str, browser: Any,
                                                           page: Any) -> None:
    w, _ = a_running_session(ctx, client)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    log_in(page, live, w, at="/")
    expect(page.locator("#venues")).to_have_text("主场：在线；副场 1：在线")
    expect(page.locator("#level")).to_have_text("主监督（项目所在地）")

    # The live wall: a guest seat publishes its camera; the wall shows it under the guest venue.
    guest = next(m for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id)
    seat = open_seat(browser, live, w, guest)
    code = ok(client.get(f"{API}/venues/{w.guest_venue_id}", headers=w.admin()))["code"]
    tile = page.locator(f'#wall-tiles section[data-venue="{code}"] figure')
    expect(tile).to_have_count(1, timeout=30_000)
    assert tile.get_attribute("data-publisher").startswith(f"{code}/seat-")
    page.wait_for_function("""() => { const v = document.querySelector('#wall-tiles video');
                                      return v && v.readyState >= 2 && v.videoWidth > 0; }""", timeout=30_000)
    expect(page.locator("#wall-status")).to_contain_text("实时画面：1 路")
    seat.context.close()

    page.get_by_label("投诉人").fill("投标人乙公司")
    page.get_by_label("投诉事项").fill("评标专家与投标人甲公司存在利害关系")
    page.get_by_role("button", name="登记投诉").click()
    expect(page.locator("#complaint-status")).to_have_text("投诉已登记。")
    complaint = page.locator("#complaint-list article", has_text="投标人乙公司")
    expect(complaint).to_contain_text("待受理")
    complaint.get_by_label("受理", exact=True).check()
    complaint.get_by_label("理由").fill("在投诉期限内，属于受理范围")
    complaint.get_by_role("button", name="作出受理决定").click()
    expect(complaint).to_contain_text("已受理")
    expect(complaint.get_by_role("button", name="作出处理决定")).to_be_visible()

    # A late one: recorded (marked late), and accepting it is refused with the server's message.
    page.get_by_label("投诉人").fill("投标人丙公司")
    page.get_by_label("投诉事项").fill("开标程序不符合规定")
    page.get_by_label("知道或应当知道之日").fill((date.today() - timedelta(days=40)).isoformat())
    page.get_by_role("button", name="登记投诉").click()
    late = page.locator("#complaint-list article", has_text="投标人丙公司")
    expect(late).to_contain_text("逾期投诉")
    late.get_by_label("受理", exact=True).check()
    late.get_by_label("理由").fill("受理")
    late.get_by_role("button", name="作出受理决定").click()
    refusal = late.locator('p[role="status"]')
    expect(refusal).to_have_class(re.compile("error"))
    expect(refusal).to_contain_text("the complaint was filed more than 10 days after")  # the server's own words
    ok(client.post(w.url("/annotations"), headers=w.supervisor(), json={"text": "投诉处理中"}), 201)
    expect(page.locator("#marks-list tr")).to_have_count(1)  # the event reloaded the page's lists…
    expect(refusal).to_contain_text("the complaint was filed more than 10 days after")  # …and the message stays
    listed = ok(client.get(w.url("/complaints"), headers=w.admin()))
    assert {(c["complainant"], c["state"], c["late"]) for c in listed} == {
        ("投标人乙公司", "accepted", False), ("投标人丙公司", "filed", True)}
    assert next(c["ruling"] for c in listed if c["state"] == "accepted") == "在投诉期限内，属于受理范围"
    assert accessibility_violations(page) == []
    screenshot(page, "supervisor-complaints")

    # In English, from the same data.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Complaints")).to_be_visible()
    expect(page.locator("#complaint-list article", has_text="投标人乙公司")).to_contain_text("Accepted")
    expect(page.locator("#state")).to_have_text("Evaluating")
    expect(page.locator("#replay-status")).to_have_text("No recordings yet.")
    assert errors == []
