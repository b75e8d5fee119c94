"""The seat's local signer (evalroom/seat_signer.py) on its own: it answers only the coordinator's pages, signs only
the bytes whose hash the page showed, counts wrong PINs until the key locks, and its signatures verify. (The
expert's page drives it for real, on a SoftHSM2 token, in tests/e2e/test_expert_page.py.)"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_signing_tokens import trust

from evalroom.seat_signer import SoftStoreSource, create_signer_app
from signing.canonical import canonical_json
from signing.cms import verify_detached
from signing.pki import RegionCA, issue_region_ca, issue_signer
from signing.tokens import PIN_TRIES, SoftKeyStore

NOW = dt.datetime.now(dt.UTC)
ORIGIN = "http://coordinator.example:8000"
PIN = "482916"
SHEET = canonical_json({"format": "evalroom-sheet-v1", "member_id": "m1", "scores": {"L1/B1": {"T1": "18.00"}}})


@pytest.fixture
def ca() -> RegionCA:
    return issue_region_ca("SD", NOW - dt.timedelta(days=30))


@pytest.fixture
def signer(tmp_path: Path, ca: RegionCA) -> TestClient:
    issued = issue_signer(ca, "张伟", "SD-E-1", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))
    store = SoftKeyStore.create(tmp_path / "expert.p12", PIN, issued.key, issued.certificate,  # type: ignore[arg-type]
                                [ca.intermediate.certificate])
    return TestClient(create_signer_app(SoftStoreSource(store), [ORIGIN]), headers={"Origin": ORIGIN})


def body(data: bytes = SHEET, **overrides: Any) -> dict[str, Any]:
    return {"kind": "sheet", "document": base64.b64encode(data).decode(), "sha256": hashlib.sha256(data).hexdigest(),
            "pin": PIN, **overrides}


def test_a_sheet_signature_verifies_over_the_bytes_shown(signer: TestClient, ca: RegionCA) -> None:
    r = signer.post("/v1/sign", json=body())
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    check = verify_detached(SHEET, base64.b64decode(r.json()["signature"]), trust(ca), NOW)
    assert check.intact and check.valid and check.trusted and "张伟" in check.signer


def test_other_origins_are_refused_before_anything_else(signer: TestClient) -> None:
    for origin in ("http://evil.example", ""):
        r = signer.post("/v1/sign", json=body(), headers={"Origin": origin})
        assert (r.status_code, r.json()["error"]["code"]) == (403, "origin_refused")
    pre = signer.options("/v1/sign", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "content-type",
                                              "Access-Control-Request-Private-Network": "true"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-private-network"] == "true"


def test_bytes_other_than_those_shown_are_not_signed(signer: TestClient) -> None:
    r = signer.post("/v1/sign", json=body(sha256=hashlib.sha256(b"what the page showed").hexdigest()))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "document_mismatch")
    r = signer.post("/v1/sign", json={**body(), "kind": "contract"})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_input")


def test_wrong_pins_are_counted_and_lock_the_key(signer: TestClient) -> None:
    for left in range(PIN_TRIES - 1, 0, -1):
        r = signer.post("/v1/sign", json=body(pin="000000"))
        assert r.status_code == 403 and r.json()["error"]["code"] == "pin_refused"
        assert r.json()["error"]["details"][0]["remaining"] == left
    r = signer.post("/v1/sign", json=body(pin="000000"))
    assert r.json()["error"]["code"] == "pin_locked"
    r = signer.post("/v1/sign", json=body())  # even the right PIN, once locked
    assert (r.status_code, r.json()["error"]["code"]) == (403, "pin_locked")
