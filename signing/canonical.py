"""Canonical JSON: the one byte form of a JSON value that evalroom hashes or signs.

Keys sorted by code point, no insignificant white space, UTF-8 without escaping non-ASCII (Chinese text stays
readable and has one byte form), strings that are valid Unicode, integers within ±(2**53 - 1) (so a JavaScript
verifier reads the same number), and no floating-point numbers at all: a float's text form differs between
languages and databases, so exact quantities (scores, prices, fees) travel as decimal strings.

Close to RFC 8785 (JCS) but not the same: JCS sorts keys by UTF-16 code units, which differs from code-point
order only between characters beyond the BMP and U+E000..U+FFFF. A verifier in another language must sort by
code point.

Pure standard library; safe to import from the domain core.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex"]


MAX_SAFE_INTEGER = 2**53 - 1


def _check_str(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(f"string at {path} is not valid Unicode (lone surrogate)") from None


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise TypeError(f"integer at {path} is outside ±(2**53 - 1); use a decimal string")
        return
    if isinstance(value, str):
        _check_str(value, path)
        return
    if isinstance(value, float):
        raise TypeError(f"floats are not allowed in canonical JSON (got {value!r} at {path}); use a decimal string")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings (got {k!r} at {path})")
            _check_str(k, f"{path} (a key)")
            _check(v, f"{path}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check(v, f"{path}[{i}]")
        return
    raise TypeError(f"not a JSON value: {type(value).__name__} at {path}")


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of ``value``; raises ``TypeError`` naming the path of anything not allowed."""
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
