"""Domain errors raised by services; both blueprints turn them into responses."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class Busy(DomainError):
    """The database refused the write for contention, again and again: nothing of it was saved."""

    status = 503
    code = "busy"


class ValidationFailed(DomainError):
    """Input that is well-formed but breaks a rule; names the field at fault."""

    status = 422
    code = "validation_error"

    def __init__(self, field: str, message: str, *, details: list[dict] | None = None):
        super().__init__(
            f"{field}: {message}" if field else message,
            details=details or [{"field": field, "message": message}],
        )
        self.field = field
        self.reason = message
