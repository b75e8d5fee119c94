"""PAdES signatures on the evaluation report: one per expert, each an incremental update, then the
coordinator's seal with an RFC 3161 time-stamp; and their verification.

Incremental updates keep every earlier signature's byte range intact, so the report collects the
committee's signatures one after another and any reader (pyHanko, poppler's ``pdfsig``, Acrobat) checks each
against the revision it covers. The seal is a signature like the others, by the coordinator's seal
certificate, with a signature time-stamp from the coordinator's own time-stamping key (:func:`local_tsa`;
an external TSA's ``HTTPTimeStamper`` fits in its place): the trusted time that archived signatures are
judged at.

Signatures are visible where the document has a place for them: the report is rendered with one empty signature
field per signatory and one for the seal (:func:`add_signature_fields`), and each signer fills their own with an
appearance stream that names them (:func:`appearance_text`): name, venue, time, the certificate's issuer and
serial, and 保留意见 for a dissenter. The appearance is part of the signer's own revision, so it is covered by
their signature, and any reader shows and prints it. A field the document lacks is added invisible, as before.

Verification reports, per signature: intact and valid (pyHanko, over the revision it covers), whether the
document was only extended after it by further signatures (``coverage``), the time-stamp's time when there is
one, and the signer's trust at that time (or now) from the regional trust store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import DocumentMetadata
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import DummyTimeStamper, TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.pki import Issued
from signing.trust import TrustStore

__all__ = ["DISSENT_PREFIX", "PdfSignatureCheck", "SignatureBox", "add_signature_fields", "appearance_text",
           "dissent_reason", "local_tsa", "sign_pdf", "verify_pdf"]

DISSENT_PREFIX = "保留意见："
_BEIJING = dt.timezone(dt.timedelta(hours=8))
_SEAL_RED = (0.78, 0.06, 0.06)


def dissent_reason(text: str) -> str:
    """The reason a dissenting member's report signature carries: the dissent itself, so the signature covers
    it. (Embedding it as a file instead would change the document catalogue, which pyHanko's difference
    analysis rightly counts against every earlier signature.)"""
    return DISSENT_PREFIX + text


class _ClockedTimeStamper(DummyTimeStamper):
    """pyHanko's local TST issuer, stamping the time of the clock it is given instead of the machine's.

    pyHanko reads ``fixed_dt`` once per request (falling back to the wall clock when it is ``None``); a
    property makes every request read the clock, with no shared state for concurrent requests to race on."""

    def __init__(self, now: Callable[[], dt.datetime], **kwargs: object) -> None:
        self._now = now
        super().__init__(**kwargs)  # type: ignore[arg-type]

    @property  # type: ignore[override]
    def fixed_dt(self) -> dt.datetime:
        return self._now()

    @fixed_dt.setter
    def fixed_dt(self, value: dt.datetime | None) -> None:
        if value is not None:
            raise ValueError("a clocked time-stamper takes its time from its clock")


def local_tsa(tsa: Issued, chain: list[x509.Certificate], now: Callable[[], dt.datetime]) -> TimeStamper:
    """The coordinator's own RFC 3161 time-stamping unit, in process (pyHanko's local TST issuer). Its tokens
    carry ``now()``: the coordinator's clock, which is the trusted time its seal's signatures are judged at."""
    der = tsa.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return _ClockedTimeStamper(
        now, tsa_cert=asn1_x509.Certificate.load(tsa.certificate.public_bytes(Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(der),
        certs_to_embed=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in chain]))


class _PdfSignerAt(signers.PdfSigner):
    """A :class:`PdfSigner` whose signing session runs at a given time. pyHanko takes the session's
    ``system_time`` (the CMS signing-time attribute, the signature dictionary's ``/M``) from the wall clock;
    the signer's own clock is the one that must count."""

    def __init__(self, *args: object, at: dt.datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._at = at

    def init_signing_session(self, pdf_out, existing_fields_only=False):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN201
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._at
        return session


@dataclass
class _MetadataAt(DocumentMetadata):
    """Document metadata whose modification date is a given time. pyHanko sets ``last_modified`` to ``"now"``
    on every write and then reads the machine's clock for the Info dictionary's ``/ModDate``; this maps that
    ``"now"`` to the writer's own time, so the file says what the injected clock says."""

    at: dt.datetime | None = None

    def __setattr__(self, name: str, value: object) -> None:
        if name == "last_modified" and value == "now" and getattr(self, "at", None) is not None:
            value = self.at
        super().__setattr__(name, value)


def _writer(pdf: bytes, at: dt.datetime) -> IncrementalPdfFileWriter:
    """An incremental update of ``pdf`` whose metadata carry ``at``, not the machine's time."""
    if at.tzinfo is None:
        raise ValueError(f"'at' must be timezone-aware (got {at!r})")
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    writer._meta = _MetadataAt(**vars(writer._meta), at=at)  # the one place pyHanko reads its clock
    return writer


@dataclass(frozen=True)
class SignatureBox:
    """Where a signature goes: a field name, its 0-based page and its rectangle in PDF points (x1, y1, x2, y2,
    from the page's lower left), and the name a screen reader announces for it."""

    field: str
    page: int
    box: tuple[int, int, int, int]
    label: str


def add_signature_fields(pdf: bytes, boxes: list[SignatureBox], at: dt.datetime) -> bytes:
    """``pdf`` with an empty, printable signature field at each box (an incremental update dated ``at``).

    Deterministic, as the report must be: the revision's file identifier, which pyHanko draws at random, is
    a hash of the file and the boxes instead."""
    if not boxes:
        return pdf
    writer = _writer(pdf, at)
    revision_id = hashlib.sha256(pdf + repr(boxes).encode()).digest()[:16]
    writer._document_id = generic.ArrayObject([writer._document_id[0], generic.ByteStringObject(revision_id)])
    for b in boxes:
        fields.append_signature_field(writer, fields.SigFieldSpec(b.field, on_page=b.page, box=b.box,
                                                                  readable_field_name=b.label))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


@lru_cache(maxsize=2)
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


class _Font(GlyphAccumulatorFactory):
    """pyHanko's OpenType font for appearances, read from memory: its own factory opens the font file for every
    signature and never closes it."""

    def create_font_engine(self, writer, obj_stream=None) -> GlyphAccumulator:  # type: ignore[no-untyped-def]
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(writer=writer, font_handle=BytesIO(_font_bytes(self.font_file)),
                                font_size=self.font_size, obj_stream=obj_stream)


def _certificate_line(signer: signers.Signer) -> str:
    cert = signer.signing_cert
    if cert is None:
        return ""
    issuer = cert.issuer.native.get("common_name") or cert.issuer.human_friendly
    return f"证书 {issuer} · 序列号 {cert.serial_number:X}"


def appearance_text(*, name: str, location: str, at: dt.datetime, reason: str, certificate: str,
                    seal: bool = False) -> str:
    """What a signature's box shows, one fact per line: who (the name, the venue), when (Beijing time, as the
    report prints its times), with which certificate, and 保留意见 for a dissenter. A seal says it is one."""
    when = at.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"
    lines = (["电子签章", name, f"签章时间 {when}", certificate] if seal else
             [f"{name}  {location}".strip(), f"签字时间 {when}", certificate,
              *(["保留意见（见报告“八、保留意见”）"] if reason.startswith(DISSENT_PREFIX) else [])])
    return "\n".join(line for line in lines if line)


def sign_pdf(pdf: bytes, signer: signers.Signer, field_name: str, *, name: str, reason: str, location: str,
             at: dt.datetime, timestamper: TimeStamper | None = None, font: Path | None = None,
             seal: bool = False) -> bytes:
    """Add one PAdES signature as an incremental update, signed at ``at`` (the signer's clock; a time-stamp,
    when there is one, carries its TSA's time).

    If the document has a field ``field_name`` with a place on a page, the signature fills it, and with
    ``font`` (an OpenType font with the CJK glyphs) its box shows :func:`appearance_text`, in red for a
    ``seal``; otherwise an invisible field of that name is added."""
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", name=name, reason=reason,
                                        location=location, subfilter=fields.SigSeedSubFilter.PADES)
    style = None
    if font is not None:
        text = appearance_text(name=name, location=location, at=at, reason=reason,
                               certificate=_certificate_line(signer), seal=seal)
        colour = _SEAL_RED if seal else None
        style = TextStampStyle(
            stamp_text=text.replace("%", "%%"), border_width=2 if seal else 0, border_color=colour,
            text_box_style=TextBoxStyle(font=_Font(str(font)), font_size=7, text_color=colour))
    out = BytesIO()
    pdf_signer = _PdfSignerAt(meta, signer=signer, timestamper=timestamper, at=at, stamp_style=style)
    asyncio.run(pdf_signer.async_sign_pdf(_writer(pdf, at), output=out))
    return out.getvalue()


@dataclass(frozen=True)
class PdfSignatureCheck:
    field: str
    intact: bool
    valid: bool
    coverage: str
    """``entire_file`` (the last signature) or ``entire_revision`` (only later signatures were added), or
    what pyHanko found otherwise."""
    trusted: bool
    revocation: str
    signer: str
    region: str | None
    timestamp: dt.datetime | None
    problems: tuple[str, ...]
    certificate: bytes = b""
    """The signer's certificate (DER), for binding it to a person."""
    reason: str = ""
    """The signature's stated reason (a dissenting member's dissent, :func:`dissent_reason`)."""
    revision_sha256: str = ""
    """SHA-256 of the file up to the end of this signature's revision (what the signer handed in)."""
    signed_over_sha256: str = ""
    """SHA-256 of the file as it was before this signature's revision (what the signer authorised)."""
    signing_time: dt.datetime | None = None
    """The time the signer's software put in the signature (CMS signing-time): what its box shows; a claim,
    unlike the time-stamp's."""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


def verify_pdf(pdf: bytes, trust: TrustStore, tsa_roots: list[x509.Certificate],
               now: dt.datetime) -> list[PdfSignatureCheck]:
    """Every signature of the PDF, in order. A signature with a trusted time-stamp is judged at its time."""
    reader = PdfFileReader(BytesIO(pdf))
    ts_context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
                                                for c in tsa_roots], allow_fetching=False, revocation_mode="soft-fail",
                                   moment=now)
    checks = []
    previous_end = None
    for sig in reader.embedded_signatures:
        start, first, second, length = (int(x) for x in sig.sig_object["/ByteRange"])
        end = second + length
        before = pdf[:previous_end] if previous_end is not None else _original(pdf, reader)
        # pyHanko checks integrity, the revision coverage and the time-stamp; the signer's trust shown is the
        # trust store's verdict below, at the time-stamp's time when there is one.
        status = asyncio.run(async_validate_pdf_signature(
            sig, signer_validation_context=trust.validation_context(now), ts_validation_context=ts_context))
        ts = status.timestamp_validity
        stamped = ts.timestamp if ts is not None and ts.intact and ts.valid and ts.trusted else None
        verdict = trust.validate(sig.signer_cert.dump(), stamped or now,
                                 [c.dump() for c in sig.other_embedded_certs])
        problems = [*(() if status.intact else ("the signed bytes were changed",)),
                    *(() if status.valid else ("the signature does not verify",)), *verdict.problems]
        if ts is not None and stamped is None:
            problems.append("the signature's time-stamp is not valid or not from a trusted time-stamping unit")
        checks.append(PdfSignatureCheck(
            field=sig.field_name, intact=status.intact, valid=status.valid,
            coverage=status.coverage.name.lower() if status.coverage else "unknown", trusted=verdict.trusted,
            revocation=verdict.revocation, signer=verdict.subject, region=verdict.region, timestamp=stamped,
            problems=tuple(problems), certificate=sig.signer_cert.dump(),
            reason=str(sig.sig_object.get("/Reason", "")), revision_sha256=hashlib.sha256(pdf[:end]).hexdigest(),
            signed_over_sha256=hashlib.sha256(before).hexdigest() if before is not None else "",
            signing_time=status.signer_reported_dt))
        previous_end = end
    return checks


def _original(pdf: bytes, reader: PdfFileReader) -> bytes | None:
    """The file before its first signature's revision: up to the end of the revision before it."""
    first = reader.embedded_signatures[0] if reader.embedded_signatures else None
    if first is None or first.signed_revision == 0:
        return None
    eof = pdf.find(b"%%EOF", reader.xrefs.get_startxref_for_revision(first.signed_revision - 1))
    if eof < 0:
        return None
    end = eof + len(b"%%EOF")
    end += 2 if pdf[end:end + 2] == b"\r\n" else 1 if pdf[end:end + 1] in (b"\n", b"\r") else 0
    return pdf[:end]
