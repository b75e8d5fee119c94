"""Live video from the expert's page with the browser's own WebRTC: two experts' pages in Chromium, one at each
venue, each publishing its fake camera and microphone through the coordinator's relay; each page receives the
other venue's seat (frames decode, time advances), and the coordinator records what the pages published."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from committee_world import build, members
from conftest import SQLITE_ONLY, ok
from media_world import ffprobe_duration
from playwright.sync_api import expect
from session_world import ready
from web_world import browser, live  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.recording import media_lines
from media.manifest import track_directory

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As conftest's, with one-second segments, so that a few seconds of video make several."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "media_segment_seconds": 1})


def open_seat(browser: Any, base: str, code: str) -> Any:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/expert")
    page.get_by_label("一次性登录码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    return page


def playing(page: Any, publisher: str) -> bool:
    """Whether the page's tile of ``publisher`` shows decoded video that moves on."""
    return page.evaluate("""async (publisher) => {
        const v = [...document.querySelectorAll('#live-tiles figure')]
            .find((f) => f.dataset.publisher === publisher && !f.classList.contains('own'))?.querySelector('video');
        if (!v || v.readyState < 2 || !v.videoWidth) return false;
        const t = v.currentTime;
        await new Promise((r) => setTimeout(r, 400));
        return v.currentTime > t;
    }""", publisher)


@SQLITE_ONLY
def test_each_venue_sees_the_other_seat_and_both_are_recorded(ctx: AppContext, client: Any, live: str,
                                                               browser: Any) -> None:
    w = build(ctx, client)
    ready(w)  # seated and started through the API; the browsers log in with fresh codes
    by_venue = {m["venue_id"]: m for m in members(w, "seated")}
    host, guest = by_venue[w.host_venue_id], by_venue[w.guest_venue_id]
    codes = {m["member_id"]: ok(client.post(f"/api/v1/committee/members/{m['member_id']}/login-code",
                                            headers=w.op(m["venue_id"])))["login_code"] for m in (host, guest)}
    pages = {m["member_id"]: open_seat(browser, live, codes[m["member_id"]]) for m in (host, guest)}

    publishers: dict[str, str] = {}
    for member_id, page in pages.items():
        expect(page.locator("#live-status")).to_have_text("本席位音视频已接入，正在录像。", timeout=30_000)
        publishers[member_id] = page.locator("#live-tiles figure.own").get_attribute("data-publisher")
    host_pub, guest_pub = publishers[host["member_id"]], publishers[guest["member_id"]]
    assert host_pub.split("/")[1].startswith("seat-") and guest_pub.split("/")[1].startswith("seat-")
    assert host_pub.split("/")[0] != guest_pub.split("/")[0]  # a seat publishes as its own venue

    # Each venue receives the other's seat: frames decode and time advances in the page's <video>.
    for page, other in ((pages[host["member_id"]], guest_pub), (pages[guest["member_id"]], host_pub)):
        deadline = time.monotonic() + 30
        while not playing(page, other):
            assert time.monotonic() < deadline, f"{other} never played"
        width = page.evaluate("(p) => [...document.querySelectorAll('#live-tiles figure')]"
                              ".find((f) => f.dataset.publisher === p).querySelector('video').videoWidth", other)
        assert width > 0

    # And the coordinator recorded what each page published: segments, logged as events, that play.
    deadline = time.monotonic() + 30
    while True:
        evs = ok(client.get(w.url("/events"), headers=w.admin(), params={"limit": 1000}))["events"]
        segments = [p for e in evs for kind, p in media_lines(e["kind"], e["payload"])
                    if kind == "media.segment_recorded"]
        recorded = {(p["publisher"], p["track"]) for p in segments}
        if {(host_pub, "video"), (guest_pub, "video")} <= {(p, t.split("-")[0]) for p, t in recorded}:
            break
        assert time.monotonic() < deadline, f"no segments of the seats recorded: {sorted(recorded)}"
        time.sleep(0.5)
    for publisher in (host_pub, guest_pub):
        segment = next(p for p in segments if p["publisher"] == publisher and p["track"].startswith("video"))
        directory = track_directory(ctx.settings.effective_recordings_dir, w.session_id, publisher,
                                    segment["track"])
        assert ffprobe_duration(directory / segment["file"]) > 0.5, json.dumps(segment)
    for page in pages.values():
        page.context.close()
