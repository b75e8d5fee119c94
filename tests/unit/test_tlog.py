"""The transparency log's tree (signing/tlog.py): the verifiers accept exactly the valid RFC 6962 vectors
(tests/data/rfc6962: transparency-dev/merkle's test data, Apache-2.0), and the proofs our tree makes verify,
for every size and index, against roots computed the naive recursive way."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signing.tlog import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.dates

VECTORS = Path(__file__).resolve().parents[1] / "data" / "rfc6962"


def b64(items: list[str] | None) -> list[bytes]:
    return [base64.b64decode(x) for x in items or []]


def cases(kind: str) -> list[Path]:
    found = sorted((VECTORS / kind).rglob("*.json"))
    assert found, f"no {kind} vectors under {VECTORS}"
    return found


@pytest.mark.parametrize("path", cases("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    def check() -> None:
        verify_inclusion(v["leafIdx"], v["treeSize"], base64.b64decode(v["leafHash"] or ""), b64(v["proof"]),
                         base64.b64decode(v["root"] or ""))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("path", cases("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    def check() -> None:
        verify_consistency(v["size1"], v["size2"], b64(v["proof"]), base64.b64decode(v["root1"] or ""),
                           base64.b64decode(v["root2"] or ""))
    if v["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def naive_root(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(naive_root(leaves[:k]), naive_root(leaves[k:]))


def tree_of(n: int) -> tuple[MemoryTree, list[bytes]]:
    tree, leaves = MemoryTree(), [leaf_hash(f"leaf {i}".encode()) for i in range(n)]
    for leaf in leaves:
        tree.append(leaf)
    return tree, leaves


def test_every_proof_of_small_trees_verifies() -> None:
    tree, leaves = tree_of(40)
    for size in range(1, 41):
        root = root_hash(tree, size)
        assert root == naive_root(leaves[:size])
        for index in range(size):
            verify_inclusion(index, size, leaves[index], inclusion_proof(tree, index, size), root)
        for size1 in range(1, size + 1):
            verify_consistency(size1, size, consistency_proof(tree, size1, size), root_hash(tree, size1), root)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.data())
def test_proofs_of_larger_trees_verify_and_a_changed_leaf_does_not(n: int, data: st.DataObject) -> None:
    tree, leaves = tree_of(n)
    root = root_hash(tree, n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = inclusion_proof(tree, index, n)
    verify_inclusion(index, n, leaves[index], proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(index, n, leaf_hash(b"another leaf"), proof, root)
    size1 = data.draw(st.integers(min_value=1, max_value=n))
    verify_consistency(size1, n, consistency_proof(tree, size1, n), root_hash(tree, size1), root)
    if size1 < n:  # a log that rewrote a leaf before size1 cannot prove itself consistent with the old root
        forged = MemoryTree()
        for i, leaf in enumerate(leaves):
            forged.append(leaf_hash(b"rewritten") if i == 0 else leaf)
        with pytest.raises(ProofError):
            verify_consistency(size1, n, consistency_proof(forged, size1, n), root_hash(tree, size1),
                               root_hash(forged, n))
