"""Typed failures of bundle verification. Each names the check that failed and, where one
entry is to blame, its ledger index."""

from __future__ import annotations


class VerificationError(Exception):
    """A bundle, checkpoint, key or proof did not verify."""

    check = "bundle"

    def __init__(self, message: str, *, index: int | None = None) -> None:
        self.message = message
        self.index = index
        where = f"entry {index}: " if index is not None else ""
        super().__init__(f"{self.check}: {where}{message}")


class FormatError(VerificationError):
    """The bundle is not a well-formed v1 bundle (header, line syntax, lengths, bounds)."""

    check = "format"


class KeyError_(VerificationError):
    """A verifying or witness key is malformed, or is not the one pinned."""

    check = "key"


class SignatureError(VerificationError):
    """The checkpoint is not signed by the log's key, or its text is malformed."""

    check = "signature"


class SequenceError(VerificationError):
    """An index is missing, repeated or out of order, or lines are missing or extra."""

    check = "sequence"


class LeafError(VerificationError):
    """An entry's leaf hash is not RFC 9162's hash of its bytes."""

    check = "leaf"


class InclusionError(VerificationError):
    """The leaves do not make the root the checkpoint signs (or a proof does not hold)."""

    check = "inclusion"


class ConsistencyError(VerificationError):
    """The bundle's tree does not extend a checkpoint trusted earlier (or a proof fails)."""

    check = "consistency"


class RollbackError(ConsistencyError):
    """The bundle's tree is smaller than a checkpoint trusted earlier."""

    check = "rollback"


class CosignatureError(VerificationError):
    """A required witness cosignature is missing or does not verify."""

    check = "cosignature"
