"""The hall operator's console in Chromium: staff log in through the index page; a guest venue's operator sees
its seat devices, confirms an offer and checks an expert in (a failed face match shown as such, then the login
code, which works); the host's operator sees every venue's link, is refused a start while a venue is offline,
starts the session and sees it change live; after an ended session with a sealed report, the host's operator
publishes the candidates, records and answers an objection, issues and downloads the fee batch and rates an
expert. axe-core on every state."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import csv
import io
import json
import re
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from after_world import seed_ended
from committee_world import (
    ACTOR,
    API,
    HOST_AREA,
    PASSWORD,
    TITLE,
    CommitteeWorld,
    build,
    draw,
    events,
    expert_login,
    members,
    open_check_in,
    pool,
    seat_everyone,
    unique_code,
)
from conftest import ALL_OK, SQLITE_ONLY, ok
from openpyxl import load_workbook
from playwright.sync_api import expect
from session_world import DISSENT, import_project, to_report_signing
from signing_world import seat_signers, setup_pki, sign_all
from web_world import accessibility_violations, browser, live, open_seat, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.services import inventory, site_link
from sites.devices import DeviceState
from sites.protocol import Inventory, RoomReport, SeatReport

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """conftest's settings with a fee tables file, empty until tests/after_world.py writes the host region's
    table (the other tests here never read it)."""
    (tmp_path / "fees.toml").write_text("", encoding="utf-8")
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "fee_tables_file": str(tmp_path / "fees.toml")})


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

    # The session this venue lends seats to, now that check-in is open: its state, and two experts to come.
    taking_part = page.locator(f'#guest-list article[data-session="{w.session_id}"]')
    expect(taking_part).to_contain_text(TITLE)
    expect(taking_part).to_contain_text("等待开始")
    expect(taking_part.locator("dd").nth(4)).to_have_text("2")
    expect(taking_part).to_contain_text("尚无委员在本场地签到。")

    # A guest venue hosts no session here: nothing to control, and the project is not shown.
    expect(page.locator("#sessions-none")).to_be_visible()
    expect(page.locator("#session")).to_be_hidden()
    expect(page.locator("#controls")).to_be_hidden()
    expect(page.get_by_role("button", name="开始评审")).to_have_count(0)

    # Check-in: the face does not match — shown as a failed check, nobody checked in.
    member = next(m for m in members(w, "drawn") if m["venue_id"] == w.guest_venue_id)
    page.get_by_label("身份证号码", exact=True).fill(w.id_numbers[member["name"]])
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
    seated_here = taking_part.locator(f'tr[data-member="{member["member_id"]}"]')
    expect(seated_here).to_contain_text(w.guest_seats[0])
    expect(seated_here).to_contain_text("已签到")
    expect(taking_part.locator("dd").nth(4)).to_have_text("1")
    screenshot(page, "operator-guest-checkin")
    assert accessibility_violations(page) == []
    assert ok(expert_login(w, first_code))["role"] == "expert"

    # A lost slip: a new code from the desk's list, which works in turn.
    page.locator("#desk-list").get_by_role("button", name=f"新登录码：{member['name']}").click()
    expect(page.locator("#checkin-result")).to_contain_text("的新登录码")
    expect(code).not_to_have_text(first_code)
    assert ok(expert_login(w, code.inner_text()))["role"] == "expert"

    # A fault the site agent cannot see, marked by hand: no reason is refused at the field (nothing marked);
    # with one the seat is unusable for it; cleared, usable again.
    def fault_of(seat_code: str) -> str | None:
        rooms = ok(client.get(f"{API}/venues/{w.guest_venue_id}/rooms", headers=w.admin()))
        return next(s["fault"] for r in rooms for s in r["seats"] if s["code"] == seat_code)

    a05 = page.locator('tr[data-seat="R1/A-05"]')
    a05.get_by_role("button", name="标记故障").click()
    page.locator("#fault-form button[type=submit]").click()
    expect(page.locator("#fm-reason")).to_have_attribute("aria-invalid", "true")
    assert fault_of("A-05") is None
    page.locator("#fm-reason").fill("座椅损坏")
    page.locator("#fault-form button[type=submit]").click()
    expect(a05.locator("td").nth(5)).to_contain_text("座椅损坏")
    assert fault_of("A-05") == "座椅损坏"
    assert accessibility_violations(page) == []
    screenshot(page, "operator-fault-mark", page.locator("#rooms"))
    a05.get_by_role("button", name="清除故障标记").click()
    expect(a05.locator("td").nth(5)).to_have_text("可用")
    assert fault_of("A-05") is None
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
    experts = seat_everyone(w)  # the experts check in at both venues and declare
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

    # The guest venue's operator watches their own venue's seats in the running session, not the host's.
    guest_seat = open_seat(browser, live, w, next(m for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id))
    guest_code = ok(client.get(f"{API}/venues/{w.guest_venue_id}", headers=w.admin()))["code"]
    guest_page = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    guest_errors = page_errors(guest_page)
    log_in(guest_page, live, operator_account(w, w.guest_venue_id))
    expect(guest_page.locator(f'#guest-list article[data-session="{w.session_id}"]')).to_contain_text("评审中")
    guest_tiles = guest_page.locator("#live-tiles figure")
    expect(guest_tiles).to_have_count(1, timeout=30_000)
    assert guest_tiles.first.get_attribute("data-publisher").startswith(f"{guest_code}/seat-")
    assert accessibility_violations(guest_page) == []
    # A guest member lost their phone: their venue's operator resets the second factor from the same view.
    # (the other guest member: the first is logged in at the seat page, which replaced their first token)
    lost = [m for m in members(w, "seated") if m["venue_id"] == w.guest_venue_id][1]
    ok(client.post(w.url("/factors/totp"), headers=experts[lost["member_id"]]), 201)
    guest_page.on("dialog", lambda dialog: dialog.accept())
    guest_page.locator(f'#guest-list tr[data-member="{lost["member_id"]}"]').get_by_role(
        "button", name="重置第二因素").click()
    expect(guest_page.locator("#guest-status")).to_have_text(
        f"已重置 {lost['name']} 的第二因素（作废 1 个），请其在本人页面重新登记。")
    assert any(e["kind"] == "signing.factors_reset" and e["payload"]["member_id"] == lost["member_id"]
               for e in events(w))
    guest_page.context.close()
    guest_seat.context.close()
    assert guest_errors == []

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


@SQLITE_ONLY
def test_the_host_operator_does_the_work_after_the_session(ctx: AppContext, client: Any, live: str,
                                                           page: Any) -> None:
    # Three host experts seated, checked in 6 h before now, the session ended 1 h ago (5 h), its report sealed
    # (tests/after_world.py). Fee table: 800.00 for 4 h + 100.00 per started hour over + travel 50.00 =
    # 950.00 each, 2850.00 in all, one batch paid by the host.
    w = build(ctx, client, host_rows=pool("专家H", HOST_AREA, {"B0101": 2, "D01": 1}))
    seeded = seed_ended(ctx, w.host_venue_id, w.session_id)
    tables = ctx.settings.fee_tables_file
    table_text = tables.read_text(encoding="utf-8")
    tables.write_text("", encoding="utf-8")  # the region's table is missing at first
    host = operator_account(w, w.host_venue_id)
    errors = page_errors(page)
    log_in(page, live, host)
    expect(page.locator("#state")).to_have_text("已结束")
    expect(page.get_by_role("heading", name="会后工作（主场）")).to_be_visible()
    expect(page.locator("#controls")).to_be_hidden()  # nothing left to move

    # Publication: the default 3 days; the dates shown are the server's.
    expect(page.get_by_label("公示期（日，3–30）")).to_have_value("3")
    page.get_by_role("button", name="发布公示").click()
    expect(page.locator("#pub-status")).to_contain_text("已发布公示")
    published = ok(client.get(f"{API}/publications"))[0]
    assert published["session"]["id"] == w.session_id
    window = published["window"]
    expect(page.locator("#pub-window")).to_contain_text(f"{window['from']} 至 {window['to']}（3 日）")
    expect(page.locator("#pub-by")).to_have_text(published["publish_by"])  # sealed 30 min ago: not overdue
    expect(page.get_by_role("link", name="中标候选人公示（公开，无需登录）")).to_have_attribute("href", "/publications")
    expect(page.get_by_role("button", name="发布公示")).to_be_hidden()

    # An objection received, then answered: its deadline from the server, the public counts following.
    page.get_by_label("异议人", exact=True).fill("投标人甲公司")
    page.get_by_label("异议内容", exact=True).fill("第二名的报价未按招标文件计算。")
    page.get_by_role("button", name="登记异议").click()
    expect(page.locator("#objection-status")).to_contain_text("已登记 投标人甲公司 的异议")
    objection = ok(client.get(f"{API}/publications/{published['publication_id']}/objections",
                              headers=w.host_op()))[0]
    row = page.locator(f'tr[data-objection="{objection["id"]}"]')
    expect(row).to_contain_text("待答复")
    expect(row.locator("td").nth(2)).to_have_text(objection["answer_by"])
    expect(page.locator("#pub-counts")).to_have_text("收到 1 件，待答复 1 件 答复前暂停招标投标活动")
    row.get_by_label("对 投标人甲公司 异议的答复").fill("经复核，报价计算无误。")
    row.get_by_role("button", name="记录答复").click()
    expect(row).to_contain_text("已答复")
    expect(row).to_contain_text("经复核，报价计算无误。")
    expect(page.locator("#pub-counts")).to_have_text("收到 1 件，待答复 0 件")
    assert ok(client.get(f"{API}/publications/{published['publication_id']}/objections",
                         headers=w.host_op()))[0]["answer"] == "经复核，报价计算无误。"

    # Fees: refused while the region has no table (the server's words), then issued; again, unchanged.
    issue = page.get_by_role("button", name="生成费用批次")
    issue.click()
    expect(page.locator("#fees-error")).to_contain_text("no fee table for region(s)")
    tables.write_text(table_text, encoding="utf-8")
    issue.click()
    expect(page.locator("#fees-status")).to_contain_text("已生成新批次")
    expect(page.locator("#fees-error")).to_have_text("")
    batch = page.locator(".batch")
    expect(batch).to_have_count(1)
    expect(batch.locator("tbody tr")).to_have_count(3)
    expect(batch.locator(".fee-total")).to_have_text("2850.00")
    expect(batch.locator("tbody tr").first.locator("td").nth(4)).to_have_text("950.00")
    issue.click()
    expect(page.locator("#fees-status")).to_contain_text("费用未变")
    with page.expect_download() as got:
        batch.get_by_role("button", name="下载 CSV").click()
    assert got.value.suggested_filename.endswith("-v1.csv")
    lines = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_bytes().decode("utf-8-sig"))))
    assert len(lines) == 3 and sum(Decimal(r["amount"]) for r in lines) == Decimal("2850.00")
    with page.expect_download() as got:
        batch.get_by_role("button", name="下载 XLSX").click()
    assert got.value.suggested_filename.endswith("-v1.xlsx")
    sheet = load_workbook(io.BytesIO(Path(got.value.path()).read_bytes()))["lines"]
    assert [c.value for c in sheet[sheet.max_row]][1] == "合计"
    assert Decimal(str(sheet.cell(row=sheet.max_row, column=14).value)) == Decimal("2850.00")

    # The evidence bundle, built by the coordinator and saved by the page: the session's own, and recorded as taken.
    with page.expect_download() as got:
        page.get_by_role("button", name="下载证据包（zip）").click()
    with zipfile.ZipFile(got.value.path()) as bundle:
        assert json.loads(bundle.read("session.json"))["id"] == w.session_id
    expect(page.locator("#evidence-status")).to_contain_text("已下载")
    assert "session.evidence_exported" in [e["kind"] for e in events(w)]

    # Ratings: out of range refused at the field in the operator's words; then rated, and the row is read-only.
    first, second = seeded.experts[0], seeded.experts[1]
    rating = page.locator(f'#ratings-body tr[data-member="{first}"]')
    score = rating.get_by_role("textbox", name=re.compile("的评分（0–100）"))
    score.fill("101")
    rating.get_by_role("button", name=re.compile("^提交对 ")).click()
    expect(rating.locator(".error")).to_have_text("请填写 0 到 100 的整数")
    expect(score).to_have_attribute("aria-invalid", "true")
    score.fill("85")
    rating.get_by_role("textbox", name=re.compile("的说明")).fill("评审认真")
    rating.get_by_role("button", name=re.compile("^提交对 ")).click()
    expect(page.locator("#ratings-status")).to_contain_text("85")
    expect(rating.locator("td").nth(2)).to_have_text("85")
    expect(rating).to_contain_text("已评价")
    expect(rating.locator("input, button")).to_have_count(0)  # a second rating is not offered
    again = client.post(w.url("/ratings"), headers=w.host_op(), json={"member_id": first, "score": 70})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    # The tenderer's representative rates another expert at their seat: the page follows its event.
    ok(client.post(w.url("/ratings"), headers=w.headers(seeded.representative_principal()),
                   json={"member_id": second, "score": 90}), 201)
    expect(page.locator(f'#ratings-body tr[data-member="{second}"] td').last).to_have_text("90")
    assert accessibility_violations(page) == []
    screenshot(page, "operator-after")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="After the session (host)")).to_be_visible()
    expect(rating).to_contain_text("rated (")
    expect(batch.get_by_role("button", name="Download CSV")).to_be_visible()
    assert accessibility_violations(page) == []
    assert errors == []


@SQLITE_ONLY
def test_the_host_records_a_deemed_agreement_and_seals_the_report(ctx: AppContext, client: Any, live: str,
                                                                  page: Any) -> None:
    """Every member signs their sheets; all but one sign the report (the dissenter with the dissent). The host's
    page lists what the refuser has not signed, refuses a deemed agreement without a reason at its field,
    records it with one, and seals; the seal and the deemed agreement are checked through the API."""
    w = build(ctx, client)
    experts, dissenter = to_report_signing(w)
    signers = seat_signers(w, setup_pki(w), experts)
    refuser = next(m for m in sorted(experts) if m != dissenter)

    # pyHanko runs its own event loop, which cannot start in this thread: Playwright's sync API holds one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(sign_all, signers, {dissenter: DISSENT}, refuser=refuser).result()
    errors = page_errors(page)
    log_in(page, live, operator_account(w, w.host_venue_id))
    part = page.locator("#signing-part")
    expect(part).to_be_visible()
    row = page.locator(f'#signing-body tr[data-member="{refuser}"]')
    expect(row).to_contain_text("report v1")
    expect(page.locator("#signing-body tr")).to_have_count(1)
    page.locator("#seal").click()
    expect(page.locator("#seal-error")).not_to_be_empty()  # the server's refusal: a member has not signed
    row.get_by_role("button", name="记录视为同意").click()
    reason = row.get_by_label("理由")
    expect(reason).to_have_attribute("aria-invalid", "true")
    assert ok(client.get(w.url("/status"), headers=w.host_op()))["signing"]["missing"]  # nothing recorded
    reason.fill("拒绝签字且未陈述不同意见和理由")
    row.get_by_role("button", name="记录视为同意").click()
    expect(page.locator("#signing-body")).to_contain_text("全体成员均已签署")
    expect(page.locator("#signing-state")).to_contain_text("可以盖章")
    expect(page.locator("#seal-error")).to_be_empty()
    assert accessibility_violations(page) == []
    screenshot(page, "operator-report-signing", part)
    page.locator("#seal").click()
    expect(page.locator("#signing-state")).to_contain_text("已盖章封存", timeout=20_000)
    status = ok(client.get(w.url("/status"), headers=w.host_op()))
    assert status["report_sealed"] is True and status["signing"]["missing"] == []
    kinds = [e["kind"] for e in events(w)]
    assert "signing.deemed_agreed" in kinds, kinds
    assert errors == []


@SQLITE_ONLY
def test_the_host_corrects_a_score_after_the_report_for_an_allowed_cause(ctx: AppContext, client: Any, live: str,
                                                                          page: Any) -> None:
    """In report signing, the host's page corrects a member's score: a value that is no number is refused at its
    field (the report stays at version 1); with a cause the rules allow and a reason, the member's sheet gets a
    new version with that cause and the report a new version, which the signing part then names."""
    w = build(ctx, client)
    experts, _ = to_report_signing(w)
    member = min(experts)
    errors = page_errors(page)
    log_in(page, live, operator_account(w, w.host_venue_id))
    form = page.locator("#correction-form")
    expect(form).to_be_visible()
    expect(page.locator("#rc-cause option")).to_have_count(4)
    page.locator("#rc-member").select_option(member)
    page.locator("#rc-bid").select_option("L1/B1")
    page.locator("#rc-criterion").select_option("T1")
    page.locator("#rc-value").fill("十五")
    page.locator("#rc-reason").fill("汇总表誊写错误")
    form.locator("button[type=submit]").click()
    expect(page.locator("#rc-value")).to_have_attribute("aria-invalid", "true")
    assert ok(client.get(w.url("/status"), headers=w.host_op()))["signing"]["report_version"] == 1
    page.locator("#rc-value").fill("15")
    page.locator("#rc-cause").select_option("sum_error")
    form.locator("button[type=submit]").click()
    expect(form.locator("[data-form-status]")).to_have_text("已更正，评标报告已生成新版本。")
    expect(page.locator("#signing-state")).to_contain_text("第 2 版报告")
    assert ok(client.get(w.url("/status"), headers=w.host_op()))["signing"]["report_version"] == 2
    *_, corrected = ok(client.get(w.url(f"/sheets/detailed_review/{member}"), headers=w.admin()))
    assert (corrected["version"], corrected["cause"], corrected["reason"]) == (2, "sum_error", "汇总表誊写错误")
    assert corrected["content"]["scores"]["L1/B1"]["T1"] in ("15", "15.00"), corrected
    assert accessibility_violations(page) == []
    screenshot(page, "operator-report-correction", page.locator("#signing-part"))
    assert errors == []
