"""Experts' keys behind a PIN (signing/tokens.py): a PKCS#11 token (SoftHSM2, which the test command installs
from Debian) whose key never leaves it, and the demo's software key store. Sheets signed through either
verify as intact, valid and trusted; wrong PINs are counted and lock the key."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, KeyType
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from signing.canonical import canonical_json
from signing.cms import sign_detached, verify_detached
from signing.pki import RegionCA, certify, issue_crl, issue_region_ca, issue_signer
from signing.tokens import PIN_TRIES, PinRefused, Pkcs11Token, SoftKeyStore
from signing.trust import RegionAnchors, TrustStore

pytestmark = pytest.mark.dates

NOW = dt.datetime.now(dt.UTC)
PIN, SO_PIN = "123456", "12345678"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
SHEET = canonical_json({"format": "evalroom-sheet-v1", "member_id": "m1", "scores": {"L1/B1": {"T1": "18.00"}}})


TOKENS = ("expert-a", "expert-b")


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SoftHSM2 with a token directory of this module's own and its tokens initialised, before the library is
    first loaded (SoftHSM2 reads SOFTHSM2_CONF and its tokens when it is initialised, once per process)."""
    module = next((m for m in MODULES if Path(m).exists()), None)
    assert module, "SoftHSM2 is missing: the test command installs the Debian package softhsm2"
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n", encoding="utf-8")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in TOKENS:
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin",
                        SO_PIN], check=True, capture_output=True, env=os.environ)
    yield module
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old


@pytest.fixture(scope="module")
def region() -> RegionCA:
    return issue_region_ca("SD", NOW - dt.timedelta(days=30))


def trust(ca: RegionCA) -> TrustStore:
    return TrustStore([RegionAnchors.of(ca.region, [ca.root.certificate], [ca.intermediate.certificate], [
        issue_crl(ca.root, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=30)),
        issue_crl(ca.intermediate, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=7))])], {"SD"})


def token_with_key(module: str, label: str, ca: RegionCA) -> tuple[Pkcs11Token, x509.Certificate]:
    """A token with an EC key generated on it (it never leaves), and the region's certificate for that key."""
    token = pkcs11.lib(module).get_token(token_label=label)
    with token.open(user_pin=PIN, rw=True) as session:
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
        public, _private = params.generate_keypair(store=True, label="sign")
        spki = encode_ec_public_key(public)
    key = load_der_public_key(spki)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    cert = certify(ca, "张伟", "SD-E-1", key, NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))
    return Pkcs11Token(module, label, "sign", Path(os.environ["SOFTHSM2_CONF"]).parent), cert


def test_a_key_on_a_token_signs_a_sheet_that_verifies(softhsm: str, region: RegionCA) -> None:
    token, cert = token_with_key(softhsm, TOKENS[0], region)
    with token.open(PIN, cert, [region.intermediate.certificate]) as signer:
        signature = sign_detached(SHEET, signer, NOW)
    check = verify_detached(SHEET, signature, trust(region), NOW)
    assert (check.intact, check.valid, check.trusted) == (True, True, True), check.problems


def test_wrong_pins_are_counted_and_lock_the_token(softhsm: str, region: RegionCA) -> None:
    token, cert = token_with_key(softhsm, TOKENS[1], region)
    for left in range(PIN_TRIES - 1, 0, -1):
        with pytest.raises(PinRefused) as wrong, token.open("000000", cert, []):
            pass
        assert (wrong.value.reason, wrong.value.remaining) == ("wrong_pin", left)
    with token.open(PIN, cert, []):  # a right PIN resets the count
        pass
    for _ in range(PIN_TRIES):
        with pytest.raises(PinRefused), token.open("000000", cert, []):
            pass
    with pytest.raises(PinRefused) as locked, token.open(PIN, cert, []):
        pass
    assert locked.value.reason == "locked"  # even the right PIN: nothing is tried any more


def test_the_software_key_store_signs_behind_its_pin(tmp_path: Path, region: RegionCA) -> None:
    issued = issue_signer(region, "李娜", "SD-E-2", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365))
    store = SoftKeyStore.create(tmp_path / "li.p12", PIN, issued.key, issued.certificate,
                                [region.intermediate.certificate])
    assert (tmp_path / "li.p12").stat().st_mode & 0o077 == 0
    check = verify_detached(SHEET, sign_detached(SHEET, store.open(PIN), NOW), trust(region), NOW)
    assert check.ok, check.problems
    for left in range(PIN_TRIES - 1, -1, -1):
        with pytest.raises(PinRefused) as wrong:
            store.open("654321")
        assert wrong.value.reason == ("wrong_pin" if left else "locked")
    with pytest.raises(PinRefused) as locked:
        store.open(PIN)
    assert locked.value.reason == "locked"
