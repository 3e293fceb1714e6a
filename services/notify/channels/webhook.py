"""Webhooks to organisations (water plant, property management…): a signed JSON POST.

Signature scheme (the same idea as Stripe's): ``X-Heyun-Signature: t=<unix seconds>,v1=<hex>``
where ``v1 = HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>")``. The timestamp is inside the signed
text so a captured request cannot be replayed later; receivers check it with ``verify_signature``,
against the raw body bytes (re-serialising the JSON would change them). ``X-Heyun-Delivery`` is
the delivery id, stable across retries, for the receiver to drop duplicates.

A URL whose host is (or now resolves to) a loopback, private, link-local, metadata… address fails
without a request (``refused: …``, not retried: the organisation's next channel takes over),
unless ``WEBHOOK_ALLOWED_NETWORKS`` allows it (``heyun.netguard``).
"""
import hashlib
import hmac
import re
import time
from urllib.parse import urlsplit

from heyun.netguard import OutboundGuard
from notify import contract

from .base import DELIVERED, InvalidAddress
from .http import HttpChannel, json_body

SIGNATURE_HEADER = "X-Heyun-Signature"
DELIVERY_HEADER = "X-Heyun-Delivery"
PAYLOAD_FIELDS = ("notice_id", "title", "body", "category", "severity", "language")


def _as_bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _digest(secret, timestamp, raw_body):
    signed = str(timestamp).encode("ascii") + b"." + _as_bytes(raw_body)
    return hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def sign(secret, raw_body, timestamp=None):
    """The ``X-Heyun-Signature`` value for ``raw_body``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={timestamp},v1={_digest(secret, timestamp, raw_body)}"


HEX_DIGEST = re.compile("[0-9a-f]{64}")


def verify_signature(secret, header, raw_body, tolerance=300, now=None):
    """True when ``header`` signs exactly ``raw_body`` under ``secret`` and its timestamp is
    within ``tolerance`` seconds of now. Several ``v1`` entries are accepted (one matching is
    enough) so a secret can be rotated without a window of rejected deliveries."""
    if not header or not secret:
        return False
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        # The header is the sender's to write: only ASCII digits and hex go further ("²" is a
        # digit to str.isdigit, and compare_digest refuses non-ASCII text).
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and HEX_DIGEST.fullmatch(value):
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, raw_body)
    # Constant-time comparison: a timing difference must not reveal how much of a guess matched.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


class WebhookChannel(HttpChannel):
    name = contract.Channel.WEBHOOK
    # The organisation's own system answering 2xx is receipt, not just hand-over to a carrier.
    success_status = DELIVERED

    def __init__(self, secret, timeout=5.0, concurrency=16, guard=None):
        # Organisations give their URLs: only public addresses, unless the guard allows more.
        super().__init__(timeout=timeout, concurrency=concurrency, guard=guard or OutboundGuard())
        self.secret = secret

    def request_for(self, delivery):
        url = delivery.get("address")
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidAddress("invalid webhook url")
        payload = {"delivery_id": str(delivery["id"]),
                   **{field: _jsonable(delivery.get(field)) for field in PAYLOAD_FIELDS}}
        body = json_body(payload)
        headers = {SIGNATURE_HEADER: sign(self.secret, body), DELIVERY_HEADER: str(delivery["id"])}
        return url, body, headers

    def describe(self, delivery):
        # Host only: a webhook URL's path or query often carries the integrator's own token.
        url = delivery.get("address")
        return (urlsplit(url).hostname if isinstance(url, str) else None) or "<invalid url>"


def _jsonable(value):
    """UUIDs (notice ids) as strings; everything else in a delivery is already JSON."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)
