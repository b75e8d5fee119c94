"""The host's preparation on the operator's console, in Chromium: the host venue's operator creates a session (a
bad code refused at its field first, nothing created), moves its end, imports the tender (a broken file first:
every error listed with its JSON path, nothing imported; then the good one, checked from the page's summary
before it is sent), asks for guest seats (the coordinator draws the guest), changes the request and cancels a
second one; the drawn guest's operator confirms on their own page, and the host's page shows it confirmed.
Before check-in opens neither page names the other side (四不知): the host's HTML never holds the guest venues'
names, codes or ids, the guest's never the session, project or host. The world (venues, rooms, a pool) is set up
through the services; what the operators do is done on the pages, and the API is read only to check."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, SPECIALTY, SQLITE_ONLY, TokenFor, World, ok, run_evalroom
from page_steps import check_draw, log_in, page_text
from playwright.sync_api import expect
from session_world import project_doc
from timebase import beijing, iso
from web_world import accessibility_violations, browser, live, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.domain.identity import id_number_with_check
from evalroom.domain.roles import Role
from evalroom.schemas import AccountCreate
from evalroom.services import accounts
from evalroom.storage.models import Venue

pytestmark = pytest.mark.timeout(300)


def staff(ctx: AppContext, role: Role, venue_id: str | None = None) -> str:
    username = f"u{uuid.uuid4().hex[:8]}"
    with ctx.store.write() as tx:
        accounts.create_account(tx, "system:test", AccountCreate(
            username=username, display_name="工作人员", role=role, venue_id=venue_id, password=PASSWORD))
    return username


def operator(ctx: AppContext, venue_id: str) -> str:
    return staff(ctx, Role.HALL_OPERATOR, venue_id)


def clean(tab: Any) -> None:
    assert accessibility_violations(tab) == []


@SQLITE_ONLY
def test_the_host_prepares_a_session_and_the_guest_confirms_blind(ctx: AppContext, client: Any, world: World,
                                                                  token_for: TokenFor, live: str, browser: Any,
                                                                  page: Any, tmp_path: Path) -> None:
    admin = token_for(Role.COORDINATOR_ADMIN)
    with ctx.store.read() as s:
        others = [s.get(Venue, v) for v in (world.guest_venue_id, world.other_venue_id)]
    secrets_of_guests = [x for v in others for x in (v.name, v.code, v.id)]
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("dialog", lambda dialog: dialog.accept("不再需要第二个副场"))
    host_username = operator(ctx, world.host_venue_id)
    log_in(page, live, host_username)

    def blind() -> None:
        assert not [x for x in secrets_of_guests if x in page_text(page)]

    # --- a new session: a bad code first --------------------------------------------------------------------
    before = len(ok(client.get("/api/v1/sessions", headers=admin)))
    page.locator("#ns-code").fill("bad code")
    page.locator("#ns-title").fill("某市政道路工程施工招标")
    page.locator("#ns-date").fill(iso(3))
    page.locator("#ns-start").fill("09:00")
    page.locator("#ns-end").fill("17:00")
    page.locator("#new-session-form button[type=submit]").click()
    expect(page.locator("#ns-code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#ns-code-error")).not_to_be_empty()
    assert len(ok(client.get("/api/v1/sessions", headers=admin))) == before
    code = f"S-{uuid.uuid4().hex[:6].upper()}"
    page.locator("#ns-code").fill(code)
    page.locator("#new-session-form button[type=submit]").click()
    expect(page.locator("#new-session-form [data-form-status]")).to_have_text("已新建。")
    session = next(s for s in ok(client.get("/api/v1/sessions", headers=admin)) if s["code"] == code)
    assert session["host_venue_id"] == world.host_venue_id and session["state"] == "waiting"
    page.locator("#session-select").select_option(session["id"])
    expect(page.locator("#prep")).to_be_visible()

    # --- reschedule: the end moves to 16:00 Beijing -------------------------------------------------------
    page.locator("#rs-end").fill("16:00")
    page.locator("#reschedule-form button[type=submit]").click()
    expect(page.locator("#reschedule-form [data-form-status]")).to_have_text("已保存。")
    moved = ok(client.get(f"/api/v1/sessions/{session['id']}", headers=admin))
    assert moved["scheduled_end"].startswith(f"{iso(3)}T08:00:00")  # 16:00 in Beijing

    # --- the tender: a broken file, then the good one -----------------------------------------------------
    broken = project_doc(bidders=[{"code": "B1", "name": ""}], price_rule={"kind": "no-such-rule"})
    good = project_doc()
    files = {}
    for name, doc in (("broken", broken), ("good", good)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    page.locator("#tender-file").set_input_files(str(files["broken"]))
    expect(page.locator("#tender-preview")).to_contain_text("第一标段")
    page.locator("#tender-import").click()
    expect(page.locator("#tender-errors")).to_be_visible()
    paths = page.locator("#tender-errors-body td.mono").all_inner_texts()
    assert any("bidders[0].name" in p for p in paths) and any("price_rule" in p for p in paths), paths
    assert client.get(f"/api/v1/sessions/{session['id']}/project", headers=admin).status_code == 404
    clean(page)
    screenshot(page, "operator-tender-errors", page.locator("#prep"))
    page.locator("#tender-file").set_input_files(str(files["good"]))
    preview = page.locator("#tender-preview")
    for words in ("第一标段", "投标人甲公司", "施工方案与技术措施", "lowest_benchmark"):
        expect(preview).to_contain_text(words)
    page.locator("#tender-import").click()
    expect(page.locator("#tender-form [data-form-status]")).to_have_text("已导入。")
    expect(page.locator("#tender-errors")).to_be_hidden()
    expect(page.locator("#tender-current")).to_contain_text("已于")
    assert ok(client.get(f"/api/v1/sessions/{session['id']}/project", headers=admin))["document"]["code"] == good["code"]

    # --- guest seats: asked, changed; a second asked and cancelled ---------------------------------------
    page.locator("#of-seats").fill("two")
    page.locator("#offer-form button[type=submit]").click()
    expect(page.locator("#of-seats")).to_have_attribute("aria-invalid", "true")
    assert ok(client.get(f"/api/v1/sessions/{session['id']}/offers", headers=admin)) == []
    page.locator("#of-seats").fill("2")
    page.locator("#of-specialties").fill(SPECIALTY)
    page.locator("#offer-form button[type=submit]").click()
    expect(page.locator("#prep-offers-body tr")).to_have_count(1)
    expect(page.locator("#prep-offers-body")).to_contain_text("待答复")
    blind()
    page.locator("#prep-offers-body").get_by_role("button", name="更改").click()
    page.locator("#oc-seats").fill("1")
    page.locator("#offer-change-form button[type=submit]").click()
    expect(page.locator("#prep-offers-body")).to_contain_text("1 个席位")
    (offer,) = ok(client.get(f"/api/v1/sessions/{session['id']}/offers", headers=admin))
    assert (offer["seats"], offer["version"], offer["state"]) == (1, 2, "pending")
    page.locator("#of-seats").fill("1")
    page.locator("#of-specialties").fill(SPECIALTY)
    page.locator("#offer-form button[type=submit]").click()
    expect(page.locator("#prep-offers-body tr")).to_have_count(2)
    (second,) = [o for o in ok(client.get(f"/api/v1/sessions/{session['id']}/offers", headers=admin))
                 if o["offer_id"] != offer["offer_id"]]
    page.locator(f'#prep-offers-body tr[data-offer="{second["offer_id"]}"]').get_by_role("button", name="撤销").click()
    expect(page.locator("#prep-offers-body")).to_contain_text("已取消")
    offers = {o["offer_id"]: o for o in ok(client.get(f"/api/v1/sessions/{session['id']}/offers", headers=admin))}
    assert (offers[offer["offer_id"]]["state"], offers[second["offer_id"]]["state"]) == ("pending", "cancelled")
    blind()
    clean(page)
    screenshot(page, "operator-prep", page.locator("#prep"))

    # --- the drawn guest confirms on its own page, which names nothing of the session ----------------------
    guest_venue = offers[offer["offer_id"]]["guest_venue_id"]
    guest = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    log_in(guest, live, operator(ctx, guest_venue))
    row = guest.locator(f'tr[data-offer="{offer["offer_id"]}"]')
    row.get_by_role("button", name="确认").click()
    expect(guest.locator("#offers-status")).to_contain_text("已确认")
    with ctx.store.read() as s:
        host = s.get(Venue, world.host_venue_id)
    guest_html = page_text(guest)
    assert not [x for x in (code, session["id"], "某市政道路工程施工招标", good["name"], host.name, host.code)
                if x in guest_html]
    expect(page.locator("#prep-offers-body")).to_contain_text("已确认", timeout=20_000)  # by the session's events
    blind()
    guest.context.close()

    # --- the committee: a plan that breaks the rules (every problem on its field, nothing saved), then one ---
    # that keeps them: the host's expert and the confirmed guest request's, one representative of the tenderer.
    committee_url = f"/api/v1/sessions/{session['id']}/committee"
    page.locator("#cm-type").select_option("works")
    expect(page.locator("#cm-rule")).to_contain_text("至少 5 人")
    page.locator("#cm-total").fill("4")
    page.locator("#cm-quota-0").fill(f"{SPECIALTY}:1")
    page.locator("#cm-quota-1").fill(f"{SPECIALTY}:1")
    page.locator("#cm-tenderer").fill(good["tenderer"])
    page.locator("#cm-bidders").fill("\n".join(b["name"] for b in good["bidders"]))
    page.locator("#cm-plan-form button[type=submit]").click()
    expect(page.locator("#cm-total")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cm-quotas")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cm-quotas-error")).to_contain_text("add up to 2 experts")
    assert client.get(committee_url, headers=admin).status_code == 404
    page.locator("#cm-type").select_option("negotiation")
    expect(page.locator("#cm-rule")).to_contain_text("至少 3 人")
    page.locator("#cm-total").fill("3")
    page.locator("#cm-reps").fill("1")
    page.locator("#cm-plan-form button[type=submit]").click()
    expect(page.locator("#cm-plan-form [data-form-status]")).to_have_text("方案已保存。")
    planned = ok(client.get(committee_url, headers=admin))
    assert [(q["venue"], q["specialties"]) for q in planned["plan"]["quotas"]] == [
        ("host", {SPECIALTY: 1}), (f"offer:{offer['offer_id']}", {SPECIALTY: 1})]
    assert (planned["plan"]["total"], planned["plan"]["representatives"]) == (3, 1)
    page.locator("#cm-rep-name").fill("招标人代表甲")
    page.locator("#cm-rep-id").fill("37010219800101")  # too short
    page.locator("#cm-rep-form button[type=submit]").click()
    expect(page.locator("#cm-rep-id")).to_have_attribute("aria-invalid", "true")
    page.locator("#cm-rep-id").fill(id_number_with_check("37010219800101001"))
    page.locator("#cm-rep-form button[type=submit]").click()
    expect(page.locator("#cm-rep-form [data-form-status]")).to_have_text("已指定。")

    # --- the draw: commit, draw, reveal; before check-in the page checks the seed against the commitment ----
    page.locator("#cm-draw").click()
    expect(page.locator("#cm-draw-status")).to_have_text("已抽取。")
    (drawn,) = ok(client.get(committee_url, headers=admin))["draws"]
    row = check_draw(page, drawn["draw_id"], "commitment")
    expect(row).to_contain_text("抽中 2 名")
    expect(row).to_contain_text(drawn["commitment"])
    expect(row).to_contain_text(drawn["seed"])
    blind()
    clean(page)

    # --- on the day: check-in opens an hour before the start, and the page recomputes the whole draw --------
    ctx.clock.advance(beijing(3, 8) - ctx.clock.now())  # the login of three days ago has lapsed
    admin = token_for(Role.COORDINATOR_ADMIN)  # and the test's own token
    log_in(page, live, host_username)
    page.locator("#session-select").select_option(session["id"])
    page.locator("#ctl-open").click()
    expect(page.locator("#check-in-state")).to_contain_text("已开放")
    check_draw(page, drawn["draw_id"], "match")
    expect(row).to_contain_text("2 名专家与记录完全一致")
    clean(page)
    screenshot(page, "operator-committee", page.locator("#cm"))
    # The check has teeth: a record whose picks were swapped (as served to this page only) does not pass.
    record_path = f"**/api/v1/sessions/{session['id']}/committee/draws/{drawn['draw_id']}"

    def swapped(route: Any) -> None:
        record = route.fetch().json()
        picks = record["events"][1]["payload"]["picks"]
        picks[0]["expert_id"], picks[1]["expert_id"] = picks[1]["expert_id"], picks[0]["expert_id"]
        route.fulfill(json=record)

    page.route(record_path, swapped)
    row.get_by_role("button", name="验证").click()
    expect(row.locator("[data-verdict]")).to_have_attribute("data-verdict", "mismatch")
    expect(row).to_contain_text("the logged picks differ from the recomputed ones")
    page.unroute(record_path)

    # --- the admin records that a drawn expert declined: empty reason refused, then the replacement is drawn --
    admin_tab = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
    admin_tab.on("pageerror", lambda err: errors.append(str(err)))
    log_in(admin_tab, live, staff(ctx, Role.COORDINATOR_ADMIN), heading="调度平台管理")
    admin_tab.locator("#sessions-body tr", has_text=code).get_by_role("button", name="委员会").click()
    members = admin_tab.locator("#cp-members tr[data-member]")
    expect(members).to_have_count(3)  # two experts drawn, one representative named
    declining = members.filter(has=admin_tab.get_by_role("button", name="拒绝参加")).first
    name = declining.locator("th").inner_text()
    declining.get_by_role("button", name="拒绝参加").click()
    admin_tab.locator("#cp-vacate-form button[type=submit]").click()
    expect(admin_tab.locator("#cp-reason")).to_have_attribute("aria-invalid", "true")
    assert len(ok(client.get(committee_url, headers=admin))["draws"]) == 1
    admin_tab.locator("#cp-reason").fill("专家电话告知：临时出差")
    admin_tab.locator("#cp-vacate-form button[type=submit]").click()
    expect(admin_tab.locator("#cp-status")).to_have_text(f"已记录 {name}；补抽 1 次。")
    expect(members).to_have_count(4)
    expect(admin_tab.locator("#cp-members tr", has_text=name)).to_contain_text("拒绝参加（专家电话告知：临时出差）")
    replacement = admin_tab.locator("#cp-draws tr[data-draw]").nth(1)
    expect(replacement).to_contain_text("补抽")
    replacement.get_by_role("button", name="验证").click()
    expect(replacement.locator("[data-verdict]")).to_have_attribute("data-verdict", "match")
    clean(admin_tab)
    screenshot(admin_tab, "admin-committee", admin_tab.locator("#cp"))
    expect(page.locator("#cm-draws-body tr[data-draw]")).to_have_count(2)  # the host's page, by the events
    # A conflict of interest found later voids a member: replaced by the last expert the pool has.
    voiding = members.filter(has=admin_tab.get_by_role("button", name="拒绝参加")).first
    voided = voiding.locator("th").inner_text()
    voiding.get_by_role("button", name="作废").click()
    admin_tab.locator("#cp-reason").fill("发现与投标人存在利害关系")
    admin_tab.locator("#cp-vacate-form button[type=submit]").click()
    expect(admin_tab.locator("#cp-status")).to_have_text(f"已记录 {voided}；补抽 1 次。")
    expect(admin_tab.locator("#cp-members tr", has_text=voided)).to_contain_text("已作废（发现与投标人存在利害关系）")
    expect(admin_tab.locator("#cp-draws tr[data-draw]")).to_have_count(3)
    # The coordinator's own recomputation, from the database, agrees.
    verified = run_evalroom("verify-draw", "--data", str(ctx.settings.data_dir), "--session", session["id"],
                            env={"EVALROOM_DATABASE_URL": ctx.settings.effective_database_url})
    draws = ok(client.get(committee_url, headers=admin))["draws"]
    assert [d["purpose"] for d in draws] == ["initial", "replacement", "replacement"]
    assert verified.returncode == 0 and all(d["draw_id"] in verified.stdout for d in draws), verified.stdout + verified.stderr
    assert errors == []
