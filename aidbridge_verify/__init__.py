"""A standalone verifier of AidBridge ledger export bundles (``docs/ledger-bundle.md``).

It needs the standard library and ``cryptography``'s Ed25519 only — no database, gRPC, protobuf
or any module of the gateway — so an officer can run it on a machine of their own.
"""

from aidbridge_verify.bundle import VerifiedBundle, verify_bundle, verify_stream
from aidbridge_verify.errors import (
    ConsistencyError,
    CosignatureError,
    FormatError,
    InclusionError,
    KeyError_,
    LeafError,
    RollbackError,
    SequenceError,
    SignatureError,
    VerificationError,
)

__all__ = [
    "ConsistencyError",
    "CosignatureError",
    "FormatError",
    "InclusionError",
    "KeyError_",
    "LeafError",
    "RollbackError",
    "SequenceError",
    "SignatureError",
    "VerificationError",
    "VerifiedBundle",
    "verify_bundle",
    "verify_stream",
]
