"""The standalone verifier's own RFC 9162 code against every transparency-dev/merkle reference
vector (../shared/vectors/rfc9162), and its roots against the gateway's tree."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from aidbridge_verify.errors import ConsistencyError, InclusionError
from aidbridge_verify.merkle import (
    EMPTY_ROOT,
    CompactRange,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from gateway.ledger.rfc9162 import root_from_leaf_hashes
from tests.ledger.vectors import load_vectors_from_file, require_vectors, vector_params


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(items: list[str] | None) -> list[bytes]:
    return [_b64(i) for i in items or []]


@pytest.mark.parametrize("path", vector_params("rfc9162", "inclusion"))
def test_inclusion_vector_verifies_or_fails_as_the_reference_says(path: Path | None) -> None:
    require_vectors("rfc9162", "inclusion")
    assert path is not None
    v = load_vectors_from_file(path, dict)
    args = (_b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v["proof"]), _b64(v["root"]))
    if v["wantErr"]:
        with pytest.raises(InclusionError):
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
        with pytest.raises(ConsistencyError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def _reference_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(_reference_mth(leaves[:k]), _reference_mth(leaves[k:]))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 31, 64, 100])
def test_the_compact_range_gives_the_rfc_root_and_the_gateways(n: int) -> None:
    leaves = [bytes([i % 256]) * (i % 5) for i in range(n)]
    hashes = [leaf_hash(x) for x in leaves]
    compact = CompactRange()
    for h in hashes:
        compact.append(h)
    assert compact.size == n
    assert compact.root() == root_of(hashes) == _reference_mth(leaves)
    assert compact.root() == root_from_leaf_hashes(hashes)


def test_bounds_are_checked_before_anything_is_hashed() -> None:
    with pytest.raises(InclusionError, match="leaf index in"):
        verify_inclusion(b"\0" * 32, 5, 5, [], b"\0" * 32)
    with pytest.raises(InclusionError, match="tree size"):
        verify_inclusion(b"\0" * 32, 0, 1 << 63, [], b"\0" * 32)
    with pytest.raises(InclusionError, match="leaf hash: expected 32 bytes"):
        verify_inclusion(b"\0" * 31, 0, 1, [], b"\0" * 32)
    with pytest.raises(ConsistencyError, match="new tree size"):
        verify_consistency(4, 3, [], b"\0" * 32, b"\0" * 32)
