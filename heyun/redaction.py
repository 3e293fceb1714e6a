"""Keeping personal data out of the logs: query values of personal fields, and anything shaped like
an ID or mobile number, wherever it appears in a log record (message, arguments, traceback).

``PersonalDataFilter`` is installed on the log handlers of a service's ``config.yml``, so it sees
every record of the process: the HTTP access log (whose request line carries the query string: a
staff search ``q=3701…`` for an ID number), nameko's warnings about failed workers (with their
exception messages and tracebacks), and our own messages.
"""
import logging
import re
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# Query parameters whose values are about a person: always redacted.
PERSONAL_PARAMETERS = frozenset({
    "q", "name", "resident_name", "phone", "mobile", "id_number", "id_card", "email", "address",
    "birth_date", "contact", "contact_phone", "password",
})
# A mainland ID number (18 characters, or the old 15 digits) or a mobile number, not inside a
# longer run of digits or letters (a UUID's or a hash's hex digits are not a number). A mobile
# number as people write it: with the country code (+86, 0086) and spaces or hyphens
# (139 1234 5678, 139-1234-5678, +86 139-1234-5678).
PERSONAL_NUMBER = re.compile(
    r"(?<![0-9A-Za-z+])(?:\d{17}[\dXx]|\d{15}|(?:(?:\+|00)86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?![0-9A-Za-z])")
# A query string in a URL or request line: from "?" to the next space or quote.
QUERY = re.compile(r"(?<=\?)[^\s\"'<>]+")


def redact_query(query):
    """``q=3701…&limit=5`` → ``q=[redacted]&limit=5``: personal parameters and number-shaped values."""
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if not equals:
            parts.append(PERSONAL_NUMBER.sub(REDACTED, part))
        elif unquote_plus(name).lower() in PERSONAL_PARAMETERS or PERSONAL_NUMBER.search(unquote_plus(value)):
            parts.append(f"{name}={REDACTED}")
        else:
            parts.append(part)
    return "&".join(parts)


def redact(text):
    """``text`` with query strings and ID or mobile numbers redacted."""
    return PERSONAL_NUMBER.sub(REDACTED, QUERY.sub(lambda match: redact_query(match.group()), text))


class PersonalDataFilter(logging.Filter):
    """Rewrites each record's message and traceback text without personal data; drops nothing."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: log the message, never raise
            message = record.msg = str(record.msg)
            record.args = ()  # the handler would fail on them too, and print them unredacted
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
