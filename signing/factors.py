"""Second factors that authorise exactly one document (the SCAL2 pattern of remote-signing standards).

The PIN unlocks the token; the second factor says *this* document may be signed. A factor never opens a
session: each authorisation names one document hash, and the signing step refuses a signature over any
other bytes.

- TOTP (RFC 6238, pyotp): a code is accepted at most once. The caller keeps, per expert, the last accepted
  time step and passes it in; a code of that step or an earlier one is a replay. The authorisation names the
  document hash the expert confirmed on screen next to the code.
- WebAuthn (webauthn): the challenge *is* derived from the document hash —
  ``SHA-256("evalroom-sign-v1" ‖ document hash ‖ nonce)`` — with a fresh nonce the caller stores and consumes
  once, so an assertion for another document, or a replayed one, does not verify. User verification is
  required (the authenticator checked a PIN or a biometric itself).

Both return :class:`FactorEvidence`, which the signature record keeps (docs/formats.md) and ``evalroom
verify`` prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import pyotp
from webauthn import verify_authentication_response
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidCBORData, InvalidJSONStructure

__all__ = [
    "SIGN_CONTEXT",
    "TOTP_STEP_SECONDS",
    "TOTP_WINDOW",
    "FactorEvidence",
    "FactorRefused",
    "WebAuthnCredential",
    "challenge_for",
    "verify_totp",
    "verify_webauthn",
]

SIGN_CONTEXT = b"evalroom-sign-v1"
TOTP_STEP_SECONDS = 30
TOTP_WINDOW = 1
"""Steps accepted either side of now: a phone clock 30 s off still works."""


class FactorRefused(Exception):
    """A second factor did not authorise the document. ``reason`` is stable: ``wrong_code``, ``replayed``,
    ``wrong_document``, ``not_verified``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class FactorEvidence:
    kind: str
    """``totp`` or ``webauthn``."""
    document_sha256: str
    at: str
    detail: dict[str, Any] = field(default_factory=dict)
    """TOTP: the accepted ``step``. WebAuthn: ``credential_id``, ``sign_count``, ``user_verified``, ``nonce``."""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "document_sha256": self.document_sha256, "at": self.at, **self.detail}


def _iso(moment: dt.datetime) -> str:
    """The coordinator's canonical UTC form (as evalroom.clock.format_time writes it)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def verify_totp(secret: str, code: str, document_sha256: str, now: dt.datetime,
                last_step: int | None) -> tuple[FactorEvidence, int]:
    """Accept ``code`` for ``document_sha256`` if it is the code of a step within the window and later than
    ``last_step``; returns the evidence and the step to store as the new ``last_step``."""
    totp = pyotp.TOTP(secret, interval=TOTP_STEP_SECONDS)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), code.strip()):
            if last_step is not None and step <= last_step:
                raise FactorRefused("replayed", "this one-time code (or a later one) was already used")
            return FactorEvidence("totp", document_sha256, _iso(now), {"step": step}), step
    raise FactorRefused("wrong_code", "the one-time code is wrong or too old")


def challenge_for(document_sha256: str, nonce: bytes) -> bytes:
    """The WebAuthn challenge that authorises exactly the document with this hash, once."""
    return hashlib.sha256(SIGN_CONTEXT + bytes.fromhex(document_sha256) + nonce).digest()


@dataclass(frozen=True)
class WebAuthnCredential:
    """An expert's registered authenticator: its id, COSE public key and last signature counter."""

    credential_id: bytes
    public_key: bytes
    sign_count: int


def verify_webauthn(credential: WebAuthnCredential, response: str | dict[str, Any], document_sha256: str,
                    nonce: bytes, *, rp_id: str, origin: str, now: dt.datetime) -> FactorEvidence:
    """Verify an assertion (the browser's ``PublicKeyCredential`` as JSON) made over the challenge of this
    document and nonce, with user verification. The caller consumes the nonce whatever the outcome and
    stores the returned ``sign_count``."""
    try:
        parsed = parse_authentication_credential_json(response)
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=challenge_for(document_sha256, nonce), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=credential.public_key,
            credential_current_sign_count=credential.sign_count, require_user_verification=True)
    except InvalidAuthenticationResponse as exc:
        reason = "wrong_document" if "challenge" in str(exc).lower() else "not_verified"
        raise FactorRefused(reason, str(exc)) from None
    except (InvalidJSONStructure, InvalidCBORData, ValueError) as exc:
        raise FactorRefused("not_verified", f"not a WebAuthn assertion: {exc}") from None
    return FactorEvidence("webauthn", document_sha256, _iso(now), {
        "credential_id": parsed.id, "sign_count": verified.new_sign_count,
        "user_verified": verified.user_verified, "nonce": nonce.hex()})

