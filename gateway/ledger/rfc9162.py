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


def _decomp_inclusion_proof(index: int, size: int) -> tuple[int, int]:
    """How many proof hashes sit below the point where the leaf's path leaves the tree's right
    border (``inner``), and how many on that border (``border``)."""
    inner = (index ^ (size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner, border


def _check_hash(what: str, value: bytes, error: type[ProofError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what}: expected {HASH_SIZE} bytes, found {len(value)}")


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``
    (§2.1.3.2). Raises InclusionProofError; returns None when the proof holds."""
    if not 0 <= index < size:
        raise InclusionProofError(f"expected a leaf index in [0, {size}), found {index}")
    _check_hash("leaf hash", leaf, InclusionProofError)
    _check_hash("root", root, InclusionProofError)
    inner, border = _decomp_inclusion_proof(index, size)
    if len(proof) != inner + border:
        raise InclusionProofError(
            f"expected {inner + border} proof hashes for leaf {index} of {size}, found {len(proof)}"
        )
    for pos, item in enumerate(proof):
        _check_hash(f"proof hash {pos}", item, InclusionProofError)
    computed = _root_from_inclusion(leaf, index, size, proof)
    if computed != root:
        raise InclusionProofError(
            f"expected root {root.hex()}, the proof leads to {computed.hex()}"
        )


def _root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InclusionProofError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right border: skip the levels where this node has no sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofError("the proof is shorter than the path to the root")
    return r


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the tree of ``old_size``
    with ``old_root`` (§2.1.4.2). Raises ConsistencyProofError; returns None when it holds."""
    if old_size < 1:
        # Every tree extends the empty one; a proof from size 0 proves nothing, so asking for
        # it is a caller's mistake (as in the reference vectors).
        raise ConsistencyProofError(f"expected an old tree size ≥ 1, found {old_size}")
    if new_size < old_size:
        raise ConsistencyProofError(
            f"expected a new tree size ≥ the old size {old_size}, found {new_size}"
        )
    if old_size == new_size:
        if proof:
            raise ConsistencyProofError(
                f"expected an empty proof between equal sizes, found {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ConsistencyProofError(
                f"equal sizes need equal roots: old {old_root.hex()}, new {new_root.hex()}"
            )
        return
    _check_hash("old root", old_root, ConsistencyProofError)
    _check_hash("new root", new_root, ConsistencyProofError)
    # The old tree's right border starts above its trailing perfect subtree; if the old tree is
    # itself perfect its root is the first hash and the proof omits it (§2.1.4.1).
    inner, border = _decomp_inclusion_proof(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    old_is_perfect = old_size == 1 << shift
    start = 0 if old_is_perfect else 1
    if len(proof) != start + inner + border:
        raise ConsistencyProofError(
            f"expected {start + inner + border} proof hashes from size {old_size} to "
            f"{new_size}, found {len(proof)}"
        )
    for pos, item in enumerate(proof):
        _check_hash(f"proof hash {pos}", item, ConsistencyProofError)
    path = [old_root, *proof] if old_is_perfect else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("the proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyProofError("the proof is shorter than the path to the new root")
    if fr != old_root:
        raise ConsistencyProofError(
            f"expected old root {old_root.hex()}, the proof leads to {fr.hex()}"
        )
    if sr != new_root:
        raise ConsistencyProofError(
            f"expected new root {new_root.hex()}, the proof leads to {sr.hex()}"
        )
