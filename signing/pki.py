"""Regional certificate hierarchies, declared rather than hand-made: for the demo, the tests, and a region
that has no CA of its own yet.

Each region (a province, say) has a root CA and an intermediate that issues its experts' signing
certificates, as the regional CAs do (数字证书互认 is about recognising *other* regions' roots). Everything is
ECDSA P-256 with SHA-256. An expert's certificate is for document signing only: key usage digitalSignature +
nonRepudiation (contentCommitment) and the extended key usage id-kp-documentSigning (RFC 9336), with
emailProtection for NSS-based verifiers (:data:`SIGNER_EKUS`); the validation policy (signing/trust.py)
refuses a certificate without them. The intermediate also issues the
region's CRLs. The certificates carry no CRL distribution point on purpose: revocation is checked against the
CRLs the coordinator holds for each region, so a revoked certificate fails whatever it says about itself.

Nothing here touches a token: keys made here are for CAs and for the software key store of the embedded
demo; experts' keys in production are generated on their tokens and only their certificates are issued.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "DOCUMENT_SIGNING",
    "SIGNER_EKUS",
    "Issued",
    "RegionCA",
    "certify",
    "issue_crl",
    "issue_region_ca",
    "issue_signer",
    "issue_tsa",
]

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336): the certificate signs documents, not TLS or e-mail."""


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    """EC for CAs and signers; RSA for the time-stamping unit (pyHanko's local TST issuer signs with RSA)."""


@dataclass(frozen=True)
class RegionCA:
    region: str
    """The region's code (e.g. ``"SD"``): what the recognition list names."""
    root: Issued
    intermediate: Issued


def _name(region: str, common_name: str, *, serial: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{region} Region CA"),
             x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if serial is not None:
        parts.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(parts)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, not_before: dt.datetime,
             not_after: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key)
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False))


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                         encipher_only=False, decipher_only=False)


def issue_region_ca(region: str, now: dt.datetime, *, years: int = 10) -> RegionCA:
    """A root (self-signed) and an intermediate for ``region``, valid from ``now`` for ``years``."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name(region, f"{region} Root CA")
    until = now + dt.timedelta(days=365 * years)
    root = (_builder(root_name, root_name, root_key.public_key(), now, until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .sign(root_key, hashes.SHA256()))
    mid_key = ec.generate_private_key(ec.SECP256R1())
    mid = (_builder(_name(region, f"{region} Signing CA"), root_name, mid_key.public_key(), now, until)
           .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
           .add_extension(_ca_usage(), critical=True)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
           .sign(root_key, hashes.SHA256()))
    return RegionCA(region, Issued(root, root_key), Issued(mid, mid_key))


SIGNER_EKUS = (DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION)
"""Document signing (RFC 9336) for our policy, and emailProtection beside it because NSS — poppler's
``pdfsig``, Firefox's PDF viewer — trusts a PDF signer only for that usage (checked: with document signing
alone pdfsig says "Unknown issue with Certificate"); regional CAs issue signing certificates that way too."""


def certify(ca: RegionCA, common_name: str, serial: str, public_key: ec.EllipticCurvePublicKey,
            not_before: dt.datetime, not_after: dt.datetime, *,
            extended_usage: Iterable[x509.ObjectIdentifier] = SIGNER_EKUS,
            document_signing: bool = True) -> x509.Certificate:
    """An end-entity certificate from the region's intermediate for ``public_key`` (a key generated on a
    token, say). ``serial`` is the subject's serial number attribute (an expert's certificate number, a
    seal's code). ``document_signing=False`` leaves out the document-signing key usage, which the policy
    must refuse (for tests)."""
    usage = x509.KeyUsage(digital_signature=True, content_commitment=document_signing, key_encipherment=False,
                          data_encipherment=False, key_agreement=not document_signing, key_cert_sign=False,
                          crl_sign=False, encipher_only=False, decipher_only=False)
    issuer = ca.intermediate
    builder = (_builder(_name(ca.region, common_name, serial=serial), issuer.certificate.subject, public_key,
                        not_before, not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(usage, critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False))
    ekus = list(extended_usage)
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def issue_tsa(ca: RegionCA, common_name: str, not_before: dt.datetime, not_after: dt.datetime) -> Issued:
    """A time-stamping unit's key and certificate (extended key usage timeStamping, critical, as RFC 3161
    requires): the coordinator's own TSA for the embedded default. RSA-3072, which pyHanko's in-process
    time-stamp issuer needs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    issuer = ca.intermediate
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (_builder(_name(ca.region, common_name), issuer.certificate.subject, key.public_key(), not_before,
                     not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                           critical=False)
            .sign(issuer.key, hashes.SHA256()))
    return Issued(cert, key)


def issue_signer(ca: RegionCA, common_name: str, serial: str, not_before: dt.datetime, not_after: dt.datetime,
                 **kw: Any) -> Issued:
    """A new key (in memory: for software key stores and tests) and its certificate (:func:`certify`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return Issued(certify(ca, common_name, serial, key.public_key(), not_before, not_after, **kw), key)


def issue_crl(issuer: Issued, revoked: Iterable[tuple[x509.Certificate, dt.datetime]], this_update: dt.datetime,
              next_update: dt.datetime) -> x509.CertificateRevocationList:
    """A CRL of ``issuer`` (a region's root, for its intermediates, or its intermediate, for its signers)
    listing ``revoked`` (certificate, revocation time). Validation needs one from every CA of a chain."""
    builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.certificate.subject)
               .last_update(this_update).next_update(next_update)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                              critical=False)
               .add_extension(x509.CRLNumber(int(this_update.timestamp())), critical=False))
    for cert, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(when).build())
    return builder.sign(issuer.key, hashes.SHA256())
