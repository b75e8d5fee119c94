"""What people do on the pages, as steps the browser tests share (Playwright's sync API): logging in, and the host
operator's preparation of a session from the new session to the committee's draw. Each step waits for the page
to say it is done, so a test chains them as a person would; a test checks the results through the API itself.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path
from typing import Any

from conftest import PASSWORD
from playwright.sync_api import expect
from timebase import BEIJING

OPERATOR_HEADING = "场地工作人员控制台"
ANSWERED = 20_000
"""How long a step waits for the server's answer to show (ms): a moved-clock run on two loaded cores is slow."""


def log_in(tab: Any, live: str, username: str, heading: str = OPERATOR_HEADING) -> None:
    tab.goto(f"{live}/")
    tab.get_by_label("用户名").fill(username)
    tab.get_by_label("密码").fill(PASSWORD)
    tab.get_by_role("button", name="登录").click()
    expect(tab.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=ANSWERED)


def page_text(tab: Any) -> str:
    """Everything a person, or anyone reading the page's source, could see: the HTML and its rendered text."""
    return tab.content() + tab.locator("body").inner_text()


def new_session(tab: Any, code: str, title: str, start: datetime, end: datetime) -> None:
    """The host's "new session" form, the window in Beijing time (to the minute; an end at midnight is 23:59)."""
    local_start, local_end = start.astimezone(BEIJING), end.astimezone(BEIJING)
    if local_end.date() != local_start.date():
        local_end = datetime.combine(local_start.date(), time(23, 59), BEIJING)
    tab.locator("#ns-code").fill(code)
    tab.locator("#ns-title").fill(title)
    tab.locator("#ns-date").fill(local_start.date().isoformat())
    tab.locator("#ns-start").fill(local_start.strftime("%H:%M"))
    tab.locator("#ns-end").fill(local_end.strftime("%H:%M"))
    tab.locator("#new-session-form button[type=submit]").click()
    expect(tab.locator("#new-session-form [data-form-status]")).to_have_text("已新建。", timeout=ANSWERED)


def choose_session(tab: Any, session_id: str) -> None:
    tab.locator("#session-select").select_option(session_id)
    expect(tab.locator("#session")).to_be_visible(timeout=ANSWERED)


def _choose_tender(tab: Any, doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    tab.locator("#tender-file").set_input_files(str(path))
    expect(tab.locator("#tender-import")).to_be_visible()  # read and summarised in the page
    tab.locator("#tender-import").click()


def import_tender(tab: Any, doc: dict[str, Any], path: Path) -> None:
    _choose_tender(tab, doc, path)
    expect(tab.locator("#tender-form [data-form-status]")).to_have_text("已导入。", timeout=ANSWERED)


def refused_tender(tab: Any, doc: dict[str, Any], path: Path) -> list[str]:
    """Import a file the server refuses: the JSON paths of the errors the page lists."""
    _choose_tender(tab, doc, path)
    expect(tab.locator("#tender-errors")).to_be_visible(timeout=ANSWERED)
    return tab.locator("#tender-errors-body td.mono").all_inner_texts()


def ask_for_seats(tab: Any, seats: int, specialties: str) -> None:
    before = tab.locator("#prep-offers-body tr[data-offer]").count()
    tab.locator("#of-seats").fill(str(seats))
    tab.locator("#of-specialties").fill(specialties)
    tab.locator("#offer-form button[type=submit]").click()
    expect(tab.locator("#prep-offers-body tr[data-offer]")).to_have_count(before + 1, timeout=ANSWERED)


def plan_committee(tab: Any, project_type: str, total: int, quotas: list[str], tenderer: str, bidders: list[str],
                   representatives: int = 0) -> None:
    """The plan form: ``quotas`` per row as shown (the host first, then each confirmed guest request)."""
    tab.locator("#cm-type").select_option(project_type)
    tab.locator("#cm-total").fill(str(total))
    tab.locator("#cm-reps").fill(str(representatives))
    for i, mix in enumerate(quotas):
        tab.locator(f"#cm-quota-{i}").fill(mix)
    tab.locator("#cm-tenderer").fill(tenderer)
    tab.locator("#cm-bidders").fill("\n".join(bidders))
    tab.locator("#cm-plan-form button[type=submit]").click()
    expect(tab.locator("#cm-plan-form [data-form-status]")).to_have_text("方案已保存。", timeout=ANSWERED)


def check_draw(tab: Any, draw_id: str, verdict: str) -> Any:
    """Press "check" on a draw's row and wait for the browser's verdict (``commitment``, ``match``); the row."""
    row = tab.locator(f'#cm-draws-body tr[data-draw="{draw_id}"]')
    row.get_by_role("button", name="验证").click()
    expect(row.locator("[data-verdict]")).to_have_attribute("data-verdict", verdict, timeout=ANSWERED)
    return row
