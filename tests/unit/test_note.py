"""C2SP signed notes and checkpoints (signing/note.py): the reference implementation's published example
verifies (golang.org/x/mod/sumdb/note's test key "PeterNeumann"), our notes verify and cosign, and a changed
text, a forged line or a malformed note is refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.note import (
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    add_signature,
    open_note,
    parse_checkpoint,
    sign_note,
    signers_of,
)
from signing.tlog import leaf_hash

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n\n"
           "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")


def test_the_reference_example_verifies_and_a_changed_text_does_not() -> None:
    verifier = NoteVerifier.from_vkey(GO_VKEY)
    assert verifier.vkey == GO_VKEY
    assert open_note(GO_NOTE, verifier).startswith("If you think")
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("problem,", "problems,"), verifier)


def test_a_checkpoint_signed_by_the_log_and_cosigned_by_a_witness() -> None:
    log = NoteSigner("evalroom.example/log", Ed25519PrivateKey.generate())
    witness = NoteSigner("JN-GGZY", Ed25519PrivateKey.generate())
    checkpoint = Checkpoint("evalroom.example/log", 42, leaf_hash(b"root"))
    note = sign_note(checkpoint.text(), log)
    assert parse_checkpoint(open_note(note, log.verifier)) == checkpoint
    cosigned = add_signature(note, witness)
    assert signers_of(cosigned, [log.verifier, witness.verifier]) == ["evalroom.example/log", "JN-GGZY"]
    with pytest.raises(NoteError):  # another text under the log's line
        open_note(cosigned.replace("\n42\n", "\n43\n"), log.verifier)
    impostor = NoteSigner("evalroom.example/log", Ed25519PrivateKey.generate())
    assert signers_of(note, [impostor.verifier]) == []  # same name, another key: not its signature


@pytest.mark.parametrize("bad", ["no blank line\n\u2014 a b\n", "text\n\n-- a AAAA\n", "text\n\n\u2014 a AAAA",
                                 "text\n\n\u2014 a not base64!\n", "te\x01xt\n\n\u2014 a AAAA\n"])
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        open_note(bad, NoteVerifier.from_vkey(GO_VKEY))


def test_malformed_checkpoints_are_refused() -> None:
    for text in ("origin\n\nAAAA\n", "origin\n01\n" + "A" * 44 + "\n", "origin\n1\nshort\n", "\n1\nx\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(text)


def test_verifier_keys_round_trip_whatever_their_base64_holds() -> None:
    for _ in range(50):  # a base64 key often contains "+", which also separates the vkey's parts
        verifier = NoteSigner("evalroom.example/log", Ed25519PrivateKey.generate()).verifier
        assert NoteVerifier.from_vkey(verifier.vkey) == verifier
