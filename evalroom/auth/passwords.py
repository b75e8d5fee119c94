"""Staff passwords, hashed with scrypt from the standard library.

Stored as ``scrypt$n$r$p$salt$hash`` (base64), so parameters can be raised later without breaking old hashes:
:func:`needs_rehash` says when a stored hash uses weaker parameters than today's.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

__all__ = ["MIN_LENGTH", "dummy_hash", "hash_password", "needs_rehash", "verify_password"]

MIN_LENGTH = 12
_N, _R, _P, _LEN = 2**14, 8, 1, 32


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def needs_rehash(stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return True
    n, r, p = (int(x) for x in parts[1:4])
    # Each parameter on its own: scrypt's memory is 128 * n * r bytes, so a larger n cannot make up for a smaller r.
    return n < _N or r < _R or p < _P


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, checked when the user does not exist, so that a login for an unknown name
    costs as much time as one for a known name (no user enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))
