"""The scoring-tendency report on the supervisor's page, in Chromium: a supervisor of forty ended sessions (a
history from tests/tendency_world.py with one favouring, one mismatching and one erratic expert planted, written
straight into the database) is refused a period whose end comes before its start, with the server's message,
then computes the default period (the last 12 months) and finds the favouring expert flagged with the bidder,
an honest one not, both plots shown and the CSV downloaded with the flagged expert's code; axe-core clean."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest
from committee_world import GUEST_AREA, HOST_AREA, build, expert_row
from conftest import PASSWORD, SQLITE_ONLY
from playwright.sync_api import expect
from tendency_world import expert_id, history, store_history
from web_world import accessibility_violations, browser, live, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.storage.models import Account, Expert

pytestmark = pytest.mark.timeout(300)


class Pooled(NamedTuple):
    """A pool expert as the page shows them."""

    id: str
    code: str
    name: str


SEED, SESSIONS, EXPERTS, BIDDERS = 1, 40, 14, 10
"""A history in which exactly the three planted experts are flagged (each for what was planted): checked on the
domain core with these figures; 40 sessions give each of the 14 experts the 10 the tests need."""


def a_history(ctx: AppContext, client: Any) -> tuple[Any, Any, dict[str, Pooled]]:
    """build()'s world with pool numbers (SD-01.., SX-01..), and the generated sessions as sessions its
    supervisor oversaw that ended over the last forty days: (world, planted, generator id → pool expert)."""
    w = build(ctx, client, plan=False,
              host_rows=[expert_row(f"专家H{i}", HOST_AREA, ["B01"], code=f"SD-{i:02d}") for i in range(1, 10)],
              guest_rows=[expert_row(f"专家G{i}", GUEST_AREA, ["B01"], code=f"SX-{i:02d}") for i in range(1, 6)])
    with ctx.store.read() as s:
        pool = sorted((Pooled(e.id, e.code, e.name) for e in (s.get(Expert, i) for i in w.expert_ids.values())),
                      key=lambda e: e.code)
    assert len(pool) == EXPERTS
    people = {expert_id(i): e for i, e in enumerate(pool, 1)}
    sessions, planted = history(SEED, sessions=SESSIONS, experts=EXPERTS, bidders=BIDDERS)
    store_history(ctx.store, sessions, {k: e.id for k, e in people.items()}, host_venue_id=w.host_venue_id,
                  supervisor_id=w.supervisor_id, last_end=datetime.now(UTC) - timedelta(hours=1))
    return w, planted, people


def year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February: the page's Date rolls over into March
        return date(day.year - 1, 3, 1)


@SQLITE_ONLY
def test_a_supervisor_computes_the_tendency_report_and_sees_the_planted_expert(ctx: AppContext, client: Any,
                                                                               live: str, page: Any) -> None:
    w, planted, people = a_history(ctx, client)
    favouring = people[planted.favouring]
    honest = next(e for k, e in people.items() if k not in planted.experts)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    with ctx.store.read() as s:
        username = s.get(Account, w.supervisor_id).username
    page.goto(f"{live}/supervisor")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="打分倾向分析")).to_be_visible()

    # A period that ends before it starts: the server's message, the field marked.
    start, end = page.get_by_label("起始日期（含）"), page.get_by_label("截止日期（不含）")
    default_from, default_to = start.input_value(), end.input_value()
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)  # web_world's browser's zone
    assert (default_from, default_to) == (year_before(tomorrow).isoformat(), tomorrow.isoformat())  # 12 months
    end.fill((year_before(tomorrow) - timedelta(days=1)).isoformat())
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#td-status")).to_contain_text("must be before")
    expect(end).to_have_attribute("aria-invalid", "true")

    # The last 12 months (the default): the favouring expert flagged for the right bidder, first; an honest one not.
    end.fill(default_to)
    page.get_by_role("button", name="计算").click()
    expect(page.locator("#td-status")).to_have_text("已完成。")
    expect(end).to_have_attribute("aria-invalid", "false")
    expect(page.locator("#td-summary")).to_contain_text(f"{SESSIONS} 场会议，{EXPERTS} 名专家，3 名需关注")
    flagged = page.locator(f'#td-flagged > li[data-code="{favouring.code}"]')
    expect(flagged).to_contain_text(favouring.name)
    favoured = int(planted.favoured.split("-")[1])  # bidder-NN is coded BNN in the sessions written
    expect(flagged.locator('li[data-kind="favour"]')).to_contain_text(f"偏向或压低某投标人（投标人B{favoured:02d}公司）")
    expect(page.locator(f'#td-flagged > li[data-code="{honest.code}"]')).to_have_count(0)
    expect(page.locator("#td-experts tr")).to_have_count(EXPERTS)
    expect(page.locator(f'#td-experts tr[data-code="{honest.code}"]')).to_have_attribute("data-flagged", "false")
    expect(page.locator(f'#td-experts tr[data-code="{favouring.code}"] td').last).to_contain_text("偏向或压低某投标人")

    # Both plots shown as images from blob: URLs; the CSV downloaded with the flagged expert's code.
    for plot in ("deviation", "favour"):
        image = page.locator(f"#td-plot-{plot}")
        page.wait_for_function("(id) => { const i = document.getElementById(id); return i.complete && "
                               "i.naturalWidth > 0; }", arg=f"td-plot-{plot}")
        assert image.get_attribute("src").startswith("blob:")
    with page.expect_download() as done:
        page.get_by_role("link", name="下载 CSV").click()
    data = done.value.path().read_bytes()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    row = next(r for r in rows if r["level"] == "expert" and r["expert_code"] == favouring.code)
    assert row["flagged"] and "favour" in row["flags"]
    assert accessibility_violations(page) == []
    screenshot(page, "supervisor-tendency", page.locator("#tendency"))  # below forty sessions

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Scoring tendency")).to_be_visible()
    expect(page.locator(f'#td-flagged > li[data-code="{favouring.code}"] li[data-kind="favour"]')).to_contain_text(
        "Favours or disfavours a bidder")
    assert errors == []
