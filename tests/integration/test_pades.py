"""PAdES signatures on the report (signing/pades.py): each expert's signature an incremental update, the
coordinator's seal with an RFC 3161 time-stamp from its own time-stamping key. Checked by pyHanko through the
regional trust store and, independently, by poppler's ``pdfsig`` (trusting the same roots through an NSS
database made with ``certutil``); a flipped byte is caught by both."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

import pytest
from cryptography import x509
from pdfsig import pdfsig
from pyhanko.pdf_utils.generic import pdf_date
from pyhanko.pdf_utils.reader import PdfFileReader

from evalroom.report_pdf import SEAL_FIELD, default_font_path, member_field, render_report_pdf
from signing.cms import software_signer
from signing.pades import dissent_reason, local_tsa, sign_pdf, verify_pdf
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
    """The sample report signed by two 山东 experts and one 陕西 expert (who dissents), each in their own box,
    then sealed with a time-stamp; two members' boxes stay empty."""
    sd, sn, coordinator = (issue_region_ca(r, NOW - dt.timedelta(days=30)) for r in ("SD", "SN", "EVALROOM"))
    year = NOW + dt.timedelta(days=365)
    experts = [(sd, "m1", issue_signer(sd, "张伟", "SD-E-1", NOW - dt.timedelta(days=1), year)),
               (sd, "m2", issue_signer(sd, "李娜", "SD-E-2", NOW - dt.timedelta(days=1), year)),
               (sn, "m4", issue_signer(sn, "赵敏", "SN-E-1", NOW - dt.timedelta(days=1), year))]
    seal = issue_signer(coordinator, "评标协调平台电子印章", "SEAL-1", NOW - dt.timedelta(days=1), year)
    tsa = issue_tsa(coordinator, "evalroom TSA", NOW - dt.timedelta(days=1), year)
    pdf = render_report_pdf(json.loads(SAMPLE.read_text(encoding="utf-8")))
    for ca, member, who in experts:
        name = who.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        pdf = sign_pdf(pdf, software_signer(who.certificate, who.key, [ca.intermediate.certificate]),
                       member_field(member), name=name, location=f"{ca.region} 评标室",
                       reason=dissent_reason("价格分计算有误") if member == "m4" else "评标报告签字", at=NOW,
                       font=default_font_path())
    pdf = sign_pdf(pdf, software_signer(seal.certificate, seal.key, [coordinator.intermediate.certificate]),
                   SEAL_FIELD, name="评标协调平台", reason="协调平台签章", location="evalroom", at=NOW,
                   timestamper=local_tsa(tsa, [coordinator.intermediate.certificate], lambda: NOW),
                   font=default_font_path(), seal=True)
    trust = TrustStore([anchors(sd), anchors(sn), anchors(coordinator)], {"SD", "SN", "EVALROOM"})
    return Signed(pdf, trust, coordinator, [who for _, _, who in experts])


def test_every_signature_is_intact_valid_and_trusted_and_the_seal_is_time_stamped(signed: Signed,
                                                                                 tmp_path: Path) -> None:
    pdf, trust, coordinator, _ = signed
    checks = verify_pdf(pdf, trust, [coordinator.root.certificate], NOW)
    assert [c.field for c in checks] == ["member-m1", "member-m2", "member-m4", "coordinator-seal"]
    assert all(c.ok and c.problems == () for c in checks), [c.problems for c in checks]
    assert [c.region for c in checks] == ["SD", "SD", "SN", "EVALROOM"]
    assert [c.coverage for c in checks] == ["entire_revision"] * 3 + ["entire_file"]
    # The time-stamp is the moment of sealing: after this module's certificates were made, and not in the future.
    assert checks[-1].timestamp is not None and NOW <= checks[-1].timestamp <= dt.datetime.now(dt.UTC)
    # An independent verifier agrees: poppler finds four signatures, each valid, each signer trusted once the
    # regions' and the coordinator's roots are its trust anchors; the two boxes nobody signed are empty fields.
    roots = [x509.load_der_x509_certificate(c) for r in trust.regions.values() for c in r.roots]
    report = pdfsig(pdf, tmp_path, roots)
    assert len(re.findall(r"^Signature #\d+:", report, re.M)) == 6
    assert report.count("The signature form field is not signed.") == 2
    assert report.count("Signature Validation: Signature is Valid.") == 4, report
    assert report.count("Certificate Validation: Certificate is Trusted.") == 4, report


def test_each_signature_shows_in_its_box_on_the_printed_page(signed: Signed, tmp_path: Path) -> None:
    """What a reader sees (poppler renders the fields' appearance streams, as a printer does): each signer's
    name, venue, time and certificate in their row's box, 保留意见 for the dissenter, the seal in its box, and
    nothing in the boxes of those who did not sign."""
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed.pdf)
    text = subprocess.run(["pdftotext", "-layout", "-f", "4", "-l", "4", path, "-"], check=True,
                          capture_output=True, text=True).stdout
    rows = {m: re.search(rf"^\s*{n}\s+(\S+)\s.*?(?=^\s*{n + 1}\s|^交易平台)", text, re.MULTILINE | re.DOTALL)
            for n, m in enumerate(["m1", "m2", "m3", "m4", "m5"], 1)}
    assert all(rows.values()), text
    serials = [f"{who.certificate.serial_number:X}" for who in signed.experts]
    for member, serial in zip(["m1", "m2", "m4"], serials, strict=True):
        box = rows[member].group(0)
        name = rows[member].group(1)
        assert re.search(rf"{name}\s+\S+ 评标室", box) and "签字时间" in box and serial in box, box
    assert "保留意见" in rows["m4"].group(0) and "保留意见" not in rows["m1"].group(0)
    for member in ("m3", "m5"):
        assert "签字时间" not in rows[member].group(0)
    seal = text[text.index("交易平台电子签章"):]
    assert "评标协调平台" in seal and "签章时间" in seal


def test_the_signed_file_is_dated_by_the_signers_clock_not_the_machines(signed: Signed) -> None:
    """pyHanko dates every update's /ModDate with the machine's time unless told; a signer's clock days away
    from it shows in the file instead."""
    ca = signed.coordinator
    who = issue_signer(ca, "时钟", "CLOCK-1", NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=30))
    at = NOW - dt.timedelta(days=9)
    pdf = sign_pdf(signed.pdf, software_signer(who.certificate, who.key, [ca.intermediate.certificate]), "late",
                   name="时钟", reason="test", location="", at=at)
    info = PdfFileReader(BytesIO(pdf)).trailer["/Info"]
    assert info["/ModDate"] == pdf_date(at)


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
