"""Certificate hierarchies from a declaration, for the demo and the tests: regions with their experts (one
revoked, say), the coordinator's seal and time-stamping unit, written out as the files people use.

The declaration (TOML; docs/formats.md, "PKI declaration")::

    [[regions]]
    code = "SD"                  # the region code the recognition list names
    recognised = true
    signers = [{ name = "张伟", serial = "SD-E-0001", pin = "123456" },
               { name = "李娜", serial = "SD-E-0002", pin = "123456", revoked = true }]

    [coordinator]
    code = "EVALROOM"
    seal = "评标协调平台电子印章"
    seal_pin = "seal-pin"

``generate`` writes under the output directory: ``trust/`` (a trust bundle, signing/trust.py), ``keys/<code>/
<serial>.p12`` (each signer's software key store behind its PIN, signing/tokens.py), ``coordinator/seal.p12``,
``coordinator/tsa-key.pem`` and ``tsa.pem`` (the time-stamping unit), ``ca/<code>/`` (the CA keys, mode 0600,
to issue more later), and ``manifest.json`` saying what is where. Everything is ECDSA P-256 but the TSA key.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from signing.pki import Issued, RegionCA, issue_crl, issue_region_ca, issue_signer, issue_tsa
from signing.tokens import SoftKeyStore
from signing.trust import write_bundle

__all__ = ["generate"]

SIGNER_YEARS = 2


def _private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _check(spec: Mapping[str, Any]) -> None:
    regions = spec.get("regions", [])
    if not isinstance(regions, list) or not (regions or spec.get("coordinator")):
        raise ValueError("the declaration needs [[regions]] or a [coordinator]")
    codes = [r.get("code") for r in regions]
    if len(set(codes)) != len(codes) or not all(isinstance(c, str) and c.isalnum() for c in codes):
        raise ValueError(f"region codes must be distinct and alphanumeric: {codes}")
    for r in regions:
        for s in r.get("signers", []):
            missing = {"name", "serial", "pin"} - set(s)
            if missing:
                raise ValueError(f"region {r['code']}: a signer lacks {sorted(missing)}")
    coordinator = spec.get("coordinator", {})
    if coordinator and coordinator.get("code") in codes:
        raise ValueError("the coordinator's code must differ from the regions'")


def generate(spec: Mapping[str, Any], out: Path, now: dt.datetime) -> dict[str, Any]:
    """Make everything the declaration says under ``out``; returns the manifest (also written there)."""
    _check(spec)
    start, until = now - dt.timedelta(days=1), now + dt.timedelta(days=365 * SIGNER_YEARS)
    bundle: list[tuple[str, list[Any], list[Any], list[Any]]] = []
    recognised: list[str] = []
    manifest: dict[str, Any] = {"generated_at": now.isoformat(), "regions": {}, "coordinator": None}
    for region in spec.get("regions", []):
        ca = issue_region_ca(region["code"], start)
        signers, revoked = {}, []
        for s in region.get("signers", []):
            issued = issue_signer(ca, s["name"], s["serial"], start, until)
            path = out / "keys" / region["code"] / f"{s['serial']}.p12"
            path.parent.mkdir(parents=True, exist_ok=True)
            SoftKeyStore.create(path, s["pin"], issued.key, issued.certificate, [ca.intermediate.certificate])
            signers[s["serial"]] = {"name": s["name"], "key_store": str(path.relative_to(out)),
                                    "revoked": bool(s.get("revoked"))}
            if s.get("revoked"):
                revoked.append((issued.certificate, now - dt.timedelta(hours=1)))
        bundle.append(_region_files(out, ca, revoked, now))
        if region.get("recognised", True):
            recognised.append(region["code"])
        manifest["regions"][region["code"]] = {"recognised": region.get("recognised", True), "signers": signers}
    coordinator = spec.get("coordinator")
    if coordinator:
        ca = issue_region_ca(coordinator["code"], start)
        seal = issue_signer(ca, coordinator.get("seal", "evalroom seal"), f"{coordinator['code']}-SEAL", start, until)
        (out / "coordinator").mkdir(parents=True, exist_ok=True)
        SoftKeyStore.create(out / "coordinator" / "seal.p12", coordinator.get("seal_pin", "seal"), seal.key,
                            seal.certificate, [ca.intermediate.certificate])
        tsa = issue_tsa(ca, coordinator.get("tsa", "evalroom TSA"), start, until)
        _private(out / "coordinator" / "tsa-key.pem", _key_pem(tsa))
        (out / "coordinator" / "tsa.pem").write_bytes(tsa.certificate.public_bytes(Encoding.PEM)
                                                      + ca.intermediate.certificate.public_bytes(Encoding.PEM))
        bundle.append(_region_files(out, ca, [], now))
        recognised.append(coordinator["code"])
        manifest["coordinator"] = {"code": coordinator["code"], "seal_key_store": "coordinator/seal.p12",
                                   "tsa_key": "coordinator/tsa-key.pem", "tsa_certificates": "coordinator/tsa.pem"}
    write_bundle(out / "trust", bundle, recognised)
    manifest["trust_bundle"] = "trust"
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return manifest


def _region_files(out: Path, ca: RegionCA, revoked: list[Any], now: dt.datetime
                  ) -> tuple[str, list[Any], list[Any], list[Any]]:
    """Write the CA keys; return the region's bundle entry (certificates and fresh CRLs)."""
    _private(out / "ca" / ca.region / "root-key.pem", _key_pem(ca.root))
    _private(out / "ca" / ca.region / "intermediate-key.pem", _key_pem(ca.intermediate))
    crls = [issue_crl(ca.root, [], now - dt.timedelta(minutes=5), now + dt.timedelta(days=30)),
            issue_crl(ca.intermediate, revoked, now - dt.timedelta(minutes=5), now + dt.timedelta(days=7))]
    return ca.region, [ca.root.certificate], [ca.intermediate.certificate], crls
