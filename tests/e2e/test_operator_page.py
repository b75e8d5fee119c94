"""The hall operator's console in Chromium: staff log in through the index page; a guest venue's operator sees
its seat devices, confirms an offer and checks an expert in (a failed face match shown as such, then the login
code, which works); the host's operator sees every venue's link, is refused a start while a venue is offline,
starts the session and sees it change live. axe-core on every state."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from committee_world import (
    ACTOR,
    API,
    PASSWORD,
    CommitteeWorld,
    build,
    draw,
    events,
    expert_login,
    members,
    open_check_in,
    seat_everyone,
    unique_code,
)
from conftest import ALL_OK, SQLITE_ONLY, ok
from playwright.sync_api import expect
from session_world import import_project
from web_world import accessibility_violations, browser, live, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.services import inventory, site_link
from sites.devices import DeviceState
from sites.protocol import Inventory, RoomReport, SeatReport

pytestmark = pytest.mark.timeout(300)


def operator_account(w: CommitteeWorld, venue_id: str) -> str:
    """A hall operator's account at the venue, made by the admin through the API: its username."""
    username = f"op{uuid.uuid4().hex[:8]}"
    ok(w.client.post(f"{API}/accounts", headers=w.admin(), json={
        "username": username, "display_name": "场地工作人员", "role": "hall-operator", "venue_id": venue_id,
        "password": PASSWORD}), 201)
    return username


def log_in(tab: Any, live: str, username: str, password: str = PASSWORD) -> None:
    tab.goto(f"{live}/")
    tab.get_by_label("用户名").fill(username)
    tab.get_by_label("密码").fill(password)
    tab.get_by_role("button", name="登录").click()


def page_errors(tab: Any) -> list[str]:
    """Uncaught errors of the page's scripts, collected as they happen (a test ends asserting there were none)."""
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    return errors


def open_seat(browser: Any, live: str, w: CommitteeWorld, member: dict[str, Any]) -> Any:
    """The member's seat page, logged in with a fresh code from their venue's operator: it publishes the seat's
    (fake) camera once the session runs."""
    code = ok(w.client.post(f"{API}/committee/members/{member['member_id']}/login-code",
                            headers=w.op(member["venue_id"])))["login_code"]
    seat = browser.new_context(locale="zh-CN", viewport={"width": 800, "height": 600}).new_page()
    seat.goto(f"{live}/expert")
    seat.get_by_label("一次性登录码").fill(code)
    seat.get_by_role("button", name="登录").click()
    return seat


def pending_offer_to_guest(w: CommitteeWorld) -> str:
    """Another session at the host, the next day, whose admin asks the guest venue for two seats: the offer."""
    start = w.start + timedelta(days=1)
    session = ok(w.client.post(f"{API}/sessions", headers=w.host_op(), json={
        "code": unique_code("S"), "title": "第二个项目", "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(hours=8)).isoformat()}), 201)
    return ok(w.client.post(w.url("/offers", session["id"]), headers=w.admin(), json={
        "guest_venue_id": w.guest_venue_id, "seats": 2, "specialties": ["B01"]}), 201)["offer_id"]


def camera_broken_at_a_06(w: CommitteeWorld) -> None:
    """The guest's site agent reports seat R1/A-06's camera faulty (the other seats as they were)."""
    devices = {code: dict(ALL_OK) for code in (f"A-{i:02d}" for i in range(1, 7))}
    devices["A-06"]["camera"] = DeviceState.FAULT
    with w.ctx.store.write() as tx:
        inventory.report_inventory(tx, w.ctx.settings, ACTOR, w.guest_venue_id, Inventory(rooms=[RoomReport(
            code="R1", name="评标室1", kind="single",
            seats=[SeatReport(code=code, devices=d) for code, d in devices.items()])]))


@SQLITE_ONLY
def test_a_guest_operator_confirms_an_offer_and_checks_an_expert_in(ctx: AppContext, client: Any, live: str,
                                                                   page: Any) -> None:
    w = build(ctx, client)
    draw(w)
    open_check_in(w)  # moves the clock: before anyone logs in, so that no token expires on the way
    offer_id = pending_offer_to_guest(w)
    camera_broken_at_a_06(w)
    guest = operator_account(w, w.guest_venue_id)
    errors = page_errors(page)

    # The index page: a wrong password is refused and said so; the right one leads to the operator's page.
    log_in(page, live, guest, "not the password at all")
    expect(page.locator("#staff-error")).to_have_text("登录失败：用户名或密码不正确，或账户已被锁定。")
    expect(page.get_by_label("密码")).to_have_attribute("aria-invalid", "true")
    assert accessibility_violations(page) == []
    screenshot(page, "index-login")
    log_in(page, live, guest)
    expect(page).to_have_url(f"{live}/operator")
    expect(page.get_by_role("heading", name="场地工作人员控制台")).to_be_visible()

    # Rooms and seat devices, as the site agent reported them.
    broken = page.locator('tr[data-seat="R1/A-06"]')
    expect(broken.locator('td[data-device="camera"]')).to_have_text("故障")
    expect(broken.locator("td").nth(5)).to_have_text("不可用：摄像头故障")
    expect(page.locator('tr[data-seat="R1/A-01"] td').nth(5)).to_have_text("可用")
    expect(page.locator("#venue-online")).to_have_text("离线")  # no site agent linked in this world

    # The offers: the one confirmed in the world, and the new one to answer.
    row = page.locator(f'tr[data-offer="{offer_id}"]')
    expect(row).to_contain_text("待答复")
    assert accessibility_violations(page) == []
    row.get_by_role("button", name="确认").click()
    expect(page.locator("#offers-status")).to_contain_text("已确认")
    expect(row).to_contain_text("已确认")
    confirmed = ok(client.get(f"{API}/offers/{offer_id}", headers=w.admin()))
    assert confirmed["state"] == "confirmed" and len(confirmed["seat_codes"]) == 2
    expect(row.locator("td").nth(5)).to_have_text("、".join(confirmed["seat_codes"]))

    # A guest venue hosts no session here: nothing to control, and the project is not shown.
    expect(page.locator("#sessions-none")).to_be_visible()
    expect(page.locator("#session")).to_be_hidden()
    expect(page.locator("#controls")).to_be_hidden()
    expect(page.get_by_role("button", name="开始评审")).to_have_count(0)

    # Check-in: the face does not match — shown as a failed check, nobody checked in.
    member = next(m for m in members(w, "drawn") if m["venue_id"] == w.guest_venue_id)
    page.get_by_label("身份证号码").fill(w.id_numbers[member["name"]])
    page.locator("#ci-card-pass").check()
    page.locator("#ci-face-fail").check()
    page.get_by_label("相似度（0–1，可不填）").fill("0.41")
    page.get_by_label("席位", exact=True).select_option(w.guest_seats[0])
    page.get_by_role("button", name="签到", exact=True).click()
    expect(page.locator("#checkin-result")).to_have_text(f"核验未通过，{member['name']} 未签到：人脸比对未通过")
    assert member["member_id"] in {m["member_id"] for m in members(w, "drawn")}
    assert "committee.check_in_failed" in [e["kind"] for e in events(w)]
    assert accessibility_violations(page) == []

    # Both checks pass: the login code is shown, and it logs the expert in at their seat.
    page.locator("#ci-face-pass").check()
    page.get_by_label("相似度（0–1，可不填）").fill("0.97")
    page.get_by_role("button", name="签到", exact=True).click()
    code = page.locator("#login-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    first_code = code.inner_text()
    checked = next(m for m in members(w, "checked_in") if m["member_id"] == member["member_id"])
    assert checked["seat"] == w.guest_seats[0]
    screenshot(page, "operator-guest-checkin")
    assert accessibility_violations(page) == []
    assert ok(expert_login(w, first_code))["role"] == "expert"

    # A lost slip: a new code from the desk's list, which works in turn.
    page.locator("#desk-list").get_by_role("button", name=f"新登录码：{member['name']}").click()
    expect(page.locator("#checkin-result")).to_contain_text("的新登录码")
    expect(code).not_to_have_text(first_code)
    assert ok(expert_login(w, code.inner_text()))["role"] == "expert"
    assert errors == []


@SQLITE_ONLY
def test_the_host_operator_sees_every_venue_and_starts_the_session(ctx: AppContext, client: Any, live: str,
                                                                  browser: Any, page: Any) -> None:
    w = build(ctx, client)
    import_project(w)
    draw(w)
    w.ctx.clock.advance(w.start - timedelta(hours=1) - w.ctx.clock.now())  # check-in may open from here on
    host = operator_account(w, w.host_venue_id)
    with w.ctx.store.write() as tx:  # the host's site agent is linked; the guest's is not yet
        site_link.link_opened(tx, "site-agent:test", w.host_venue_id, "link-host", w.ctx.settings)

    errors = page_errors(page)
    log_in(page, live, host)
    expect(page).to_have_url(f"{live}/operator")
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(page.locator("#state")).to_have_text("等待开始")
    expect(page.locator("#controls")).to_be_visible()
    host_row, guest_row = page.locator('#venues-body tr[data-role="host"]'), page.locator('#venues-body tr[data-role="guest"]')
    expect(host_row).to_contain_text("主场：济南公共资源交易中心")
    expect(host_row.locator("td")).to_contain_text("在线")
    expect(guest_row.locator("th")).to_have_text("副场 1")
    expect(guest_row.locator("td")).to_have_text("离线")

    page.get_by_role("button", name="开放签到").click()
    expect(page.locator("#controls-status")).to_have_text("已开放签到。")
    expect(page.locator("#check-in-state")).to_contain_text("已开放")
    seat_everyone(w)  # the experts check in at both venues and declare
    expect(page.locator("#committee-body tr")).to_have_count(5)  # followed live: committee events
    expect(page.locator("#committee-body tr", has_text="本场地")).to_have_count(3)

    # The guest venue is offline: the server refuses the start and the page says why.
    page.get_by_role("button", name="开始评审").click()
    expect(page.locator("#controls-error")).to_contain_text("not connected")
    assert ok(client.get(w.url("/status"), headers=w.admin()))["state"] == "waiting"
    assert accessibility_violations(page) == []

    with w.ctx.store.write() as tx:
        site_link.link_opened(tx, "site-agent:test", w.guest_venue_id, "link-guest", w.ctx.settings)
    page.get_by_role("button", name="刷新").click()  # a link is not a session event: polled, or on demand
    expect(guest_row.locator("td")).to_have_text("在线")
    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="开始评审").click()
    expect(page.locator("#state")).to_have_text("评审中")
    expect(page.locator("#phase")).to_have_text("推选组长")
    expect(page.locator("#session-select option:checked")).to_contain_text("评审中")
    expect(page.locator("#controls-error")).to_have_text("")
    assert ok(client.get(w.url("/status"), headers=w.admin()))["state"] == "evaluating"
    expect(page.get_by_role("button", name="暂停")).to_be_visible()
    expect(page.get_by_role("button", name="开始评审")).to_be_hidden()

    # The venue's live view: a seat at the host publishes its camera; the operator's page plays it.
    seat = open_seat(browser, live, w, next(m for m in members(w, "seated") if m["venue_id"] == w.host_venue_id))
    code = ok(client.get(f"{API}/venues/{w.host_venue_id}", headers=w.admin()))["code"]
    tiles = page.locator("#live-tiles figure")
    expect(tiles).to_have_count(1, timeout=30_000)
    publisher = tiles.first.get_attribute("data-publisher")
    assert publisher.startswith(f"{code}/seat-"), publisher
    page.wait_for_function("""() => { const v = document.querySelector('#live-tiles video');
                                      return v && v.readyState >= 2 && v.videoWidth > 0; }""", timeout=30_000)
    expect(page.locator("#live-status")).to_have_text("本场地实时画面：1 路。")
    screenshot(page, "operator-host-session")
    assert accessibility_violations(page) == []

    # Another operator suspends from their console: this page follows over its websocket, without a reload.
    ok(client.post(w.url("/state"), headers=w.host_op(), json={"action": "suspend", "reason": "网络检修"}))
    expect(page.locator("#state")).to_have_text("已暂停")
    expect(page.get_by_role("button", name="恢复")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True

    # In English, from the same data.
    page.get_by_role("button", name="English").click()
    expect(page.locator("#state")).to_have_text("Suspended")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(guest_row.locator("th")).to_have_text("Guest venue 1")
    assert accessibility_violations(page) == []
    seat.context.close()
    assert errors == []
