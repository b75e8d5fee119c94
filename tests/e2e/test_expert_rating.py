"""The tenderer's representative rates the experts on the expert's page, in Chromium: after the session ended
(tests/after_world.py), the host's operator gives the representative a login code; on /expert they see one row per
expert who evaluated, a score out of range refused by the server at the field, a 55 recorded (below the pass
mark: the expert is suspended, checked in the database), and an expert rated already from elsewhere shown as done.
An ordinary expert of the same session sees no rating form. axe-core clean, no script error."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

from typing import Any

import pytest
from after_world import seed_ended
from committee_world import TITLE, build
from conftest import SQLITE_ONLY, ok
from playwright.sync_api import expect
from sqlalchemy import select
from web_world import accessibility_violations, browser, live, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.storage.models import CommitteeMember, Expert, ExpertRating, Room, Seat

pytestmark = pytest.mark.timeout(300)


def log_in(tab: Any, live: str, w: Any, member_id: str) -> None:
    code = ok(w.client.post(f"/api/v1/committee/members/{member_id}/login-code", headers=w.host_op()))["login_code"]
    tab.goto(f"{live}/expert")
    tab.get_by_label("一次性登录码").fill(code)
    tab.get_by_role("button", name="登录").click()
    expect(tab.locator("#state")).to_have_text("已结束")


@SQLITE_ONLY
def test_the_representative_rates_the_experts_after_the_session(ctx: AppContext, client: Any, live: str,
                                                                 browser: Any, page: Any) -> None:
    w = build(ctx, client)
    seeded = seed_ended(ctx, w.host_venue_id, w.session_id)
    with ctx.store.write() as tx:  # seed_ended seats nobody: the two who log in here get a seat of the host
        seats = tx.session.scalars(select(Seat.id).join(Room).where(Room.venue_id == w.host_venue_id)
                                   .order_by(Seat.id).limit(2)).all()
        for member, seat in zip((seeded.representative, seeded.experts[2]), seats, strict=True):
            tx.session.get(CommitteeMember, member).seat_id = seat
        names = {m: tx.session.get(CommitteeMember, m).name for m in seeded.experts}
    first, second = seeded.experts[:2]
    # The second expert is rated from elsewhere first (the page cannot read the session's ratings).
    ok(client.post(w.url("/ratings"), headers=w.headers(seeded.representative_principal()),
                   json={"member_id": second, "score": 90}), 201)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    log_in(page, live, w, seeded.representative)

    expect(page.get_by_role("heading", name="评价本次评标专家")).to_be_visible()
    expect(page.locator("#rating-list form.rating")).to_have_count(len(seeded.experts))
    row = page.get_by_role("form", name=names[first])
    score = row.get_by_label("评分（0–100）")

    # Out of range: refused at the field in the expert's words; then 55 with a comment, sent with Enter.
    score.fill("150")
    score.press("Enter")
    expect(row.locator(".error")).to_have_text("请输入 0 到 100 之间的整数。")
    expect(score).to_have_attribute("aria-invalid", "true")
    expect(score).to_be_focused()
    score.fill("55")
    row.get_by_label("评价说明（可选）").fill("评审中多次离席，意见简单")
    row.get_by_label("评价说明（可选）").press("Enter")
    result = row.locator('p[role="status"]')
    expect(result).to_have_text("已评价：55 分。该专家目前暂停参加抽取。")
    expect(result).to_be_focused()
    with ctx.store.read() as s:
        rating = s.query(ExpertRating).filter_by(member_id=first).one()
        expert = s.get(Expert, s.get(CommitteeMember, first).expert_id)
        assert (rating.rater, rating.score, rating.comment) == ("tenderer", 55, "评审中多次离席，意见简单")
        assert expert.credit_status == "suspended" and "55" in expert.credit_reason

    # The one rated already: the server's already_rated taken as done.
    other = page.get_by_role("form", name=names[second])
    other.get_by_label("评分（0–100）").fill("70")
    other.get_by_role("button", name="提交评价").click()
    expect(other.locator('p[role="status"]')).to_have_text("已评价过这位专家（本页未保存评分）。")
    with ctx.store.read() as s:
        assert s.query(ExpertRating).filter_by(member_id=second).one().score == 90
    assert accessibility_violations(page) == []
    screenshot(page, "expert-rating")

    # Kept for the tab: a reload shows both as done; in English too.
    page.reload()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("form", name=names[first]).locator('p[role="status"]')).to_have_text(
        "Rated: 55. The expert is now suspended from the draw.")
    expect(page.locator("#rating-list .fields:visible")).to_have_count(len(seeded.experts) - 2)

    # An ordinary expert of the session: no rating form.
    seat = browser.new_context(locale="zh-CN").new_page()
    seat.on("pageerror", lambda err: errors.append(str(err)))
    log_in(seat, live, w, seeded.experts[2])
    expect(seat.locator("#report-body")).to_contain_text(TITLE)  # its page loaded through to the report
    expect(seat.locator("#rating")).to_be_hidden()
    seat.context.close()
    assert errors == []
