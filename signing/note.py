"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519, and tlog checkpoints
(https://c2sp.org/tlog-checkpoint) as their text: what the coordinator signs and venues cosign as witnesses.

A signed note is text ending in a newline, a blank line, then signature lines
``— <key name> <base64(key id ‖ signature)>``; the signature covers the text with its final newline. The key id
is the first 4 bytes of SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key) for Ed25519. A verifier key is shared as
``<name>+<hex key id>+<base64(0x01 ‖ public key)>`` (the Go sumdb/note "vkey").

A checkpoint's text is three lines: the log's origin, the tree size in decimal, the root hash in base64.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["Checkpoint", "NoteError", "NoteSigner", "NoteVerifier", "add_signature", "open_note", "parse_checkpoint",
           "sign_note", "signers_of"]

DASH = "\u2014 "
ED25519 = b"\x01"


class NoteError(Exception):
    """Malformed, or not signed by the key asked for."""


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"a key name has no spaces or '+': {name!r}")


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return _key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(ED25519 + self.public).decode()}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        try:
            name, key_id, encoded = vkey.split("+", 2)  # base64 may hold "+" too
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError(f"not a verifier key: {vkey!r}") from None
        if raw[:1] != ED25519 or len(raw) != 33:
            raise NoteError("only Ed25519 verifier keys are supported")
        verifier = cls(name, raw[1:])
        if verifier.key_id.hex() != key_id:
            raise NoteError("the verifier key's id does not match its key")
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSigner:
    name: str
    key: Ed25519PrivateKey

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    def line(self, text: bytes) -> str:
        verifier = self.verifier
        return f"{DASH}{self.name} {base64.b64encode(verifier.key_id + self.key.sign(text)).decode()}\n"


def _split(note: str) -> tuple[str, list[str]]:
    if "\n\n" not in note:
        raise NoteError("no blank line before the signatures")
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    lines = signatures.split("\n")
    if lines[-1] != "" or len(lines) < 2:
        raise NoteError("a note ends with a newline after its signature lines")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("control characters in the note")
    return text, lines[:-1]


def sign_note(text: str, *signers: NoteSigner) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("the text ends with a newline and has no blank line")
    for signer in signers:
        _check_name(signer.name)
    data = text.encode()
    return text + "\n" + "".join(s.line(data) for s in signers)


def add_signature(note: str, signer: NoteSigner) -> str:
    """Cosign a note: one more signature line (a witness's)."""
    text, _ = _split(note)
    return note + signer.line(text.encode())


def open_note(note: str, verifier: NoteVerifier) -> str:
    """The note's text, if ``verifier``'s key signed it; :class:`NoteError` otherwise. Lines of other keys are
    ignored; a line of this key that does not verify rejects the note."""
    text, lines = _split(note)
    data = text.encode()
    for line in lines:
        if not line.startswith(DASH):
            raise NoteError(f"not a signature line: {line!r}")
        try:
            name, encoded = line[len(DASH):].split(" ")
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise NoteError(f"not a signature line: {line!r}") from None
        if name == verifier.name and raw[:4] == verifier.key_id:
            if not verifier.verify(data, raw[4:]):
                raise NoteError(f"the signature of {name} does not verify")
            return text
    raise NoteError(f"not signed by {verifier.name}")


def signers_of(note: str, verifiers: list[NoteVerifier]) -> list[str]:
    """The names of ``verifiers`` whose valid signature the note carries."""
    found = []
    for verifier in verifiers:
        try:
            open_note(note, verifier)
        except NoteError:
            continue
        found.append(verifier.name)
    return found


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0] or not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise NoteError("not a checkpoint: origin, size and root hash lines")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except ValueError:
        raise NoteError("the root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("the root hash has 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root)
