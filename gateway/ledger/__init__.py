"""The ledger: every exchange, allowed or denied, as one entry of an append-only Merkle log.

``entry`` builds the entry (the one place that does), ``authenticator`` tags entries and their
positions with the gateway's HMAC key, ``rfc9162`` hashes the tree and makes and checks proofs
(RFC 9162 §2.1), ``checkpoint`` signs and opens C2SP checkpoints (Ed25519 signed notes),
``sequencer`` sequences queued entries and serves proofs, ``verification`` verifies the stored
log, ``export`` writes exports and verifies them offline; ``log`` names all of the log's parts.
"""

from gateway.ledger.authenticator import EntryAuthenticator
from gateway.ledger.checkpoint import Checkpoint, CheckpointError, open_checkpoint, verifier_key
from gateway.ledger.entry import Exchange, append, canonical_entry
from gateway.ledger.log import Ledger, SignedCheckpoint, VerifyReport, verify

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "EntryAuthenticator",
    "Exchange",
    "Ledger",
    "SignedCheckpoint",
    "VerifyReport",
    "append",
    "canonical_entry",
    "open_checkpoint",
    "verifier_key",
    "verify",
]
