"""An expert's token is renewed by the page for as long as the evaluation lasts (js/renew.js): with a one-minute
token lifetime, the page exchanges its token half-way (POST /auth/refresh), the old one stops working, the new
one works past the old one's expiry, and the event stream subscribes again with it without a reload. The
coordinator's clock is the test's and is moved past the first token's expiry; the browser's timer is real."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from committee_world import build, check_in, draw, members, open_check_in
from conftest import SQLITE_ONLY, ok, test_settings
from playwright.sync_api import expect
from session_world import import_project
from web_world import browser, live, page  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.config import Settings

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return test_settings(tmp_path, db_url, access_token_minutes=1)


def bearer(page: Any) -> str:
    return page.evaluate("sessionStorage.getItem('evalroom.token')")


def me_with(page: Any, token: str) -> int:
    return page.evaluate("""async (t) => (await fetch('/api/v1/auth/me', {headers: {Authorization: 'Bearer ' + t}})).status""",
                         token)


@SQLITE_ONLY
def test_the_expert_page_renews_its_token_and_its_stream_follows(ctx: AppContext, client: Any, live: str,
                                                                  page: Any) -> None:
    w = build(ctx, client)
    import_project(w)
    draw(w)
    open_check_in(w)
    code = ok(check_in(w, members(w, "drawn")[0]))["login_code"]
    page.goto(f"{live}/expert")
    page.get_by_label("一次性登录码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#conn")).to_have_text("实时连接正常")
    first = bearer(page)
    ctx.clock.advance(timedelta(seconds=40))  # the coordinator's time moves on while the page waits

    # Half-way through the minute (real time, the page's timer) the page swaps its token.
    page.wait_for_function("(old) => sessionStorage.getItem('evalroom.token') !== old", arg=first, timeout=60_000)
    second = bearer(page)
    assert me_with(page, first) == 401 and me_with(page, second) == 200  # the old one was revoked
    ctx.clock.advance(timedelta(seconds=30))  # past the first token's expiry, within the second's
    assert me_with(page, second) == 200
    # The stream, refused for the revoked token when it next checks, subscribed again with the new one.
    expect(page.locator("#conn")).to_have_text("实时连接正常", timeout=30_000)
    # An event reaches the page over the new subscription, and the reload it causes is answered (200).
    with page.expect_response(lambda r: f"/api/v1/sessions/{w.session_id}" in r.url and r.status == 200,
                              timeout=20_000):
        ok(client.patch(w.url(""), headers=w.host_op(), json={"title": "改名后的项目"}))
