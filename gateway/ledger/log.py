"""The ledger's log, one name for its parts: the sequencer and proof serving
(``gateway.ledger.sequencer``), verification of the stored log (``gateway.ledger.verification``)
and exports with their offline verification (``gateway.ledger.export``). Kept so callers can
import everything about the log from one place."""

from gateway.ledger.export import export_entries, verify_export
from gateway.ledger.sequencer import Batch, Ledger, LedgerStateError, SignedCheckpoint
from gateway.ledger.verification import VerifyReport, verify

__all__ = [
    "Batch",
    "Ledger",
    "LedgerStateError",
    "SignedCheckpoint",
    "VerifyReport",
    "export_entries",
    "verify",
    "verify_export",
]
