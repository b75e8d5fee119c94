"""The site link: signed, replay-protected messages between the coordinator and a venue's site agent.

Every message in either direction is an *envelope* sent as one websocket text frame::

    {"v": 1, "ch": "<connection id>", "n": 7, "ts": "2026-11-21T09:00:00.000000Z",
     "type": "heartbeat", "body": {...}, "kid": "<signing key id>", "sig": "<base64url signature>"}

``sig`` signs the canonical JSON (signing/canonical.py) of every other field. The site agent signs with its
venue credential, an Ed25519 key whose private half never leaves the venue (the coordinator stores only the
public half, so a copy of its database cannot impersonate a venue); the coordinator signs with its ES256
token key, which the agent checks against the coordinator's published key set.

Replay protection, as the dispatch systems in use do it with signed messages, has three parts:
- ``ch`` is a fresh random id the coordinator picks for each connection and announces in its first message;
  a message recorded on one connection does not verify on another.
- ``n`` counts the sender's messages on the connection from 1; a receiver accepts only the next number, so a
  message sent twice is refused (``message_replayed``).
- ``ts`` must be within a configured skew of the receiver's clock (``message_stale``), so that even the first
  message of a connection cannot be held back and used much later.

This module is pure: no sockets, clock or database. The coordinator's websocket route and the site agent
(sites/agent.py) both drive a :class:`Channel`. docs/protocols.md has the message catalogue with examples.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from signing.canonical import canonical_json
from sites.devices import DeviceState, RoomKind
from sites.errors import RuleViolation

__all__ = [
    "PROTOCOL",
    "Channel",
    "Confirm",
    "Decline",
    "ES256Signer",
    "Ed25519Signer",
    "Heartbeat",
    "Hello",
    "Inventory",
    "Signer",
    "credential_id",
    "decode",
    "encode",
    "es256_verifier",
    "format_ts",
    "load_agent_key",
    "parse_body",
]

PROTOCOL = "evalroom-site/1"
VERSION = 1
_ENVELOPE_KEYS = frozenset({"v", "ch", "n", "ts", "type", "body", "kid", "sig"})
MAX_FRAME = 1024 * 1024
MAX_POSITION = 2**53 - 1
"""The largest sequence number, log size or version a message may carry: exact in every JSON reader and inside
the 64-bit integers of the coordinator's databases (the coordinator's API keeps the same bound)."""


def format_ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer(Protocol):
    kid: str

    def sign(self, data: bytes) -> bytes: ...


def credential_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """A venue credential's id, derived from its public key, so the agent needs no extra configuration."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "vk-" + hashlib.sha256(raw).hexdigest()[:24]


@dataclass(frozen=True)
class Ed25519Signer:
    """The site agent's side: its venue credential."""

    private_key: ed25519.Ed25519PrivateKey

    @property
    def kid(self) -> str:
        return credential_id(self.private_key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self.private_key.sign(data)


@dataclass(frozen=True)
class ES256Signer:
    """The coordinator's side: its current token-signing key (P-256), signatures as raw r||s like JWS."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def es256_verifier(keys: Callable[[str], ec.EllipticCurvePublicKey | None]) -> Callable[[str, bytes, bytes], bool]:
    def verify(kid: str, data: bytes, sig: bytes) -> bool:
        key = keys(kid)
        if key is None or len(sig) != 64:
            return False
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        try:
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True
    return verify


def ed25519_verify(key: ed25519.Ed25519PublicKey, data: bytes, sig: bytes) -> bool:
    try:
        key.verify(sig, data)
    except InvalidSignature:
        return False
    return True


def load_agent_key(pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("a venue credential must be an Ed25519 private key")
    return key


def encode(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, bytes) or len(frame) > MAX_FRAME:
        raise RuleViolation("validation_failed", "a site-link message is one JSON text frame of at most 1 MiB")
    try:
        msg = json.loads(frame)
    except ValueError:
        raise RuleViolation("malformed_json", "the message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise RuleViolation("validation_failed", "the message must be a JSON object")
    return msg


class Channel:
    """One connection's signing and replay state. Both ends hold one, with the same id."""

    def __init__(self, channel_id: str, *, skew: timedelta) -> None:
        self.id = channel_id
        self.skew = skew
        self.sent = 0
        self.received = 0

    def seal(self, type_: str, body: dict[str, Any], *, now: datetime, signer: Signer) -> dict[str, Any]:
        self.sent += 1
        env: dict[str, Any] = {"v": VERSION, "ch": self.id, "n": self.sent, "ts": format_ts(now), "type": type_,
                               "body": body, "kid": signer.kid}
        env["sig"] = _b64u(signer.sign(canonical_json(env)))
        return env

    def open(self, env: dict[str, Any], *, now: datetime,
             verify: Callable[[str, bytes, bytes], bool]) -> tuple[str, dict[str, Any]]:
        """Check an envelope and return its type and body; raise :class:`RuleViolation` and leave the
        channel unchanged if it is not authentic, not fresh or not the next message."""
        if set(env) != _ENVELOPE_KEYS:
            raise RuleViolation("validation_failed", f"an envelope has exactly the fields {sorted(_ENVELOPE_KEYS)}")
        if env["v"] != VERSION:
            raise RuleViolation("validation_failed", f"unsupported protocol version {env['v']!r}")
        kid, sig, n, ts = env["kid"], env["sig"], env["n"], env["ts"]
        if not (isinstance(kid, str) and isinstance(sig, str) and isinstance(ts, str) and isinstance(env["type"], str)
                and isinstance(env["body"], dict) and isinstance(n, int) and not isinstance(n, bool)):
            raise RuleViolation("validation_failed", "an envelope field has the wrong type")
        try:
            signature = _unb64u(sig)
            data = canonical_json({k: v for k, v in env.items() if k != "sig"})
        except ValueError:
            raise RuleViolation("signature_invalid", "the message cannot be signed as sent") from None
        if not verify(kid, data, signature):
            raise RuleViolation("signature_invalid", "the signature does not verify with a registered key")
        if env["ch"] != self.id:
            raise RuleViolation("signature_invalid", "the message was signed for another connection")
        try:
            sent_at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            raise RuleViolation("validation_failed", "ts must look like 2026-11-21T09:00:00.000000Z") from None
        if abs(now - sent_at) > self.skew:
            raise RuleViolation("message_stale", f"the message's time {ts} is more than {self.skew} from ours")
        if n <= self.received:
            raise RuleViolation("message_replayed", f"message number {n} was already received on this connection")
        if n != self.received + 1:
            raise RuleViolation("validation_failed", f"expected message number {self.received + 1}, got {n}")
        self.received = n
        return env["type"], env["body"]


# --- bodies the agent sends -----------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Code = Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")]


class Hello(_Body):
    protocol: Literal["evalroom-site/1"]
    venue: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    after: Annotated[StrictInt, Field(ge=0, le=MAX_POSITION)]
    """The last event sequence number the agent has processed; everything after it is sent."""
    agent: Annotated[StrictStr, Field(max_length=100)] = ""


class SeatReport(_Body):
    code: Code
    devices: dict[Literal["pc", "network", "microphone", "speaker", "camera"], DeviceState]


class RoomReport(_Body):
    code: Code
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    kind: RoomKind
    seats: Annotated[list[SeatReport], Field(max_length=500)]


class Inventory(_Body):
    rooms: Annotated[list[RoomReport], Field(max_length=200)]


class Heartbeat(_Body):
    pass


class Confirm(_Body):
    offer_id: Annotated[StrictStr, Field(max_length=64)]
    version: Annotated[StrictInt, Field(ge=1, le=MAX_POSITION)]
    """The version of the offer being confirmed, so a confirm cannot apply to terms changed meanwhile."""
    seat_codes: Annotated[list[Annotated[StrictStr, Field(max_length=65)]], Field(max_length=500)] | None = None
    """``ROOM/SEAT`` codes; omitted: the coordinator picks usable, free seats."""


class Decline(_Body):
    offer_id: Annotated[StrictStr, Field(max_length=64)]
    version: Annotated[StrictInt, Field(ge=1, le=MAX_POSITION)]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=500)]


class MediaToken(_Body):
    """Ask for a short-lived token to publish the venue's sources in a running session's media room."""

    session_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]


class BackupRecord(_Body):
    """A line of the venue's local backup recording's manifest, reported as it becomes durable, so that the
    copy handed to the host later is checked against hashes logged at the time (media reconciliation)."""

    session_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    publisher: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    track: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    entry: dict[str, Any]


class Cosign(_Body):
    """A witness's cosignature of a transparency-log checkpoint: the signature line (C2SP signed note) by the
    venue's key, under the venue's code, over the checkpoint the agent verified consistent with the last one
    it cosigned."""

    size: Annotated[StrictInt, Field(ge=1, le=MAX_POSITION)]
    root: Annotated[StrictStr, Field(min_length=44, max_length=44)]
    signature: Annotated[StrictStr, Field(min_length=10, max_length=300)]


class LogAlarm(_Body):
    """The witness found the log inconsistent with a checkpoint it cosigned (or its signature wrong)."""

    size: Annotated[StrictInt, Field(ge=0, le=MAX_POSITION)]
    detail: Annotated[StrictStr, Field(min_length=1, max_length=1000)]


_AGENT_BODIES: dict[str, type[_Body]] = {"hello": Hello, "inventory": Inventory, "heartbeat": Heartbeat,
                                         "confirm": Confirm, "decline": Decline, "media_token": MediaToken,
                                         "backup_record": BackupRecord, "cosign": Cosign, "log_alarm": LogAlarm}


def parse_body(type_: str, body: dict[str, Any]) -> _Body:
    model = _AGENT_BODIES.get(type_)
    if model is None:
        raise RuleViolation("validation_failed", f"unknown message type {type_!r} (known: {sorted(_AGENT_BODIES)})")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleViolation("validation_failed", f"{type_}: {where}: {first['msg']}") from None
