"""What the HTTP channels (SMS gateway, webhooks) share: one pooled keep-alive session, a JSON
POST with a timeout, and the mapping of an HTTP answer or a network error to an Outcome."""
import json
import logging

import requests
from requests.adapters import HTTPAdapter

from .base import Channel, failed, succeeded

log = logging.getLogger(__name__)

# 408 Request Timeout and 429 Too Many Requests are the 4xx answers that mean "later", not "never".
RETRYABLE_STATUSES = frozenset({408, 429})


def json_body(payload):
    """UTF-8 JSON with the Chinese text as itself (not \\u escapes): what the receiver logs and
    what a webhook signature covers are the same bytes."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class HttpChannel(Channel):
    """Subclasses say what to POST for a delivery (``request_for``) and how to name the
    recipient in logs without revealing it (``describe``)."""

    success_status = None

    def __init__(self, timeout=5.0, concurrency=16):
        self.timeout = float(timeout)
        self.concurrency = int(concurrency)
        self.session = requests.Session()
        # As many kept-alive connections per host as there are concurrent senders, so a batch
        # reuses them instead of opening (and discarding) one per message. No adapter retries:
        # retrying is the delivery queue's job, with backoff, and it sees `retryable`.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.concurrency, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request_for(self, delivery):
        """``(url, body_bytes, extra_headers)``; raises InvalidAddress when it cannot be sent."""
        raise NotImplementedError

    def describe(self, delivery):
        raise NotImplementedError

    def send_one(self, delivery):
        url, body, headers = self.request_for(delivery)
        headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        try:
            # Redirects are not followed: requests would turn the POST into a GET.
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout,
                                         allow_redirects=False)
        except requests.Timeout:
            return self._failed(delivery, f"timeout after {self.timeout:g}s", retryable=True)
        except requests.ConnectionError as error:
            # The exception's text can carry the URL (and a token in its query): keep the type only.
            return self._failed(delivery, f"connection error: {_error_kind(error)}", retryable=True)
        except requests.RequestException as error:
            return self._failed(delivery, f"request error: {type(error).__name__}", retryable=False)
        with response:
            status = response.status_code
            if 200 <= status < 300:
                log.debug("%s to %s: HTTP %s", self.name, self.describe(delivery), status)
                return succeeded(delivery, self.success_status, f"HTTP {status}")
            # Only status and reason: a response body may echo the recipient's number.
            retryable = status >= 500 or status in RETRYABLE_STATUSES
            return self._failed(delivery, f"HTTP {status} {response.reason or ''}".strip(), retryable)

    def close(self):
        self.session.close()

    def _failed(self, delivery, detail, retryable):
        log.warning("%s to %s failed (%s, %s)", self.name, self.describe(delivery), detail,
                    "will retry" if retryable else "not retryable")
        return failed(delivery, detail, retryable)


def _error_kind(error):
    """``NewConnectionError``, ``ProtocolError``…: the urllib3 reason inside requests' wrapper."""
    inner = error.args[0] if error.args and isinstance(error.args[0], Exception) else error
    reason = getattr(inner, "reason", None)
    return type(reason if isinstance(reason, Exception) else inner).__name__
