"""``evalroom verify FILE --trust DIR``: a signed report PDF and a signed sheet checked offline against a trust
bundle, every signature printed, exit 0 only if all are intact, valid and trusted."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalroom.clock import format_time
from evalroom.report_pdf import render_report_pdf
from signing.canonical import canonical_json
from signing.cms import sign_detached, software_signer
from signing.pades import local_tsa, sign_pdf
from signing.pki import RegionCA, issue_crl, issue_region_ca, issue_signer, issue_tsa
from signing.trust import write_bundle

pytestmark = pytest.mark.dates

NOW = dt.datetime.now(dt.UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "report-sample.json"


def verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    return subprocess.run([sys.executable, "-m", "evalroom", "verify", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trust bundle (山东 and the coordinator recognised, 广东 registered only), a report signed by a 山东
    expert and sealed with a time-stamp, a sheet signed by a 山东 expert, and one by a 广东 expert."""
    root = tmp_path_factory.mktemp("verify")
    cas: dict[str, RegionCA] = {r: issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "GD", "EVALROOM")}
    year = NOW + dt.timedelta(days=365)
    write_bundle(root / "trust", [
        (r, [ca.root.certificate], [ca.intermediate.certificate],
         [issue_crl(ca.root, [], NOW - dt.timedelta(hours=1), year), issue_crl(ca.intermediate, [], NOW - dt.timedelta(
             hours=1), NOW + dt.timedelta(days=7))]) for r, ca in cas.items()], ["SD", "EVALROOM"])
    expert = issue_signer(cas["SD"], "张伟", "SD-E-1", NOW - dt.timedelta(days=1), year)
    outsider = issue_signer(cas["GD"], "赵敏", "GD-E-1", NOW - dt.timedelta(days=1), year)
    seal = issue_signer(cas["EVALROOM"], "协调平台印章", "SEAL-1", NOW - dt.timedelta(days=1), year)
    tsa = issue_tsa(cas["EVALROOM"], "evalroom TSA", NOW - dt.timedelta(days=1), year)
    pdf = render_report_pdf(json.loads(SAMPLE.read_text(encoding="utf-8")))
    pdf = sign_pdf(pdf, software_signer(expert.certificate, expert.key, [cas["SD"].intermediate.certificate]),
                   "expert-1", name="张伟", reason="评标报告签字", location="济南", at=NOW)
    pdf = sign_pdf(pdf, software_signer(seal.certificate, seal.key, [cas["EVALROOM"].intermediate.certificate]),
                   "seal", name="evalroom", reason="签章", location="evalroom", at=NOW,
                   timestamper=local_tsa(tsa, [cas["EVALROOM"].intermediate.certificate], lambda: NOW))
    (root / "report.pdf").write_bytes(pdf)
    sheet = canonical_json({"format": "evalroom-sheet-v1", "scores": {"L1/B1": {"T1": "18.00"}}})
    for name, who, ca in (("sheet.json", expert, cas["SD"]), ("outsider.json", outsider, cas["GD"])):
        (root / name).write_bytes(sheet)
        (root / f"{name}.p7s").write_bytes(sign_detached(sheet, software_signer(
            who.certificate, who.key, [ca.intermediate.certificate]), NOW))
    return root


def test_a_signed_report_and_sheet_verify(files: Path) -> None:
    report = verify(files / "report.pdf", "--trust", files / "trust")
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.count("intact yes, valid yes, trusted yes, revocation good") == 2
    assert "region SD" in report.stdout and "region EVALROOM" in report.stdout and "verdict: OK" in report.stdout
    sheet = verify(files / "sheet.json", "--trust", files / "trust")
    assert sheet.returncode == 0 and "SD-E-1" in sheet.stdout and "verdict: OK" in sheet.stdout


def test_failures_exit_non_zero_and_say_why(files: Path, tmp_path: Path) -> None:
    outsider = verify(files / "outsider.json", "--trust", files / "trust")
    assert outsider.returncode == 1 and "region GD is not on the recognition list" in outsider.stdout
    edited = tmp_path / "sheet.json"
    edited.write_bytes((files / "sheet.json").read_bytes().replace(b"18.00", b"19.00"))
    (tmp_path / "sheet.json.p7s").write_bytes((files / "sheet.json.p7s").read_bytes())
    changed = verify(edited, "--trust", files / "trust")
    assert changed.returncode == 1 and "intact NO" in changed.stdout and "verdict: FAILED" in changed.stdout
    pdf = (files / "report.pdf").read_bytes()
    at = pdf.index(b"stream", len(pdf) // 10) + 20
    (tmp_path / "report.pdf").write_bytes(pdf[:at] + bytes([pdf[at] ^ 1]) + pdf[at + 1:])
    flipped = verify(tmp_path / "report.pdf", "--trust", files / "trust")
    assert flipped.returncode == 1 and "the signed bytes were changed" in flipped.stdout
    unsigned = tmp_path / "alone.json"
    unsigned.write_bytes(b"{}")
    assert verify(unsigned, "--trust", files / "trust").returncode == 1
    assert verify(files / "report.pdf", "--trust", tmp_path / "nowhere").returncode == 2


def test_factor_evidence_is_printed_and_must_account_for_the_signature(files: Path, tmp_path: Path) -> None:
    """The coordinator's signature records: matched by the hash of what was handed in, and their factor must
    have authorised the document the signature covers."""
    import hashlib

    sheet, p7s = (files / "sheet.json").read_bytes(), (files / "sheet.json.p7s").read_bytes()
    digest = hashlib.sha256(sheet).hexdigest()
    record = {"document": "sheet", "document_sha256": digest, "content_sha256": hashlib.sha256(p7s).hexdigest(),
              "evidence": {"kind": "totp", "document_sha256": digest, "at": format_time(NOW),
                           "step": int(NOW.timestamp()) // 30}}
    good = tmp_path / "records.json"
    good.write_text(json.dumps([record]), encoding="utf-8")
    result = verify(files / "sheet.json", "--trust", files / "trust", "--evidence", good)
    assert result.returncode == 0, result.stdout
    assert f"factor: totp at {format_time(NOW)} (step {int(NOW.timestamp()) // 30})" in result.stdout
    other = tmp_path / "other.json"
    other.write_text(json.dumps([{**record, "evidence": {**record["evidence"], "document_sha256": "0" * 64}}]))
    refused = verify(files / "sheet.json", "--trust", files / "trust", "--evidence", other)
    assert refused.returncode == 1 and "authorised another document" in refused.stdout
    (tmp_path / "none.json").write_text("[]")
    unaccounted = verify(files / "sheet.json", "--trust", files / "trust", "--evidence", tmp_path / "none.json")
    assert unaccounted.returncode == 1 and "no signature record accounts" in unaccounted.stdout
