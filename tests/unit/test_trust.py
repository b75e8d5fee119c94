"""The regional trust store (signing/trust.py) over declared hierarchies (signing/pki.py): recognition,
revocation without distribution points, validation pinned to the signing time, expiry, the key-usage
policy. No network, no database: pyhanko-certvalidator works on what the store holds."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from timebase import T0

from signing.pki import RegionCA, issue_crl, issue_region_ca, issue_signer
from signing.trust import RegionAnchors, TrustStore

pytestmark = pytest.mark.dates

NOW = T0 + dt.timedelta(hours=1)  # 10:00 in Beijing: everything is issued and judged around it
YEAR = dt.timedelta(days=365)


@pytest.fixture(scope="module")
def cas() -> dict[str, RegionCA]:
    return {r: issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "SN", "GD")}


def anchors(ca: RegionCA, revoked: list[tuple[x509.Certificate, dt.datetime]] | None = None) -> RegionAnchors:
    """A region's CA certificates and current CRLs (root and intermediate), as the admin registers them."""
    crls = [issue_crl(ca.root, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=30)),
            issue_crl(ca.intermediate, revoked or [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=7))]
    return RegionAnchors.of(ca.region, [ca.root.certificate], [ca.intermediate.certificate], crls)


def signer(ca: RegionCA, serial: str, **kw: object) -> x509.Certificate:
    not_before = kw.pop("not_before", NOW - dt.timedelta(days=10))
    not_after = kw.pop("not_after", NOW + YEAR)
    return issue_signer(ca, f"专家{serial}", serial, not_before, not_after, **kw).certificate  # type: ignore[arg-type]


def test_experts_of_every_recognised_region_are_trusted(cas: dict[str, RegionCA]) -> None:
    store = TrustStore([anchors(cas["SD"]), anchors(cas["SN"])], recognised={"SD", "SN"})
    for region in ("SD", "SN"):
        verdict = store.validate(signer(cas[region], f"{region}-E-1"), NOW)
        assert (verdict.region, verdict.trusted, verdict.revocation, verdict.problems) == (region, True, "good", ())
        assert f"{region}-E-1" in verdict.subject


def test_a_registered_region_that_is_not_recognised_is_not_trusted(cas: dict[str, RegionCA]) -> None:
    store = TrustStore([anchors(cas["SD"]), anchors(cas["GD"])], recognised={"SD"})
    verdict = store.validate(signer(cas["GD"], "GD-E-1"), NOW)
    assert (verdict.region, verdict.trusted) == ("GD", False)
    assert verdict.problems == ("region GD is not on the recognition list",)


def test_a_certificate_of_an_unknown_hierarchy_has_no_region(cas: dict[str, RegionCA]) -> None:
    stranger = issue_region_ca("XX", NOW - dt.timedelta(days=30))
    verdict = TrustStore([anchors(cas["SD"])], recognised={"SD"}).validate(signer(stranger, "XX-E-1"), NOW)
    assert (verdict.region, verdict.trusted) == (None, False)


def test_a_revoked_certificate_fails_though_it_names_no_distribution_point(cas: dict[str, RegionCA]) -> None:
    revoked = signer(cas["SD"], "SD-E-2")
    with pytest.raises(x509.ExtensionNotFound):
        revoked.extensions.get_extension_for_class(x509.CRLDistributionPoints)
    store = TrustStore([anchors(cas["SD"], [(revoked, NOW - dt.timedelta(minutes=30))])], recognised={"SD"})
    verdict = store.validate(revoked, NOW)
    assert (verdict.trusted, verdict.revocation) == (False, "revoked")
    # An archived document signed before the revocation stays valid: validation is pinned to its signing time,
    # and the CRL issued later still decides (it says: revoked only after that moment).
    archived = store.validate(revoked, NOW - dt.timedelta(hours=2))
    assert (archived.trusted, archived.revocation) == (True, "good")


def test_an_expired_certificate_is_not_trusted_now_but_was_when_it_signed(cas: dict[str, RegionCA]) -> None:
    old = signer(cas["SD"], "SD-E-3", not_before=NOW - dt.timedelta(days=20), not_after=NOW - dt.timedelta(days=1))
    store = TrustStore([anchors(cas["SD"])], recognised={"SD"})
    verdict = store.validate(old, NOW)
    assert not verdict.trusted and "expired" in verdict.problems[0]
    assert store.validate(old, NOW - dt.timedelta(days=2)).trusted


def test_only_document_signing_certificates_sign(cas: dict[str, RegionCA]) -> None:
    tls_like = signer(cas["SD"], "SD-E-4", document_signing=False, extended_usage=())
    verdict = TrustStore([anchors(cas["SD"])], recognised={"SD"}).validate(tls_like, NOW)
    assert not verdict.trusted and "non repudiation" in verdict.problems[0]


def test_without_a_current_crl_nothing_is_trusted(cas: dict[str, RegionCA]) -> None:
    bare = RegionAnchors.of("SD", [cas["SD"].root.certificate], [cas["SD"].intermediate.certificate])
    verdict = TrustStore([bare], recognised={"SD"}).validate(signer(cas["SD"], "SD-E-5"), NOW)
    assert (verdict.trusted, verdict.revocation) == (False, "unknown")
    assert "revocation information" in verdict.problems[0]
