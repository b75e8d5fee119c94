"""The expert's seat page in Chromium: log in with the check-in code, declare, follow the session live, score the
bids with the keyboard alone (a range error shown at once, corrected, submitted), explain a flag, sign the
sheets and — after recording a dissent and previewing the report — the report, with the PIN of a SoftHSM2 token
held by the seat's own signer and a one-time code; survive a dropped websocket without a reload, and pass
axe-core's accessibility rules."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from committee_world import CommitteeWorld, build, check_in, draw, members, open_check_in, seat
from conftest import SQLITE_ONLY, ok
from cryptography.x509.oid import NameOID
from pg import free_port
from playwright.sync_api import expect
from session_world import BIDS, elect, import_project, move, project_doc, review_all_pass, sheet, venues_online
from signing_world import certificate_for, region_of, setup_pki, wait
from web_world import (  # noqa: F401 - fixtures
    TOKEN_PIN,
    accessibility_violations,
    browser,
    live,
    page,
    screenshot,
    seat_signer,
)

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role

pytestmark = pytest.mark.timeout(300)
MY_SCORES = ["15", "25", "5", "16", "8", "5", "14", "7", "4"]  # typed: T1 (0-20), T2 (0-10), C1 (0-5) per bid
DISSENT = "本人认为投标人丙的技术方案更优，保留意见。"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As conftest's, with the seat's signer on a port of its own (the pages' CSP allows exactly it), and the
    coordinator at http://localhost (WebAuthn's relying party must be a host name, and the page a secure
    context: loopback is one)."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "seat_signer_url": f"http://127.0.0.1:{free_port()}",
                                                "public_url": f"http://localhost:{free_port()}"})


def a_seat_waiting_for_its_expert(ctx: AppContext, client: Any, doc: dict[str, Any] | None = None) -> tuple[
        CommitteeWorld, dict[str, Any], str, dict[str, dict[str, str]]]:
    """A drawn committee (for the tender ``doc``, or the usual one) with check-in open: one member checked in
    (the browser's, with its login code), every other member seated through the API."""
    w = build(ctx, client)
    import_project(w, doc)
    draw(w)
    open_check_in(w)
    mine = members(w, "drawn")[0]
    answer = ok(check_in(w, mine))
    others = {m["member_id"]: seat(w, m) for m in members(w, "drawn")}
    return w, mine, answer["login_code"], others


def expert_headers(w: CommitteeWorld, member: dict[str, Any]) -> dict[str, str]:
    """The browser's expert as the API knows them, for the steps the test takes on their behalf (votes)."""
    seated = next(m for m in members(w, "seated") if m["member_id"] == member["member_id"])
    return w.headers(Principal(role=Role.EXPERT, subject=member["member_id"], session_id=w.session_id,
                               seat=seated["seat"]))


@SQLITE_ONLY
def test_an_expert_scores_with_the_keyboard_explains_a_flag_and_signs(ctx: AppContext, client: Any, live: str,
                                                                    page: Any, tmp_path: Path) -> None:
    w, mine, code, others = a_seat_waiting_for_its_expert(ctx, client)
    page.goto(f"{live}/expert")
    expect(page.get_by_role("heading", name="评标专家席位")).to_be_visible()
    assert accessibility_violations(page) == []
    page.get_by_label("一次性登录码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(page.locator("#state")).to_have_text("等待开始")
    page.get_by_label(re.compile("本人确认")).check()
    page.get_by_role("button", name="提交承诺").click()
    expect(page.locator("#declaration-status")).to_have_text("已提交承诺，已入席。")
    assert next(m for m in members(w, "seated") if m["member_id"] == mine["member_id"])

    # The session starts and reaches the detailed review; the page follows over its websocket.
    experts = {**others, mine["member_id"]: expert_headers(w, mine)}
    venues_online(w)
    ok(client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))
    chair = elect(w, experts)
    move(w, "chair_election")
    review_all_pass(w, experts)
    move(w, "review")
    expect(page.locator("#phase")).to_have_text("详细评审")
    expect(page.get_by_role("heading", name="详细评审打分")).to_be_visible()
    screenshot(page, "expert-scoring")

    # Keyboard only: Tab to the first score, type, Tab on; one score out of its range.
    fields = page.locator("#score-bids input")
    count = fields.count()
    assert count == 3 * 3  # three bids passed the review, three criteria each
    first = fields.nth(0).get_attribute("id")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == first:
            break
    assert page.evaluate("document.activeElement.id") == first
    for value in MY_SCORES:
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    bad = page.locator(f"#{fields.nth(1).get_attribute('id')}")
    expect(bad).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#{fields.nth(1).get_attribute('id')}-error")).to_have_text("超出范围：须在 0 至 10 之间")
    expect(page.locator("#score-bids output").nth(0)).to_have_text("合计：45 / 35")
    page.keyboard.press("Enter")  # the focus is on the submit button after the last field
    expect(page.locator("#score-status")).to_have_text("有 1 项需要修改，请检查标红的分值。")
    assert page.evaluate("document.activeElement.id") == bad.get_attribute("id")
    assert ok(client.get(w.url("/sheets"), headers=w.admin()))["submitted"] == []  # nothing was sent
    page.keyboard.press("Control+A")
    page.keyboard.type("8")
    expect(bad).to_have_attribute("aria-invalid", "false")
    expect(page.locator("#score-bids output").nth(0)).to_have_text("合计：28 / 35")
    expect(page.locator("#score-status")).to_have_text("")  # nothing left to correct
    screenshot(page, "expert-scoring-corrected")
    page.keyboard.press("Tab")
    for _ in range(10):
        if page.evaluate("document.activeElement.id") == "score-submit":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#score-status")).to_contain_text("评分已提交")
    submitted = ok(client.get(w.url("/sheets"), headers=w.admin()))["submitted"]
    assert submitted == [mine["member_id"]]
    own = ok(client.get(w.url("/sheets"), headers=experts[mine["member_id"]]))["sheets"]  # sealed to others
    assert own[0]["content"]["scores"]["L1/B1"] == {"T1": "15.00", "T2": "8.00", "C1": "5.00"}
    assert accessibility_violations(page) == []

    # The others score alike, except the objective item C1 of the third bid: the page shows the flag, and the
    # expert explains it in writing; the chair confirms.
    theirs = {"scores": {bid: dict(zip(("T1", "T2", "C1"), row, strict=True))
                         for bid, row in zip(BIDS, (("15", "8", "5"), ("16", "8", "5"), ("14", "7", "5")), strict=True)}}
    for headers in others.values():
        ok(client.post(w.url("/scores"), headers=headers, json=theirs))
    expect(page.locator("#flag-list")).to_contain_text("L1/B3 C1：客观分与多数评委不一致：本人 4.00，多数 5.00")
    page.get_by_label("书面说明").fill("客观分按投标文件第 12 页的业绩证明计算，其中一项证明不全。")
    page.get_by_role("button", name="提交说明").click()
    expect(page.locator("#flag-list blockquote")).to_contain_text("业绩证明")
    flags = [f for f in ok(client.get(w.url("/flags"), headers=w.admin())) if f["member_id"] == mine["member_id"]]
    assert flags and all(f["explanation"] for f in flags)
    for f in flags:
        ok(client.post(w.url(f"/flags/{f['id']}/confirm"), headers=experts[chair]))

    # Signing: the member's certificate (their region's CA) on a SoftHSM2 token behind a PIN, held by the seat's
    # own signer process; a one-time-code authenticator registered from the page.
    pki = setup_pki(w)
    ca = pki.cas[region_of(w, mine)]
    issued = certificate_for(w, ca, mine["name"], f"E-{mine['member_id'][:8]}")
    with seat_signer(tmp_path / "seat", issued, [ca.intermediate.certificate], live,
                     int(ctx.settings.seat_signer_url.rsplit(":", 1)[1])):
        page.reload()  # a fresh look for the signer, which the page checks when it shows what there is to sign
        expect(page.locator("#signer-status")).to_contain_text("本席位签名设备就绪")
        page.get_by_role("button", name="登记动态口令器").click()
        expect(page.locator("#enrol-status")).to_contain_text("请在动态口令器中添加此密钥")
        totp = pyotp.TOTP(page.locator("#enrol-status").get_attribute("data-secret"))

        def sign(button: str, *, pin: str = TOKEN_PIN) -> None:
            wait(w, 31)  # each code is accepted once: the next signature takes the next step's
            page.get_by_role("button", name=button).click()
            expect(page.locator("#sign-hash")).to_have_text(re.compile("^[0-9a-f]{64}$"))
            page.get_by_label("证书 PIN 码").fill(pin)
            page.get_by_label("动态口令").fill(totp.at(ctx.clock.now()))
            page.get_by_role("button", name="签署", exact=True).click()

        sign("签署详细评审评分表", pin="000000")  # a wrong PIN: the token refuses, nothing is signed
        expect(page.locator("#sign-status")).to_contain_text("wrong PIN; 4 tries left")
        assert ok(client.get(w.url("/signatures"), headers=w.admin())) == []
        page.get_by_label("证书 PIN 码").fill(TOKEN_PIN)
        wait(w, 31)
        page.get_by_label("动态口令").fill(totp.at(ctx.clock.now()))
        page.get_by_role("button", name="签署", exact=True).click()
        expect(page.locator("#signed")).to_contain_text("已签署：签署详细评审评分表")
        sign("签署资格/符合性审查评分表")
        expect(page.locator("#to-sign")).to_have_text("暂无待签署的文件。")
        signed = ok(client.get(w.url("/signatures"), headers=w.admin()))
        assert sorted((s["member_id"], s["document"]) for s in signed) == [(mine["member_id"], "sheet")] * 2
        assert all(s["verification"]["trusted"] and s["evidence"]["kind"] == "totp" for s in signed)

        # The summary: the expert records a dissent; in report signing the preview shows the result and the
        # dissent, and the expert signs the report with the dissent attached.
        move(w, "detailed_review")
        move(w, "price_scoring")
        expect(page.locator("#dissent-form")).to_be_visible()
        page.get_by_label(re.compile("保留意见（")).fill(DISSENT)
        page.get_by_role("button", name="记录保留意见").click()
        expect(page.locator("#dissent-status")).to_have_text("保留意见已记录。")
        move(w, "summary")
        move(w, "recommendation")
        expect(page.locator("#phase")).to_have_text("签署评标报告")
        expect(page.locator("#report-body")).to_contain_text("推荐的中标候选人")
        expect(page.locator("#report-body")).to_contain_text(DISSENT)
        expect(page.locator("#report-pdf")).to_be_visible()
        expect(page.get_by_role("button", name="签署评标报告（附保留意见）")).to_be_visible()
        own_box = page.locator(f'#report-signatures tr[data-member="{mine["member_id"]}"]')
        expect(own_box).to_contain_text("待签字")
        screenshot(page, "expert-report-signing")
        assert accessibility_violations(page) == []
        sign("签署评标报告（附保留意见）")
        expect(page.locator("#signed")).to_contain_text("已签署：签署评标报告（附保留意见）")
        # The preview's signature page shows the signature in the member's box as the PDF does, without a reload.
        expect(own_box).to_have_attribute("data-signed", "true")
        issuer = ca.intermediate.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        expect(own_box).to_contain_text(f"证书 {issuer}")
        expect(own_box).to_contain_text(f"{issued.certificate.serial_number:X}")
        expect(own_box).to_contain_text("保留意见（见报告“八、保留意见”）")
        expect(page.locator("#report-signatures tr[data-signed=true]")).to_have_count(1)
        screenshot(page, "expert-report-signature-page", page.locator("#report"))
        assert accessibility_violations(page) == []
    report = [s for s in ok(client.get(w.url("/signatures"), headers=w.admin())) if s["document"] == "report"]
    assert [(s["member_id"], s["dissent_sha256"] is not None) for s in report] == [(mine["member_id"], True)]
    assert report[0]["verification"]["intact"] and report[0]["verification"]["trusted"]


@SQLITE_ONLY
def test_a_dropped_websocket_reconnects_and_shows_what_happened_meanwhile(ctx: AppContext, client: Any, live: str,
                                                                         page: Any) -> None:
    w, _mine, code, others = a_seat_waiting_for_its_expert(ctx, client)
    held: list[Any] = []
    routes: list[Any] = []
    hold = {"on": False}

    def through(ws: Any) -> None:
        if hold["on"]:
            held.append(ws)  # the page's reconnection, kept waiting while the test changes the session
        else:
            routes.append((ws, ws.connect_to_server()))

    page.route_web_socket(re.compile(r".*/events/ws$"), through)
    page.goto(f"{live}/expert")
    page.get_by_label("一次性登录码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    page.get_by_label(re.compile("本人确认")).check()
    page.get_by_role("button", name="提交承诺").click()
    expect(page.locator("#declaration-status")).to_have_text("已提交承诺，已入席。")
    page.evaluate("window.notReloaded = true")

    hold["on"] = True
    page_side, server_side = routes[-1]
    server_side.close()  # both ends: nothing more of that connection reaches the page
    page_side.close()
    expect(page.locator("#conn")).to_have_text("连接中断，正在重新连接…")
    for _ in range(100):  # the page tries again (and is held): handlers run while Playwright is waited on
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the page did not try to reconnect"
    venues_online(w)
    ok(client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))  # while it is cut off
    ok(client.post(w.url("/warnings"), headers=w.supervisor(), json={"text": "请关闭手机"}), 201)
    expect(page.locator("#state")).to_have_text("等待开始")
    hold["on"] = False
    for ws in held:
        ws.close()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    expect(page.locator("#state")).to_have_text("评审中")
    expect(page.locator("#phase")).to_have_text("推选组长")
    expect(page.locator("#warnings")).to_contain_text("请关闭手机")
    assert page.evaluate("window.notReloaded") is True
    assert others  # the committee around the browser's member was seated through the API


def seated_at_the_page(page: Any, live: str, code: str) -> None:
    """The browser's member logs in with their code and confirms the declaration: seated."""
    page.goto(f"{live}/expert")
    page.get_by_label("一次性登录码").fill(code)
    page.get_by_role("button", name="登录").click()
    page.get_by_label(re.compile("本人确认")).check()
    page.get_by_role("button", name="提交承诺").click()
    expect(page.locator("#declaration-status")).to_have_text("已提交承诺，已入席。")


def start_session(w: CommitteeWorld) -> None:
    venues_online(w)
    ok(w.client.post(w.url("/state"), headers=w.host_op(), json={"action": "start"}))


def at_the_review(ctx: AppContext, client: Any, live: str, page: Any) -> tuple[
        CommitteeWorld, dict[str, Any], dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """The browser's member seated, the session started and the chair elected through the API: the review phase.
    (world, the browser's member, the others' headers, everyone's headers)."""
    w, mine, code, others = a_seat_waiting_for_its_expert(ctx, client)
    seated_at_the_page(page, live, code)
    experts = {**others, mine["member_id"]: expert_headers(w, mine)}
    start_session(w)
    elect(w, experts)
    move(w, "chair_election")
    return w, mine, others, experts


@SQLITE_ONLY
def test_an_expert_votes_for_the_chair_and_again_among_the_tied(ctx: AppContext, client: Any, live: str,
                                                                page: Any) -> None:
    """The first phase on the page: round 1 with every member standing (the browser's member votes for
    themself, the others through the API: 2-2-1), round 2 among the two tied, and the chair's name once elected."""
    w, mine, code, others = a_seat_waiting_for_its_expert(ctx, client)
    seated_at_the_page(page, live, code)
    start_session(w)
    names = {m["member_id"]: m["name"] for m in members(w, "seated")}
    o1, o2, o3, o4 = sorted(others)

    def vote(voter: str, candidate: str) -> None:
        ok(client.post(w.url("/chair/votes"), headers=others[voter], json={"candidate_member_id": candidate}))

    expect(page.locator("#chair-round")).to_contain_text("第 1 轮")
    expect(page.locator("#chair-candidates input")).to_have_count(5)
    for voter, candidate in ((o1, o1), (o2, o1), (o3, o2), (o4, o2)):
        vote(voter, candidate)
    expect(page.locator("#chair-round")).to_contain_text("已投 4/5 票")  # by the session's events
    page.get_by_role("button", name="投票").click()
    expect(page.locator("#chair-status")).to_have_text("请选择一名候选人。")  # nothing chosen: nothing sent
    page.get_by_label(f"{names[mine['member_id']]}（本人）").check()
    page.get_by_role("button", name="投票").click()

    # A 2-2-1 split: only the two tied stand in round 2.
    expect(page.locator("#chair-round")).to_contain_text("第 2 轮：上一轮得票最多者票数相同")
    expect(page.locator("#chair-candidates input")).to_have_count(2)
    expect(page.locator("#chair-status")).to_have_text("")
    expect(page.locator("#chair-candidates")).to_contain_text(names[o1])
    expect(page.locator("#chair-candidates")).to_contain_text(names[o2])
    assert accessibility_violations(page) == []
    screenshot(page, "expert-chair-round2", page.locator("#chair"))
    for voter, candidate in ((o1, o1), (o2, o1), (o3, o2), (o4, o2)):
        vote(voter, candidate)
    page.get_by_label(names[o1]).check()
    page.get_by_role("button", name="投票").click()
    expect(page.locator("#chair-name")).to_have_text(f"{names[o1]}（第 2 轮当选）")
    expect(page.locator("#chair")).to_be_hidden()
    assert ok(client.get(w.url("/committee"), headers=w.admin()))["chair_member_id"] == o1


@SQLITE_ONLY
def test_an_expert_reviews_every_bid_and_sees_the_committees_tally_once_all_have(ctx: AppContext, client: Any,
                                                                                 live: str, page: Any) -> None:
    """"The time is too short" said from the page, extending with a second member's; then the review on the page:
    bids left unmarked are refused each at its bid, a fail without a reason at its; marked
    and sent, the page waits for the others (who submit through the API, two more failing B3); then the tally:
    B3 rejected by three of five with each reason, the others passed."""
    w, _mine, others, _experts = at_the_review(ctx, client, live, page)
    expect(page.get_by_role("heading", name="资格审查与符合性审查")).to_be_visible()

    # "The time is too short": the member's own request, then another's (2 of 5, more than a third) extends.
    expect(page.locator("#extension-count")).to_contain_text("已有 0/5 位委员")
    page.get_by_role("button", name="评审时间不够").click()
    expect(page.locator("#extension-status")).to_have_text("您已提出评审时间不足。")
    expect(page.locator("#extension-count")).to_contain_text("已有 1/5 位委员")
    expect(page.get_by_role("button", name="评审时间不够")).to_be_hidden()
    ok(client.post(w.url("/extension"), headers=next(iter(others.values()))))
    expect(page.locator("#extension-status")).to_contain_text("评审时间已延长")
    assert ok(client.get(w.url("/status"), headers=w.admin()))["extension"]["extended"] is True

    form = page.locator("#review-form")
    expect(form.locator("fieldset[data-bid]")).to_have_count(len(BIDS))

    form.locator('fieldset[data-bid="L1/B1"]').get_by_label("通过", exact=True).check()
    form.get_by_role("button", name="提交审查结果").click()  # two bids not marked
    expect(page.locator("#review-error")).to_contain_text("every bid must be marked")
    for bid in ("L1/B2", "L1/B3"):
        expect(form.locator(f'fieldset[data-bid="{bid}"] .error')).to_have_text("not marked")
    for bid in BIDS:
        form.locator(f'fieldset[data-bid="{bid}"]').get_by_label("通过", exact=True).check()
    b3 = form.locator('fieldset[data-bid="L1/B3"]')
    b3.get_by_label("不通过", exact=True).check()
    form.get_by_role("button", name="提交审查结果").click()  # a fail without a reason
    expect(b3.locator(".error")).to_have_text("reason required")
    expect(form.locator('fieldset[data-bid="L1/B1"] .error')).to_have_text("")
    assert ok(client.get(w.url("/sheets"), headers=w.admin(), params={"phase": "review"}))["submitted"] == []
    b3.get_by_label("不通过的理由").fill("项目经理无注册建造师证书")
    form.get_by_role("button", name="提交审查结果").click()
    expect(page.locator("#review-status")).to_have_text("已提交，等待其他委员（1/5 人已提交）。")
    assert accessibility_violations(page) == []

    for i, (member_id, headers) in enumerate(sorted(others.items())):
        marks = {b: {"passed": True} for b in BIDS}
        if i < 2:
            marks["L1/B3"] = {"passed": False, "reason": f"业绩证明不全（{i}）"}
        ok(client.post(w.url("/review"), headers=headers, json={"marks": marks}))
    tally = page.locator("#review-tally")
    expect(tally).to_be_visible()
    rejected = tally.locator('tr[data-bid="L1/B3"]')
    expect(rejected).to_contain_text("否决")
    expect(rejected.locator("td").nth(1)).to_have_text("3")
    expect(rejected).to_contain_text("项目经理无注册建造师证书")
    expect(rejected).to_contain_text("业绩证明不全（0）")
    expect(tally.locator('tr[data-bid="L1/B1"]')).to_contain_text("通过")
    expect(form).to_be_hidden()
    assert accessibility_violations(page) == []
    screenshot(page, "expert-review-tally", page.locator("#review"))


@SQLITE_ONLY
def test_an_expert_reviews_item_by_item_when_the_tender_lists_the_items(ctx: AppContext, client: Any, live: str,
                                                                        page: Any) -> None:
    """A tender with its review items (two qualification checks, one compliance check): the page asks for each
    item of each bid; an item left unmarked and a failed item without a reason are refused at that item; the
    sheet keeps the items, the bid failing with the failed item; the tally names the item with the reason."""
    items = [{"code": "Q1", "name": "营业执照", "kind": "qualification"},
             {"code": "Q2", "name": "安全生产许可证", "kind": "qualification"},
             {"code": "F1", "name": "投标有效期", "kind": "compliance"}]
    w, mine, code, others = a_seat_waiting_for_its_expert(ctx, client, project_doc(review_items=items))
    seated_at_the_page(page, live, code)
    experts = {**others, mine["member_id"]: expert_headers(w, mine)}
    start_session(w)
    elect(w, experts)
    move(w, "chair_election")

    form = page.locator("#review-form")
    b3 = form.locator('fieldset[data-bid="L1/B3"]')
    expect(b3.locator("fieldset[data-item]")).to_have_count(3)
    expect(b3.locator('fieldset[data-item="F1"] legend')).to_have_text("符合性审查 · 投标有效期")
    for bid in BIDS:
        for item in ("Q1", "Q2", "F1"):
            if (bid, item) != ("L1/B1", "F1"):  # one item of one bid left unmarked
                form.locator(f'fieldset[data-bid="{bid}"] fieldset[data-item="{item}"]').get_by_label(
                    "通过", exact=True).check()
    q2 = b3.locator('fieldset[data-item="Q2"]')
    q2.get_by_label("不通过", exact=True).check()  # without a reason
    form.get_by_role("button", name="提交审查结果").click()
    expect(form.locator('fieldset[data-bid="L1/B1"] fieldset[data-item="F1"] .error')).to_have_text("not marked")
    expect(q2.locator(".error")).to_have_text("reason required")
    expect(b3.locator('fieldset[data-item="Q1"] .error')).to_have_text("")
    assert ok(client.get(w.url("/sheets"), headers=w.admin(), params={"phase": "review"}))["submitted"] == []
    assert accessibility_violations(page) == []
    screenshot(page, "expert-review-items", page.locator("#review"))
    form.locator('fieldset[data-bid="L1/B1"] fieldset[data-item="F1"]').get_by_label("通过", exact=True).check()
    q2.get_by_label("不通过的理由").fill("安全生产许可证已过期")
    form.get_by_role("button", name="提交审查结果").click()
    expect(page.locator("#review-status")).to_contain_text("已提交")
    (own,) = ok(client.get(w.url("/sheets"), headers=experts[mine["member_id"]], params={"phase": "review"}))["sheets"]
    assert own["content"]["marks"]["L1/B3"] == {"passed": False, "reason": "", "items": {
        "F1": {"passed": True, "reason": ""}, "Q1": {"passed": True, "reason": ""},
        "Q2": {"passed": False, "reason": "安全生产许可证已过期"}}}
    assert own["content"]["marks"]["L1/B1"]["passed"] is True

    # Two more fail B3 on its compliance item: rejected, each reason under its item's name.
    for i, headers in enumerate(others.values()):
        marks = {b: {"passed": True, "items": {c: {"passed": True} for c in ("Q1", "Q2", "F1")}} for b in BIDS}
        if i < 2:
            marks["L1/B3"] = {"passed": False, "items": {"Q1": {"passed": True}, "Q2": {"passed": True},
                                                         "F1": {"passed": False, "reason": f"有效期不足（{i}）"}}}
        ok(client.post(w.url("/review"), headers=headers, json={"marks": marks}))
    rejected = page.locator('#review-tally tr[data-bid="L1/B3"]')
    expect(rejected).to_contain_text("否决")
    expect(rejected).to_contain_text("安全生产许可证：安全生产许可证已过期")
    expect(rejected).to_contain_text("投标有效期：有效期不足（0）")


@SQLITE_ONLY
def test_an_expert_corrects_a_flagged_score_from_the_flag(ctx: AppContext, client: Any, live: str,
                                                          page: Any) -> None:
    """A flag on the member's objective item C1: the page's correction without a reason is refused at that
    field (the sheet stays at version 1); with one, the sheet's version 2 carries the new value, cause "flag"."""
    w, mine, _others, experts = at_the_review(ctx, client, live, page)
    review_all_pass(w, experts)
    move(w, "review")
    rows = (("15", "8", "5"), ("16", "8", "5"), ("14", "7", "5"))
    for member_id, headers in experts.items():
        scored = {bid: dict(zip(("T1", "T2", "C1"), row, strict=True)) for bid, row in zip(BIDS, rows, strict=True)}
        if member_id == mine["member_id"]:
            scored["L1/B3"]["C1"] = "4"  # the objective item, unlike everyone else's
        ok(client.post(w.url("/scores"), headers=headers, json={"scores": scored}))
    flag = page.locator("#flag-list form[data-flag]")
    expect(flag).to_have_count(1)
    flag.get_by_label("更正为").fill("5")
    flag.get_by_role("button", name="更正评分").click()
    expect(flag.get_by_label("更正理由")).to_have_attribute("aria-invalid", "true")
    history = ok(client.get(w.url(f"/sheets/detailed_review/{mine['member_id']}"), headers=w.admin()))
    assert [h["version"] for h in history] == [1]
    flag.get_by_label("更正理由").fill("误将一项业绩证明计为无效")
    flag.get_by_role("button", name="更正评分").click()
    expect(page.locator("#flag-list")).not_to_contain_text("更正为")  # resolved: no more forms on the flag
    *_, corrected = ok(client.get(w.url(f"/sheets/detailed_review/{mine['member_id']}"), headers=w.admin()))
    assert (corrected["version"], corrected["cause"]) == (2, "flag")
    assert corrected["content"]["scores"]["L1/B3"]["C1"] == "5.00"
    assert accessibility_violations(page) == []


@SQLITE_ONLY
def test_the_chair_moves_the_phases_confirms_a_flag_and_settles_a_tie(ctx: AppContext, client: Any, live: str,
                                                                      page: Any) -> None:
    """The browser's member is elected chair (the others vote through the API): the chair's controls appear;
    the chair leaves the election and the review phases from the page, confirms a flag another member
    explained, is refused leaving the recommendation while B1 and B2 tie (same price, same scores), records the
    committee's order without a reason (refused at the field) and with one, and then leaves it."""
    doc = project_doc()
    doc["lots"][0]["bids"][1]["price"] = doc["lots"][0]["bids"][0]["price"]
    w, mine, code, others = a_seat_waiting_for_its_expert(ctx, client, doc)
    seated_at_the_page(page, live, code)
    experts = {**others, mine["member_id"]: expert_headers(w, mine)}
    start_session(w)
    for headers in experts.values():
        ok(client.post(w.url("/chair/votes"), headers=headers, json={"candidate_member_id": mine["member_id"]}))
    controls = page.locator("#chair-controls")
    expect(controls).to_be_visible()
    controls.get_by_role("button", name="结束本环节：推选组长").click()
    expect(page.locator("#phase")).to_have_text("资格/符合性审查")
    review_all_pass(w, experts)
    controls.get_by_role("button", name="结束本环节：资格/符合性审查").click()
    expect(page.locator("#phase")).to_have_text("详细评审")

    # Everyone scores alike but one member's objective C1 of B3; that member explains; the chair confirms.
    odd = min(others)
    for member_id, headers in experts.items():
        scored = sheet("15", "7")
        if member_id == odd:
            scored["scores"]["L1/B3"]["C1"] = "4"
        ok(client.post(w.url("/scores"), headers=headers, json=scored))
    (flag,) = [f for f in ok(client.get(w.url("/flags"), headers=w.admin())) if f["member_id"] == odd]
    ok(client.post(w.url(f"/flags/{flag['id']}/explanation"), headers=experts[odd], json={"text": "按业绩证明计分"}))
    row = controls.locator(f'#cc-flags-body tr[data-flag="{flag["id"]}"]')
    expect(row).to_contain_text("按业绩证明计分")
    row.get_by_role("button", name="确认").click()
    expect(row).to_contain_text("已确认")
    assert next(f for f in ok(client.get(w.url("/flags"), headers=w.admin())) if f["id"] == flag["id"])["confirmed_at"]
    for phase in ("详细评审", "价格评分", "汇总"):
        controls.get_by_role("button", name=f"结束本环节：{phase}").click()
        expect(controls.get_by_role("button", name=re.compile("结束本环节"))).not_to_have_text(f"结束本环节：{phase}")
    expect(page.locator("#phase")).to_have_text("推荐候选人")

    # The tie: leaving is refused and says why; the order without a reason is refused at the field.
    controls.get_by_role("button", name="结束本环节：推荐候选人").click()
    expect(page.locator("#cc-status")).to_contain_text("tie")
    tie = controls.locator('#cc-ties form[data-lot="L1"]')
    tie.get_by_label("第 1 位").select_option("L1/B2")
    tie.get_by_label("第 2 位").select_option("L1/B1")
    tie.get_by_role("button", name="记录决定").click()
    expect(tie.get_by_label("决定方式（如：抽签）")).to_have_attribute("aria-invalid", "true")
    assert ok(client.get(w.url("/ties"), headers=w.admin())) != []
    tie.get_by_label("决定方式（如：抽签）").fill("经评标委员会抽签决定")
    tie.get_by_role("button", name="记录决定").click()
    expect(page.locator("#cc-ties-part")).to_be_hidden()
    assert ok(client.get(w.url("/ties"), headers=w.admin())) == []
    assert accessibility_violations(page) == []
    controls.get_by_role("button", name="结束本环节：推荐候选人").click()
    expect(page.locator("#phase")).to_have_text("签署评标报告")


def virtual_authenticator(page: Any) -> Any:
    """Chromium's virtual WebAuthn authenticator (DevTools protocol) on the page's browser context: a platform
    authenticator that verifies the user and is touched at once. Its credentials, for a test to read."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})["authenticatorId"]
    return lambda: cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]


# Run in the page, with its own modules and token: a WebAuthn factor for one document, presented for another
# (or the same twice). Returns each answer's status and error code.
PRESENT = """async ([asked, presented, times]) => {
  const { api, ApiError } = await import("/static/js/api.js");
  const { factorFor } = await import("/static/js/webauthn.js");
  const { Signing } = await import("/static/js/signing.js");
  const me = await api("/auth/me");
  const ref = async (phase) => ({ document: "sheet", phase, sha256: await new Signing(me.session_id,
                                  { document: "sheet", phase }).fetch() });
  const factor = await factorFor(me.session_id, await ref(asked));
  const body = { ...(await ref(presented)), factor };
  const answers = [];
  for (let i = 0; i < times; i++) {
    try {
      await api(`/sessions/${me.session_id}/signing/authorisations`, { method: "POST", body });
      answers.push("authorised");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      answers.push(`${err.code}:${(err.details[0] || {}).reason}`);
    }
  }
  return answers;
}"""


@SQLITE_ONLY
def test_an_expert_registers_a_security_key_and_signs_with_it(ctx: AppContext, client: Any, live: str, page: Any,
                                                             tmp_path: Path) -> None:
    """WebAuthn from the page, with Chromium's virtual authenticator: the member registers a key, then signs a
    sheet choosing it as the second factor (no one-time code asked). The coordinator's challenge is bound to
    the document's hash: an assertion made for the review sheet and presented for the detailed one is refused
    (wrong_document), and one presented twice is refused the second time (its challenge is spent)."""
    w, mine, _others, experts = at_the_review(ctx, client, live, page)
    credentials = virtual_authenticator(page)
    review_all_pass(w, experts)
    move(w, "review")
    for headers in experts.values():
        ok(client.post(w.url("/scores"), headers=headers, json=sheet("15", "7")))
    pki = setup_pki(w)
    ca = pki.cas[region_of(w, mine)]
    issued = certificate_for(w, ca, mine["name"], f"E-{mine['member_id'][:8]}")
    with seat_signer(tmp_path / "seat", issued, [ca.intermediate.certificate], live,
                     int(ctx.settings.seat_signer_url.rsplit(":", 1)[1])):
        page.reload()
        expect(page.locator("#signer-status")).to_contain_text("本席位签名设备就绪")
        page.get_by_role("button", name="登记安全密钥（WebAuthn）").click()
        expect(page.locator("#enrol-status")).to_have_text(re.compile("^安全密钥已登记"))
        (credential,) = credentials()
        factors = [e for e in ok(client.get(w.url("/events"), headers=w.admin(), params={"limit": 1000}))["events"]
                   if e["kind"] == "signing.factor_registered"]
        assert [(e["payload"]["member_id"], e["payload"]["kind"]) for e in factors] == [(mine["member_id"], "webauthn")]

        # Bound to the document: made for one sheet, presented for the other; then the same presented twice.
        assert page.evaluate(PRESENT, ["review", "detailed_review", 1]) == ["factor_refused:wrong_document"]
        assert page.evaluate(PRESENT, ["review", "review", 2]) == ["authorised", "factor_refused:unknown_challenge"]

        page.get_by_role("button", name="签署详细评审评分表").click()
        expect(page.locator("#sign-hash")).to_have_text(re.compile("^[0-9a-f]{64}$"))
        expect(page.get_by_label("安全密钥（WebAuthn）")).to_be_checked()  # chosen when the key was registered
        expect(page.get_by_label("动态口令")).to_be_hidden()
        page.get_by_label("证书 PIN 码").fill(TOKEN_PIN)
        screenshot(page, "expert-sign-with-key", page.locator("#signing"))
        assert accessibility_violations(page) == []
        page.get_by_role("button", name="签署", exact=True).click()
        expect(page.locator("#signed")).to_contain_text("已签署：签署详细评审评分表")
    (signature,) = ok(client.get(w.url("/signatures"), headers=w.admin()))
    assert (signature["member_id"], signature["document"]) == (mine["member_id"], "sheet")
    evidence = signature["evidence"]
    assert evidence["kind"] == "webauthn" and evidence["user_verified"] is True
    assert evidence["credential_id"] == credential["credentialId"].replace("+", "-").replace("/", "_").rstrip("=")
