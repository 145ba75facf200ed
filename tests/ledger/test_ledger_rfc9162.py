"""RFC 9162 §2.1 hashing and proofs, pinned by the transparency-dev/merkle reference vectors
(read from ../shared/vectors/rfc9162, never copied here) and by properties of generated proofs."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ledger.rfc9162 import (
    EMPTY_ROOT,
    CompactRange,
    CompactRangeError,
    ConsistencyProofError,
    InclusionProofError,
    ProofRangeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

from .vectors import load_vectors_from_file, require_vectors, vector_files, vector_params


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(items: list[str] | None) -> list[bytes]:
    return [_b64(i) for i in items or []]


def _reference_mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as written in §2.1.1 (recursive), to check the compact range against."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


@pytest.mark.parametrize("path", vector_params("rfc9162", "inclusion"))
def test_inclusion_vector_verifies_or_fails_as_the_reference_says(path: Path | None) -> None:
    require_vectors("rfc9162", "inclusion")
    assert path is not None
    v = load_vectors_from_file(path, dict)
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(InclusionProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", vector_params("rfc9162", "consistency"))
def test_consistency_vector_verifies_or_fails_as_the_reference_says(path: Path | None) -> None:
    require_vectors("rfc9162", "consistency")
    assert path is not None
    v = load_vectors_from_file(path, dict)
    args = (v["size1"], v["size2"], _proof(v["proof"]), _b64(v["root1"]), _b64(v["root2"]))
    if v["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_generated_inclusion_proofs_equal_the_reference_happy_paths() -> None:
    require_vectors("rfc9162", "inclusion")
    # The reference tree is the 8 leaves of RFC 6962's test data; its happy-path vectors pin the
    # proofs our generator must produce, not just ones our verifier accepts.
    leaves = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ]
    hashes = [leaf_hash(x) for x in leaves]
    checked = 0
    for path in vector_files("rfc9162", "inclusion"):
        v = load_vectors_from_file(path, dict)
        if path.name != "happy-path.json" or v["treeSize"] > len(hashes):
            continue
        if _b64(v["leafHash"]) != hashes[v["leafIdx"]]:
            continue
        assert inclusion_proof(hashes, v["leafIdx"], v["treeSize"]) == _proof(v["proof"])
        assert root_from_leaf_hashes(hashes[: v["treeSize"]]) == _b64(v["root"])
        checked += 1
    assert checked > 0


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert root_from_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert leaf_hash(a + b) != node_hash(a, b)


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_compact_range_root_equals_the_recursive_definition(leaves: list[bytes]) -> None:
    compact = CompactRange()
    compact.extend(leaf_hash(x) for x in leaves)
    assert compact.size == len(leaves)
    assert len(compact.hashes) == len(leaves).bit_count()
    assert compact.root() == _reference_mth(leaves)


@given(st.lists(st.binary(max_size=4), max_size=40), st.lists(st.binary(max_size=4), max_size=40))
def test_compact_range_survives_a_json_round_trip_and_keeps_growing(
    first: list[bytes], second: list[bytes]
) -> None:
    compact = CompactRange()
    compact.extend(leaf_hash(x) for x in first)
    restored = CompactRange.from_json(compact.size, compact.to_json())
    restored.extend(leaf_hash(x) for x in second)
    assert restored.root() == _reference_mth(first + second)


def test_compact_range_from_json_refuses_a_size_that_does_not_fit() -> None:
    compact = CompactRange()
    compact.extend(leaf_hash(bytes([i])) for i in range(6))
    with pytest.raises(CompactRangeError, match="a tree of size 7 has 3 subtree hashes, found 2"):
        CompactRange.from_json(7, compact.to_json())


@st.composite
def _tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    leaves = draw(st.lists(st.binary(max_size=6), min_size=1, max_size=80))
    size = draw(st.integers(1, len(leaves)))
    index = draw(st.integers(0, size - 1))
    return [leaf_hash(x) for x in leaves], index, size


@st.composite
def _tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    leaves = draw(st.lists(st.binary(max_size=6), min_size=1, max_size=80))
    new = draw(st.integers(1, len(leaves)))
    old = draw(st.integers(1, new))
    return [leaf_hash(x) for x in leaves], old, new


def _flip(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    out = bytearray(value)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@settings(max_examples=200)
@given(_tree_and_index(), st.integers(min_value=0), st.data())
def test_generated_inclusion_proofs_verify_and_any_flipped_bit_fails(
    tree: tuple[list[bytes], int, int], bit: int, data: st.DataObject
) -> None:
    hashes, index, size = tree
    root = root_from_leaf_hashes(hashes[:size])
    proof = inclusion_proof(hashes, index, size)
    verify_inclusion(hashes[index], index, size, proof, root)

    target = data.draw(st.sampled_from(["leaf", "root", *(["proof"] if proof else [])]))
    leaf, bad_root, bad_proof = hashes[index], root, list(proof)
    if target == "leaf":
        leaf = _flip(leaf, bit)
    elif target == "root":
        bad_root = _flip(root, bit)
    else:
        pos = data.draw(st.integers(0, len(proof) - 1))
        bad_proof[pos] = _flip(proof[pos], bit)
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf, index, size, bad_proof, bad_root)


@settings(max_examples=200)
@given(_tree_and_sizes(), st.integers(min_value=0), st.data())
def test_generated_consistency_proofs_verify_and_any_flipped_bit_fails(
    tree: tuple[list[bytes], int, int], bit: int, data: st.DataObject
) -> None:
    hashes, old, new = tree
    old_root = root_from_leaf_hashes(hashes[:old])
    new_root = root_from_leaf_hashes(hashes[:new])
    proof = consistency_proof(hashes, old, new)
    verify_consistency(old, new, proof, old_root, new_root)

    target = data.draw(st.sampled_from(["old", "new", *(["proof"] if proof else [])]))
    bad_old, bad_new, bad_proof = old_root, new_root, list(proof)
    if target == "old":
        bad_old = _flip(old_root, bit)
    elif target == "new":
        bad_new = _flip(new_root, bit)
    else:
        pos = data.draw(st.integers(0, len(proof) - 1))
        bad_proof[pos] = _flip(proof[pos], bit)
    with pytest.raises(ConsistencyProofError):
        verify_consistency(old, new, bad_proof, bad_old, bad_new)


def test_inclusion_proof_refuses_an_index_outside_the_tree() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(4)]
    with pytest.raises(ProofRangeError, match=r"expected a leaf index in \[0, 4\), found 4"):
        inclusion_proof(hashes, 4, 4)
    with pytest.raises(ProofRangeError, match="expected a tree size ≤ 4"):
        inclusion_proof(hashes, 0, 5)


def test_consistency_proof_refuses_sizes_out_of_order_or_from_empty() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(4)]
    with pytest.raises(ProofRangeError, match="found old size 3"):
        consistency_proof(hashes, 3, 2)
    with pytest.raises(ProofRangeError, match="found old size 0"):
        consistency_proof(hashes, 0, 2)


def test_inclusion_error_says_how_many_hashes_were_expected() -> None:
    hashes = [leaf_hash(bytes([i])) for i in range(8)]
    root = root_from_leaf_hashes(hashes)
    proof = inclusion_proof(hashes, 3, 8)
    with pytest.raises(
        InclusionProofError, match="expected 3 proof hashes for leaf 3 of 8, found 2"
    ):
        verify_inclusion(hashes[3], 3, 8, proof[:2], root)


def test_missing_vectors_skip_locally_and_fail_under_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import vectors

    monkeypatch.setattr(vectors, "VECTORS_ROOT", tmp_path / "nowhere")
    assert vector_params("rfc9162", "inclusion")[0].values == (None,)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="expected reference vectors under"):
        require_vectors("rfc9162", "inclusion")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="found none"):
        require_vectors("rfc9162", "inclusion")


def test_vectors_are_looked_for_beside_the_repository_root_not_at_an_absolute_path() -> None:
    from . import vectors

    if os.environ.get("AIDBRIDGE_VECTORS"):
        pytest.skip("AIDBRIDGE_VECTORS overrides the default location in this run")
    assert Path(__file__).resolve().parents[2] == vectors.REPO_ROOT
    assert vectors.REPO_ROOT / ".." / "shared" / "vectors" == vectors.VECTORS_ROOT
