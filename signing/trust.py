"""The coordinator's trust store: each region's CA certificates and CRLs, and which regions are recognised.

数字证书互认 — cross-region recognition of certificates — is a list: a signature by an expert of region X is
trusted only when X's root is registered *and* X is on the recognition list. Path validation is
pyhanko-certvalidator's (RFC 5280), never ours; this module only decides what it is given:

- trust roots: the recognised regions' roots; the intermediates of every region as candidates for paths;
- revocation: ``require`` — every certificate of the path below the root must be covered by a CRL of its
  issuer that the coordinator holds. The CRLs are the regions' own, registered here, so a revoked certificate
  fails even if it names no distribution point (the regional CAs' certificates often do not, or name one the
  coordinator cannot reach). A region without current CRLs cannot have trusted signatures.
- time: validation is pinned to a moment — now for a fresh signature, the signing time (from a trusted
  time-stamp) for an archived document. A CRL issued after that moment still counts (``retroactive_revinfo``):
  a certificate revoked after the document was signed does not undo the signature.
- policy: a document-signing certificate — key usage nonRepudiation (contentCommitment) and, when the
  certificate has an extended key usage, id-kp-documentSigning (RFC 9336).

The outcome is a :class:`CertVerdict` with the region, whether the chain is trusted, the revocation status,
and the problems in words, for ``evalroom verify`` and the API to show as they are.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)

__all__ = ["DOCUMENT_SIGNING_EKU", "KEY_USAGE", "CertVerdict", "RegionAnchors", "TrustStore", "load_bundle",
           "write_bundle"]

KEY_USAGE = frozenset({"non_repudiation"})
DOCUMENT_SIGNING_EKU = frozenset({"1.3.6.1.5.5.7.3.36"})


def _der(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(Encoding.DER)


@dataclass(frozen=True)
class RegionAnchors:
    """What the coordinator holds for one region: its roots, intermediates and current CRLs (DER)."""

    region: str
    roots: tuple[bytes, ...]
    intermediates: tuple[bytes, ...] = ()
    crls: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, region: str, roots: Iterable[x509.Certificate], intermediates: Iterable[x509.Certificate] = (),
           crls: Iterable[x509.CertificateRevocationList] = ()) -> RegionAnchors:
        return cls(region, tuple(map(_der, roots)), tuple(map(_der, intermediates)), tuple(map(_der, crls)))


@dataclass(frozen=True)
class CertVerdict:
    region: str | None
    """The region whose root anchors the certificate's chain (recognised or not); None if none does."""
    trusted: bool
    """A valid path to a recognised region's root, within validity at the moment, for document signing."""
    revocation: str
    """``good``, ``revoked`` or ``unknown`` (no CRL to decide by)."""
    subject: str
    problems: tuple[str, ...] = field(default=())


class TrustStore:
    def __init__(self, regions: Iterable[RegionAnchors], recognised: Iterable[str]) -> None:
        self.regions: Mapping[str, RegionAnchors] = {r.region: r for r in regions}
        self.recognised = frozenset(recognised)
        self._verdicts: dict[tuple[bytes, dt.datetime, tuple[bytes, ...]], CertVerdict] = {}
        """A store does not change once made, so a certificate's verdict at a moment is computed once: a
        session's many sheets come from a few experts."""

    def _context(self, regions: Iterable[str], moment: dt.datetime, extra: Iterable[bytes]) -> ValidationContext:
        chosen = [self.regions[r] for r in regions]
        return ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(c) for r in chosen for c in r.roots],
            other_certs=[asn1_x509.Certificate.load(c) for r in self.regions.values() for c in r.intermediates]
            + [asn1_x509.Certificate.load(c) for c in extra],
            crls=[asn1_crl.CertificateList.load(c) for r in chosen for c in r.crls],
            moment=moment, revocation_mode="require", retroactive_revinfo=True, allow_fetching=False)

    def recognised_roots(self) -> list[x509.Certificate]:
        """The recognised domains' roots: what time-stamps must chain to (the coordinator's own hierarchy,
        which runs the time-stamping unit, is one of them)."""
        return [x509.load_der_x509_certificate(c) for r in sorted(self.recognised & set(self.regions))
                for c in self.regions[r].roots]

    def validation_context(self, moment: dt.datetime) -> ValidationContext:
        """The recognised regions' roots, all intermediates and CRLs, at ``moment``: for pyHanko's own checks."""
        return self._context(sorted(self.recognised & set(self.regions)), moment, ())

    def _region_of(self, cert: asn1_x509.Certificate, moment: dt.datetime, extra: Iterable[bytes]) -> str | None:
        """Which registered region's root the chain ends at, whether recognised or not."""
        for region in sorted(self.regions):
            validator = CertificateValidator(cert, validation_context=self._context([region], moment, extra))
            try:
                asyncio.run(validator.async_validate_path())
            except PathBuildingError:
                continue
            except PathValidationError:
                return region  # a path exists; it fails for another reason, judged by the caller
            return region
        return None

    def validate(self, certificate: bytes | x509.Certificate, moment: dt.datetime,
                 intermediates: Iterable[bytes] = ()) -> CertVerdict:
        """Judge a signer's certificate at ``moment``. ``intermediates``: certificates the signature carried."""
        der = certificate if isinstance(certificate, bytes) else _der(certificate)
        key = (der, moment, tuple(intermediates))
        if key not in self._verdicts:
            if len(self._verdicts) >= 4096:
                self._verdicts.clear()
            self._verdicts[key] = self._validate(der, moment, key[2])
        return self._verdicts[key]

    def _validate(self, der: bytes, moment: dt.datetime, intermediates: Iterable[bytes]) -> CertVerdict:
        cert = asn1_x509.Certificate.load(der)
        subject = cert.subject.human_friendly
        extra = list(intermediates)
        region = self._region_of(cert, moment, extra)
        if region is None:
            return CertVerdict(None, False, "unknown", subject, ("the chain ends at no registered region's root",))
        if region not in self.recognised:
            return CertVerdict(region, False, "unknown", subject,
                               (f"region {region} is not on the recognition list",))
        validator = CertificateValidator(cert, validation_context=self._context([region], moment, extra))
        try:
            asyncio.run(validator.async_validate_usage(key_usage=set(KEY_USAGE), extended_key_usage=set(
                DOCUMENT_SIGNING_EKU), extended_optional=True))
        except RevokedError as exc:
            return CertVerdict(region, False, "revoked", subject, (str(exc),))
        except (InsufficientRevinfoError, ExpiredError, NotYetValidError, InvalidCertificateError,
                PathValidationError) as exc:
            # Revocation is only "good" once the whole path validated; a path refused for another reason
            # (expiry, usage, no current CRL) leaves it undecided.
            return CertVerdict(region, False, "unknown", subject, (str(exc),))
        return CertVerdict(region, True, "good", subject)


# --- trust bundles: a trust store as files, for verifying offline --------------------------------------------
def _load_certs(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    return x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else [x509.load_der_x509_certificate(data)]


def _load_crl(path: Path) -> x509.CertificateRevocationList:
    data = path.read_bytes()
    return x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)


def load_bundle(directory: Path) -> TrustStore:
    """A trust store from a directory (docs/formats.md, "Trust bundle"): ``recognised.txt`` (region codes, one
    per line) and one directory per region with ``root*.pem``, ``intermediate*.pem`` and ``*.crl``."""
    recognised_file = directory / "recognised.txt"
    if not recognised_file.exists():
        raise ValueError(f"{directory}: no recognised.txt (the recognition list)")
    recognised = [line.strip() for line in recognised_file.read_text(encoding="utf-8").splitlines()
                  if line.strip() and not line.startswith("#")]
    regions = []
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        roots = [c for p in sorted(sub.glob("root*.pem")) for c in _load_certs(p)]
        if not roots:
            raise ValueError(f"{sub}: no root*.pem")
        regions.append(RegionAnchors.of(sub.name, roots, [c for p in sorted(sub.glob("intermediate*.pem"))
                                                          for c in _load_certs(p)],
                                        [_load_crl(p) for p in sorted(sub.glob("*.crl"))]))
    return TrustStore(regions, recognised)


def write_bundle(directory: Path, regions: Iterable[tuple[str, Sequence[x509.Certificate], Sequence[x509.Certificate],
                                                          Sequence[x509.CertificateRevocationList]]],
                 recognised: Iterable[str]) -> None:
    """Write a trust bundle that :func:`load_bundle` reads."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "recognised.txt").write_text("".join(f"{r}\n" for r in recognised), encoding="utf-8")
    for region, roots, intermediates, crls in regions:
        sub = directory / region
        sub.mkdir(exist_ok=True)
        (sub / "root.pem").write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in roots))
        if intermediates:
            (sub / "intermediate.pem").write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in intermediates))
        for i, crl in enumerate(crls):
            (sub / f"{i}.crl").write_bytes(crl.public_bytes(Encoding.PEM))
