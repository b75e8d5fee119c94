"""Detached CAdES signatures over a sheet's canonical bytes (signing/cms.py): intact, valid, trusted and
revocation reported separately; tampering with the sheet, moving the signature, a revoked certificate and an
unrecognised region are each caught."""

from __future__ import annotations

import datetime as dt

import pytest
from timebase import T0

from signing.canonical import canonical_json
from signing.cms import sign_detached, software_signer, verify_detached
from signing.pki import Issued, RegionCA, issue_crl, issue_region_ca, issue_signer
from signing.trust import RegionAnchors, TrustStore

pytestmark = pytest.mark.dates

NOW = T0 + dt.timedelta(hours=1)  # 10:00 in Beijing: everything is issued and judged around it
SHEET = {"format": "evalroom-sheet-v1", "member_id": "m1", "phase": "detailed_review", "version": 1,
         "nonce": "00" * 16, "scores": {"L1/B1": {"T1": "18.00", "T2": "8.50"}}, "stated": {}}


@pytest.fixture(scope="module")
def world() -> tuple[dict[str, RegionCA], Issued, Issued]:
    cas = {r: issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "GD")}
    expert = issue_signer(cas["SD"], "张伟", "SD-E-1", NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=365))
    revoked = issue_signer(cas["SD"], "李娜", "SD-E-2", NOW - dt.timedelta(days=10), NOW + dt.timedelta(days=365))
    return cas, expert, revoked


def store(cas: dict[str, RegionCA], revoked: Issued | None = None) -> TrustStore:
    def anchors(ca: RegionCA) -> RegionAnchors:
        gone = [(revoked.certificate, NOW - dt.timedelta(hours=1))] if revoked and ca.region == "SD" else []
        return RegionAnchors.of(ca.region, [ca.root.certificate], [ca.intermediate.certificate], [
            issue_crl(ca.root, [], NOW - dt.timedelta(minutes=30), NOW + dt.timedelta(days=30)),
            issue_crl(ca.intermediate, gone, NOW - dt.timedelta(minutes=30), NOW + dt.timedelta(days=7))])
    return TrustStore([anchors(ca) for ca in cas.values()], recognised={"SD"})


def sign(ca: RegionCA, who: Issued, data: bytes) -> bytes:
    return sign_detached(data, software_signer(who.certificate, who.key, [ca.intermediate.certificate]), NOW)


def test_a_signed_sheet_is_intact_valid_and_trusted(world: tuple[dict[str, RegionCA], Issued, Issued]) -> None:
    cas, expert, _ = world
    data = canonical_json(SHEET)
    check = verify_detached(data, sign(cas["SD"], expert, data), store(cas), NOW)
    assert (check.intact, check.valid, check.trusted, check.revocation, check.region) == (True, True, True, "good",
                                                                                          "SD")
    assert check.ok and "SD-E-1" in check.signer and check.problems == ()


def test_a_sheet_edited_after_signing_or_a_signature_moved_is_not_intact(
        world: tuple[dict[str, RegionCA], Issued, Issued]) -> None:
    cas, expert, _ = world
    data = canonical_json(SHEET)
    signature = sign(cas["SD"], expert, data)
    edited = canonical_json({**SHEET, "scores": {"L1/B1": {"T1": "19.00", "T2": "8.50"}}})
    for other in (edited, canonical_json({**SHEET, "member_id": "m2"})):
        check = verify_detached(other, signature, store(cas), NOW)
        assert not check.intact and not check.ok and "changed after signing" in check.problems[0]


def test_revoked_and_unrecognised_signers_are_not_trusted(world: tuple[dict[str, RegionCA], Issued, Issued]) -> None:
    cas, _, revoked = world
    data = canonical_json(SHEET)
    check = verify_detached(data, sign(cas["SD"], revoked, data), store(cas, revoked), NOW)
    assert (check.intact, check.valid, check.trusted, check.revocation) == (True, True, False, "revoked")
    outsider = issue_signer(cas["GD"], "赵敏", "GD-E-1", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30))
    check = verify_detached(data, sign(cas["GD"], outsider, data), store(cas), NOW)
    assert (check.intact, check.valid, check.trusted, check.region) == (True, True, False, "GD")


def test_garbage_is_not_a_signature(world: tuple[dict[str, RegionCA], Issued, Issued]) -> None:
    check = verify_detached(b"x", b"not DER at all", store(world[0]), NOW)
    assert not check.ok and check.problems[0].startswith("not a CMS signature")


def test_a_forged_signature_value_is_not_valid(world: tuple[dict[str, RegionCA], Issued, Issued]) -> None:
    from asn1crypto import cms

    cas, expert, _ = world
    data = canonical_json(SHEET)
    info = cms.ContentInfo.load(sign(cas["SD"], expert, data))
    signer_info = info["content"]["signer_infos"][0]
    forged = bytearray(signer_info["signature"].native)
    forged[-1] ^= 0x01
    signer_info["signature"] = bytes(forged)
    check = verify_detached(data, info.dump(force=True), store(cas), NOW)
    assert (check.intact, check.valid, check.ok) == (True, False, False)
    assert "does not verify" in check.problems[0]
