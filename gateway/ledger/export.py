"""Exports of the ledger and their offline verification, which needs no database.

``export_entries`` writes the entries a checkpoint covers as JSON lines (line i is entry i's
exact text); ``verify_export`` recomputes the RFC 9162 tree from such a file and checks it
against one C2SP checkpoint note and the verifier key alone.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.ledger.checkpoint import CheckpointError, open_checkpoint
from gateway.ledger.rfc9162 import EMPTY_ROOT, CompactRange, leaf_hash
from gateway.ledger.sequencer import SignedCheckpoint, latest_checkpoint
from gateway.ledger.verification import VerifyReport
from gateway.store import Store
from gateway.store.models import LedgerEntry

_READ_BATCH = 5000


def export_entries(store: Store, path: Path | str) -> SignedCheckpoint | None:
    """Write the entries covered by the latest checkpoint to ``path``, one entry_json per line
    in index order (line i is entry i), and return that checkpoint (None: nothing signed yet,
    and the file is empty). Canonical JSON holds no raw newline, so lines never split."""
    with store.read() as s, open(path, "w", encoding="utf-8", newline="\n") as out:
        latest = latest_checkpoint(s)
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
