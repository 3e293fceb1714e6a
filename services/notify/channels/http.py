"""What the HTTP channels (SMS gateway, webhooks) share: one pooled keep-alive session, a JSON
POST with a timeout, and the mapping of an HTTP answer or a network error to an Outcome.

A channel sending to URLs users give (webhooks) has an ``OutboundGuard`` (``heyun.netguard``):
every new connection resolves the host, checks each address, and connects to the checked one,
so a name that resolved to a public address when it was registered and to 127.0.0.1 now is
refused, with no request made. Such a channel ignores HTTP(S)_PROXY from the environment (the
check would see the proxy, not the receiver) and, like every channel here, follows no redirects."""
import json
import logging
import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from heyun.netguard import AddressRefused

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

    def __init__(self, timeout=5.0, concurrency=16, guard=None):
        self.timeout = float(timeout)
        self.concurrency = int(concurrency)
        self.session = requests.Session()
        # As many kept-alive connections per host as there are concurrent senders, so a batch
        # reuses them instead of opening (and discarding) one per message. No adapter retries:
        # retrying is the delivery queue's job, with backoff, and it sees `retryable`.
        options = dict(pool_connections=4, pool_maxsize=self.concurrency, max_retries=0)
        if guard is None:
            adapter = HTTPAdapter(**options)
        else:
            adapter = GuardedAdapter(guard, **options)
            self.session.trust_env = False
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
        except AddressRefused as error:  # no connection was made: this URL is never sent to as it is
            return self._failed(delivery, f"refused: {error}", retryable=False)
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


class GuardedConnection:
    """Mixed into urllib3's connections: connect only to an address the guard has just checked."""

    guard = None  # an OutboundGuard, set by GuardedAdapter

    def _new_conn(self):
        try:
            answers = self.guard.resolve(self._dns_host, self.port)  # AddressRefused: no connection
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        checked = answers[0][4][0]
        try:
            # A literal address: create_connection makes no second DNS query that could answer otherwise.
            return create_connection((checked, self.port), self.timeout, source_address=self.source_address,
                                     socket_options=self.socket_options)
        except socket.timeout as error:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                            f"(connect timeout={self.timeout})") from error
        except OSError as error:
            raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose pools open only ``GuardedConnection``s for ``guard``. (TLS still
    checks the certificate against the URL's host name: only the address connected to is fixed.)"""

    def __init__(self, guard, **kwargs):
        self.guard = guard  # before HTTPAdapter.__init__, which makes the pool manager
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        attributes = {"guard": self.guard}
        http = type("GuardedHTTPConnection", (GuardedConnection, HTTPConnection), attributes)
        https = type("GuardedHTTPSConnection", (GuardedConnection, HTTPSConnection), attributes)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def _error_kind(error):
    """``NewConnectionError``, ``ProtocolError``…: the urllib3 reason inside requests' wrapper."""
    inner = error.args[0] if error.args and isinstance(error.args[0], Exception) else error
    reason = getattr(inner, "reason", None)
    return type(reason if isinstance(reason, Exception) else inner).__name__
