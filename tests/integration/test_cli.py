"""The ``evalroom`` command as an operator uses it, in subprocesses, on the embedded default."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import PASSWORD, run_evalroom
from cryptography import x509
from fastapi.testclient import TestClient
from pdfsig import pdfsig

from evalroom.api.app import create_app
from evalroom.config import load_settings
from evalroom.demo import MARKER, _prepare_out
from evalroom.services.fees import COLUMNS
from evalroom.storage import migrate

pytestmark = pytest.mark.timeout(300)


evalroom = run_evalroom


def test_db_upgrade_then_current_and_verify(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert evalroom("db", "current", "--data", data).returncode == 1  # empty database: not current
    up = evalroom("db", "upgrade", "--data", data)
    assert up.returncode == 0 and f"empty -> {migrate.head_revision()}" in up.stdout
    assert evalroom("db", "current", "--data", data).returncode == 0
    verified = evalroom("db", "verify-events", "--data", data)
    assert verified.returncode == 0 and "0 events" in verified.stdout


def test_bad_configuration_exits_2_and_names_the_setting(tmp_path: Path) -> None:
    result = evalroom("db", "upgrade", "--data", str(tmp_path), env={"EVALROOM_ACCESS_TOKEN_MINUTES": "600"})
    assert result.returncode == 2
    assert "access_token_minutes (from EVALROOM_ACCESS_TOKEN_MINUTES)" in result.stderr
    typo = evalroom("db", "upgrade", "--data", str(tmp_path), env={"EVALROOM_DATABSE_URL": "sqlite:///x"})
    assert typo.returncode == 2 and "EVALROOM_DATABSE_URL" in typo.stderr
    config = tmp_path / "evalroom.toml"
    config.write_text('prot = 8000\n')
    assert "unknown setting(s) prot" in evalroom("db", "upgrade", "--config", str(config)).stderr


def test_account_create_refuses_bad_input_and_creates_nothing(tmp_path: Path) -> None:
    data = str(tmp_path)
    weak = evalroom("account", "create", "--data", data, "--username", "admin", "--role", "coordinator-admin",
                    stdin="short\n")
    assert weak.returncode == 2 and "password: String should have at least 12" in weak.stderr
    no_venue = evalroom("account", "create", "--data", data, "--username", "jn-op", "--role", "hall-operator",
                        stdin=PASSWORD + "\n")
    assert no_venue.returncode == 2 and "venue_id" in no_venue.stderr
    assert not (tmp_path / "evalroom.db").exists(), "bad input must not even create the database"
    ok = evalroom("account", "create", "--data", data, "--username", "admin", "--role", "coordinator-admin",
                  stdin=PASSWORD + "\n")
    assert ok.returncode == 0 and "created coordinator-admin account admin" in ok.stdout
    again = evalroom("account", "create", "--data", data, "--username", "admin", "--role", "coordinator-admin",
                     stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "taken" in again.stderr


def test_key_rotation_keeps_old_tokens_until_the_old_key_is_retired(tmp_path: Path) -> None:
    from evalroom.api.context import build_context
    from evalroom.config import load_settings
    from evalroom.errors import AuthError

    data = str(tmp_path)
    old = evalroom("token", "issue", "--data", data, "--role", "site-agent", "--subject", "agent", "--venue", "v1")
    assert old.returncode == 0
    first_kid = evalroom("keys", "list", "--data", data).stdout.split()[0]
    assert evalroom("keys", "rotate", "--data", data).returncode == 0
    listing = evalroom("keys", "list", "--data", data).stdout.splitlines()
    assert len(listing) == 2 and listing[1].endswith("(active)") and listing[0] == first_kid

    def verify(token: str) -> str:
        ctx = build_context(load_settings(environ={}, overrides={"data_dir": tmp_path}))
        try:
            return ctx.tokens.verify(token.strip()).principal.venue_id or ""
        finally:
            ctx.close()

    assert verify(old.stdout) == "v1"
    assert evalroom("keys", "retire", "--data", data, first_kid).returncode == 0
    with pytest.raises(AuthError, match="does not know"):
        verify(old.stdout)
    last = evalroom("keys", "retire", "--data", data, listing[1].split()[0])
    assert last.returncode == 2 and "only key" in last.stderr


def test_token_issue_refuses_inconsistent_bindings(tmp_path: Path) -> None:
    result = evalroom("token", "issue", "--data", str(tmp_path), "--role", "expert", "--subject", "e1")
    assert result.returncode == 2 and "session and seat" in result.stderr


def test_demo_exit_writes_what_it_produced_and_lists_it(tmp_path: Path, demo_run: tuple[Path, Any]) -> None:
    out, result = demo_run
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["checks"]["event_chain"] == "intact"
    assert summary["offer"] == {"state": "confirmed", "guest_venue": True, "assigned_seats": ["R1/A-01", "R1/A-02"],
                                "hidden_from_host": True}
    for kind in ("database", "keys", "exports", "credentials", "site_agents", "expert_pools"):
        assert summary["files"][kind], kind
        for rel in summary["files"][kind]:
            assert (out / rel).is_file(), rel
    events = [json.loads(line) for line in (out / "exports/events.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in events] == list(range(1, summary["checks"]["events"] + 1))
    kinds = [e["kind"] for e in events]
    for kind in ("venue.credential_registered", "venue.online", "seat.created", "session.updated",
                 "offer.guest_drawn", "offer.created", "offer.confirmed", "experts.imported", "committee.plan_set",
                 "draw.committed", "draw.performed", "draw.revealed", "committee.member_checked_in",
                 "committee.declaration", "committee.member_recused", "chair.round_closed", "chair.elected"):
        assert kind in kinds, kind
    # The committee: 3 host + 2 guest experts drawn, one conflict replaced by a second draw, a chair after a tie.
    committee = summary["committee"]
    assert committee["seated"] == 5 and committee["draws"] == 2 and committee["draws_verified"] == 3  # + the guest
    assert committee["chair_round"] == 2
    assert {"employed_by_bidder", "tied_to_tenderer", "blacklisted"} <= set(committee["excluded_reasons"])
    checked = evalroom("verify-draw", "--events", str(out / "exports/events.jsonl"))
    assert checked.returncode == 0 and checked.stdout.count(": ok: ") == 3, checked.stdout
    assert "the chosen guest venue is first in the order recomputed" in checked.stdout
    # Identity numbers are in the pool files the admin imported, never in the event log.
    pool = json.loads((out / "pools/sd-experts.json").read_text(encoding="utf-8"))
    log = (out / "exports/events.jsonl").read_text(encoding="utf-8")
    assert not any(row["id_number"] in log for row in pool)
    # The guest's agent got the offer, blind: nothing in its inbox names the host or the project.
    inbox = (out / "agents/XA-GGZY/state/inbox.jsonl").read_text(encoding="utf-8")
    assert "offer.created" in inbox and "济南" not in inbox and "JN-GGZY" not in inbox and "道路" not in inbox
    assert "http://127.0.0.1:" in result.stdout and "/docs" in result.stdout
    # The pages to open, with ready logins: the printed expert's code logs that expert in on the demo's data.
    base = summary["base_url"]
    for page in ("/operator", "/supervisor", "/expert"):
        assert f"{base}{page}" in result.stdout, page
    code = re.search(r"one-time code ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})", result.stdout)
    assert code, result.stdout
    served = tmp_path / "served"
    shutil.copytree(out, served)
    settings = load_settings(environ={}, overrides={"data_dir": served, "environment": "development"})
    with TestClient(create_app(settings)) as client:
        login = client.post("/api/v1/auth/expert-login", json={"code": code.group(1)})
        assert login.status_code == 200 and login.json()["role"] == "expert", login.text
    # The report is signed by all five experts and sealed: evalroom verify (pyHanko and the exported regional
    # roots) and poppler's pdfsig (an NSS database with the same roots) agree that every signature is valid.
    assert summary["evaluation"]["report"]["signatures"] == 6
    report = out / "reports/report-v1.pdf"
    verified = evalroom("verify", str(report), "--trust", str(out / "trust"))
    assert verified.returncode == 0 and verified.stdout.count("trusted yes") == 6, verified.stdout
    assert verified.stdout.count("factor: totp") == 5 and "verdict: OK" in verified.stdout
    roots = [c for p in sorted((out / "trust").glob("*/root.pem")) for c in x509.load_pem_x509_certificates(
        p.read_bytes())]
    poppler = pdfsig(report.read_bytes(), tmp_path, roots)
    assert poppler.count("Signature is Valid.") == 6 and poppler.count("Certificate is Trusted.") == 6, poppler
    # Both venues' cameras and microphones were recorded, each track's manifest verified and sealed.
    assert sorted(t["track"].split("/")[-2] for t in summary["recordings"]) == [
        "JN-GGZY_R1_cam", "JN-GGZY_R1_mic", "XA-GGZY_R1_cam", "XA-GGZY_R1_mic"]
    assert all(t["segments"] >= 2 for t in summary["recordings"])
    sheet = evalroom("verify", str(out / "reports/sheet-chair.json"), "--trust", str(out / "trust"))
    assert sheet.returncode == 0 and "factor: totp" in sheet.stdout, sheet.stdout
    # A later run starts afresh in a directory the demo made (a copy: other tests read the first); a foreign
    # directory is never emptied.
    again = tmp_path / "again"
    shutil.copytree(out, again)
    _prepare_out(again)
    assert sorted(p.name for p in again.iterdir()) == [MARKER]
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("keep me")
    refused = evalroom("demo", "--out", str(foreign), "--exit", "--port", "0")
    assert refused.returncode == 2 and (foreign / "thesis.txt").exists()


def test_demo_publishes_pays_and_rates_after_the_session(demo_run: tuple[Path, Any]) -> None:
    """The work after the session, on the demo's data: the publication's window by the rules, the fee batch
    computed by hand from the demo's tables, its CSV and XLSX exports, and a low rating's effect."""
    out, result = demo_run
    summary = json.loads((out / "summary.json").read_text())
    after = summary["after"]
    assert after["publication"]["window"]["days"] == 3
    assert after["publication"]["objections"] == {"received": 1, "unanswered": 0}
    assert after["publication"]["first"] == summary["evaluation"]["ranking"][0][1].split("/")[1]
    assert f"{summary['base_url']}/publications" in result.stdout
    # The session lasts minutes, inside both tables' 4 base hours: a 山东 expert is paid 800.00 + 50.00 travel
    # under the host's table; a 陕西 expert 700.00 + 200.00 = 900.00 under their own, the higher (就高).
    lines = after["fees"]["lines"]
    assert sorted((table, amount) for _name, table, amount in lines) == [
        ("SD-2026", "850.00")] * 3 + [("SN-2026", "900.00")] * 2
    assert after["fees"] == {**after["fees"], "batches": 1, "total": "4350.00"}
    csv_file, xlsx_file = (next((out / "fees").glob(f"*.{ext}")) for ext in ("csv", "xlsx"))
    rows = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("4350.00")
    assert all(r["basis"].endswith(("主场表 SD-2026", "高于 主场表 SD-2026 850.00")) for r in rows), rows
    total = [c.value for c in openpyxl.load_workbook(xlsx_file)["lines"][len(rows) + 2]]
    assert total[COLUMNS.index("name")] == "合计" and total[COLUMNS.index("amount")] == 4350
    # One rating below 60 suspended that expert: the draws' avoidance reads the stored status.
    assert after["ratings"] == 5
    with closing(sqlite3.connect(f"file:{out / 'evalroom.db'}?mode=ro", uri=True)) as db:
        status = db.execute("SELECT credit_status FROM experts WHERE id = ?", (after["suspended"],)).fetchone()
    assert status == ("suspended",)
    assert (out / "analysis" / "deviation.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_experts_import_reports_every_bad_row_and_imports_nothing(tmp_path: Path) -> None:
    from evalroom.api.context import build_context
    from evalroom.config import load_settings
    from evalroom.domain.identity import id_number_with_check
    from evalroom.schemas import RegionCreate
    from evalroom.services import registry

    data = str(tmp_path)
    ctx = build_context(load_settings(environ={}, overrides={"data_dir": tmp_path}))
    with ctx.store.write() as tx:
        registry.create_region(tx, "system:test", RegionCreate(code="SD", name="山东省"))
    ctx.close()
    good = id_number_with_check("37010219800101001")
    bad = tmp_path / "pool.csv"
    bad.write_text(f"姓名,身份证号,工作单位,专业\n张三,{good},某院,A0202\n李四,{good[:-1]}0,某院,A0202\n"
                   f"王五,{good},某院,Z99\n", encoding="utf-8")
    refused = evalroom("experts", "import", "--data", data, "--region", "SD", str(bad))
    assert refused.returncode == 1
    assert "row 2: id_number: invalid" in refused.stderr and "row 3: specialties: unknown_specialty" in refused.stderr
    assert "row 3: id_number: duplicate" in refused.stderr
    ok = tmp_path / "pool.json"
    ok.write_text(json.dumps([{"name": "张三", "id_number": good, "employer": "某院", "specialties": ["A0202"]}],
                             ensure_ascii=False), encoding="utf-8")
    done = evalroom("experts", "import", "--data", data, "--region", "SD", str(ok))
    assert done.returncode == 0 and "1 created, 0 updated" in done.stdout, done.stderr  # nothing from the bad file
    assert evalroom("experts", "import", "--data", data, "--region", "XX", str(ok)).returncode == 2
    assert good not in (tmp_path / "evalroom.db").read_bytes().decode("latin-1")
    # A lost sealing key is not silently replaced while sealed data exists: it must come back from the backup.
    (tmp_path / "keys" / "sealing.key").unlink()
    lost = evalroom("experts", "import", "--data", data, "--region", "SD", str(ok))
    assert lost.returncode == 2 and "restore it from the backup" in lost.stderr
    assert not (tmp_path / "keys" / "sealing.key").exists()


def test_the_sealing_key_is_made_once_and_never_overwritten(tmp_path: Path) -> None:
    made = evalroom("keys", "sealing", "--data", str(tmp_path))
    assert made.returncode == 0 and "sealing.key" in made.stdout
    key = (tmp_path / "keys" / "sealing.key").read_bytes()
    assert len(key) == 32 and oct((tmp_path / "keys" / "sealing.key").stat().st_mode & 0o777) == "0o600"
    again = evalroom("keys", "sealing", "--data", str(tmp_path))
    assert again.returncode == 2 and "unreadable" in again.stderr
    assert (tmp_path / "keys" / "sealing.key").read_bytes() == key
    assert evalroom("keys", "rotate", "--data", str(tmp_path)).returncode == 0
    listed = evalroom("keys", "list", "--data", str(tmp_path))
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1  # not mistaken for a token key
