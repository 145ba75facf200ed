"""The ledger's log, one name for its parts: the sequencer and proof serving
(``gateway.ledger.sequencer``), verification of the stored log (``gateway.ledger.verification``),
exports (``gateway.ledger.export``) and their verification without a database
(``gateway.ledger.offline``). Kept so callers can
import everything about the log from one place."""

from gateway.ledger.export import export_entries
from gateway.ledger.offline import verify_export
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
