"""A whole evaluation through the pages only, as test_admin_page.py's chain goes on once the committee is drawn
(issue 23): both operators check their experts in at the desk; five experts, each in a browser context of their
own with a fake camera and microphone, log in with the slip's code, declare and go live; the host starts; the
chair is elected in a second round after a tie; the qualification review rejects one bid by majority; everyone
scores on the form, one member explains a flag and another corrects one, and the chair confirms both and moves
the phases; a member records a dissent; every member signs both sheets and the report (one with a security key
through Chromium's virtual authenticator, the others with a one-time code), each with their own seat signer on
a SoftHSM2 token; the host seals, ends the session, publishes and downloads the evidence bundle. The pages act;
the API is read only to check (and to know who was drawn, which the experts learn by the pool's notice).

The coordinator runs on the wall clock (the chain's real site agents need it), so one-time codes are real
30-second steps: members sign in turn, each round over all members, which leaves each code's step behind
before the same member needs the next one.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from conftest import ok, run_evalroom
from page_steps import ANSWERED
from pdfsig import pdfsig
from playwright.sync_api import expect
from web_world import TOKEN_PIN, accessibility_violations, screenshot, seat_signer

from signing.pki import RegionCA, issue_signer

LIVE = 30_000
"""How long a page may take to follow the others (ms): five browsers and the relay share two cores."""
SCORES = {"T1": "15", "T2": "8", "C1": "5"}


@dataclass
class Seat:
    """One expert at their seat: the browser page, and what the person holds (their certificate's CA, their
    one-time-code secret, or a security key)."""

    member_id: str
    name: str
    venue_id: str
    ca: RegionCA
    page: Any
    totp: pyotp.TOTP | None = None
    last_step: int = -1
    key: bool = False
    signed: list[str] = field(default_factory=list)

    def code(self) -> str:
        """The authenticator's code for a step this person has not used yet (a code is accepted once)."""
        while (step := int(time.time()) // 30) <= self.last_step:
            time.sleep(31 - time.time() % 30)
        self.last_step = step
        assert self.totp is not None
        return self.totp.at(step * 30)


def check_in_at_desk(tab: Any, name: str, id_number: str, seat_index: int) -> str:
    """The operator checks a person's identity card and face, gives them a seat, and reads out the slip's code."""
    before = tab.locator("#login-code").all_inner_texts()
    tab.get_by_label("身份证号码", exact=True).fill(id_number)
    tab.locator("#ci-card-pass").check()
    tab.locator("#ci-face-pass").check()
    tab.get_by_label("席位", exact=True).select_option(index=seat_index)
    tab.get_by_role("button", name="签到", exact=True).click()
    expect(tab.locator("#checkin-result")).to_contain_text(name, timeout=ANSWERED)
    code = tab.locator("#login-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$"))
    assert code.inner_text() not in before
    return code.inner_text()


def at_the_seat(browser: Any, live: str, code: str, errors: list[str]) -> Any:
    tab = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                              viewport={"width": 1000, "height": 800}).new_page()
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.goto(f"{live}/expert")
    tab.get_by_label("一次性登录码").fill(code)
    tab.get_by_role("button", name="登录").click()
    expect(tab.locator("#conn")).to_have_text("实时连接正常", timeout=ANSWERED)
    expect(tab.get_by_label(re.compile("本人确认"))).to_be_visible(timeout=ANSWERED)
    tab.get_by_label(re.compile("本人确认")).check()
    tab.get_by_role("button", name="提交承诺").click()
    expect(tab.locator("#declaration-status")).to_have_text("已提交承诺，已入席。", timeout=ANSWERED)
    return tab


def security_key(tab: Any) -> None:
    """Chromium's virtual authenticator in the seat's browser: verifies the user, touched at once."""
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})


def vote(seat: Seat, candidate: Seat) -> None:
    name = f"{candidate.name}（本人）" if candidate is seat else candidate.name
    seat.page.get_by_label(name, exact=True).check()
    seat.page.get_by_role("button", name="投票").click()


def end_phase(chair: Seat, phase: str, then: str) -> None:
    """The chair's "end this phase", and the phase the page then shows."""
    chair.page.locator("#chair-controls").get_by_role("button", name=f"结束本环节：{phase}").click()
    expect(chair.page.locator("#phase")).to_have_text(then, timeout=ANSWERED)


def review(seat: Seat, bids: int, fails: dict[str, str]) -> None:
    form = seat.page.locator("#review-form")
    expect(form.locator("fieldset[data-bid]")).to_have_count(bids, timeout=LIVE)
    for fieldset in form.locator("fieldset[data-bid]").all():
        bid = fieldset.get_attribute("data-bid")
        if bid in fails:
            fieldset.get_by_label("不通过", exact=True).check()
            fieldset.get_by_label("不通过的理由").fill(fails[bid])
        else:
            fieldset.get_by_label("通过", exact=True).check()
    form.get_by_role("button", name="提交审查结果").click()
    # Waiting for the others, or (the last to submit) the committee's tally at once.
    done = seat.page.locator("#review-status", has_text="已提交").or_(seat.page.locator("#review-tally"))
    expect(done.first).to_be_visible(timeout=ANSWERED)


def score(seat: Seat, bids: list[str], odd: dict[tuple[str, str], str]) -> None:
    """Every field of the form, bid by bid in its criteria's order (T1, T2, C1): the usual marks but ``odd``."""
    fields = seat.page.locator("#score-bids input")
    expect(fields).to_have_count(3 * len(bids), timeout=LIVE)
    values = [odd.get((bid, c), v) for bid in bids for c, v in SCORES.items()]
    for i, value in enumerate(values):
        fields.nth(i).fill(value)
    seat.page.locator("#score-submit").click()
    expect(seat.page.locator("#score-status")).to_contain_text("评分已提交", timeout=ANSWERED)


def sign(seat: Seat, button: str) -> None:
    """The member signs one document from the page: its hash shown, the PIN, and the second factor."""
    tab = seat.page
    tab.get_by_role("button", name=button, exact=True).click()
    expect(tab.locator("#sign-hash")).to_have_text(re.compile("^[0-9a-f]{64}$"), timeout=ANSWERED)
    tab.get_by_label("证书 PIN 码").fill(TOKEN_PIN)
    if seat.key:
        tab.get_by_label("安全密钥（WebAuthn）").check()
    else:
        tab.get_by_label("口令器").check()
        tab.get_by_label("动态口令").fill(seat.code())
    tab.get_by_role("button", name="签署", exact=True).click()
    expect(tab.locator("#signed")).to_have_text(f"已签署：{button}。", timeout=LIVE)
    seat.signed.append(button)


@contextmanager
def holding_the_ukey(seat: Seat, directory: Path, live: str, port: int) -> Iterator[None]:
    """The member's UKey in their seat's signer: their certificate from their region's CA on a SoftHSM2 token."""
    start = datetime.now(UTC)
    issued = issue_signer(seat.ca, seat.name, f"E-{seat.member_id[:8]}", start - timedelta(days=1),
                          start + timedelta(days=365))
    with seat_signer(directory, issued, [seat.ca.intermediate.certificate], live, port):
        yield


@dataclass
class Prepared:
    """What the chain hands on: the session, the host's and the guest's operator tabs, the tender, the people
    in both pools (name → identity number), and each region's CA by venue id."""

    session: dict[str, Any]
    host: Any
    guest: Any
    doc: dict[str, Any]
    id_numbers: dict[str, str]
    cas: dict[str, RegionCA]
    host_id: str
    guest_id: str


def evaluating(ctx: Any, client: Any, admin: dict[str, str], live: str, browser: Any, tmp_path: Path,
               prepared: Prepared, errors: list[str]) -> None:
    sid = prepared.session["id"]
    api = f"/api/v1/sessions/{sid}"
    host, guest = prepared.host, prepared.guest
    port = int(ctx.settings.seat_signer_url.rsplit(":", 1)[1])

    # --- check-in at both desks; each expert logs in at their seat with the slip's code and declares --------
    drawn = ok(client.get(f"{api}/committee", headers=admin))["members"]  # who the pool's notices called
    seats: list[Seat] = []
    for desk, venue_id in ((host, prepared.host_id), (guest, prepared.guest_id)):
        here = sorted((m for m in drawn if m["venue_id"] == venue_id), key=lambda m: m["name"])
        for i, member in enumerate(here, 1):
            code = check_in_at_desk(desk, member["name"], prepared.id_numbers[member["name"]], i)
            seats.append(Seat(member["member_id"], member["name"], venue_id, prepared.cas[venue_id],
                              at_the_seat(browser, live, code, errors)))
    assert len(seats) == 5 and {s.venue_id for s in seats} == {prepared.host_id, prepared.guest_id}
    seated = ok(client.get(f"{api}/committee", headers=admin))["members"]
    assert sorted(m["state"] for m in seated) == ["seated"] * 5

    # --- the host starts; every seat goes live on camera and microphone -----------------------------------
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="开始评审").click()
    expect(host.locator("#state")).to_have_text("评审中", timeout=ANSWERED)
    for seat in seats:
        expect(seat.page.locator("#live-status")).to_have_text("本席位音视频已接入，正在录像。", timeout=LIVE)

    # --- the chair: 2-2-1 in round 1, then the two tied, 3-2 ------------------------------------------------
    a, b, c, d, e = seats
    for voter, candidate in ((a, a), (b, a), (c, b), (d, b), (e, c)):
        vote(voter, candidate)
    for seat in seats:
        expect(seat.page.locator("#chair-round")).to_contain_text("第 2 轮", timeout=LIVE)
    for voter, candidate in ((a, a), (b, a), (c, a), (d, b), (e, b)):
        vote(voter, candidate)
    for seat in seats:
        expect(seat.page.locator("#chair-name")).to_contain_text(f"{a.name}（第 2 轮当选）", timeout=LIVE)
    chair = a
    end_phase(chair, "推选组长", "资格/符合性审查")

    # --- the qualification review: L1/B3 fails for three of five, each with a reason -----------------------
    for i, seat in enumerate(seats):
        review(seat, len(prepared.doc["lots"][0]["bids"]), {"L1/B3": f"项目经理无注册建造师证书（{i}）"} if i < 3 else {})
    tally = chair.page.locator('#review-tally tr[data-bid="L1/B3"]')
    expect(tally).to_contain_text("否决", timeout=LIVE)
    expect(tally).to_contain_text("项目经理无注册建造师证书（2）")
    end_phase(chair, "资格/符合性审查", "详细评审")

    # --- scores: B's objective C1 of L1/B1 and C's of L1/B2 differ from the rest -------------------------
    bids = ["L1/B1", "L1/B2"]
    for seat in seats:
        score(seat, bids, {("L1/B1", "C1"): "4"} if seat is b else {("L1/B2", "C1"): "3"} if seat is c else {})
    expect(b.page.locator("#flag-list")).to_contain_text("L1/B1 C1", timeout=LIVE)
    b.page.get_by_label("书面说明").fill("按投标文件第 12 页的业绩证明计分，其中一项证明不全。")
    b.page.get_by_role("button", name="提交说明").click()
    expect(b.page.locator("#flag-list blockquote")).to_contain_text("业绩证明", timeout=ANSWERED)
    flag = c.page.locator("#flag-list form[data-flag]")
    expect(flag).to_have_count(1, timeout=LIVE)
    flag.get_by_label("更正为").fill("5")
    flag.get_by_label("更正理由").fill("误将一项业绩证明计为无效")
    flag.get_by_role("button", name="更正评分").click()
    expect(c.page.locator("#flag-list")).not_to_contain_text("更正为", timeout=ANSWERED)
    rows = chair.page.locator("#cc-flags-body tr[data-flag]")
    expect(rows.get_by_role("button", name="确认")).to_have_count(2, timeout=LIVE)
    for flag_id in [row.get_attribute("data-flag") for row in rows.all()]:
        row = chair.page.locator(f'#cc-flags-body tr[data-flag="{flag_id}"]')
        row.get_by_role("button", name="确认").click()
        expect(row).to_contain_text("已确认", timeout=ANSWERED)
    flags = ok(client.get(f"{api}/flags", headers=admin))
    assert sorted((f["member_id"], f["status"], bool(f["confirmed_at"])) for f in flags) == sorted(
        [(b.member_id, "explained", True), (c.member_id, "corrected", True)])
    history = ok(client.get(f"{api}/sheets/detailed_review/{c.member_id}", headers=admin))
    assert [h["version"] for h in history] == [1, 2] and history[-1]["content"]["scores"]["L1/B2"]["C1"] == "5.00"
    assert accessibility_violations(chair.page) == []

    # --- the sheets' signatures while the summary is prepared: each member with their UKey in turn --------
    a.key = True
    security_key(a.page)
    for seat in seats:
        if seat.key:
            seat.page.get_by_role("button", name="登记安全密钥（WebAuthn）").click()
            expect(seat.page.locator("#enrol-status")).to_have_text(re.compile("^安全密钥已登记"), timeout=ANSWERED)
        else:
            seat.page.get_by_role("button", name="登记动态口令器").click()
            status = seat.page.locator("#enrol-status")
            expect(status).to_have_attribute("data-secret", re.compile("^[A-Z2-7]+$"), timeout=ANSWERED)
            seat.totp = pyotp.TOTP(status.get_attribute("data-secret"))
    rounds = 0

    def in_turn(button: Any) -> None:
        nonlocal rounds
        rounds += 1
        for seat in seats:
            with holding_the_ukey(seat, tmp_path / f"seat-{seat.member_id[:8]}-{rounds}", live, port):
                sign(seat, button(seat))

    in_turn(lambda seat: "签署资格/符合性审查评分表")
    in_turn(lambda seat: "签署详细评审评分表")
    sheets = [s for s in ok(client.get(f"{api}/signatures", headers=admin)) if s["document"] == "sheet"]
    assert len(sheets) == 10 and all(s["verification"]["trusted"] for s in sheets)
    assert sorted(s["evidence"]["kind"] for s in sheets) == ["totp"] * 8 + ["webauthn"] * 2

    # --- the summary: D records a dissent; the chair leads through the recommendation to the signing ------
    for phase, then in (("详细评审", "价格评分"), ("价格评分", "汇总")):
        end_phase(chair, phase, then)
    dissent = "本人认为投标人乙的施工组织设计更优，保留意见。"
    d.page.get_by_label(re.compile("保留意见（")).fill(dissent)
    d.page.get_by_role("button", name="记录保留意见").click()
    expect(d.page.locator("#dissent-status")).to_have_text("保留意见已记录。", timeout=ANSWERED)
    assert ok(client.get(f"{api}/ties", headers=admin)) == []  # no tie in this tender: nothing to settle
    for phase, then in (("汇总", "推荐候选人"), ("推荐候选人", "签署评标报告")):
        end_phase(chair, phase, then)
    in_turn(lambda seat: "签署评标报告（附保留意见）" if seat is d else "签署评标报告")
    page_of_signatures = chair.page.locator("#report-signatures")
    expect(page_of_signatures.locator("tr[data-signed=true]")).to_have_count(5, timeout=LIVE)
    expect(page_of_signatures.locator(f'tr[data-member="{d.member_id}"]')).to_contain_text("保留意见")

    # --- the host seals, ends the session, publishes, and downloads the evidence bundle -------------------
    host.get_by_role("button", name="加盖平台印章").click()
    expect(host.locator("#seal-status")).to_have_text("报告已盖章封存。", timeout=ANSWERED)
    expect(page_of_signatures.locator(".seal-box")).to_have_attribute("data-sealed", "true", timeout=LIVE)
    screenshot(chair.page, "expert-report-sealed", chair.page.locator("#report"))
    assert accessibility_violations(chair.page) == []
    host.once("dialog", lambda dialog: dialog.accept())
    host.get_by_role("button", name="结束评审").click()
    expect(host.locator("#state")).to_have_text("已结束", timeout=ANSWERED)
    host.get_by_role("button", name="发布公示").click()
    expect(host.locator("#pub-status")).to_contain_text("已发布公示", timeout=ANSWERED)
    with host.expect_download(timeout=120_000) as got:
        host.get_by_role("button", name="下载证据包（zip）").click()
    bundle = tmp_path / "evidence.zip"
    got.value.save_as(bundle)
    for seat in seats:
        seat.page.context.close()

    # --- checks: the bundle verifies offline; the sealed report shows every signer in their box ------------
    key = tmp_path / "log-key.txt"
    key.write_text(client.get("/api/v1/log/key").text, encoding="utf-8")
    verified = run_evalroom("verify", str(bundle), "--log-key", str(key))
    assert verified.returncode == 0 and "verdict: VERIFIED" in verified.stdout, verified.stdout + verified.stderr
    assert "report/report-v1.pdf: 6 signature(s) intact, valid and trusted" in verified.stdout, verified.stdout
    assert "recordings:" in verified.stdout
    check_the_sealed_report(client, admin, api, tmp_path, seats, prepared)
    assert one_byte_changed_fails(bundle, key, tmp_path)


def one_byte_changed_fails(bundle: Path, key: Path, tmp_path: Path) -> bool:
    """The bundle with one byte of its report PDF changed: ``evalroom verify`` fails it, naming the report."""
    changed = tmp_path / "evidence-changed.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("report/") and info.filename.endswith(".pdf"):
                at = data.index(b"stream", len(data) // 10) + 20
                data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
            dst.writestr(info, data)
    result = run_evalroom("verify", str(changed), "--log-key", str(key))
    failures = [line for line in result.stdout.splitlines() if "FAILED" in line]
    return result.returncode == 1 and any("report/report-v1.pdf" in line for line in failures)


def check_the_sealed_report(client: Any, admin: dict[str, str], api: str, tmp_path: Path, seats: list[Seat],
                            prepared: Prepared) -> None:
    """The sealed report as a reader sees it: every signer's name and venue in their box on the signature page
    (poppler's text of the rendered page), the dissenter's 保留意见, the seal; pdfsig finds all six valid, and
    one changed byte breaks them."""
    pdf = client.get(f"{api}/report.pdf", headers=admin).content
    path = tmp_path / "sealed.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True).stdout
    last = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1)
    text = subprocess.run(["pdftotext", "-layout", "-f", last, "-l", last, path, "-"], check=True,
                          capture_output=True, text=True).stdout
    for seat in seats:
        # Under the member's row, their box: their name and venue, then the time they signed.
        assert re.search(rf"\n\s+{re.escape(seat.name)}  \S+公共资源交易中心\n\s+签字时间 \d", text), text
    assert len(re.findall(r"签字时间 \d", text)) == 5 and text.count("保留意见（见报告") == 1, text
    assert re.search(r"电子签章\n.*\n\s+签章时间 \d", text), text
    directory = os.environ.get("EVALROOM_SCREENSHOTS")
    if directory:  # the signature page as printed, for docs/signing.md
        subprocess.run(["pdftoppm", "-f", last, "-l", last, "-r", "80", "-png", "-singlefile", path,
                        Path(directory) / "report-signature-page"], check=True)
    roots = [ca.root.certificate for ca in prepared.cas.values()]
    report = pdfsig(pdf, tmp_path, roots)
    assert report.count("Signature Validation: Signature is Valid.") == 6, report
    at = pdf.index(b"stream", len(pdf) // 10) + 20
    tampered = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]
    (tmp_path / "tampered").mkdir()
    assert "Signature is Valid." not in pdfsig(tampered, tmp_path / "tampered")
