"""The coordinator's own signing material: its seal (the last signature on a report) and its RFC 3161
time-stamping unit, with the CA hierarchy they chain to.

Both come from a directory in the layout ``evalroom pki generate`` writes for a declaration with a
``[coordinator]`` (signing/declared.py): ``manifest.json``, ``coordinator/seal.p12`` behind the seal PIN,
``coordinator/tsa-key.pem`` and ``tsa.pem``, the coordinator's trust anchors under ``trust/<code>/`` and its
CA keys under ``ca/<code>/``. Production points ``seal_dir`` at one prepared that way (or by its own CA, in
the same layout) and gives ``seal_pin``; on the embedded default and in development the coordinator makes
one in ``<key_dir>/seal`` on first use, with a random PIN kept beside it (mode 0600).

The coordinator's hierarchy is a trust domain of its own, always recognised: :attr:`CoordinatorSeal.anchors`
joins the regions' anchors wherever the coordinator verifies (services/signatures.py) and in the exported
trust bundle, so ``evalroom verify`` trusts the seal and its time-stamps offline. The coordinator's CA
revokes nothing, so when its CA keys are at hand its CRLs are re-issued as they near their next update.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from pyhanko.sign.signers import Signer
from pyhanko.sign.timestamps import TimeStamper

from evalroom.clock import Clock
from evalroom.config import Settings
from evalroom.errors import ConfigError
from signing.declared import generate
from signing.pades import local_tsa
from signing.pki import Issued, issue_crl
from signing.tokens import PinRefused, SoftKeyStore
from signing.trust import RegionAnchors

__all__ = ["COORDINATOR_CODE", "CoordinatorSeal", "load_or_create_seal"]

log = logging.getLogger(__name__)

COORDINATOR_CODE = "EVALROOM"
"""The trust-domain code of a seal the coordinator makes itself."""
_PIN_FILE = "seal-pin"
_CRL_MARGIN = dt.timedelta(days=1)
_RELOAD_RETRY = dt.timedelta(hours=1)


@dataclass(frozen=True)
class CoordinatorSeal:
    code: str
    anchors: RegionAnchors
    signer: Signer
    timestamper: TimeStamper
    name: str
    renew_after: dt.datetime | None = None
    """When the coordinator's own CRLs, loaded with the seal, near their next update: load it again then
    (:meth:`stale`), which re-issues them when the CA keys are here. ``None``: nothing expires."""

    def stale(self, now: dt.datetime) -> bool:
        return self.renew_after is not None and now >= self.renew_after


def _create(directory: Path, now: dt.datetime) -> str:
    pin = secrets.token_urlsafe(18)
    directory.mkdir(parents=True, exist_ok=True)
    pin_file = directory / _PIN_FILE  # first: the manifest, written last by generate, marks the seal complete
    pin_file.write_text(pin, encoding="utf-8")
    os.chmod(pin_file, 0o600)
    generate({"coordinator": {"code": COORDINATOR_CODE, "seal": "evalroom 评标协调平台电子印章", "seal_pin": pin}},
             directory, now)
    log.info("made the coordinator's seal and time-stamping unit in %s", directory)
    return pin


def _fresh_crls(directory: Path, code: str, now: dt.datetime) -> list[x509.CertificateRevocationList]:
    """The trust directory's CRLs; re-issued (empty: this CA revokes nothing) when the newest of an issuer
    nears its next update and the CA's key is here."""
    trust = directory / "trust" / code
    crls = [x509.load_pem_x509_crl(p.read_bytes()) for p in sorted(trust.glob("*.crl"))]
    for role in ("root", "intermediate"):
        key_path = directory / "ca" / code / f"{role}-key.pem"
        cert_path = trust / f"{role}.pem"
        if not key_path.exists() or not cert_path.exists():
            continue
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        mine = [c for c in crls if c.issuer == cert.subject]
        newest = max(mine, key=lambda c: c.last_update_utc, default=None)
        if newest is not None and newest.next_update_utc and newest.next_update_utc > now + _CRL_MARGIN:
            continue
        crl = issue_crl(Issued(cert, load_pem_private_key(key_path.read_bytes(), None)),  # type: ignore[arg-type]
                        [], now - dt.timedelta(minutes=5), now + dt.timedelta(days=7))
        (trust / f"{role}-{int(now.timestamp())}.crl").write_bytes(crl.public_bytes(Encoding.PEM))
        crls.append(crl)
    return crls


def load_or_create_seal(settings: Settings, clock: Clock) -> CoordinatorSeal:
    """The seal and time-stamping unit ``settings`` names, made first if it is the coordinator's own. The
    time-stamping unit stamps ``clock``'s time."""
    now = clock.now()
    directory = settings.seal_dir or settings.effective_key_dir / "seal"
    pin = settings.seal_pin.get_secret_value() if settings.seal_pin else None
    if not (directory / "manifest.json").exists():
        if settings.seal_dir is not None or not (settings.is_embedded or settings.environment == "development"):
            raise ConfigError(f"no seal in {directory}: make one with 'evalroom pki generate' (a declaration with "
                              "a [coordinator]) and set seal_dir and seal_pin")
        pin = _create(directory, now)
    if pin is None:
        pin_file = directory / _PIN_FILE
        if not pin_file.exists():
            raise ConfigError(f"seal_pin is not set, and {directory} keeps no PIN of its own")
        pin = pin_file.read_text(encoding="utf-8").strip()
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))["coordinator"]
    if not manifest:
        raise ConfigError(f"{directory}/manifest.json has no coordinator")
    code = manifest["code"]
    trust = directory / "trust" / code
    try:
        signer = SoftKeyStore(directory / manifest["seal_key_store"]).open(pin)
    except PinRefused as exc:
        raise ConfigError(f"the seal key store in {directory} does not open: {exc}") from None
    tsa_certs = x509.load_pem_x509_certificates((directory / manifest["tsa_certificates"]).read_bytes())
    tsa_key = load_pem_private_key((directory / manifest["tsa_key"]).read_bytes(), None)
    crls = _fresh_crls(directory, code, now)
    anchors = RegionAnchors.of(code, x509.load_pem_x509_certificates((trust / "root.pem").read_bytes()),
                               x509.load_pem_x509_certificates((trust / "intermediate.pem").read_bytes()), crls)
    name = signer.signing_cert.subject.native.get("common_name", code)
    newest: dict[x509.Name, dt.datetime] = {}  # each issuer's newest CRL: older ones stay in the directory
    for crl in crls:
        if crl.next_update_utc is not None:
            newest[crl.issuer] = max(newest.get(crl.issuer, crl.next_update_utc), crl.next_update_utc)
    renew_after = min(newest.values()) - _CRL_MARGIN if newest else None
    if renew_after is not None and renew_after <= now:
        # CRLs this process cannot re-issue (a seal_dir without its CA keys): look for new ones dropped in later.
        log.warning("the coordinator's CRLs in %s run out at %s and cannot be re-issued here", directory,
                    min(newest.values()))
        renew_after = now + _RELOAD_RETRY
    return CoordinatorSeal(code=code, anchors=anchors, signer=signer,
                           timestamper=local_tsa(Issued(tsa_certs[0], tsa_key), tsa_certs[1:],  # type: ignore[arg-type]
                                                 clock.now),
                           name=name, renew_after=renew_after)
