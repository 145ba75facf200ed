"""RFC 9162 §2.1 Merkle tree hashing and proof verification, self-contained (stdlib only).

The leaf hash is SHA-256(0x00 ‖ entry), an interior node SHA-256(0x01 ‖ left ‖ right), and the
root of the empty tree SHA-256(""). Sizes, indices and hash lengths are checked before anything
is computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from aidbridge_verify.errors import ConsistencyError, InclusionError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_TREE_SIZE = 1 << 62
_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


class CompactRange:
    """The roots of the perfect subtrees of the leaves appended so far (one per set bit of the
    size, largest first): O(log n) memory, one amortised node hash per leaf."""

    __slots__ = ("_hashes", "size")

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        hashes = self._hashes
        size = self.size
        node = leaf
        while size & 1:
            node = _sha256(b"\x01" + hashes.pop() + node).digest()
            size >>= 1
        hashes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = node_hash(left, node)
        return node


def root_of(leaves: Sequence[bytes]) -> bytes:
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    return compact.root()


def _check_hash(what: str, value: bytes, error: type[InclusionError | ConsistencyError]) -> None:
    if len(value) != HASH_SIZE:
        raise error(f"{what}: expected {HASH_SIZE} bytes, found {len(value)}")


def _decomp(index: int, size: int) -> tuple[int, int]:
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf hash ``leaf`` is at ``index`` of the tree of ``size`` with ``root``
    (§2.1.3.2). Raises InclusionError."""
    if not 0 <= size <= MAX_TREE_SIZE:
        raise InclusionError(f"expected a tree size in [0, 2^62], found {size}")
    if not 0 <= index < size:
        raise InclusionError(f"expected a leaf index in [0, {size}), found {index}")
    _check_hash("leaf hash", leaf, InclusionError)
    _check_hash("root", root, InclusionError)
    inner, border = _decomp(index, size)
    if len(proof) != inner + border:
        raise InclusionError(
            f"expected {inner + border} proof hashes for leaf {index} of {size}, found {len(proof)}"
        )
    for pos, item in enumerate(proof):
        _check_hash(f"proof hash {pos}", item, InclusionError)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InclusionError("the proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionError("the proof is shorter than the path to the root")
    if r != root:
        raise InclusionError(f"expected root {root.hex()}, the proof leads to {r.hex()}")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size``/``new_root`` extends ``old_size``/``old_root``
    (§2.1.4.2). Raises ConsistencyError."""
    if not 1 <= old_size <= MAX_TREE_SIZE:
        raise ConsistencyError(f"expected an old tree size in [1, 2^62], found {old_size}")
    if not old_size <= new_size <= MAX_TREE_SIZE:
        raise ConsistencyError(f"expected a new tree size in [{old_size}, 2^62], found {new_size}")
    if old_size == new_size:
        if proof:
            raise ConsistencyError(
                f"expected an empty proof between equal sizes, found {len(proof)} hashes"
            )
        if old_root != new_root:
            raise ConsistencyError(
                f"equal sizes need equal roots: old {old_root.hex()}, new {new_root.hex()}"
            )
        return
    _check_hash("old root", old_root, ConsistencyError)
    _check_hash("new root", new_root, ConsistencyError)
    inner, border = _decomp(old_size - 1, new_size)
    shift = (old_size & -old_size).bit_length() - 1
    inner -= shift
    old_is_perfect = old_size == 1 << shift
    start = 0 if old_is_perfect else 1
    if len(proof) != start + inner + border:
        raise ConsistencyError(
            f"expected {start + inner + border} proof hashes from size {old_size} to "
            f"{new_size}, found {len(proof)}"
        )
    for pos, item in enumerate(proof):
        _check_hash(f"proof hash {pos}", item, ConsistencyError)
    path = [old_root, *proof] if old_is_perfect else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyError("the proof is longer than the path to the new root")
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
        raise ConsistencyError("the proof is shorter than the path to the new root")
    if fr != old_root:
        raise ConsistencyError(f"expected old root {old_root.hex()}, the proof leads to {fr.hex()}")
    if sr != new_root:
        raise ConsistencyError(f"expected new root {new_root.hex()}, the proof leads to {sr.hex()}")
