"""Proofs from stored complete subtrees, in O(log n) reads.

The sequencer stores, as it integrates, the hash of every complete (perfect) subtree of the tree:
node ``(level, index)`` is MTH of leaves ``[index·2^level, (index+1)·2^level)``. Level 0 is the
leaf hash itself (kept once, in ``ledger_entries.leaf_hash``); levels ≥ 1 are in
``ledger_nodes``. A node never changes once complete, so what was stored for one tree holds for
every later one.

Every hash in an RFC 9162 proof is MTH(D[lo:hi]) of a range the recursion of §2.1.3.1 (PATH) or
§2.1.4.1 (SUBPROOF) reaches. Such a range is either a complete subtree, or — only where it ends
at the tree's own right edge — the root of an incomplete one, which is the fold of the complete
subtrees of its size's binary decomposition (at most log n of them). So a proof is computed by
planning its ranges from the sizes alone (``inclusion_ranges``, ``consistency_ranges``), reading
the few nodes they decompose into in one query, and folding (``range_hashes``). The in-memory
functions of ``gateway.ledger.rfc9162`` over all leaves stay the reference these must equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from gateway.ledger.rfc9162 import EMPTY_ROOT, ProofRangeError, node_hash

Node = tuple[int, int]
"""(level, index): the complete subtree over leaves [index·2^level, (index+1)·2^level)."""

Range = tuple[int, int]
"""[lo, hi): leaves whose MTH a proof hash is."""


def subtrees(lo: int, hi: int) -> list[Node]:
    """The complete subtrees that make up ``[lo, hi)``, left to right: at each position the
    largest aligned subtree that fits. For a range of the RFC 9162 tree (a complete subtree, or
    one ending at the tree's right edge) this is its size's binary decomposition, largest first,
    and MTH of the range is their fold from the right."""
    if not 0 <= lo < hi:
        raise ProofRangeError(f"expected a range 0 ≤ lo < hi, found [{lo}, {hi})")
    out: list[Node] = []
    pos = lo
    while pos < hi:
        # Largest power of two dividing pos (any size fits at 0), then shrink until it fits.
        level = (pos & -pos).bit_length() - 1 if pos else (hi - pos).bit_length() - 1
        while pos + (1 << level) > hi:
            level -= 1
        out.append((level, pos >> level))
        pos += 1 << level
    return out


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose MTHs make PATH(index, D[size]) (§2.1.3.1), in proof order (the leaf's
    sibling first)."""
    if not 0 <= index < size:
        raise ProofRangeError(f"expected a leaf index in [0, {size}), found {index}")
    out: list[Range] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m = lo + k, m - k
    out.reverse()
    return out


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose MTHs make PROOF(old_size, D[new_size]) (§2.1.4.1), in proof order."""
    if not 0 < old_size <= new_size:
        raise ProofRangeError(
            f"expected 0 < old size ≤ new size ({new_size}), found old size {old_size}"
        )
    out: list[Range] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while True:
        n = hi - lo
        if m == n:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    out.reverse()
    return out


def nodes_of(ranges: Iterable[Range]) -> set[Node]:
    """Every stored node the ranges decompose into: what one read must fetch."""
    return {node for lo, hi in ranges for node in subtrees(lo, hi)}


def range_hash(lo: int, hi: int, stored: Mapping[Node, bytes]) -> bytes:
    """MTH(D[lo:hi]) from the stored nodes of its decomposition (``stored`` holds them all)."""
    parts = subtrees(lo, hi)
    root = stored[parts[-1]]
    for node in reversed(parts[:-1]):
        root = node_hash(stored[node], root)
    return root


def range_hashes(ranges: Sequence[Range], stored: Mapping[Node, bytes]) -> list[bytes]:
    return [range_hash(lo, hi, stored) for lo, hi in ranges]


def root_nodes(size: int) -> set[Node]:
    """The nodes the root of the tree of ``size`` folds (its compact range)."""
    return nodes_of([(0, size)]) if size else set()


def root_from_nodes(size: int, stored: Mapping[Node, bytes]) -> bytes:
    return range_hash(0, size, stored) if size else EMPTY_ROOT
