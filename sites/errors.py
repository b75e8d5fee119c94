"""The one exception the sites domain raises, carrying a stable error code.

``sites`` must not import ``evalroom`` (the dependency points the other way), so rules here cannot raise the
coordinator's ``ApiError``. They raise :class:`RuleViolation` with the *value* of one of the coordinator's
error codes (docs/api.md); the coordinator turns it into an ``ApiError`` with the same code, and the site
agent shows it as it is.
"""

from __future__ import annotations

__all__ = ["RuleViolation"]


class RuleViolation(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
