"""``evalroom pki generate``: hierarchies made from a declaration — two recognised regions and one that is
not, an expert revoked, the coordinator's seal and TSA — and what they sign verifies as declared."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signing.canonical import canonical_json
from signing.cms import sign_detached
from signing.tokens import SoftKeyStore

pytestmark = pytest.mark.dates

DECLARATION = """
[[regions]]
code = "SD"
signers = [{ name = "张伟", serial = "SD-E-0001", pin = "111111" },
           { name = "李娜", serial = "SD-E-0002", pin = "222222", revoked = true }]

[[regions]]
code = "SN"
signers = [{ name = "赵敏", serial = "SN-E-0001", pin = "333333" }]

[[regions]]
code = "GD"
recognised = false
signers = [{ name = "陈静", serial = "GD-E-0001", pin = "444444" }]

[coordinator]
code = "EVALROOM"
seal = "评标协调平台电子印章"
seal_pin = "seal-pin"
"""


def evalroom(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALROOM_")}
    return subprocess.run([sys.executable, "-m", "evalroom", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_what_the_declaration_says_is_what_verifies(tmp_path: Path) -> None:
    spec = tmp_path / "pki.toml"
    spec.write_text(DECLARATION, encoding="utf-8")
    made = evalroom("pki", "generate", spec, "--out", tmp_path / "pki")
    assert made.returncode == 0, made.stderr
    out = tmp_path / "pki"
    assert (out / "trust" / "recognised.txt").read_text().split() == ["SD", "SN", "EVALROOM"]
    assert (out / "ca" / "SD" / "root-key.pem").stat().st_mode & 0o077 == 0
    sheet = canonical_json({"format": "evalroom-sheet-v1", "scores": {"L1/B1": {"T1": "18.00"}}})
    expected = {"SD/SD-E-0001": ("111111", 0, None), "SD/SD-E-0002": ("222222", 1, "revocation revoked"),
                "SN/SN-E-0001": ("333333", 0, None), "GD/GD-E-0001": ("444444", 1, "not on the recognition list")}
    for name, (pin, code, words) in expected.items():
        path = tmp_path / f"{name.replace('/', '-')}.json"
        path.write_bytes(sheet)
        store = SoftKeyStore(out / "keys" / f"{name}.p12")
        path.with_name(path.name + ".p7s").write_bytes(sign_detached(sheet, store.open(pin), dt.datetime.now(dt.UTC)))
        checked = evalroom("verify", path, "--trust", out / "trust")
        assert checked.returncode == code, (name, checked.stdout)
        assert words is None or words in checked.stdout, checked.stdout
    seal = SoftKeyStore(out / "coordinator" / "seal.p12").open("seal-pin")
    assert seal is not None
    again = evalroom("pki", "generate", spec, "--out", out)
    assert again.returncode == 2 and "not empty" in again.stderr
