"""The transparency log's tree: an RFC 6962 (RFC 9162 §2.1) Merkle tree, its proofs and their verification.

Plain functions over a store of *complete subtree* hashes: ``node(level, index)`` is the hash of the
``2**level`` leaves from ``index * 2**level`` on, which never changes once those leaves exist (so it can be
stored once, in memory here or in the database by the coordinator). Any range of leaves is hashed from at most
``2 log n`` stored nodes, so roots and proofs at a million leaves cost microseconds, not a walk of the tree.

- ``leaf_hash(data)`` = SHA-256(0x00 ‖ data); an inner node = SHA-256(0x01 ‖ left ‖ right).
- :func:`inclusion_proof` / :func:`verify_inclusion` — a leaf is in the tree of a given size (RFC 9162 §2.1.3).
- :func:`consistency_proof` / :func:`verify_consistency` — the tree of one size is a prefix of the tree of a
  larger size (§2.1.4): what a witness checks before cosigning a new checkpoint.

The verifiers accept exactly the valid cases of the transparency-dev/merkle vectors (shared/vectors/rfc6962;
tests/unit/test_tlog.py). They depend on nothing but hashlib, so an auditor can take them alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from signing.note import NoteError, NoteVerifier, open_note, parse_checkpoint

__all__ = ["EMPTY_ROOT", "MemoryTree", "audit", "NodeStore", "ProofError", "consistency_proof", "inclusion_proof",
           "leaf_hash", "node_hash", "root_hash", "verify_consistency", "verify_inclusion"]

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(Exception):
    """A proof does not verify, or cannot be made (an index or size out of range)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class NodeStore(Protocol):
    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of ``2**level`` leaves starting at leaf ``index * 2**level``."""
        ...


class MemoryTree:
    """Complete subtree hashes kept in lists, one per level: appending a leaf adds the parents it completes."""

    def __init__(self) -> None:
        self.levels: list[list[bytes]] = [[]]

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        """Append a leaf *hash*."""
        self.levels[0].append(leaf)
        level = 0
        while len(self.levels[level]) % 2 == 0:
            if level + 1 == len(self.levels):
                self.levels.append([])
            pair = self.levels[level][-2:]
            self.levels[level + 1].append(node_hash(pair[0], pair[1]))
            level += 1

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range(store: NodeStore, lo: int, hi: int) -> bytes:
    """MTH of leaves [lo, hi): a stored node when the range is a whole aligned subtree, else split."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        return store.node(n.bit_length() - 1, lo // n)
    k = _split(n)
    return node_hash(_range(store, lo, lo + k), _range(store, lo + k, hi))


def root_hash(store: NodeStore, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else _range(store, 0, size)


def inclusion_proof(store: NodeStore, index: int, size: int) -> list[bytes]:
    """RFC 6962 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            proof.append(_range(store, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range(store, lo, lo + k))
            lo += k
    return proof[::-1]


def consistency_proof(store: NodeStore, size1: int, size2: int) -> list[bytes]:
    """RFC 6962 PROOF(size1, D[0:size2])."""
    if not 0 < size1 <= size2:
        raise ProofError(f"no consistency proof from {size1} to {size2}")
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size2, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(_range(store, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_range(store, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(_range(store, lo, hi))
    return proof[::-1]


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != 32 for h in hashes):
        raise ProofError("every hash has 32 bytes")


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`ProofError` unless the leaf hash is at ``index`` in the tree."""
    _check_hashes(leaf, root, *proof)
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the proof leads to another root")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2; raises :class:`ProofError` unless the tree of ``size1`` is a prefix of ``size2``'s.
    From size 0 there is nothing to prove (an error, as in the reference verifier); equal sizes need an empty
    proof and equal roots."""
    if size1 <= 0 or size2 < size1:
        raise ProofError(f"no consistency from {size1} to {size2}")
    if size1 == size2:
        if proof:
            raise ProofError("equal sizes take an empty proof")
        if root1 != root2:
            raise ProofError("equal sizes with different roots")
        return
    _check_hashes(root1, root2, *proof)
    if not proof:
        raise ProofError("an empty proof")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 a power of two: its root is the proof's first step
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than needed")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the proof is shorter than needed")
    if fr != root1 or sr != root2:
        raise ProofError("the proof does not join the two roots")


def audit(note: str, vkey: str, leaves: Sequence[bytes]) -> tuple[int, list[str]]:
    """Check a whole log against its checkpoint offline: the checkpoint's signature with the log's verifier
    key, and the root recomputed from every leaf. Returns the checkpoint's size and the problems found."""
    try:
        checkpoint = parse_checkpoint(open_note(note, NoteVerifier.from_vkey(vkey)))
    except NoteError as exc:
        return 0, [f"the checkpoint: {exc}"]
    problems = []
    if len(leaves) < checkpoint.size:
        problems.append(f"the checkpoint covers {checkpoint.size} leaves; {len(leaves)} were given")
    tree = MemoryTree()
    for data in leaves[:checkpoint.size]:
        tree.append(leaf_hash(data))
    if not problems and root_hash(tree, checkpoint.size) != checkpoint.root:
        problems.append("the leaves do not hash to the checkpoint's root (a leaf changed, dropped or inserted)")
    return checkpoint.size, problems
