"""The coordinator's trust registry: each region's CA certificates and CRLs, and the recognition list.

The coordinator admin registers, per region, its roots and intermediates (PEM) and, as they are published,
its CRLs; and decides which regions are recognised (数字证书互认). What is registered is checked first: a CA
certificate (basic constraints CA), a root self-signed, an intermediate issued by a CA of the same region, a
CRL signed by one of them. From the registry, :func:`trust_store` builds the :class:`signing.trust.TrustStore`
that verifies signatures (the newest CRL per issuer), and ``evalroom trust export`` writes it as a trust
bundle for offline verification (docs/formats.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from evalroom.clock import format_time
from evalroom.errors import ApiError, ErrorCode, NotFoundError
from evalroom.storage.models import Region, RegionCertificate, RegionCrl
from evalroom.storage.store import Store, Tx
from signing.trust import RegionAnchors, TrustStore, write_bundle

__all__ = ["add_ca_certificates", "add_crl", "export_bundle", "region_trust", "trust_store"]


def _region(s: Session, region_id: str) -> Region:
    region = s.get(Region, region_id)
    if region is None:
        raise NotFoundError("region", region_id)
    return region


def _sha(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _may_sign_certificates(cert: x509.Certificate) -> bool:
    """Key usage allows keyCertSign (a CA certificate without the extension is not restricted by it)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
    except x509.ExtensionNotFound:
        return True


def _region_cas(s: Session, region_id: str) -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(r.der) for r in s.scalars(
        select(RegionCertificate).where(RegionCertificate.region_id == region_id))]


def add_ca_certificates(tx: Tx, actor: str, region_id: str, pem: str) -> list[dict[str, Any]]:
    """Register the CA certificates in ``pem`` (one or more) for the region. All or nothing; a certificate
    registered already is left as it is. Each must be a CA (basic constraints) whose key usage allows signing
    certificates, not expired, and either a root whose own signature verifies or issued by a CA certificate of
    the region (registered, or earlier in the same upload)."""
    _region(tx.session, region_id)
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"not PEM certificates: {exc}") from None
    known = _region_cas(tx.session, region_id)
    problems, added = [], []
    # Roots first, then intermediates in an order where each issuer comes before what it issued.
    pending = sorted(certs, key=lambda c: c.subject != c.issuer)
    for cert in pending:
        der = cert.public_bytes(Encoding.DER)
        subject = cert.subject.rfc4514_string()
        if not _is_ca(cert):
            problems.append({"subject": subject, "message": "not a CA certificate (basic constraints)"})
            continue
        if not _may_sign_certificates(cert):
            problems.append({"subject": subject, "message": "its key usage does not allow signing certificates"})
            continue
        if cert.not_valid_after_utc <= tx.now():
            problems.append({"subject": subject, "message": f"expired on {format_time(cert.not_valid_after_utc)}"})
            continue
        root = cert.subject == cert.issuer
        if root and not _issued_by(cert, cert):
            problems.append({"subject": subject, "message": "self-issued but its signature does not verify"})
            continue
        if not root and not any(_issued_by(cert, ca) for ca in known):
            problems.append({"subject": subject, "message": "not issued by a CA certificate of this region"})
            continue
        known.append(cert)
        if tx.session.get(RegionCertificate, _sha(der)) is None:
            row = RegionCertificate(sha256=_sha(der), region_id=region_id, kind="root" if root else "intermediate",
                                    subject=subject[:500], der=der, not_after=cert.not_valid_after_utc,
                                    added_at=tx.now())
            tx.session.add(row)
            added.append({"sha256": row.sha256, "kind": row.kind, "subject": row.subject,
                          "not_after": format_time(row.not_after)})
    if problems:
        raise ApiError(ErrorCode.INVALID_INPUT, "some certificates cannot be registered; none was", problems)
    for item in added:
        tx.record(actor=actor, kind="region.ca_added", payload={"region_id": region_id, **item})
    return added


def add_crl(tx: Tx, actor: str, region_id: str, pem: str) -> dict[str, Any]:
    """Register a CRL issued (and signed) by one of the region's CA certificates."""
    _region(tx.session, region_id)
    try:
        crl = x509.load_pem_x509_crl(pem.encode())
    except ValueError as exc:
        raise ApiError(ErrorCode.INVALID_INPUT, f"not a PEM CRL: {exc}") from None
    if not any(ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key())
               for ca in _region_cas(tx.session, region_id)):
        raise ApiError(ErrorCode.INVALID_INPUT, "the CRL is not signed by a CA certificate of this region")
    der = crl.public_bytes(Encoding.DER)
    view = {"sha256": _sha(der), "issuer": crl.issuer.rfc4514_string()[:500],
            "this_update": format_time(crl.last_update_utc),
            "next_update": format_time(crl.next_update_utc) if crl.next_update_utc else None,
            "revoked": len(list(crl))}
    if tx.session.get(RegionCrl, view["sha256"]) is None:
        tx.session.add(RegionCrl(sha256=view["sha256"], region_id=region_id, issuer=view["issuer"], der=der,
                                 this_update=crl.last_update_utc, next_update=crl.next_update_utc,
                                 added_at=tx.now()))
        tx.record(actor=actor, kind="region.crl_added", payload={"region_id": region_id, **view})
    return view


def _current_crls(rows: Iterable[RegionCrl]) -> list[RegionCrl]:
    """The newest CRL of each issuer."""
    newest: dict[str, RegionCrl] = {}
    for row in rows:
        if row.issuer not in newest or row.this_update > newest[row.issuer].this_update:
            newest[row.issuer] = row
    return [newest[i] for i in sorted(newest)]


def _anchors(s: Session) -> tuple[list[RegionAnchors], list[str]]:
    regions = {r.id: r for r in s.scalars(select(Region))}
    certs = list(s.scalars(select(RegionCertificate).order_by(RegionCertificate.sha256)))
    crls = list(s.scalars(select(RegionCrl)))
    anchors = []
    for region_id, region in sorted(regions.items(), key=lambda kv: kv[1].code):
        mine = [c for c in certs if c.region_id == region_id]
        if not any(c.kind == "root" for c in mine):
            continue
        anchors.append(RegionAnchors(region.code, tuple(c.der for c in mine if c.kind == "root"),
                                     tuple(c.der for c in mine if c.kind == "intermediate"),
                                     tuple(c.der for c in _current_crls(r for r in crls if r.region_id == region_id))))
    return anchors, sorted(r.code for r in regions.values() if r.recognised)


def trust_store(s: Session, own: RegionAnchors | None = None) -> TrustStore:
    """The regions' trust store, with the coordinator's own hierarchy (``own``: its seal and time-stamping
    unit, services/seal.py) as a domain that is always recognised."""
    anchors, recognised = _anchors(s)
    if own is not None:
        anchors, recognised = [*anchors, own], [*recognised, own.region]
    return TrustStore(anchors, recognised)


def export_bundle(store: Store, directory: Path, own: RegionAnchors | None = None) -> int:
    """Write the registry (and the coordinator's own hierarchy) as a trust bundle; returns the number of trust
    domains written."""
    with store.read() as s:
        anchors, recognised = _anchors(s)
    if own is not None:
        anchors, recognised = [*anchors, own], [*recognised, own.region]
    write_bundle(directory, [(a.region, [x509.load_der_x509_certificate(c) for c in a.roots],
                              [x509.load_der_x509_certificate(c) for c in a.intermediates],
                              [x509.load_der_x509_crl(c) for c in a.crls]) for a in anchors], recognised)
    return len(anchors)


def region_trust(store: Store, region_id: str) -> dict[str, Any]:
    with store.read() as s:
        region = _region(s, region_id)
        certs = list(s.scalars(select(RegionCertificate).where(RegionCertificate.region_id == region_id)
                               .order_by(RegionCertificate.kind.desc(), RegionCertificate.subject)))
        crls = list(s.scalars(select(RegionCrl).where(RegionCrl.region_id == region_id)))
        current = {c.sha256 for c in _current_crls(crls)}
        return {"region_id": region.id, "code": region.code, "recognised": region.recognised,
                "certificates": [{"sha256": c.sha256, "kind": c.kind, "subject": c.subject,
                                  "not_after": format_time(c.not_after.astimezone(UTC))} for c in certs],
                "crls": [{"sha256": c.sha256, "issuer": c.issuer, "this_update": format_time(c.this_update),
                          "next_update": format_time(c.next_update) if c.next_update else None,
                          "current": c.sha256 in current}
                         for c in sorted(crls, key=lambda c: (c.issuer, c.this_update))]}
