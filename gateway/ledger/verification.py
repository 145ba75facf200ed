"""Verification of the ledger as stored: every entry, index, authenticator and checkpoint.

``verify`` recomputes the whole sequenced log from its entry text and reports, by index, every
place where the database no longer agrees with itself, with the gateway's authenticators
(``gateway.ledger.authenticator``) or with its signed checkpoints (C2SP signed notes, checked
with the verifier key the caller trusts). The entry tag names an entry whose text changed; the
position tag names an entry that is not the one the sequencer put at that index (a swap, an
insertion, a renumbering). Entries still queued and rows the sequencer rejected are reported
too. Given a checkpoint the officer kept earlier, ``verify`` also proves with an RFC 9162
consistency proof (§2.1.4) that the current tree extends it, so a store rolled back to an
earlier state, or rewritten into a fork, fails. The stored complete subtrees that proofs are
served from (``ledger_nodes``) are recomputed too: a node that disagrees with the entries is named.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from gateway.ledger.entry import PLAIN_COLUMNS
from gateway.ledger.offline import VerifyReport
from gateway.ledger.rfc9162 import (
    CompactRange,
    ConsistencyProofError,
    consistency_proof,
    leaf_hash,
    verify_consistency,
)
from gateway.ledger.sequencer import STATE_ID
from gateway.store import Store
from gateway.store.models import (
    LedgerCheckpoint,
    LedgerEntry,
    LedgerNode,
    LedgerRejectedEntry,
    LedgerState,
)

_MAX_PROBLEMS = 1000  # a wholesale rewrite would otherwise produce one line per entry
_READ_BATCH = 5000


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append(message)
        else:
            self.dropped += 1

    def result(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"… and {self.dropped} more problems"]
        return list(self.items)


@dataclass
class _StoredCheckpoint:
    size: int
    root: bytes
    note: str


class _CheckpointAudit:
    """Checks each stored checkpoint as the recomputed tree reaches its size."""

    def __init__(self, checkpoints: list[_StoredCheckpoint], vkey: str, problems: _Problems):
        self._pending = checkpoints
        self._next = 0
        self._vkey = vkey
        self._problems = problems

    def reached(self, compact: CompactRange) -> None:
        # The root costs O(log n) hashes: compute it only where a checkpoint needs it.
        size = compact.size
        while self._next < len(self._pending) and self._pending[self._next].size <= size:
            cp = self._pending[self._next]
            self._next += 1
            if cp.size == size:
                self._check(cp, compact.root())

    def _check(self, cp: _StoredCheckpoint, recomputed: bytes) -> None:
        where = f"checkpoint at size {cp.size}"
        if cp.root != recomputed:
            self._problems.add(
                f"{where}: stored root {cp.root.hex()} is not the root of entries "
                f"0..{cp.size - 1} ({recomputed.hex()})"
            )
        try:
            signed = open_checkpoint(cp.note, self._vkey)
        except CheckpointError as exc:
            self._problems.add(f"{where}: {exc.message}")
            return
        if signed.size != cp.size:
            self._problems.add(f"{where}: its note is signed for size {signed.size}")
        elif signed.root != recomputed:
            self._problems.add(
                f"{where}: the signed root {signed.root.hex()} is not the root of entries "
                f"0..{cp.size - 1} ({recomputed.hex()})"
            )

    def unreached(self) -> list[_StoredCheckpoint]:
        return self._pending[self._next :]


class _NodeAudit:
    """Compares the nodes the recomputed tree completes with the stored ones, a window of
    entries at a time: each level's nodes of a window are one range of its primary key."""

    def __init__(self, session: Session, problems: _Problems) -> None:
        self._session = session
        self._problems = problems
        self._pending: list[tuple[int, int, bytes]] = []
        self.checked = 0
        self.named: list[int] = []  # entries already named as altered, in index order

    def add(self, nodes: list[tuple[int, int, bytes]]) -> None:
        self._pending.extend(nodes)
        if len(self._pending) >= _READ_BATCH:
            self.flush()

    def flush(self) -> None:
        by_level: dict[int, dict[int, bytes]] = {}
        for level, index, digest in self._pending:
            by_level.setdefault(level, {})[index] = digest
        self._pending.clear()
        for level, expected in sorted(by_level.items()):
            stored = dict(
                self._session.execute(
                    select(LedgerNode.idx, LedgerNode.hash).where(
                        LedgerNode.level == level,
                        LedgerNode.idx >= min(expected),
                        LedgerNode.idx <= max(expected),
                    )
                ).all()
            )
            for index, digest in sorted(expected.items()):
                self.checked += 1
                found = stored.get(index)
                first, last = index << level, ((index + 1) << level) - 1
                # A node over an entry already named differs because of it: said once, there.
                at = bisect.bisect_left(self.named, first)
                if at < len(self.named) and self.named[at] <= last:
                    continue
                if found is None or bytes(found) != digest:
                    state = "missing" if found is None else "does not match the entries"
                    self._problems.add(
                        f"stored node (level {level}, index {index}) over entries {first}..{last}: "
                        f"{state}; proofs served from it would not verify"
                    )


def _entry_problems(
    idx: int, row: Any, entry: bytes, leaf: bytes, authenticator: EntryAuthenticator
) -> Iterator[str]:
    """Where a sequenced row disagrees with its own entry text (hashed to ``leaf``) or with the
    gateway's tags. The text is not re-checked for canonical form: the tree commits to it byte
    for byte."""
    where = f"entry {idx}"
    if row.entry_mac is None:
        yield f"{where}: carries no entry authenticator: not written by this gateway"
    elif not authenticator.entry_ok(entry, row.entry_mac):
        yield f"{where}: entry_json does not match its authenticator: altered after it was written"
    elif not authenticator.position_ok(idx, leaf, row.position_mac):
        yield (
            f"{where}: not the entry the sequencer put at index {idx} (its position "
            "authenticator does not match): moved, swapped or inserted"
        )
    if leaf != row.leaf_hash:
        yield f"{where}: stored leaf_hash does not match the hash of its entry_json"
    try:
        document = json.loads(entry)
    except ValueError:
        yield f"{where}: entry_json is not JSON"
        return
    if not isinstance(document, dict):
        yield f"{where}: entry_json is not a JSON object"
        return
    for column in PLAIN_COLUMNS:
        stored, entered = getattr(row, column), document.get(column)
        if stored != entered:
            yield f"{where}: column {column} is {stored!r} but the entry says {entered!r}"


def verify(
    store: Store,
    vkey: str,
    authenticator: EntryAuthenticator,
    *,
    trusted_checkpoint: str | None = None,
) -> VerifyReport:
    """Recompute the whole sequenced log from its entry text and check it against the gateway's
    authenticators, every stored checkpoint and the sequencer state; if ``trusted_checkpoint``
    (a signed note kept by the verifier) is given, prove the current tree extends it. Every
    disagreement is a problem naming where."""
    problems = _Problems()
    first: list[str] = []  # problems that must not be crowded out by per-entry ones
    trusted: Checkpoint | None = None
    if trusted_checkpoint is not None:
        try:
            trusted = open_checkpoint(trusted_checkpoint, vkey)
        except CheckpointError as exc:
            first.append(f"trusted checkpoint: {exc.message}")
    compact = CompactRange()
    leaves: list[bytes] | None = [] if trusted is not None else None
    missing_from: int | None = None
    with store.read() as s:
        if s.get_bind().dialect.name == "postgresql":
            # One snapshot for all the reads below, so a concurrent integrate is not a problem.
            s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        checkpoints = [
            _StoredCheckpoint(r.tree_size, r.root_hash, r.note)
            for r in s.execute(
                select(
                    LedgerCheckpoint.tree_size, LedgerCheckpoint.root_hash, LedgerCheckpoint.note
                ).order_by(LedgerCheckpoint.tree_size)
            )
        ]
        audit = _CheckpointAudit(checkpoints, vkey, problems)
        audit.reached(compact)
        nodes = _NodeAudit(s, problems)
        state = s.get(LedgerState, STATE_ID)
        rows = s.execute(
            select(
                LedgerEntry.idx,
                LedgerEntry.entry_json,
                LedgerEntry.leaf_hash,
                LedgerEntry.entry_mac,
                LedgerEntry.position_mac,
                *(getattr(LedgerEntry, c) for c in PLAIN_COLUMNS),
            )
            .where(LedgerEntry.idx.is_not(None))
            .order_by(LedgerEntry.idx)
            .execution_options(yield_per=_READ_BATCH)
        )
        expected = 0
        for row in rows:
            idx = row.idx
            if idx < expected:
                problems.add(f"entry {idx}: index out of range (expected {expected} next)")
                continue
            if idx > expected:
                missing = f"{expected}" if idx == expected + 1 else f"{expected}..{idx - 1}"
                problems.add(f"entry {missing} missing: indices jump from {expected - 1} to {idx}")
                missing_from = expected if missing_from is None else missing_from
            expected = idx + 1
            entry = row.entry_json.encode("utf-8")
            leaf = leaf_hash(entry)
            for problem in _entry_problems(idx, row, entry, leaf, authenticator):
                problems.add(problem)
                if not nodes.named or nodes.named[-1] != idx:
                    nodes.named.append(idx)
            completed = compact.append_nodes(leaf)
            if leaves is not None:
                leaves.append(leaf)
            if missing_from is None:
                audit.reached(compact)
                # Past a gap the recomputed tree is not the stored one: nothing to compare.
                nodes.add(completed)
        nodes.flush()
        size = expected
        root = compact.root()
        for cp in audit.unreached():
            if missing_from is not None and cp.size <= size:
                problems.add(
                    f"checkpoint at size {cp.size}: cannot be recomputed, entry {missing_from} "
                    "is missing"
                )
            else:
                problems.add(
                    f"checkpoint at size {cp.size}: the log holds only {size} sequenced entries; "
                    f"entry {size}..{cp.size - 1} missing"
                )
        latest = checkpoints[-1].size if checkpoints else 0
        if size and latest < size:
            problems.add(
                f"the latest checkpoint covers {latest} entries but the log holds {size}: "
                f"entry {latest}..{size - 1} not covered by any signed checkpoint"
            )
        if state is not None and (state.tree_size, state.root_hash) != (size, root):
            problems.add(
                f"sequencer state says size {state.tree_size} root {state.root_hash.hex()}, "
                f"the entries give size {size} root {root.hex()}"
            )
        queued = _check_queued(s, authenticator, problems)
        rejected = _report_rejected(s, problems)
    trusted_size: int | None = None
    if trusted is not None and leaves is not None:
        problem = _extends(trusted, leaves, root)
        if problem:
            first.append(problem)
        else:
            trusted_size = trusted.size
    found = first + problems.result()
    return VerifyReport(
        ok=not found,
        tree_size=size,
        root=root,
        problems=found,
        queued=queued,
        rejected=rejected,
        trusted_size=trusted_size,
    )


def _check_queued(s: Session, authenticator: EntryAuthenticator, problems: _Problems) -> int:
    """Count the entries waiting for the sequencer; a queued row without a valid entry tag is a
    problem now (the sequencer will refuse it), named by its row id since it has no index."""
    count = 0
    rows = s.execute(
        select(LedgerEntry.id, LedgerEntry.entry_json, LedgerEntry.entry_mac)
        .where(LedgerEntry.idx.is_(None))
        .order_by(LedgerEntry.id)
        .execution_options(yield_per=_READ_BATCH)
    )
    for row in rows:
        count += 1
        if not authenticator.entry_ok(row.entry_json.encode("utf-8"), row.entry_mac):
            problems.add(
                f"queued row id {row.id}: no valid entry authenticator: not written by this "
                "gateway (the sequencer will refuse it)"
            )
    return count


def _report_rejected(s: Session, problems: _Problems) -> int:
    count = s.execute(select(func.count()).select_from(LedgerRejectedEntry)).scalar_one()
    rows = s.execute(
        select(LedgerRejectedEntry.entry_id, LedgerRejectedEntry.reason)
        .order_by(LedgerRejectedEntry.id)
        .limit(_MAX_PROBLEMS)
    )
    for row in rows:
        problems.add(
            f"rejected row id {row.entry_id}: {row.reason}; never sequenced or signed "
            "(kept in ledger_rejected_entries)"
        )
    return int(count)


def _extends(trusted: Checkpoint, leaves: list[bytes], root: bytes) -> str:
    """'' if the tree of ``leaves`` (root ``root``) extends ``trusted``, else the problem."""
    size = len(leaves)
    where = f"trusted checkpoint at size {trusted.size}"
    if trusted.size > size:
        return (
            f"{where}: the ledger now holds only {size} sequenced entries: the store was rolled "
            "back or truncated"
        )
    if trusted.size == 0:
        return ""
    proof = consistency_proof(leaves, trusted.size, size) if trusted.size < size else []
    try:
        verify_consistency(trusted.size, size, proof, trusted.root, root)
    except ConsistencyProofError as exc:
        return (
            f"{where}: the current tree of {size} entries does not extend it (a fork or a "
            f"rewrite): {exc.message}"
        )
    return ""
