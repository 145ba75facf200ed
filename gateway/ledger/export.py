"""Exports of the ledger.

``write_bundle`` writes the versioned export bundle (``docs/ledger-bundle.md``) that the
standalone verifier ``aidbridge_verify`` checks with no database: entries, the cosigned
checkpoint covering them, the leaf hashes around them and the keys' fingerprints.
``export_entries`` is the older plain form: the entries a checkpoint covers, as JSON lines (line
i is entry i's exact text), checked by ``offline.verify_export`` with the note and the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidbridge_verify.bundle import BundleWriter
from gateway.errors import InvalidArgument
from gateway.ledger.sequencer import SignedCheckpoint, latest_checkpoint
from gateway.ledger.witness_publishing import PublishedCheckpoint
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


class ExportRangeError(InvalidArgument):
    """The range asked for is empty, inverted, or not inside the published checkpoint."""


def export_range(size: int, from_index: int, to_index: int) -> tuple[int, int]:
    """The range ``[from_index, to_index)`` to export under a checkpoint of ``size`` entries
    (``to_index`` 0: up to ``size``), checked: it must be non-empty and inside the checkpoint.
    The one check of the CLI's export and of the ExportLedger RPC."""
    to = size if to_index == 0 else to_index
    if to_index < 0:
        raise ExportRangeError(
            f"to_index: expected at least 0 (0: up to the checkpoint), found {to_index}",
            field="to_index",
        )
    if from_index < 0:
        raise ExportRangeError(
            f"from_index: expected at least 0, found {from_index}", field="from_index"
        )
    if to > size:
        raise ExportRangeError(
            f"to_index: expected at most {size} (the published checkpoint's size), "
            f"found {to_index}: entries past the checkpoint are not signed yet",
            field="to_index",
        )
    if from_index >= to:
        shown = f"{to_index}" if to_index else f"0, i.e. {size} (the checkpoint's size)"
        raise ExportRangeError(
            f"from_index: expected less than to_index ({shown}), found {from_index}: "
            "the range [from_index, to_index) would be empty",
            field="from_index",
        )
    return from_index, to


def write_bundle(
    session: Session,
    out: IO[bytes],
    published: PublishedCheckpoint,
    log_vkey: str,
    *,
    from_index: int = 0,
    to_index: int = 0,
    witnesses: Sequence[tuple[str, str]] = (),
    exported_at_ns: int = 0,
) -> tuple[int, int]:
    """Write a v1 export bundle (``docs/ledger-bundle.md``) of entries ``[from_index,
    to_index)`` (``to_index`` 0: up to the checkpoint's size) under ``published``: its note with
    every cosignature collected, each entry's exact text and leaf hash, and the leaf hashes of
    the rest of its tree so the root can be recomputed. Returns the range written. Rows are read
    in batches: memory stays bounded however large the range (``out`` is written line by line).
    """
    size = published.size
    from_index, to = export_range(size, from_index, to_index)
    origin = published.note.split("\n", 1)[0]
    writer = BundleWriter(
        out,
        checkpoint_note=published.note,
        origin=origin,
        tree_size=size,
        from_index=from_index,
        to_index=to,
        log_vkey=log_vkey,
        witnesses=witnesses,
        exported_at_ns=exported_at_ns,
    )
    _write_hashes(session, writer, 0, from_index)
    _write_entries(session, writer, from_index, to)
    _write_hashes(session, writer, to, size)
    writer.finish()
    return from_index, to


def _write_entries(session: Session, writer: BundleWriter, lo: int, hi: int) -> None:
    if lo >= hi:
        return
    for leaf, entry_json in session.execute(
        select(LedgerEntry.leaf_hash, LedgerEntry.entry_json)
        .where(LedgerEntry.idx >= lo, LedgerEntry.idx < hi)
        .order_by(LedgerEntry.idx)
        .execution_options(yield_per=_READ_BATCH)
    ):
        writer.entry(leaf, entry_json.encode("utf-8"))


def _write_hashes(session: Session, writer: BundleWriter, lo: int, hi: int) -> None:
    if lo >= hi:
        return
    for (leaf,) in session.execute(
        select(LedgerEntry.leaf_hash)
        .where(LedgerEntry.idx >= lo, LedgerEntry.idx < hi)
        .order_by(LedgerEntry.idx)
        .execution_options(yield_per=_READ_BATCH)
    ):
        writer.hash(leaf)
