"""Domain errors carry their HTTP status and a message a person can act on."""

from __future__ import annotations


class ConfigurationError(RuntimeError):
    """The process cannot start safely with these settings."""


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Gone(DomainError):
    """A one-time link that was used, revoked or has expired."""

    status_code = 410
    code = "gone"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid"


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
