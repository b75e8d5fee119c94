"""PAdES signatures on the report (signing/pades.py): each expert's signature an incremental update, the
coordinator's seal with an RFC 3161 time-stamp from its own time-stamping key. Checked by pyHanko through the
regional trust store and, independently, by poppler's ``pdfsig`` (trusting the same roots through an NSS
database made with ``certutil``); a flipped byte is caught by both."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest
from cryptography import x509
from pdfsig import pdfsig

from evalroom.report_pdf import render_report_pdf
from signing.cms import software_signer
from signing.pades import local_tsa, sign_pdf, verify_pdf
from signing.pki import Issued, RegionCA, issue_crl, issue_region_ca, issue_signer, issue_tsa
from signing.trust import RegionAnchors, TrustStore

pytestmark = pytest.mark.dates

NOW = dt.datetime.now(dt.UTC)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "report-sample.json"


def anchors(ca: RegionCA) -> RegionAnchors:
    return RegionAnchors.of(ca.region, [ca.root.certificate], [ca.intermediate.certificate], [
        issue_crl(ca.root, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=30)),
        issue_crl(ca.intermediate, [], NOW - dt.timedelta(hours=1), NOW + dt.timedelta(days=7))])


class Signed(NamedTuple):
    pdf: bytes
    trust: TrustStore
    coordinator: RegionCA
    experts: list[Issued]


@pytest.fixture(scope="module")
def signed() -> Signed:
    """The sample report signed by two 山东 experts and one 陕西 expert, then sealed with a time-stamp."""
    sd, sn, coordinator = (issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "SN", "EVALROOM"))
    year = NOW + dt.timedelta(days=365)
    experts = [(sd, issue_signer(sd, "张伟", "SD-E-1", NOW - dt.timedelta(days=1), year)),
               (sd, issue_signer(sd, "李娜", "SD-E-2", NOW - dt.timedelta(days=1), year)),
               (sn, issue_signer(sn, "赵敏", "SN-E-1", NOW - dt.timedelta(days=1), year))]
    seal = issue_signer(coordinator, "评标协调平台电子印章", "SEAL-1", NOW - dt.timedelta(days=1), year)
    tsa = issue_tsa(coordinator, "evalroom TSA", NOW - dt.timedelta(days=1), year)
    pdf = render_report_pdf(json.loads(SAMPLE.read_text(encoding="utf-8")))
    for i, (ca, who) in enumerate(experts):
        pdf = sign_pdf(pdf, software_signer(who.certificate, who.key, [ca.intermediate.certificate]), f"expert-{i}",
                       name=who.certificate.subject.rfc4514_string(), reason="评标报告签字", location=ca.region,
                       at=NOW)
    pdf = sign_pdf(pdf, software_signer(seal.certificate, seal.key, [coordinator.intermediate.certificate]), "seal",
                   name="evalroom", reason="协调平台签章", location="evalroom", at=NOW,
                   timestamper=local_tsa(tsa, [coordinator.intermediate.certificate], lambda: NOW))
    trust = TrustStore([anchors(sd), anchors(sn), anchors(coordinator)], {"SD", "SN", "EVALROOM"})
    return Signed(pdf, trust, coordinator, [who for _, who in experts])


def test_every_signature_is_intact_valid_and_trusted_and_the_seal_is_time_stamped(signed: Signed,
                                                                                 tmp_path: Path) -> None:
    pdf, trust, coordinator, _ = signed
    checks = verify_pdf(pdf, trust, [coordinator.root.certificate], NOW)
    assert [c.field for c in checks] == ["expert-0", "expert-1", "expert-2", "seal"]
    assert all(c.ok and c.problems == () for c in checks), [c.problems for c in checks]
    assert [c.region for c in checks] == ["SD", "SD", "SN", "EVALROOM"]
    assert [c.coverage for c in checks] == ["entire_revision"] * 3 + ["entire_file"]
    # The time-stamp is the moment of sealing: after this module's certificates were made, and not in the future.
    assert checks[-1].timestamp is not None and NOW <= checks[-1].timestamp <= dt.datetime.now(dt.UTC)
    # An independent verifier agrees: poppler finds four signatures, each valid, each signer trusted once the
    # regions' and the coordinator's roots are its trust anchors.
    roots = [x509.load_der_x509_certificate(c) for r in trust.regions.values() for c in r.roots]
    report = pdfsig(pdf, tmp_path, roots)
    assert len(re.findall(r"^Signature #\d+:", report, re.M)) == 4
    assert report.count("Signature Validation: Signature is Valid.") == 4, report
    assert report.count("Certificate Validation: Certificate is Trusted.") == 4, report


def test_a_flipped_byte_is_caught_by_pyhanko_and_by_pdfsig(signed: Signed, tmp_path: Path) -> None:
    pdf, trust, coordinator, _ = signed
    at = pdf.index(b"stream", len(pdf) // 10) + 20  # inside a content stream of the first revision
    tampered = pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1:]
    checks = verify_pdf(tampered, trust, [coordinator.root.certificate], NOW)
    assert checks and not any(c.intact for c in checks)
    assert all("the signed bytes were changed" in c.problems for c in checks)
    assert "Signature is Valid." not in pdfsig(tampered, tmp_path)


def test_a_signer_of_an_unrecognised_region_is_not_trusted(signed: Signed) -> None:
    pdf, trust, coordinator, _ = signed
    narrower = TrustStore(trust.regions.values(), {"SD", "EVALROOM"})  # 陕西 not (or no longer) recognised
    checks = verify_pdf(pdf, narrower, [coordinator.root.certificate], NOW)
    assert [c.trusted for c in checks] == [True, True, False, True]
    assert checks[2].problems == ("region SN is not on the recognition list",)
