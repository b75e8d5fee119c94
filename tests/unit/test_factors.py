"""Second factors that authorise one document (signing/factors.py): TOTP codes accepted once, WebAuthn
assertions whose challenge is derived from the document hash, with user verification required.

The WebAuthn side is exercised with a software authenticator written from the specification
(tests/webauthn_soft.py), so the library's verification is tested against bytes it did not make."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pyotp
import pytest
from timebase import T0, iso
from webauthn_soft import SoftAuthenticator

from signing.factors import (
    TOTP_STEP_SECONDS,
    FactorRefused,
    challenge_for,
    verify_totp,
    verify_webauthn,
)

pytestmark = pytest.mark.dates

NOW = T0 + dt.timedelta(hours=1, seconds=10)  # 10:00:10 in Beijing, 02:00:10 UTC on day(0)
DOC = hashlib.sha256(b"the canonical bytes of a score sheet").hexdigest()
OTHER = hashlib.sha256(b"another document").hexdigest()
RP, ORIGIN = "evalroom.example", "https://evalroom.example"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- TOTP ---------------------------------------------------------------------------------------------------
SECRET = pyotp.random_base32()


def code_at(moment: dt.datetime) -> str:
    return pyotp.TOTP(SECRET, interval=TOTP_STEP_SECONDS).at(moment)


def test_a_code_authorises_the_named_document_once() -> None:
    evidence, step = verify_totp(SECRET, code_at(NOW), DOC, NOW, last_step=None)
    assert evidence.as_dict() == {"kind": "totp", "document_sha256": DOC, "at": f"{iso(0)}T02:00:10.000000Z",
                                  "step": int(NOW.timestamp()) // 30}
    assert step == int(NOW.timestamp()) // 30
    with pytest.raises(FactorRefused) as replay:  # the same code again, even for the same document
        verify_totp(SECRET, code_at(NOW), DOC, NOW + dt.timedelta(seconds=5), last_step=step)
    assert replay.value.reason == "replayed"
    with pytest.raises(FactorRefused) as earlier:  # an older code that is still within the window
        verify_totp(SECRET, code_at(NOW - dt.timedelta(seconds=30)), OTHER, NOW, last_step=step)
    assert earlier.value.reason == "replayed"
    later, _ = verify_totp(SECRET, code_at(NOW + dt.timedelta(seconds=30)), OTHER, NOW + dt.timedelta(seconds=30),
                           last_step=step)
    assert later.document_sha256 == OTHER  # the next code authorises the next document


def test_wrong_and_stale_codes_are_refused() -> None:
    for code in ("000000" if code_at(NOW) != "000000" else "111111", code_at(NOW - dt.timedelta(minutes=5))):
        with pytest.raises(FactorRefused) as refused:
            verify_totp(SECRET, code, DOC, NOW, last_step=None)
        assert refused.value.reason == "wrong_code"


# --- WebAuthn -----------------------------------------------------------------------------------------------
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(rp_id=RP, origin=ORIGIN)


def test_an_assertion_authorises_exactly_the_document_its_challenge_was_made_for() -> None:
    device, nonce = authenticator(), b"\x01" * 16
    response = device.assert_(challenge_for(DOC, nonce))
    evidence = verify_webauthn(device.credential(), response, DOC, nonce, rp_id=RP, origin=ORIGIN, now=NOW)
    assert evidence.kind == "webauthn" and evidence.detail["user_verified"] is True
    assert evidence.detail["sign_count"] == 1 and evidence.detail["nonce"] == nonce.hex()
    with pytest.raises(FactorRefused) as other:  # the same assertion offered for another document
        verify_webauthn(device.credential(), response, OTHER, nonce, rp_id=RP, origin=ORIGIN, now=NOW)
    assert other.value.reason == "wrong_document"
    with pytest.raises(FactorRefused) as fresh_nonce:  # or replayed against a new challenge for the same one
        verify_webauthn(device.credential(), response, DOC, b"\x02" * 16, rp_id=RP, origin=ORIGIN, now=NOW)
    assert fresh_nonce.value.reason == "wrong_document"


def test_user_verification_is_required_and_the_key_must_match() -> None:
    device, nonce = authenticator(), b"\x03" * 16
    with pytest.raises(FactorRefused) as presence_only:
        verify_webauthn(device.credential(), device.assert_(challenge_for(DOC, nonce), verified=False), DOC, nonce,
                        rp_id=RP, origin=ORIGIN, now=NOW)
    assert presence_only.value.reason == "not_verified"
    impostor = authenticator()
    with pytest.raises(FactorRefused):
        verify_webauthn(device.credential(), impostor.assert_(challenge_for(DOC, nonce)), DOC, nonce, rp_id=RP,
                        origin=ORIGIN, now=NOW)
    with pytest.raises(FactorRefused) as garbage:
        verify_webauthn(device.credential(), {"id": "x"}, DOC, nonce, rp_id=RP, origin=ORIGIN, now=NOW)
    assert garbage.value.reason == "not_verified"
