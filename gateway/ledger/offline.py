"""Offline verification of a ledger export: needs no database, no server and no secret, only
the export file, one C2SP checkpoint note and the verifier key.

An export is JSON lines, line i the exact text of entry i (``export.export_entries``). The RFC
9162 tree (§2.1) is recomputed from the lines and its root compared with the one the checkpoint
signs; this module imports nothing of the store, so an auditor can run it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gateway.ledger.checkpoint import CheckpointError, open_checkpoint
from gateway.ledger.rfc9162 import EMPTY_ROOT, CompactRange, leaf_hash


@dataclass
class VerifyReport:
    ok: bool
    tree_size: int
    root: bytes
    problems: list[str] = field(default_factory=list)
    queued: int = 0  # authentic entries waiting for the sequencer (not a problem by itself)
    rejected: int = 0  # rows the sequencer refused (each one is also a problem)
    trusted_size: int | None = None  # size of the trusted checkpoint proven extended, if any


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
