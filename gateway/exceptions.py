"""Errors only the gateway raises (HTTP-level problems); domain errors come from ``heyun.errors``.

They subclass ``DomainError`` so they carry ``detail`` and field ``errors`` the same way, and the
error table in ``edge/problems.py`` maps every class to its status in one place.
"""
from heyun.errors import DomainError, ServiceUnavailable  # noqa: F401 (the kernel's, raised by its RPC proxy)


class Unauthorized(DomainError):
    """No bearer token, or one that is malformed, forged or expired; or wrong credentials."""

    status = 401
    title = "Unauthorized"


class TooManyRequests(DomainError):
    """Too many failed sign-ins for a username or from an address: wait ``retry_after`` seconds."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail="", retry_after=1):
        super().__init__(detail)
        self.retry_after = retry_after


class MalformedJson(DomainError):
    status = 400
    title = "Malformed JSON"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"


class IdempotencyKeyReused(DomainError):
    """The same Idempotency-Key was sent with a different request."""

    status = 422
    title = "Idempotency key reused"


class InvalidIdempotencyKey(DomainError):
    """An Idempotency-Key (or the path it is for) the ledger cannot store."""

    status = 422
    title = "Invalid Idempotency-Key"


class IdempotentRequestInProgress(DomainError):
    status = 409
    title = "Request in progress"
