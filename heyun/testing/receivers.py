"""Real local receivers for notify's channels (its tests, the gateway's and the end-to-end ones): an
HTTP endpoint (SMS gateway, webhooks) and an SMTP server, each on a free 127.0.0.1 port in a
background thread.

The tests run under eventlet's monkeypatching (root conftest), so these threads are green threads
in the same process as the code under test; every wait here is a patched, yielding one.
"""
import asyncio
import email
import email.policy
import json
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP

from heyun.testing import free_port


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict
    body: bytes
    client: tuple  # (host, port): distinct ports are distinct connections

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class HttpReceiver:
    """Records every request and answers as told:

    - ``status``: the answer once any scripted ones are used up (200);
    - ``answer_first(n, status)``: the next ``n`` requests get ``status``;
    - ``latency``: seconds to wait before answering each request;
    - ``hang``: never answer (until ``stop``), to exercise client timeouts.

    ``peak_in_flight`` is the most requests it was handling at once."""

    def __init__(self):
        self.requests = []
        self.status = 200
        self.latency = 0.0
        self.hang = False
        self._scripted = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._in_flight = 0
        self.peak_in_flight = 0
        self.server = None
        self._thread = None

    # -- control --------------------------------------------------------------------------
    def answer_first(self, count, status):
        with self._lock:
            self._scripted.extend([status] * count)

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def connections(self):
        return {request.client for request in self.requests}

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._released.set()  # let hanging handlers finish
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- serving --------------------------------------------------------------------------
    def _next_status(self):
        with self._lock:
            return self._scripted.pop(0) if self._scripted else self.status

    def _handle(self, handler):
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        with self._lock:
            self.requests.append(ReceivedRequest(handler.command, handler.path,
                                                 dict(handler.headers.items()), body,
                                                 handler.client_address))
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.hang:
                self._released.wait(timeout=60)
                return
            if self.latency:
                time.sleep(self.latency)
            status = self._next_status()
            answer = b'{"ok": true}' if status < 400 else b'{"error": "as told"}'
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 so clients can keep connections alive (every answer has a Content-Length).
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: without this, Nagle plus the client's delayed
            # ACK would add ~40 ms to every answer and distort latency-based tests.
            disable_nagle_algorithm = True

            def do_POST(self):
                receiver._handle(self)

            do_GET = do_PUT = do_POST

            def log_message(self, *args):  # quiet test output
                pass

        return Handler


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list
    message: EmailMessage = field(repr=False)


class SmtpReceiver:
    """An SMTP server (aiosmtpd) on a free port, collecting messages. ``refuse`` holds recipient
    addresses to answer with ``refuse_code`` (550: permanent; 450: try later) at RCPT TO."""

    def __init__(self):
        self.messages = []
        self.refuse = set()
        self.refuse_code = 550
        self.port = None
        self._server = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"{self.refuse_code} mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self):
        loop = _smtp_loop()
        self.port = free_port()
        self._server = _run_on(loop, loop.create_server(
            lambda: SMTP(self, hostname="127.0.0.1", enable_SMTPUTF8=True, loop=loop), "127.0.0.1", self.port))
        return self

    def stop(self):
        self._server.close()
        _run_on(_smtp_loop(), self._server.wait_closed())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# Every SMTP receiver of the run is served by one asyncio loop. Under eventlet each receiver's own
# thread (aiosmtpd's Controller) would be a green thread of the same OS thread, and asyncio allows
# one running loop per OS thread: a second receiver started while another is up (the end-to-end
# tests' session-long one, then the gateway's) failed with "Cannot run the event loop while
# another loop is running".
_loop = None
_loop_lock = threading.Lock()


def _smtp_loop():
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="smtp-receivers", daemon=True).start()
            _loop = loop
        return _loop


def _run_on(loop, coroutine, timeout=10):
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)
