"""From an empty database to a sealed, published evaluation, through the pages only, in Chromium. The database's
only account is the first admin, made with ``evalroom account create``. The admin sets up two regions with their
CA certificates (PEM and DER) and CRLs and puts both on the recognition list, registers both venues (a site-agent
key, a room and a seat at the host; at the guest the key a real ``evalroom site-agent`` then links with and
reports its seats), creates the venues' operators and both supervisors, imports both pools (a file with errors
first: every error shown by row, nothing imported) and suspends an expert with a reason. The host's operator
creates a session, imports the tender (a broken file first) and asks for guest seats; the guest's operator
confirms on their page, neither page naming the other side; the admin assigns the session's supervisors; the
host plans and draws the committee, checks the draw in the browser (the seed against its commitment, then,
once check-in is open, the whole draw), and ``evalroom verify-draw`` agrees. Then the evaluation itself, with
the host's site agent linked too (tests/evaluation_steps.py): check-in at both desks, five experts at their
seats with camera and microphone, the chair, the review, scores and flags, the signatures (one with a security
key), the seal, the publication and the evidence bundle, which ``evalroom verify`` accepts. Every form's bad
input shows the server's error at its field and changes nothing. The test reads the API only to check what the
pages did, never to act. axe-core on every state."""

# ruff: noqa: F811 - the fixtures imported from web_world are the test functions' parameters of the same name

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from committee_world import GUEST_AREA, HOST_AREA, PASSWORD, expert_row, unique_code
from conftest import SQLITE_ONLY, ok, run_evalroom
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from evaluation_steps import Prepared, evaluating
from fastapi.testclient import TestClient
from page_steps import (
    ask_for_seats,
    check_draw,
    choose_session,
    import_tender,
    log_in,
    new_session,
    page_text,
    plan_committee,
    refused_tender,
)
from pg import free_port
from playwright.sync_api import expect
from servers import write_inventory
from session_world import project_doc
from timebase import soon_on_one_day
from web_world import accessibility_violations, browser, live, page, screenshot  # noqa: F401 - fixtures

from evalroom.api.context import AppContext
from evalroom.clock import SystemClock
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role
from signing.pki import issue_crl, issue_region_ca

pytestmark = pytest.mark.timeout(1200)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As conftest's, with the seat's signer on a port of its own (the pages' CSP allows exactly it), and the
    coordinator at http://localhost (WebAuthn's relying party must be a host name)."""
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "log_batch_seconds": 300,
                                                "seat_signer_url": f"http://127.0.0.1:{free_port()}",
                                                "public_url": f"http://localhost:{free_port()}"})


def first_admin(ctx: AppContext) -> str:
    """The first admin, as a new coordinator gets one: the command line, on the coordinator's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    made = subprocess.run([sys.executable, "-m", "evalroom", "account", "create", "--data", str(ctx.settings.data_dir),
                           "--username", "admin", "--role", "coordinator-admin"], input=PASSWORD + "\n",
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert made.returncode == 0, made.stderr
    return "admin"


@pytest.fixture
def clock() -> SystemClock:
    """The wall clock: a real site agent links to this coordinator, and its signed messages must be on time."""
    return SystemClock()


@contextlib.contextmanager
def site_agent(directory: Path, venue_code: str, key: Path, url: str) -> Iterator[None]:
    """``evalroom site-agent`` for a venue, with the key the admin registered, reporting room R1 with four
    working seats (single-project); stopped on leaving."""
    directory.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    with (directory / "agent.log").open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalroom", "site-agent", "--venue", venue_code, "--coordinator", url,
             "--key", str(key), "--inventory", str(write_inventory(directory / "rooms.toml", 4, kind="single")),
             "--state-dir", str(directory / "state"), "--ping-interval", "1", "--ping-timeout", "5"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def linked_agent(page: Any, client: TestClient, admin: dict[str, str], live: str, directory: Path, venue_code: str,
                 venue_id: str, label: str) -> Iterator[None]:
    """A venue's site agent as its centre sets one up: a key made with ``evalroom site-key``, registered on the
    admin's page, then the agent run with it until it has linked and reported a working seat (a minute at
    most), which the admin's status view shows once refreshed."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "key.pem"
    made = run_evalroom("site-key", "--out", str(key))
    public = next(line.split()[-1] for line in made.stdout.splitlines() if line.startswith("public key:"))
    page.locator("#venues-body tr", has_text=venue_code).get_by_role("button", name="密钥与评标室").click()
    page.locator("#cred-label").fill(label)
    page.locator("#cred-key").fill(public)
    page.locator("#cred-form button[type=submit]").click()
    expect(page.locator("#creds-body")).to_contain_text("使用中")
    with site_agent(directory, venue_code, key, live):
        deadline = time.monotonic() + 60
        while not any(seat["usable"] for room in ok(client.get(f"/api/v1/venues/{venue_id}/rooms", headers=admin))
                      for seat in room["seats"]):
            assert time.monotonic() < deadline, (directory / "agent.log").read_text()
            time.sleep(0.5)
        page.locator("#status-refresh").click()
        expect(page.locator(f'#status-venues-body tr[data-venue="{venue_id}"]')).to_contain_text("在线")
        yield


def clean(tab: Any) -> None:
    assert accessibility_violations(tab) == []


def field_error(tab: Any, field_id: str) -> str:
    """The server's words beside a field, once it is marked invalid."""
    expect(tab.locator(f"#{field_id}")).to_have_attribute("aria-invalid", "true")
    return tab.locator(f"#{field_id}-error").inner_text()


def choose(tab: Any, input_id: str, path: Path) -> None:
    tab.locator(f"#{input_id}").set_input_files(str(path))


@SQLITE_ONLY
def test_from_an_empty_database_to_a_sealed_published_evaluation_through_the_pages(ctx: AppContext, client: TestClient,
                                                                       live: str, browser: Any, page: Any,
                                                                       tmp_path: Path) -> None:
    username = first_admin(ctx)
    admin = {"Authorization": "Bearer " + ctx.tokens.issue(Principal(role=Role.COORDINATOR_ADMIN, subject="checker")).token}
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{live}/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{live}/admin")
    expect(page.locator("#who")).to_contain_text("admin")
    expect(page.locator("#st-database")).to_contain_text("sqlite")
    expect(page.locator("#keys-body")).to_contain_text("令牌签名")
    clean(page)
    screenshot(page, "admin-status", page.locator("#status"))

    # --- regions: a bad code first, then both ---------------------------------------------------------------
    page.locator("#rg-code").fill("shandong")
    page.locator("#rg-name").fill("山东省")
    page.get_by_role("button", name="登记").first.click()
    assert "pattern" in field_error(page, "rg-code")
    assert ok(client.get("/api/v1/regions", headers=admin)) == []
    clean(page)
    codes = {"host": unique_code("SD"), "guest": unique_code("SN")}
    for key, name in (("host", "山东省"), ("guest", "陕西省")):
        page.locator("#rg-code").fill(codes[key])
        page.locator("#rg-name").fill(name)
        page.locator("#rg-ca-name").fill(f"{name}数字证书认证中心")
        page.locator("#region-form button[type=submit]").click()
        expect(page.locator("#regions-body")).to_contain_text(codes[key])
    regions = {r["code"]: r for r in ok(client.get("/api/v1/regions", headers=admin))}
    assert set(regions) == set(codes.values())

    # --- each region's CA: a file that is no certificate is refused; root (PEM), intermediate (DER), CRL ------
    now = ctx.clock.now()
    cas = {}
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate", encoding="utf-8")
    for key, code in codes.items():
        ca = cas[key] = issue_region_ca(code[:2], now - timedelta(days=1))
        root, inter, crl = tmp_path / f"{key}-root.pem", tmp_path / f"{key}-intermediate.der", tmp_path / f"{key}.crl"
        root.write_bytes(ca.root.certificate.public_bytes(Encoding.PEM))
        inter.write_bytes(ca.intermediate.certificate.public_bytes(Encoding.DER))
        crl.write_bytes(issue_crl(ca.intermediate, [], now - timedelta(hours=1), now + timedelta(days=7))
                        .public_bytes(Encoding.PEM))
        page.locator("#regions-body tr", has_text=code).get_by_role("button", name="查看与上传").click()
        expect(page.locator("#trust-h")).to_contain_text(code)
        choose(page, "cert-file", junk)
        page.locator("#cert-form button[type=submit]").click()
        expect(page.locator("#cert-form [data-form-error]")).not_to_be_empty()
        assert ok(client.get(f"/api/v1/regions/{regions[code]['id']}/trust", headers=admin))["certificates"] == []
        for path, kind in ((root, "根证书"), (inter, "中间证书")):
            choose(page, "cert-file", path)
            page.locator("#cert-form button[type=submit]").click()
            expect(page.locator("#cert-form [data-form-status]")).to_have_text("已登记。")
            expect(page.locator("#certs-body")).to_contain_text(kind)
        # Both CRLs: the root's (which covers the intermediate) and the intermediate's (its signers).
        root_crl = tmp_path / f"{key}-root.crl"
        root_crl.write_bytes(issue_crl(ca.root, [], now - timedelta(hours=1), now + timedelta(days=30))
                             .public_bytes(Encoding.PEM))
        for n, path in enumerate((root_crl, crl), 1):
            choose(page, "crl-file", path)
            page.locator("#crl-form button[type=submit]").click()
            expect(page.locator("#crl-form [data-form-status]")).to_have_text("已登记。")
            expect(page.locator("#crls-body tr")).to_have_count(n)
        expect(page.locator("#crls-body")).to_contain_text("是")
        clean(page)
        page.locator("#regions-body tr", has_text=code).get_by_role("button", name="列入互认").click()
        expect(page.locator("#regions-body tr", has_text=code)).to_contain_text("移出互认")
    screenshot(page, "admin-regions", page.locator("#regions"))
    trust = ok(client.get(f"/api/v1/regions/{regions[codes['host']]['id']}/trust", headers=admin))
    assert sorted(c["kind"] for c in trust["certificates"]) == ["intermediate", "root"] and len(trust["crls"]) == 2
    assert all(r["recognised"] for r in ok(client.get("/api/v1/regions", headers=admin)))

    # --- venues: a missing city is refused; both venues, a site key, a room and a seat at the host ----------
    venue_codes = {"host": unique_code("JN"), "guest": unique_code("XA")}
    page.locator("#vn-code").fill(venue_codes["host"])
    page.locator("#vn-name").fill("济南公共资源交易中心")
    page.locator("#venue-form button[type=submit]").click()
    assert field_error(page, "vn-city")
    assert ok(client.get("/api/v1/venues", headers=admin)) == []
    for key, name, city in (("host", "济南公共资源交易中心", "济南"), ("guest", "西安公共资源交易中心", "西安")):
        page.locator("#vn-code").fill(venue_codes[key])
        page.locator("#vn-name").fill(name)
        page.locator("#vn-city").fill(city)
        page.locator("#vn-region").select_option(regions[codes[key]]["id"])
        page.locator("#venue-form button[type=submit]").click()
        expect(page.locator("#venues-body")).to_contain_text(venue_codes[key])
    venues = {v["code"]: v for v in ok(client.get("/api/v1/venues", headers=admin))}
    host_id, guest_id = venues[venue_codes["host"]]["id"], venues[venue_codes["guest"]]["id"]
    assert venues[venue_codes["guest"]]["region_id"] == regions[codes["guest"]]["id"]

    page.locator("#venues-body tr", has_text=venue_codes["host"]).get_by_role("button", name="密钥与评标室").click()
    page.locator("#cred-label").fill("主机")
    page.locator("#cred-key").fill("too-short")
    page.locator("#cred-form button[type=submit]").click()
    assert field_error(page, "cred-key")
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    page.locator("#cred-key").fill(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
    page.locator("#cred-form button[type=submit]").click()
    expect(page.locator("#creds-body")).to_contain_text("使用中")
    page.locator("#rm-code").fill("R1")
    page.locator("#rm-name").fill("第一评标室")
    page.locator("#room-form button[type=submit]").click()
    expect(page.locator("#rooms-list")).to_contain_text("R1")
    page.locator("#st-code").fill("A-01")
    page.locator("#seat-form button[type=submit]").click()
    expect(page.locator("#rooms-list")).to_contain_text("A-01")
    clean(page)
    screenshot(page, "admin-venues", page.locator("#venues"))
    creds = ok(client.get(f"/api/v1/venues/{host_id}/credentials", headers=admin))
    assert [c["label"] for c in creds] == ["主机"] and creds[0]["revoked_at"] is None
    rooms = ok(client.get(f"/api/v1/venues/{host_id}/rooms", headers=admin))
    assert [(r["code"], [s["code"] for s in r["seats"]]) for r in rooms] == [("R1", ["A-01"])]
    page.locator("#creds-body").get_by_role("button", name="吊销").click()
    expect(page.locator("#creds-body")).to_contain_text("已于")  # "已于 … 吊销": revoked at
    assert ok(client.get(f"/api/v1/venues/{host_id}/credentials", headers=admin))[0]["revoked_at"] is not None

    # --- accounts: a bad user name, then the operators and supervisors; disable and enable one -------------
    page.locator("#ac-username").fill("Bad Name")
    page.locator("#ac-display").fill("张三")
    page.locator("#ac-venue").select_option(host_id)
    page.locator("#ac-password").fill(PASSWORD)
    page.locator("#account-form button[type=submit]").click()
    assert field_error(page, "ac-username")
    assert [a["username"] for a in ok(client.get("/api/v1/accounts", headers=admin))] == ["admin"]
    staff = [("jn-op", "济南操作员", "hall-operator", host_id), ("xa-op", "西安操作员", "hall-operator", guest_id),
             ("sd-sup", "山东监督", "supervisor", None), ("sn-sup", "陕西监督", "supervisor", None)]
    for name, display, role, venue_id in staff:
        page.locator("#ac-username").fill(name)
        page.locator("#ac-display").fill(display)
        page.locator("#ac-role").select_option(role)
        if venue_id:
            page.locator("#ac-venue").select_option(venue_id)
        else:
            expect(page.locator("#ac-venue")).to_be_hidden()
        page.locator("#ac-password").fill(PASSWORD)
        page.locator("#account-form button[type=submit]").click()
        expect(page.locator("#accounts-body")).to_contain_text(name)
    accounts = {a["username"]: a for a in ok(client.get("/api/v1/accounts", headers=admin))}
    assert accounts["xa-op"]["venue_id"] == guest_id and accounts["sd-sup"]["role"] == "supervisor"
    row = page.locator("#accounts-body tr", has_text="xa-op")
    row.get_by_role("button", name="停用").click()
    expect(page.locator("#accounts-body tr", has_text="xa-op")).to_contain_text("已停用")
    assert client.post("/api/v1/auth/login", json={"username": "xa-op", "password": PASSWORD}).status_code == 401
    page.locator("#accounts-body tr", has_text="xa-op").get_by_role("button", name="启用").click()
    expect(page.locator("#accounts-body tr", has_text="xa-op")).to_contain_text("正常")
    assert client.post("/api/v1/auth/login", json={"username": "xa-op", "password": PASSWORD}).status_code == 200
    clean(page)
    screenshot(page, "admin-accounts", page.locator("#accounts"))

    # --- pools: a file with errors (nothing imported), then the good files --------------------------------
    good = {"host": [expert_row(f"专家H{i}", HOST_AREA, ["B0101"]) for i in range(1, 7)],
            "guest": [expert_row(f"专家G{i}", GUEST_AREA, ["B01"]) for i in range(1, 6)]}
    bad = [*good["host"][:2], {"name": "", "id_number": "123", "employer": "x", "specialties": ["B0101"]},
           {**good["host"][3], "specialties": ["NOPE"]}]
    files = {}
    for key, rows_ in (("bad", bad), ("host", good["host"]), ("guest", good["guest"])):
        files[key] = tmp_path / f"pool-{key}.json"
        files[key].write_text(json.dumps(rows_, ensure_ascii=False), encoding="utf-8")
    page.locator("#pool-region").select_option(regions[codes["host"]]["id"])
    choose(page, "import-file", files["bad"])
    page.locator("#import-form button[type=submit]").click()
    expect(page.locator("#import-errors")).to_be_visible()
    shown = page.locator("#import-errors-body tr")
    assert shown.count() >= 3  # the empty name, the identity number and the unknown specialty, each by row
    assert {shown.nth(i).locator("td").first.inner_text() for i in range(shown.count())} == {"3", "4"}
    assert "NOPE" in page.locator("#import-errors-body").inner_text()
    assert ok(client.get(f"/api/v1/regions/{regions[codes['host']]['id']}/experts", headers=admin)) == []
    clean(page)
    screenshot(page, "admin-pool-errors", page.locator("#pools"))
    for key in ("host", "guest"):
        page.locator("#pool-region").select_option(regions[codes[key]]["id"])
        choose(page, "import-file", files[key])
        page.locator("#import-form button[type=submit]").click()
        expect(page.locator("#import-form [data-form-status]")).to_contain_text(f"新增 {len(good[key])}")
        expect(page.locator("#import-errors")).to_be_hidden()
        expect(page.locator("#pool-body tr")).to_have_count(len(good[key]))
    assert len(ok(client.get(f"/api/v1/regions/{regions[codes['guest']]['id']}/experts", headers=admin))) == 5

    # Search, open one expert, suspend them (a reason is required) and see the state change.
    page.locator("#pool-search").fill("专家G3")
    expect(page.locator("#pool-body tr")).to_have_count(1)
    page.locator("#pool-body").get_by_role("button", name="查看").click()
    expect(page.locator("#expert-h")).to_contain_text("专家G3")
    page.locator("#cr-status").select_option("suspended")
    page.locator("#credit-form button[type=submit]").click()
    assert field_error(page, "cr-reason")
    page.locator("#cr-reason").fill("无故缺席评标两次")
    page.locator("#credit-form button[type=submit]").click()
    expect(page.locator("#expert-facts")).to_contain_text("无故缺席评标两次")
    expect(page.locator("#pool-body")).to_contain_text("暂停")
    suspended = [x for x in ok(client.get(f"/api/v1/regions/{regions[codes['guest']]['id']}/experts", headers=admin))
                 if x["credit_status"] == "suspended"]
    assert [x["name"] for x in suspended] == ["专家G3"] and suspended[0]["credit_reason"] == "无故缺席评标两次"
    clean(page)
    screenshot(page, "admin-pools", page.locator("#pools"))

    # --- the guest venue's site agent: its key registered here, then it links and reports its seats ----------
    with linked_agent(page, client, admin, live, tmp_path / "guest-agent", venue_codes["guest"], guest_id,
                      "西安现场代理"):
        prepared = preparing(ctx, client, admin, live, browser, page, tmp_path, venue_codes, host_id, guest_id,
                             accounts, errors)
        prepared.id_numbers = {row["name"]: row["id_number"] for rows_ in good.values() for row in rows_}
        prepared.cas = {host_id: cas["host"], guest_id: cas["guest"]}
        # The host's own site agent, for the day, registered as the guest's was.
        with linked_agent(page, client, admin, live, tmp_path / "host-agent", venue_codes["host"], host_id,
                          "济南现场代理"):
            evaluating(ctx, client, admin, live, browser, tmp_path, prepared, errors)
        prepared.host.context.close()
        prepared.guest.context.close()
    page.get_by_role("button", name="English").click()
    expect(page.locator("h1")).to_have_text("Coordinator administration")
    clean(page)
    assert errors == []


def preparing(ctx: AppContext, client: TestClient, admin: dict[str, str], live: str, browser: Any, page: Any,
              tmp_path: Path, venue_codes: dict[str, str], host_id: str, guest_id: str,
              accounts: dict[str, dict[str, Any]], errors: list[str]) -> Prepared:
    """The session's preparation, with the guest's site agent linked: the host's operator, the guest's, and the
    admin (``page``) for the supervisors. The operators' tabs stay open for the evaluation."""
    def tab(username: str) -> Any:
        opened = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}).new_page()
        opened.on("pageerror", lambda err: errors.append(str(err)))
        log_in(opened, live, username)
        return opened

    # --- the host's operator: a session starting within the hour, the tender (a broken file first), seats ---
    host = tab("jn-op")
    code, title = unique_code("S"), "某道路工程施工招标"
    start, end = soon_on_one_day(datetime.now(UTC), timedelta(minutes=30), timedelta(hours=8))
    new_session(host, code, title, start, end)
    session = next(x for x in ok(client.get("/api/v1/sessions", headers=admin)) if x["code"] == code)
    assert session["host_venue_id"] == host_id
    choose_session(host, session["id"])
    paths = refused_tender(host, project_doc(bidders=[{"code": "B1", "name": ""}]), tmp_path / "broken.json")
    assert any("bidders[0].name" in path for path in paths), paths
    assert client.get(f"/api/v1/sessions/{session['id']}/project", headers=admin).status_code == 404
    doc = project_doc()
    import_tender(host, doc, tmp_path / "tender.json")
    ask_for_seats(host, 2, "B01")
    (offer,) = ok(client.get(f"/api/v1/sessions/{session['id']}/offers", headers=admin))
    assert offer["guest_venue_id"] == guest_id, "the coordinator drew the only venue that can lend the seats"
    guest_secrets = [guest_id, venue_codes["guest"], "西安公共资源交易中心"]
    assert not [x for x in guest_secrets if x in page_text(host)]

    # --- the guest's operator confirms on their page, which names nothing of the session -------------------
    guest = tab("xa-op")
    guest.locator(f'tr[data-offer="{offer["offer_id"]}"]').get_by_role("button", name="确认").click()
    expect(guest.locator("#offers-status")).to_contain_text("已确认")
    assert not [x for x in (code, session["id"], title, doc["name"], host_id, venue_codes["host"],
                            "济南公共资源交易中心") if x in page_text(guest)]
    expect(host.locator("#prep-offers-body")).to_contain_text("已确认", timeout=20_000)
    assert not [x for x in guest_secrets if x in page_text(host)]

    # --- the admin assigns the session's supervisors ------------------------------------------------------
    page.get_by_role("button", name="刷新").click()
    row = page.locator("#sessions-body tr", has_text=session["code"])
    row.get_by_role("button", name="指派").click()
    page.locator("#as-account").select_option(accounts["sd-sup"]["id"])
    page.locator("#assign-form button[type=submit]").click()
    expect(page.locator("#sessions-body tr", has_text=session["code"])).to_contain_text("山东监督（主监督")
    # A second primary is the server's refusal, shown on the form; nothing changes.
    page.locator("#sessions-body tr", has_text=session["code"]).get_by_role("button", name="指派").click()
    page.locator("#as-account").select_option(accounts["sn-sup"]["id"])
    page.locator("#assign-form button[type=submit]").click()
    expect(page.locator("#assign-form [data-form-error]")).to_contain_text("primary")
    page.locator("#as-level").select_option("secondary")
    page.locator("#assign-form button[type=submit]").click()
    expect(page.locator("#sessions-body tr", has_text=session["code"])).to_contain_text("陕西监督（副监督")
    assigned = ok(client.get(f"/api/v1/sessions/{session['id']}/supervisors", headers=admin))
    assert [(a["username"], a["level"]) for a in assigned] == [("sd-sup", "primary"), ("sn-sup", "secondary")]
    page.locator("#ss-state").select_option("ended")
    expect(page.locator("#sessions-body")).not_to_contain_text(session["code"])
    page.locator("#ss-state").select_option("waiting")
    expect(page.locator("#sessions-body")).to_contain_text(session["code"])
    clean(page)
    screenshot(page, "admin-sessions", page.locator("#sessions"))

    # --- the host plans and draws the committee; the browser's check and verify-draw agree ---------------
    plan_committee(host, "works", 5, ["B01:3", "B01:2"], doc["tenderer"], [b["name"] for b in doc["bidders"]])
    host.locator("#cm-draw").click()
    expect(host.locator("#cm-draw-status")).to_have_text("已抽取。")
    (drawn,) = ok(client.get(f"/api/v1/sessions/{session['id']}/committee", headers=admin))["draws"]
    assert (drawn["outcome"], drawn["members"]) == ("drawn", 5)
    check_draw(host, drawn["draw_id"], "commitment")
    assert not [x for x in guest_secrets if x in page_text(host)]
    host.locator("#ctl-open").click()
    expect(host.locator("#check-in-state")).to_contain_text("已开放")
    check_draw(host, drawn["draw_id"], "match")
    clean(host)
    verified = run_evalroom("verify-draw", "--data", str(ctx.settings.data_dir), "--session", session["id"],
                            env={"EVALROOM_DATABASE_URL": ctx.settings.effective_database_url})
    assert verified.returncode == 0 and drawn["draw_id"] in verified.stdout, verified.stdout + verified.stderr
    # The admin's record of a drawn guest expert lists this committee place.
    drawn_guest = next(m for m in ok(client.get(f"/api/v1/sessions/{session['id']}/committee", headers=admin))["members"]
                       if m["venue_id"] == guest_id)
    page.locator("#pool-search").fill(drawn_guest["name"])
    expect(page.locator("#pool-body tr")).to_have_count(1)
    page.locator("#pool-body").get_by_role("button", name="查看").click()
    expect(page.locator("#expert-sessions")).to_contain_text(f"{code}：已抽中")
    expect(page.locator("#expert-flags")).to_have_text("暂无。")
    clean(page)
    return Prepared(session, host, guest, doc, {}, {}, host_id, guest_id)
