"""Domain errors. Domain code raises these; ``gateway.services.status`` maps them to gRPC codes
in one place. Messages say what was wrong and are safe to show the caller (no personal data)."""

from __future__ import annotations


class AidBridgeError(Exception):
    """Base of every error the gateway reports to a caller."""

    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidArgument(AidBridgeError):
    code = "INVALID_ARGUMENT"


class NotFound(AidBridgeError):
    code = "NOT_FOUND"


class PermissionDenied(AidBridgeError):
    code = "PERMISSION_DENIED"


class Unauthenticated(AidBridgeError):
    code = "UNAUTHENTICATED"


class FailedPrecondition(AidBridgeError):
    code = "FAILED_PRECONDITION"


class AlreadyExists(AidBridgeError):
    code = "ALREADY_EXISTS"


class Unavailable(AidBridgeError):
    code = "UNAVAILABLE"


class Unimplemented(AidBridgeError):
    code = "UNIMPLEMENTED"
