"""Canonical JSON: the one byte form of a JSON value that evalroom hashes or signs.

Keys sorted, no insignificant white space, UTF-8 without escaping non-ASCII (Chinese text stays readable and
one byte form), and no floating-point numbers at all: a float's text form differs between languages and
databases, so exact quantities (scores, prices, fees) travel as decimal strings. This is the subset of RFC 8785
(JCS) that needs no number formatting rules, because it has no floats.

Pure standard library; safe to import from the domain core.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "sha256_hex"]


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return
    if isinstance(value, float):
        raise TypeError(f"floats are not allowed in canonical JSON (got {value!r} at {path}); use a decimal string")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"object keys must be strings (got {k!r} at {path})")
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
