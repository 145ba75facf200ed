"""Merkle tree hashing, compact ranges and proofs, following RFC 9162 §2.1.

Leaves are hashed as SHA-256(0x00 ‖ entry) and interior nodes as SHA-256(0x01 ‖ left ‖ right)
(§2.1.1), so a leaf can never be passed off as a node. The tree over n leaves splits at the
largest power of two below n; the compact range keeps one hash per perfect subtree of that split
(the binary decomposition of the size), enough to extend the tree and compute its root without
the leaves. Proof generation follows §2.1.3.1 (PATH) and §2.1.4.1 (PROOF/SUBPROOF); verification
follows §2.1.3.2 and §2.1.4.2 and checks sizes, bounds and proof lengths before it hashes, in the
shape of transparency-dev/merkle's ``proof`` package and sigstore-python's ``merkle.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Sequence

from aidbridge_verify import merkle
from aidbridge_verify.errors import VerificationError
from gateway.errors import InvalidArgument

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) — the root of the empty tree (§2.1.1)."""


class ProofError(InvalidArgument):
    """A proof did not verify."""


class InclusionProofError(ProofError):
    """An inclusion proof (§2.1.3.2) did not verify."""


class ConsistencyProofError(ProofError):
    """A consistency proof (§2.1.4.2) did not verify."""


class ProofRangeError(InvalidArgument, ValueError):
    """A proof was asked for positions the tree does not have."""


class CompactRangeError(InvalidArgument):
    """A stored compact range does not fit the tree size it claims."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


class CompactRange:
    """The hashes of the perfect subtrees covering leaves [0, size), largest (leftmost) first."""

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash (already hashed with ``leaf_hash``)."""
        if len(leaf) != HASH_SIZE:
            raise CompactRangeError(
                f"expected a {HASH_SIZE}-byte leaf hash, found {len(leaf)} bytes"
            )
        hashes = self._hashes
        hashes.append(leaf)
        # Each trailing 1-bit of the old size is a perfect subtree as large as everything after
        # it: merge pairs until the decomposition matches the new size again.
        size = self._size
        while size & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
        self._size += 1

    def append_nodes(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """``append``, returning the interior nodes the leaf completes as (level, index, hash):
        node (L, i) is MTH of leaves [i·2^L, (i+1)·2^L). Each merge of ``append`` is one."""
        if len(leaf) != HASH_SIZE:
            raise CompactRangeError(
                f"expected a {HASH_SIZE}-byte leaf hash, found {len(leaf)} bytes"
            )
        position = self._size
        hashes = self._hashes
        hashes.append(leaf)
        completed = []
        size, level = position, 0
        while size & 1:
            right = hashes.pop()
            hashes[-1] = node_hash(hashes[-1], right)
            size >>= 1
            level += 1
            completed.append((level, position >> level, hashes[-1]))
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        """MTH of the leaves so far: fold the subtrees from the smallest (rightmost) up."""
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root

    def to_json(self) -> str:
        return json.dumps([base64.b64encode(h).decode("ascii") for h in self._hashes])

    @classmethod
    def from_json(cls, size: int, text: str) -> CompactRange:
        """Rebuild the range of a tree of ``size`` leaves from ``to_json`` output."""
        if size < 0:
            raise CompactRangeError(f"expected a tree size ≥ 0, found {size}")
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise CompactRangeError(f"expected a JSON list of base64 hashes: {exc}") from exc
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise CompactRangeError("expected a JSON list of base64 hashes")
        want = size.bit_count()
        if len(items) != want:
            raise CompactRangeError(
                f"a tree of size {size} has {want} subtree hashes, found {len(items)}"
            )
        hashes = []
        for pos, item in enumerate(items):
            try:
                digest = base64.b64decode(item, validate=True)
            except binascii.Error as exc:
                raise CompactRangeError(f"subtree hash {pos} is not base64: {exc}") from exc
            if len(digest) != HASH_SIZE:
                raise CompactRangeError(
                    f"subtree hash {pos}: expected {HASH_SIZE} bytes, found {len(digest)}"
                )
            hashes.append(digest)
        compact = cls()
        compact._size = size
        compact._hashes = hashes
        return compact


def root_from_leaf_hashes(hashes: Iterable[bytes]) -> bytes:
    """MTH(D[n]) for leaves already hashed with ``leaf_hash`` (§2.1.1)."""
    compact = CompactRange()
    compact.extend(hashes)
    return compact.root()


def _split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), where §2.1.1 splits the tree."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of §2.1.3.1 over the first ``size`` of ``leaf_hashes``."""
    if not 0 <= index < size:
        raise ProofRangeError(f"expected a leaf index in [0, {size}), found {index}")
    if size > len(leaf_hashes):
        raise ProofRangeError(
            f"expected a tree size ≤ {len(leaf_hashes)} (the leaves held), found {size}"
        )
    return _path(leaf_hashes, index, 0, size)


def _path(leaves: Sequence[bytes], m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves, m, lo, lo + k), _subtree_root(leaves, lo + k, hi)]
    return [*_path(leaves, m - k, lo + k, hi), _subtree_root(leaves, lo, lo + k)]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of §2.1.4.1 over the first ``new_size`` of ``leaf_hashes``."""
    if new_size > len(leaf_hashes):
        raise ProofRangeError(
            f"expected a new tree size ≤ {len(leaf_hashes)} (the leaves held), found {new_size}"
        )
    if not 0 < old_size <= new_size:
        raise ProofRangeError(
            f"expected 0 < old size ≤ new size ({new_size}), found old size {old_size}"
        )
    return _subproof(leaf_hashes, old_size, 0, new_size, True)


def _subproof(leaves: Sequence[bytes], m: int, lo: int, hi: int, whole: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        # The old tree is this whole subtree: its root is known to the verifier only if it is
        # the old tree itself (``whole``); otherwise it must be given.
        return [] if whole else [_subtree_root(leaves, lo, hi)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves, m, lo, lo + k, whole), _subtree_root(leaves, lo + k, hi)]
    return [*_subproof(leaves, m - k, lo + k, hi, False), _subtree_root(leaves, lo, lo + k)]


def _subtree_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    compact = CompactRange()
    for i in range(lo, hi):
        compact.append(leaves[i])
    return compact.root()


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``
    (§2.1.3.2). Raises InclusionProofError; returns None when the proof holds. The algorithm is
    the standalone verifier's (``aidbridge_verify.merkle``), so the gateway and an officer's
    offline check verify a proof with the same code."""
    try:
        merkle.verify_inclusion(leaf, index, size, proof, root)
    except VerificationError as exc:
        raise InclusionProofError(exc.message) from None


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the tree of ``old_size``
    with ``old_root`` (§2.1.4.2; a proof from size 0 proves nothing, so it is refused). Raises
    ConsistencyProofError; returns None when it holds. The standalone verifier's algorithm."""
    try:
        merkle.verify_consistency(old_size, new_size, proof, old_root, new_root)
    except VerificationError as exc:
        raise ConsistencyProofError(exc.message) from None
