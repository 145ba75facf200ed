"""The ledger's sequencer and proof serving, on ``gateway.store.Store``.

Calls queue entries (``entry.append``, ``idx`` NULL, with the gateway's entry tag) in their own
transactions. One sequencer at a time (the state row is locked: ``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) checks each queued entry's tag, gives the authentic
ones consecutive positions in id order with a position tag, extends the RFC 9162 compact range
and signs a C2SP checkpoint of the new tree, all in one transaction — the design of Trillian and
Tessera's integrate step. An entry whose tag does not match (written to the store behind the
gateway's back, or altered while queued) is moved to ``ledger_rejected_entries`` and logged,
never sequenced or signed; the entries queued after it are sequenced as usual. Before signing the
sequencer checks that its state still matches the last signed checkpoint, so it never signs a
tree inconsistent with an earlier one.

In the same transaction the sequencer stores each complete subtree the new leaves finish
(``ledger_nodes``, level ≥ 1; level 0 is the leaf hash), so the nodes never fall out of step with
the leaves, and proofs and roots are computed from at most 2·log₂ n stored nodes read in one query
(``gateway.ledger.nodes``) instead of from every leaf hash.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from gateway.clock import Clock
from gateway.errors import FailedPrecondition, InvalidArgument
from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import sign_checkpoint, verifier_key
from gateway.ledger.nodes import (
    Node,
    consistency_ranges,
    inclusion_ranges,
    nodes_of,
    range_hashes,
    root_from_nodes,
    root_nodes,
)
from gateway.ledger.rfc9162 import EMPTY_ROOT, CompactRange, ProofRangeError, leaf_hash
from gateway.store import Store, StoreUnavailable
from gateway.store.models import (
    LedgerCheckpoint,
    LedgerEntry,
    LedgerRejectedEntry,
    LedgerState,
)

log = structlog.get_logger(__name__)

STATE_ID = 1

_ENTRIES = cast(Table, LedgerEntry.__table__)  # declarative tables are Tables
_SET_POSITION = (
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("row_id"))
    .values(idx=bindparam("position"), position_mac=bindparam("tag"))
)


class LedgerStateError(FailedPrecondition):
    """The sequencer's stored state disagrees with the last signed checkpoint; signing now could
    contradict it, so the sequencer refuses until someone looks."""


class SignedCheckpoint(NamedTuple):
    note: str
    size: int
    root: bytes


class Batch(NamedTuple):
    added: int  # entries sequenced
    rejected: int  # queued rows set aside: their entry tag did not match


class Ledger:
    """Sequences queued entries into the Merkle tree, signs checkpoints and serves proofs."""

    def __init__(
        self,
        store: Store,
        signing_key: Ed25519PrivateKey,
        origin: str,
        clock: Clock,
        authenticator: EntryAuthenticator,
    ) -> None:
        self._store = store
        self._key = signing_key
        self._origin = origin
        self._clock = clock
        self.authenticator = authenticator
        # Built (and the origin checked as a key name) once, so a bad origin fails at start-up.
        self.vkey = verifier_key(origin, signing_key.public_key())

    @property
    def origin(self) -> str:
        return self._origin

    def integrate(self, max_batch: int = 10_000) -> int:
        """Sequence up to ``max_batch`` queued entries and sign a checkpoint of the new tree.
        Returns how many entries were added (0: nothing to sequence, nothing signed)."""
        return self.integrate_batch(max_batch).added

    def integrate_batch(self, max_batch: int = 10_000) -> Batch:
        """One round of ``integrate``, also counting the queued rows it rejected."""
        if max_batch < 1:
            raise InvalidArgument(f"expected max_batch ≥ 1, found {max_batch}")
        with self._store.write() as s:
            state = _lock_state(s)
            compact = CompactRange.from_json(state.tree_size, state.compact_range_json)
            _check_state(s, state, compact)
            queued = s.execute(
                select(
                    LedgerEntry.id,
                    LedgerEntry.entry_json,
                    LedgerEntry.leaf_hash,
                    LedgerEntry.entry_mac,
                )
                .where(LedgerEntry.idx.is_(None))
                .order_by(LedgerEntry.id)
                .limit(max_batch)
            ).all()
            if not queued:
                return Batch(0, 0)
            positions: list[dict[str, Any]] = []
            rejected: list[dict[str, Any]] = []
            completed: list[tuple[int, int, bytes]] = []
            for row in queued:
                entry = row.entry_json.encode("utf-8")
                # The tree commits to the entry text itself; the stored hash must agree with it
                # too, since proofs are served from that column.
                leaf = leaf_hash(entry)
                problem = _rejection(self.authenticator, entry, leaf, row)
                if problem:
                    rejected.append(self._rejected(row, problem))
                    continue
                position = compact.size
                completed.extend(compact.append_nodes(leaf))
                positions.append(
                    {
                        "row_id": row.id,
                        "position": position,
                        "tag": self.authenticator.position_tag(position, leaf),
                    }
                )
            if rejected:
                s.execute(insert(LedgerRejectedEntry), rejected)
                s.execute(
                    delete(LedgerEntry).where(LedgerEntry.id.in_([r["entry_id"] for r in rejected]))
                )
            if positions:
                _set_positions(s, positions)
                if completed:
                    _store_nodes(s, completed)
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
        for r in rejected:
            # The row id and the reason only: the text may be anything an intruder wrote.
            log.warning("ledger.entry_rejected", row_id=r["entry_id"], reason=r["reason"])
        return Batch(len(positions), len(rejected))

    def drain(self, max_batch: int = 10_000) -> int:
        """Integrate until nothing is queued (as of the last round); returns entries added."""
        added = 0
        while True:
            batch = self.integrate_batch(max_batch)
            added += batch.added
            if batch.added + batch.rejected < max_batch:
                return added

    def _rejected(self, row: Any, reason: str) -> dict[str, Any]:
        return {
            "entry_id": row.id,
            "entry_json": row.entry_json,
            "leaf_hash": row.leaf_hash,
            "entry_mac": row.entry_mac,
            "reason": reason,
            "rejected_at_ns": self._clock.now_ns(),
        }

    def run(self, stop: threading.Event, interval_s: float = 0.25, max_batch: int = 10_000) -> None:
        """Integrate until ``stop`` is set: at once while batches come full, else every
        ``interval_s``. A failed round is logged and retried; calls keep queuing meanwhile."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                batch = self.integrate_batch(max_batch)
            except (StoreUnavailable, LedgerStateError) as exc:
                log.error("ledger.integrate_failed", error=str(exc))
                batch = Batch(0, 0)
            if batch.added + batch.rejected < max_batch:
                # Rounds start every interval_s: an entry waits one interval and one round.
                stop.wait(max(0.0, interval_s - (time.monotonic() - started)))

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        with self._store.read() as s:
            return latest_checkpoint(s)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (≤ the latest
        checkpoint's size), from stored nodes. Raises ProofRangeError (a ValueError) for
        positions out of range."""
        return self.inclusion_proofs([index], size)[0]

    def inclusion_proofs(self, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """``inclusion_proof`` of each of ``indices`` in the tree of ``size``: one read of the
        nodes they all need."""
        with self._store.read() as s:
            _check_signed(s, size)
            plans = [inclusion_ranges(index, size) for index in indices]
            stored = read_nodes(s, nodes_of(r for plan in plans for r in plan))
        return [range_hashes(plan, stored) for plan in plans]

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old`` to the tree of ``new``, from
        stored nodes."""
        with self._store.read() as s:
            _check_signed(s, new)
            ranges = consistency_ranges(old, new)
            stored = read_nodes(s, nodes_of(ranges))
        return range_hashes(ranges, stored)

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` entries (``size`` ≤ the latest checkpoint's), from stored
        nodes: the root of any earlier tree, signed or not."""
        with self._store.read() as s:
            _check_signed(s, size)
            stored = read_nodes(s, root_nodes(size))
        return root_from_nodes(size, stored)


def _rejection(authenticator: EntryAuthenticator, entry: bytes, leaf: bytes, row: Any) -> str:
    if row.entry_mac is None:
        return "queued without an entry authenticator: not written by this gateway"
    if not authenticator.entry_ok(entry, row.entry_mac):
        return "entry authenticator does not match its entry_json: forged or altered"
    if leaf != row.leaf_hash:
        return "stored leaf_hash does not match the hash of its entry_json"
    return ""


def _lock_state(s: Session) -> LedgerState:
    locked = select(LedgerState).where(LedgerState.id == STATE_ID).with_for_update()
    state = s.execute(locked).scalar_one_or_none()
    if state is not None:
        return state
    # First use: create the row without racing another sequencer doing the same.
    insert_ = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    s.execute(
        insert_(LedgerState)
        .values(id=STATE_ID, tree_size=0, compact_range_json="[]", root_hash=EMPTY_ROOT)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return s.execute(locked).scalar_one()


def _check_state(s: Session, state: LedgerState, compact: CompactRange) -> None:
    if compact.root() != state.root_hash:
        raise LedgerStateError(
            f"the stored compact range of size {state.tree_size} does not lead to the stored root"
        )
    latest = latest_checkpoint(s)
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
    # The stored nodes at the tree's right edge must be the compact range: proofs are served
    # from them, and new nodes are merged onto them.
    if state.tree_size:
        edge = sorted(root_nodes(state.tree_size), key=lambda n: n[1] << n[0])
        stored = read_nodes(s, set(edge))
        if tuple(stored[n] for n in edge) != compact.hashes:
            raise LedgerStateError(
                f"expected the stored nodes of the tree of size {state.tree_size} to match the "
                "sequencer's compact range, found them different"
            )


def latest_checkpoint(s: Session) -> SignedCheckpoint | None:
    row = s.execute(
        select(LedgerCheckpoint.note, LedgerCheckpoint.tree_size, LedgerCheckpoint.root_hash)
        .order_by(LedgerCheckpoint.tree_size.desc())
        .limit(1)
    ).first()
    return SignedCheckpoint(row.note, row.tree_size, row.root_hash) if row else None


def _check_signed(s: Session, size: int) -> None:
    latest = latest_checkpoint(s)
    signed = latest.size if latest else 0
    if not 0 < size <= signed:
        raise ProofRangeError(
            f"expected a tree size in [1, {signed}] (signed so far), found {size}"
        )


def read_nodes(s: Session, wanted: set[Node]) -> dict[Node, bytes]:
    """The stored hashes of ``wanted`` nodes in one query: level 0 from the sequenced entries'
    leaf hashes, higher levels from ``ledger_nodes`` (by primary key). A node missing is a
    LedgerStateError: the nodes of a signed tree are written with its leaves."""
    if not wanted:
        return {}
    by_level: dict[int, list[int]] = defaultdict(list)
    for level, index in wanted:
        by_level[int(level)].append(int(index))
    # SQL of placeholders only, every value bound: building the equivalent SQLAlchemy
    # expression costs several times the query itself at a proof's ~20 nodes.
    params: dict[str, int] = {}

    def _in(values: list[int]) -> str:
        names = []
        for value in sorted(values):
            names.append(f"v{len(params)}")
            params[names[-1]] = value
        return ", ".join(f":{n}" for n in names)

    parts = []
    leaves = by_level.pop(0, None)
    if leaves:
        select_leaves = "SELECT 0 AS level, idx, leaf_hash AS hash FROM ledger_entries WHERE"
        parts.append(f"{select_leaves} idx IN ({_in(leaves)})")
    if by_level:
        where = []
        for level, indices in sorted(by_level.items()):
            params[f"l{level}"] = level
            where.append(f"(level = :l{level} AND idx IN ({_in(indices)}))")
        select_nodes = "SELECT level, idx, hash FROM ledger_nodes WHERE"
        parts.append(f"{select_nodes} {' OR '.join(where)}")
    rows = s.execute(text(" UNION ALL ".join(parts)), params)
    found = {(int(level), int(index)): bytes(digest) for level, index, digest in rows}
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing)
        raise LedgerStateError(
            f"expected stored node (level {level}, index {index}) (leaves {index << level}.."
            f"{((index + 1) << level) - 1}), found none: {len(missing)} of {len(wanted)} "
            "nodes missing"
        )
    return found


def _set_positions(s: Session, positions: list[dict[str, Any]]) -> None:
    """Give each sequenced row its position and position tag. On PostgreSQL one statement over
    arrays: an executemany is a statement per row (~30 µs each, the round's largest cost at a
    few thousand entries). On SQLite, Core's executemany (the ORM's bulk UPDATE costs ~10x more
    per row)."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection().exec_driver_sql(
            _PG_SET_POSITIONS,
            (
                [p["row_id"] for p in positions],
                [p["position"] for p in positions],
                [p["tag"] for p in positions],
            ),
        )
    else:
        s.execute(_SET_POSITION, positions)


def _store_nodes(s: Session, nodes: list[tuple[int, int, bytes]]) -> None:
    """Insert completed nodes in the sequencer's transaction. A node already stored at that
    place can only be left from a tree the store no longer holds (restored from before it): the
    new hash replaces it. On PostgreSQL one statement over arrays; on SQLite positional rows
    straight to the driver's executemany: building SQLAlchemy's per-row parameters costs more
    than the insert itself at 10,000 nodes."""
    if s.get_bind().dialect.name == "postgresql":
        levels, indices, hashes = (list(column) for column in zip(*nodes, strict=True))
        s.connection().exec_driver_sql(_PG_NODES, (levels, indices, hashes))
    else:
        s.connection().exec_driver_sql(_SQLITE_NODES, nodes)


_UPSERT_NODES = (
    "INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?) "
    "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash"
)
_SQLITE_NODES = _UPSERT_NODES
_PG_NODES = (
    "INSERT INTO ledger_nodes (level, idx, hash) "
    "SELECT * FROM unnest(%s::integer[], %s::bigint[], %s::bytea[]) "
    "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash"
)
_PG_SET_POSITIONS = (
    "UPDATE ledger_entries AS e SET idx = v.position, position_mac = v.tag "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[]) AS v(id, position, tag) "
    "WHERE e.id = v.id"
)
