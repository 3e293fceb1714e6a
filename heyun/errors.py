"""Typed domain errors that cross RPC boundaries intact.

Every service raises these (and lists them in ``expected_exceptions`` so Nameko does not log
them as crashes); nameko serialises an exception with its dotted path and arguments, and because
each class here is registered as deserialisable, the caller gets the same class back, not a
``RemoteError``. The gateway maps each class to one HTTP status in a single table.
"""
from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    """Base of the errors a user can cause. ``errors`` maps field paths to messages."""

    status = 400
    title = "Bad request"

    def __init__(self, detail="", errors=None):
        super().__init__(detail, errors or {})
        self.detail = detail
        self.errors = errors or {}

    def __str__(self):
        return self.detail


@deserialize_to_instance
class InvalidInput(DomainError):
    """Well-formed input that breaks a rule (a bad ID check digit, a floor above the roof)."""

    status = 422
    title = "Invalid input"


@deserialize_to_instance
class NotFound(DomainError):
    """Unknown id, or an object outside the caller's scope whose existence must not leak."""

    status = 404
    title = "Not found"


@deserialize_to_instance
class Conflict(DomainError):
    """The input clashes with what exists (a duplicate ID number)."""

    status = 409
    title = "Conflict"


@deserialize_to_instance
class IllegalTransition(Conflict):
    """The action is not allowed from the object's current state."""

    title = "Illegal state transition"


@deserialize_to_instance
class Forbidden(DomainError):
    """The caller's role or scope does not allow this."""

    status = 403
    title = "Forbidden"


@deserialize_to_instance
class BadSignature(DomainError):
    """A machine caller (an SMS gateway posting receipts) did not prove who it is."""

    status = 401
    title = "Bad signature"


@deserialize_to_instance
class ServiceUnavailable(DomainError):
    """A service did not answer in time, is not running, or the broker is down. Not a user's
    error (not in ``USER_ERRORS``); registered so that a service passing it on keeps its class."""

    status = 503
    title = "Service unavailable"


# Tuple for ``@rpc(expected_exceptions=USER_ERRORS)``.
USER_ERRORS = (InvalidInput, NotFound, Conflict, Forbidden, BadSignature)


def from_marshmallow(exc, prefix=""):
    """Turn a marshmallow ``ValidationError`` into ``InvalidInput`` with dotted field paths."""
    return InvalidInput("The input is not valid.", flatten_messages(exc.messages, prefix))


def flatten_messages(messages, prefix=""):
    """``{"dwelling": {"floor": ["…"]}}`` → ``{"dwelling.floor": ["…"]}``; list indexes become path parts."""
    flat = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                path = prefix or "_schema"
            if isinstance(value, (dict,)):
                flat.update(flatten_messages(value, path))
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                flat.setdefault(path, []).extend(value)
            elif isinstance(value, list):
                for item in value:
                    flat.update(flatten_messages(item, path))
            else:
                flat.setdefault(path, []).append(str(value))
    elif isinstance(messages, list):
        flat.setdefault(prefix or "_schema", []).extend(str(m) for m in messages)
    else:
        flat.setdefault(prefix or "_schema", []).append(str(messages))
    return flat
