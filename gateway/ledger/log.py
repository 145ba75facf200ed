"""The ledger's sequencer, proof readers and verifier, on ``gateway.store.Store``.

Calls queue entries (``entry.append``, ``idx`` NULL) in their own transactions. One sequencer at
a time (the state row is locked: ``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite) gives queued entries consecutive positions in id order, extends the RFC 9162 compact
range and signs a C2SP checkpoint of the new tree, all in one transaction — the design of Trillian
and Tessera's integrate step. Before signing it checks that its state still matches the last
signed checkpoint, so it never signs a tree inconsistent with an earlier one.

``verify`` recomputes everything from the stored entry text and reports, by index, every place
where the database no longer agrees with itself or with its signed checkpoints; ``export_entries``
and ``verify_export`` do the same offline from a JSON-lines file and one checkpoint note.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, cast

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.ledger.checkpoint import (
    CheckpointError,
    open_checkpoint,
    sign_checkpoint,
    verifier_key,
)
from gateway.ledger.entry import PLAIN_COLUMNS
from gateway.ledger.rfc9162 import (
    EMPTY_ROOT,
    CompactRange,
    ProofRangeError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
)
from gateway.store import Store, StoreUnavailable
from gateway.store.models import LedgerCheckpoint, LedgerEntry, LedgerState

log = structlog.get_logger(__name__)

_STATE_ID = 1
_MAX_PROBLEMS = 1000  # a wholesale rewrite would otherwise produce one line per entry
_READ_BATCH = 5000


_ENTRIES = cast(Table, LedgerEntry.__table__)  # declarative tables are Tables
_SET_POSITION = (
    update(_ENTRIES).where(_ENTRIES.c.id == bindparam("row_id")).values(idx=bindparam("position"))
)


class LedgerStateError(FailedPrecondition):
    """The sequencer's stored state disagrees with the last signed checkpoint; signing now could
    contradict it, so the sequencer refuses until someone looks."""


class SignedCheckpoint(NamedTuple):
    note: str
    size: int
    root: bytes


@dataclass
class VerifyReport:
    ok: bool
    tree_size: int
    root: bytes
    problems: list[str] = field(default_factory=list)


class Ledger:
    """Sequences queued entries into the Merkle tree, signs checkpoints and serves proofs."""

    def __init__(
        self, store: Store, signing_key: Ed25519PrivateKey, origin: str, clock: Clock
    ) -> None:
        self._store = store
        self._key = signing_key
        self._origin = origin
        self._clock = clock
        # Built (and the origin checked as a key name) once, so a bad origin fails at start-up.
        self.vkey = verifier_key(origin, signing_key.public_key())

    @property
    def origin(self) -> str:
        return self._origin

    def integrate(self, max_batch: int = 10_000) -> int:
        """Sequence up to ``max_batch`` queued entries and sign a checkpoint of the new tree.
        Returns how many entries were added (0: nothing queued, nothing signed)."""
        if max_batch < 1:
            raise InvalidArgument(f"expected max_batch ≥ 1, found {max_batch}")
        with self._store.write() as s:
            state = _lock_state(s)
            compact = CompactRange.from_json(state.tree_size, state.compact_range_json)
            _check_state(s, state, compact)
            queued = s.execute(
                select(LedgerEntry.id, LedgerEntry.entry_json)
                .where(LedgerEntry.idx.is_(None))
                .order_by(LedgerEntry.id)
                .limit(max_batch)
            ).all()
            if not queued:
                return 0
            start = state.tree_size
            positions: list[dict[str, Any]] = []
            for offset, (row_id, entry_json) in enumerate(queued):
                # The tree commits to the entry text itself, not to the stored hash column.
                compact.append(leaf_hash(entry_json.encode("utf-8")))
                positions.append({"row_id": row_id, "position": start + offset})
            # Core executemany: the ORM's bulk UPDATE costs ~10x more per row here.
            s.execute(_SET_POSITION, positions)
            root = compact.root()
            state.tree_size = compact.size
            state.compact_range_json = compact.to_json()
            state.root_hash = root
            s.add(
                LedgerCheckpoint(
                    tree_size=compact.size,
                    root_hash=root,
                    note=sign_checkpoint(self._origin, compact.size, root, self._key),
                    created_at_ns=self._clock.now_ns(),
                )
            )
        return len(queued)

    def run(self, stop: threading.Event, interval_s: float = 0.25, max_batch: int = 10_000) -> None:
        """Integrate until ``stop`` is set: at once while batches come full, else every
        ``interval_s``. A failed round is logged and retried; calls keep queuing meanwhile."""
        while not stop.is_set():
            try:
                added = self.integrate(max_batch)
            except (StoreUnavailable, LedgerStateError) as exc:
                log.error("ledger.integrate_failed", error=str(exc))
                added = 0
            if added < max_batch:
                stop.wait(interval_s)

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._store.read() as s:
            return _latest_checkpoint(s)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (≤ the latest
        checkpoint's size). Raises ProofRangeError (a ValueError) for positions out of range."""
        with self._store.read() as s:
            leaves = _leaf_hashes(s, size)
        return inclusion_proof(leaves, index, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old`` to the tree of ``new``."""
        with self._store.read() as s:
            leaves = _leaf_hashes(s, new)
        return consistency_proof(leaves, old, new)


def _lock_state(s: Session) -> LedgerState:
    locked = select(LedgerState).where(LedgerState.id == _STATE_ID).with_for_update()
    state = s.execute(locked).scalar_one_or_none()
    if state is not None:
        return state
    # First use: create the row without racing another sequencer doing the same.
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(
        insert(LedgerState)
        .values(id=_STATE_ID, tree_size=0, compact_range_json="[]", root_hash=EMPTY_ROOT)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return s.execute(locked).scalar_one()


def _check_state(s: Session, state: LedgerState, compact: CompactRange) -> None:
    if compact.root() != state.root_hash:
        raise LedgerStateError(
            f"the stored compact range of size {state.tree_size} does not lead to the stored root"
        )
    latest = _latest_checkpoint(s)
    signed = (latest.size, latest.root) if latest else (0, EMPTY_ROOT)
    if signed != (state.tree_size, state.root_hash):
        raise LedgerStateError(
            f"expected the sequencer state to match the last checkpoint (size {signed[0]}, "
            f"root {signed[1].hex()}), found size {state.tree_size} root {state.root_hash.hex()}"
        )
    top = s.execute(select(func.max(LedgerEntry.idx))).scalar_one()
    if (top if top is not None else -1) != state.tree_size - 1:
        raise LedgerStateError(
            f"expected the highest entry index to be {state.tree_size - 1}, found {top}"
        )


def _latest_checkpoint(s: Session) -> SignedCheckpoint | None:
    row = s.execute(
        select(LedgerCheckpoint.note, LedgerCheckpoint.tree_size, LedgerCheckpoint.root_hash)
        .order_by(LedgerCheckpoint.tree_size.desc())
        .limit(1)
    ).first()
    return SignedCheckpoint(row.note, row.tree_size, row.root_hash) if row else None


def _leaf_hashes(s: Session, size: int) -> list[bytes]:
    latest = _latest_checkpoint(s)
    signed = latest.size if latest else 0
    if not 0 < size <= signed:
        raise ProofRangeError(
            f"expected a tree size in [1, {signed}] (signed so far), found {size}"
        )
    leaves = list(
        s.scalars(
            select(LedgerEntry.leaf_hash)
            .where(LedgerEntry.idx.is_not(None), LedgerEntry.idx < size)
            .order_by(LedgerEntry.idx)
        )
    )
    if len(leaves) != size:
        raise LedgerStateError(
            f"expected {size} sequenced entries below {size}, found {len(leaves)}"
        )
    return leaves


# --- verification -------------------------------------------------------------------------


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


def _entry_problems(idx: int, row: Any, leaf: bytes) -> Iterator[str]:
    """Where a sequenced row's columns disagree with its own entry text (hashed to ``leaf``).
    The text is not re-checked for canonical form: the tree commits to it byte for byte."""
    where = f"entry {idx}"
    if leaf != row.leaf_hash:
        yield f"{where}: stored leaf_hash does not match the hash of its entry_json"
    try:
        document = json.loads(row.entry_json)
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


def verify(store: Store, vkey: str) -> VerifyReport:
    """Recompute the whole sequenced log from its entry text and check it against every
    stored checkpoint and the sequencer state. Every disagreement is a problem naming where."""
    problems = _Problems()
    compact = CompactRange()
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
        state = s.get(LedgerState, _STATE_ID)
        rows = s.execute(
            select(
                LedgerEntry.idx,
                LedgerEntry.entry_json,
                LedgerEntry.leaf_hash,
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
            leaf = leaf_hash(row.entry_json.encode("utf-8"))
            for problem in _entry_problems(idx, row, leaf):
                problems.add(problem)
            compact.append(leaf)
            if missing_from is None:
                audit.reached(compact)
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
    found = problems.result()
    return VerifyReport(ok=not found, tree_size=size, root=root, problems=found)


def export_entries(store: Store, path: Path | str) -> SignedCheckpoint | None:
    """Write the entries covered by the latest checkpoint to ``path``, one entry_json per line
    in index order (line i is entry i), and return that checkpoint (None: nothing signed yet,
    and the file is empty). Canonical JSON holds no raw newline, so lines never split."""
    with store.read() as s, open(path, "w", encoding="utf-8", newline="\n") as out:
        latest = _latest_checkpoint(s)
        if latest is None:
            return None
        rows = s.execute(
            select(LedgerEntry.entry_json)
            .where(LedgerEntry.idx.is_not(None), LedgerEntry.idx < latest.size)
            .order_by(LedgerEntry.idx)
            .execution_options(yield_per=_READ_BATCH)
        )
        for (entry_json,) in rows:
            out.write(entry_json)
            out.write("\n")
    return latest


def verify_export(path: Path | str, checkpoint_note: str, vkey: str) -> VerifyReport:
    """Check offline that the first N lines of an ``export_entries`` file are exactly the tree
    the checkpoint signs (N its size). Needs no database, only the note and the verifier key."""
    try:
        checkpoint = open_checkpoint(checkpoint_note, vkey)
    except CheckpointError as exc:
        return VerifyReport(ok=False, tree_size=0, root=EMPTY_ROOT, problems=[exc.message])
    compact = CompactRange()
    with open(path, "rb") as lines:
        for line in lines:
            if compact.size == checkpoint.size:
                break  # later entries are beyond this checkpoint; they prove nothing here
            if not line.endswith(b"\n"):
                return _export_failed(compact, f"entry {compact.size}: line is not terminated")
            compact.append(leaf_hash(line[:-1]))
    if compact.size < checkpoint.size:
        return _export_failed(
            compact,
            f"the checkpoint covers {checkpoint.size} entries, the export holds {compact.size}",
        )
    root = compact.root()
    if root != checkpoint.root:
        return _export_failed(
            compact,
            f"expected the signed root {checkpoint.root.hex()}, the export gives {root.hex()}",
        )
    return VerifyReport(ok=True, tree_size=compact.size, root=root, problems=[])


def _export_failed(compact: CompactRange, problem: str) -> VerifyReport:
    return VerifyReport(ok=False, tree_size=compact.size, root=compact.root(), problems=[problem])
