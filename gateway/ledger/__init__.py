"""The ledger: every exchange, allowed or denied, as one entry of an append-only Merkle log.

``entry`` builds the entry (the one place that does), ``authenticator`` tags entries and their
positions with the gateway's HMAC key, ``rfc9162`` hashes the tree and makes and checks proofs
(RFC 9162 §2.1), ``checkpoint`` signs and opens C2SP checkpoints (Ed25519 signed notes),
``sequencer`` sequences queued entries and serves proofs, ``verification`` verifies the stored
log, ``export`` writes exports and ``offline`` verifies them without a database; ``log`` names
all of the log's parts. Witnessing (C2SP tlog-witness, tlog-cosignature v1): ``cosignature``
makes and checks cosignature lines, ``witness`` is the witness itself and ``witness_http`` its
HTTP interface, ``witness_publishing`` the gateway's side (collect, store, publish k of n).

The names below are imported on first use (PEP 562), so importing ``gateway.ledger.offline``
or ``gateway.ledger.rfc9162`` loads neither the store nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Checkpoint": "checkpoint",
    "CheckpointError": "checkpoint",
    "EntryAuthenticator": "authenticator",
    "Exchange": "entry",
    "Ledger": "sequencer",
    "SignedCheckpoint": "sequencer",
    "VerifyReport": "offline",
    "append": "entry",
    "canonical_entry": "entry",
    "open_checkpoint": "checkpoint",
    "verifier_key": "checkpoint",
    "verify": "verification",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gateway.ledger' has no attribute {name!r}")
    return getattr(importlib.import_module(f"gateway.ledger.{home}"), name)
