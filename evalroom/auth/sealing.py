"""The coordinator's sealing key: personal data at rest, and draw seeds until they are revealed.

One 32-byte master secret in ``<key_dir>/sealing.key`` (mode 0600) gives two keys by HKDF-SHA256:

* a sealing key for AES-256-GCM: :meth:`Sealer.seal` / :meth:`Sealer.open`. Every sealed value is bound to
  a *context* (the associated data, e.g. ``"expert.id_number"``), so a value cannot be moved into another
  column and opened there;
* a lookup key for HMAC-SHA256: :meth:`Sealer.lookup` gives the keyed hash by which an identity number is
  found (check-in, duplicates across imports) without storing it in the clear. A plain SHA-256 would not do:
  identity numbers are few enough to enumerate.

Losing the file makes sealed values unreadable and lookups fail: back it up with the database
(docs/operations.md). Like token keys, the embedded default creates it; a shared (PostgreSQL) deployment must
provision one file for all its coordinators.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from evalroom.errors import ConfigError

__all__ = ["SEALING_KEY_FILE", "Sealer", "load_or_create_sealer"]

SEALING_KEY_FILE = "sealing.key"
_VERSION = "s1"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class Sealer:
    def __init__(self, master: bytes) -> None:
        if len(master) != 32:
            raise ValueError("the sealing master secret has 32 bytes")
        self._aead = AESGCM(_derive(master, b"evalroom seal v1"))
        self._lookup = _derive(master, b"evalroom lookup v1")

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, sealed: str, context: str) -> bytes:
        version, _, body = sealed.partition(".")
        if version != _VERSION:
            raise ValueError(f"unknown sealed-value version {version!r}")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise ValueError("the sealed value does not open with this key and context") from None

    def lookup(self, value: str, context: str) -> str:
        return hmac.new(self._lookup, f"{context}\0{value}".encode(), hashlib.sha256).hexdigest()


def load_or_create_sealer(key_dir: Path, *, may_create: bool) -> Sealer:
    path = key_dir / SEALING_KEY_FILE
    if not path.exists():
        if not may_create:
            raise ConfigError(f"no sealing key at {path}: restore it from the backup if the database holds sealed "
                              "data; for a new shared database, create it with 'evalroom keys sealing' and give "
                              "every coordinator a copy")
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
    master = path.read_bytes()
    if len(master) != 32:
        raise ConfigError(f"{path} must hold exactly 32 bytes (it has {len(master)})")
    return Sealer(master)
