"""Where an expert's signing key lives, behind a PIN: a PKCS#11 token, or a software key store for the demo.

- :class:`Pkcs11Token` — the expert's UKey through its vendor's PKCS#11 module (python-pkcs11; SoftHSM2 in
  the tests). The key is generated on the token and never leaves it; pyHanko's ``PKCS11Signer`` signs with it.
- :class:`SoftKeyStore` — an encrypted PKCS#12 file (key, certificate, chain) that the PIN decrypts, for the
  embedded demo where nobody has a token.

Wrong PINs are counted and lock the key as tokens do: after :data:`PIN_TRIES` consecutive wrong PINs the key
is locked and no PIN is tried any more (a locked UKey needs its issuer's unblock, here a new key store). The
count is kept by :class:`PinGuard` in a small file beside the key store, or per token serial for PKCS#11 —
a real token counts too and may lock first, which is reported the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from pkcs11.exceptions import PinIncorrect, PinLenRange, PinLocked
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers import Signer

from signing.cms import software_signer

__all__ = ["PIN_TRIES", "PinGuard", "PinRefused", "Pkcs11Token", "SoftKeyStore"]

PIN_TRIES = 5


class PinRefused(Exception):
    """The PIN did not unlock the key. ``reason``: ``wrong_pin`` (``remaining`` tries left) or ``locked``."""

    def __init__(self, reason: str, remaining: int = 0) -> None:
        super().__init__("the key is locked after too many wrong PINs" if reason == "locked"
                         else f"wrong PIN; {remaining} tries left before the key locks")
        self.reason, self.remaining = reason, remaining


class PinGuard:
    """Consecutive wrong PINs for one key, kept in a JSON file written atomically."""

    def __init__(self, path: Path, tries: int = PIN_TRIES) -> None:
        self.path, self.tries = path, tries

    def failures(self) -> int:
        try:
            return int(json.loads(self.path.read_text(encoding="utf-8"))["failures"])
        except FileNotFoundError:
            return 0

    def _write(self, failures: int) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"failures": failures}), encoding="utf-8")
        os.replace(tmp, self.path)

    def check(self) -> None:
        if self.failures() >= self.tries:
            raise PinRefused("locked")

    def wrong(self) -> PinRefused:
        failures = self.failures() + 1
        self._write(failures)
        return PinRefused("locked") if failures >= self.tries else PinRefused("wrong_pin", self.tries - failures)

    def right(self) -> None:
        if self.failures():
            self._write(0)


@dataclass
class SoftKeyStore:
    """An encrypted PKCS#12 key store at ``path`` (``<path>.pins`` counts wrong PINs)."""

    path: Path

    @property
    def guard(self) -> PinGuard:
        return PinGuard(self.path.with_name(self.path.name + ".pins"))

    @classmethod
    def create(cls, path: Path, pin: str, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate,
               chain: Sequence[x509.Certificate]) -> SoftKeyStore:
        data = pkcs12.serialize_key_and_certificates(certificate.subject.rfc4514_string().encode(), key, certificate,
                                                     list(chain), BestAvailableEncryption(pin.encode()))
        path.write_bytes(data)
        os.chmod(path, 0o600)
        return cls(path)

    def open(self, pin: str) -> Signer:
        """The signer the PIN unlocks; :class:`PinRefused` otherwise (and counted)."""
        guard = self.guard
        guard.check()
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(self.path.read_bytes(), pin.encode())
        except ValueError:
            raise guard.wrong() from None
        guard.right()
        assert isinstance(key, ec.EllipticCurvePrivateKey) and cert is not None
        return software_signer(cert, key, list(chain))


@dataclass
class Pkcs11Token:
    """A token found by label in a PKCS#11 module; the key and certificate are found by label on it."""

    module: str
    token_label: str
    key_label: str
    guard_dir: Path
    raw_mechanism: bool = True
    """Hash on the host and sign the digest with the token's plain ECDSA (CKM_ECDSA), which every EC token
    offers; not all offer the hashing mechanisms (SoftHSM2 does not)."""

    def _token(self) -> pkcs11.Token:
        return pkcs11.lib(self.module).get_token(token_label=self.token_label)

    @contextmanager
    def open(self, pin: str, certificate: x509.Certificate, chain: Sequence[x509.Certificate]) -> Iterator[Signer]:
        """A signer for the key on the token, for the duration of the ``with`` block (the session stays open
        only that long). The certificate is the one the region issued for the token's key."""
        token = self._token()
        guard = PinGuard(self.guard_dir / f"pkcs11-{token.serial.decode(errors='replace').strip()}.pins")
        guard.check()
        try:
            session = token.open(user_pin=pin)
        except PinLocked:
            raise PinRefused("locked") from None
        except (PinIncorrect, PinLenRange):
            raise guard.wrong() from None
        guard.right()
        try:
            yield PKCS11Signer(session, key_label=self.key_label,
                               signing_cert=asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER)),
                               ca_chain=[asn1_x509.Certificate.load(c.public_bytes(Encoding.DER)) for c in chain],
                               embed_roots=False, use_raw_mechanism=self.raw_mechanism)
        finally:
            session.close()
