"""Detached CMS (CAdES-BES) signatures over canonical bytes — the score sheets — and their verification.

A sheet is signed as its canonical JSON bytes (signing/canonical.py), so any party can recompute exactly
what was signed. The signature is a detached CMS ``SignedData`` with CAdES signed attributes (the signing
certificate's hash is bound in ``signing-certificate-v2``), made by pyHanko from whatever key the signer
holds: a PKCS#11 token in production, a software key store for the embedded demo.

Verification reports four things separately, as people need them:

- **intact** — the bytes hash to the message digest the signature covers (the document was not changed);
- **valid** — the signature over the signed attributes verifies with the certificate's key;
- **trusted** — the certificate chains to a recognised region's root, for document signing, not revoked,
  at the moment given (signing/trust.py);
- **revocation** — ``good``, ``revoked`` or ``unknown``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from pyhanko.sign.general import CMSExtractionError, CMSStructuralError
from pyhanko.sign.signers import Signer, SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import (
    extract_certificate_info,
    extract_self_reported_ts,
    extract_signer_info,
    validate_sig_integrity,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.trust import TrustStore

__all__ = ["SignatureCheck", "sign_detached", "software_signer", "verify_detached"]

DIGEST = "sha256"


def software_signer(certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey,
                    chain: list[x509.Certificate]) -> Signer:
    """A signer with the key in memory (the software key store's, once unlocked by its PIN)."""
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in chain]),
        embed_roots=False)


def sign_detached(data: bytes, signer: Signer, at: dt.datetime) -> bytes:
    """The DER of a detached CAdES-BES ``ContentInfo`` over ``data``, with ``at`` (the signer's clock) as its
    signing-time attribute; pyHanko would take the wall clock."""
    if at.tzinfo is None:
        raise ValueError(f"'at' must be timezone-aware (got {at!r})")
    content = asyncio.run(signer.async_sign_general_data(
        data, DIGEST, detached=True, use_cades=True, signed_attr_settings=PdfCMSSignedAttributes(signing_time=at)))
    return content.dump()


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool
    valid: bool
    trusted: bool
    revocation: str
    signer: str
    region: str | None
    signing_time: dt.datetime | None
    """As the signer's device claimed it (a signed attribute); a trusted time comes from a time-stamp."""
    problems: tuple[str, ...]
    certificate: bytes | None = None
    """The signer's certificate (DER), for binding it to a person."""

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


def verify_detached(data: bytes, signature: bytes, trust: TrustStore, moment: dt.datetime) -> SignatureCheck:
    """Check a detached signature over ``data``; trust is judged at ``moment`` (now, or the trusted time of
    an archived document's time-stamp)."""
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        signer_info = extract_signer_info(signed_data)
        certs = extract_certificate_info(signed_data)
        cert = certs.signer_cert
        intact, valid = validate_sig_integrity(signer_info, cert, "data", hashlib.sha256(data).digest())
    except (ValueError, TypeError, KeyError, CMSExtractionError, CMSStructuralError, SignatureValidationError) as exc:
        return SignatureCheck(False, False, False, "unknown", "", None, None, (f"not a CMS signature: {exc}",))
    problems = []
    if not intact:
        problems.append("the document does not match the digest the signature covers (changed after signing)")
    if not valid:
        problems.append("the signature does not verify with the signer's certificate")
    verdict = trust.validate(cert.dump(), moment, [c.dump() for c in certs.other_certs])
    problems.extend(verdict.problems)
    return SignatureCheck(intact=intact, valid=valid, trusted=verdict.trusted, revocation=verdict.revocation,
                          signer=verdict.subject, region=verdict.region,
                          signing_time=extract_self_reported_ts(signer_info), problems=tuple(problems),
                          certificate=cert.dump())
