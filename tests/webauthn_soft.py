"""A platform authenticator in software, written from the WebAuthn specification, so that the library's
verification is tested against bytes it did not make: one ES256 credential; authenticator data = rpIdHash ‖
flags ‖ counter (‖ attested credential data when registering); an assertion signs authenticator data ‖
SHA-256(clientDataJSON); a registration uses the ``none`` attestation format."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing.factors import WebAuthnCredential

UP, UV, AT = 0x01, 0x04, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, rp_id: str, origin: str) -> None:
        self.rp_id, self.origin = rp_id, origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = b"cred-" + secrets.token_bytes(11)
        self.counter = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def credential(self) -> WebAuthnCredential:
        return WebAuthnCredential(self.credential_id, self.cose_key(), 0)

    def _client(self, kind: str, challenge: bytes) -> bytes:
        return json.dumps({"type": kind, "challenge": b64(challenge), "origin": self.origin}).encode()

    def register(self, options: dict[str, Any], *, verified: bool = True) -> dict[str, Any]:
        """The attestation for ``PublicKeyCredentialCreationOptions`` (as the coordinator sent them)."""
        flags = UP | AT | (UV if verified else 0)
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        auth_data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", 0) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client = self._client("webauthn.create", unb64(options["challenge"]))
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "response": {"clientDataJSON": b64(client), "attestationObject": b64(attestation)}}

    def assert_(self, options_or_challenge: dict[str, Any] | bytes, *, verified: bool = True) -> dict[str, Any]:
        """An assertion over a challenge (bytes) or for ``PublicKeyCredentialRequestOptions``."""
        challenge = options_or_challenge if isinstance(options_or_challenge, bytes) \
            else unb64(options_or_challenge["challenge"])
        self.counter += 1
        flags = UP | (UV if verified else 0)
        auth_data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter)
        client = self._client("webauthn.get", challenge)
        signature = self.key.sign(auth_data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
                "response": {"authenticatorData": b64(auth_data), "clientDataJSON": b64(client),
                             "signature": b64(signature)}}
