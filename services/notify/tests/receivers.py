"""Real local receivers for the channel tests: an HTTP endpoint (SMS gateway, webhooks) and an
SMTP server, each on a free 127.0.0.1 port in a background thread.

The tests run under eventlet's monkeypatching (root conftest), so these threads are green threads
in the same process as the code under test; every wait here is a patched, yielding one.
"""
import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    """aiosmtpd on a free port, collecting messages. ``refuse`` holds recipient addresses to
    answer with ``refuse_code`` (550: permanent; 450: try later) at RCPT TO."""

    def __init__(self):
        self.messages = []
        self.refuse = set()
        self.refuse_code = 550
        self.controller = None

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

    @property
    def port(self):
        return self.controller.port

    def start(self):
        # aiosmtpd's Controller needs a concrete port (it connects to it to check readiness).
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
