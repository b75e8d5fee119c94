"""The coordinator's token-signing keys, rotated by ``kid``.

A key ring is a directory of ECDSA P-256 private keys, one PKCS#8 PEM file each, named ``<kid>.pem``. The kid
starts with the creation time (``20261121T104500Z-1a2b3c4d``), so names sort by age: the newest key signs,
every key in the ring verifies. Rotation is therefore: add a key (``evalroom keys rotate``), and once the
longest token lifetime has passed, remove the old file (``evalroom keys retire KID``). Tokens signed by a
removed key stop verifying at once, which is also how a compromised key is cut off: a running coordinator
holds a :class:`KeyDirectory`, which reloads the ring whenever the directory changes, so neither step needs a
restart.

Files are written with mode 0600 and never logged. For several coordinator processes the directory must be
shared (or copied) so that every process verifies every other's tokens.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from evalroom.errors import ConfigError

__all__ = ["KeyDirectory", "KeyRing", "SigningKey"]

_KID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.public_key))
        jwk.update(kid=self.kid, use="sig", alg="ES256")
        return jwk


class KeyRing:
    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ConfigError("the key ring is empty: no key to sign tokens with")
        self._keys = {k.kid: k for k in sorted(keys, key=lambda k: k.kid)}

    @property
    def active(self) -> SigningKey:
        """The newest key: the one that signs."""
        return self._keys[max(self._keys)]

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    def jwks(self) -> dict[str, Any]:
        """The public keys as a JWK Set, for anyone who verifies our tokens."""
        return {"keys": [self._keys[kid].public_jwk() for kid in self.kids]}

    @classmethod
    def load(cls, directory: Path) -> KeyRing:
        if not directory.is_dir():
            raise ConfigError(f"key directory {directory} does not exist; create a key with 'evalroom keys rotate'")
        keys = []
        for path in sorted(directory.glob("*.pem")):
            kid = path.stem
            if not _KID.match(kid):
                raise ConfigError(f"key file {path.name} is not named <kid>.pem with a kid like 20261121T104500Z-1a2b3c4d")
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError) as exc:  # TypeError: an encrypted key; ours are not
                raise ConfigError(f"key file {path} is not an unencrypted PEM private key: {exc}") from None
            if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
                raise ConfigError(f"key file {path} is not an ECDSA P-256 key (tokens are ES256)")
            keys.append(SigningKey(kid, key))
        if not keys:
            raise ConfigError(f"key directory {directory} holds no key; create one with 'evalroom keys rotate'")
        return cls(keys)

    @staticmethod
    def add_key(directory: Path, now: datetime) -> SigningKey:
        """Create a new key in ``directory``; it becomes the active one. Returns it."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The active key is the one whose name sorts last, so a new key must sort after every existing one even
        # when made within the same second (or after the clock stepped back): take a later second if needed.
        stamp = now.astimezone(UTC).replace(microsecond=0)
        existing = [datetime.strptime(p.stem.split("-")[0], _STAMP).replace(tzinfo=UTC)
                    for p in directory.glob("*.pem") if _KID.match(p.stem)]
        if existing and stamp <= max(existing):
            stamp = max(existing) + timedelta(seconds=1)
        kid = f"{stamp.strftime(_STAMP)}-{secrets.token_hex(4)}"
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path = directory / f"{kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        return SigningKey(kid, key)

    @staticmethod
    def retire(directory: Path, kid: str) -> None:
        """Remove a key. Refuses to remove the last one."""
        if not _KID.match(kid):
            raise ConfigError(f"not a key id: {kid!r}")
        path = directory / f"{kid}.pem"
        if not path.exists():
            raise ConfigError(f"no key {kid} in {directory}")
        if len(list(directory.glob("*.pem"))) == 1:
            raise ConfigError(f"{kid} is the only key; add a new one before retiring it")
        path.unlink()


class KeyDirectory:
    """The key ring of a directory, reloaded when the directory changes (a key added or removed).

    One ``stat`` per use; the ring is re-read only when the directory's modification time moves. If a reload
    fails (say, a half-copied file), the last good ring stays in use and the error is raised once per change
    to whoever asked, so a broken rotation is loud but does not take the coordinator down.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp = self._mtime()
        self._ring = KeyRing.load(directory)

    def _mtime(self) -> int:
        return self.directory.stat().st_mtime_ns

    def current(self) -> KeyRing:
        stamp = self._mtime()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._stamp = stamp
                    self._ring = KeyRing.load(self.directory)
        return self._ring

    @property
    def active(self) -> SigningKey:
        return self.current().active

    def get(self, kid: str) -> SigningKey | None:
        return self.current().get(kid)

    @property
    def kids(self) -> list[str]:
        return self.current().kids

    def jwks(self) -> dict[str, Any]:
        return self.current().jwks()
