"""Every error a client can see, as ``application/problem+json`` (RFC 9457), from ONE table.

``ERROR_TABLE`` maps exception classes to HTTP statuses; the first matching row wins, so
subclasses come before their bases. Anything not in the table is a bug in our code: it is logged
with its traceback and answered with a bare 500 that says nothing about the internals.
"""
import json
import logging
import socket

from kombu.exceptions import OperationalError as BrokerError
from marshmallow import ValidationError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from gateway.exceptions import ServiceUnavailable
from heyun.errors import DomainError, flatten_messages

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
JSON_TYPE = "application/json; charset=utf-8"

# (exception class, status, title); None status means "ask the exception" (it knows its own).
ERROR_TABLE = (
    (DomainError, None, None),                      # heyun.errors and gateway.exceptions
    (ValidationError, 422, "Invalid input"),        # marshmallow, with field paths
    (json.JSONDecodeError, 400, "Malformed JSON"),
    (UnicodeDecodeError, 400, "Malformed JSON"),
    (HTTPException, None, None),                    # werkzeug: 404, 405, 413…
    (UnknownService, 503, "Service unavailable"),   # no service is listening on its queue
    (RpcTimeout, 503, "Service unavailable"),
    (BrokerError, 503, "Service unavailable"),      # RabbitMQ down or unreachable
    (ConnectionError, 503, "Service unavailable"),
    (socket.error, 503, "Service unavailable"),
    # A remote exception that is not one of the registered domain errors: the service crashed on
    # something (a bug, not the client's input). 502 tells operators the fault is behind us.
    (RemoteError, 502, "Bad gateway"),
)


def dumps(data):
    """JSON as UTF-8 with Chinese text as is."""
    return json.dumps(data, ensure_ascii=False, default=str)


def problem(status, title, detail="", errors=None, type_="about:blank"):
    body = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return body


def problem_for(exc):
    """The problem document for an exception, or ``None`` if it is not in the table (a bug)."""
    for cls, status, title in ERROR_TABLE:
        if not isinstance(exc, cls):
            continue
        if isinstance(exc, DomainError):
            return problem(exc.status, exc.title, exc.detail or exc.title, exc.errors)
        if isinstance(exc, ValidationError):
            return problem(status, title, "The input is not valid.", flatten_messages(exc.messages))
        if isinstance(exc, HTTPException):
            code = exc.code or 500
            return problem(code, exc.name, exc.description or exc.name)
        if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            return problem(status, title, f"The body is not valid UTF-8 JSON: {exc}")
        if isinstance(exc, RemoteError):
            # Logged for operators; the client gets no remote traceback or message.
            log.error("remote service failed: %s", exc.exc_type)
            return problem(status, title, "A service failed while answering.")
        if status == 503:
            # Name what is down.
            detail = str(exc) if isinstance(exc, UnknownService) else ServiceUnavailable.title
            return problem(status, title, detail)
        return problem(status, title, str(exc))
    return None


def problem_response(body, headers=None):
    response = Response(dumps(body), status=body["status"], content_type=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def response_from_exception(exc):
    """The one way every error becomes an HTTP response."""
    body = problem_for(exc)
    if body is None:
        log.error("unhandled error answering a request", exc_info=exc)
        body = problem(500, "Internal server error", "Something went wrong on our side.")
    headers = {}
    if isinstance(exc, HTTPException) and exc.code == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    if body["status"] == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)
    return problem_response(body, headers)
