"""Exports of the ledger: the entries a checkpoint covers, as JSON lines (line i is entry i's
exact text), to be checked anywhere by ``offline.verify_export`` with the note and the key alone.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from gateway.ledger.sequencer import SignedCheckpoint, latest_checkpoint
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
