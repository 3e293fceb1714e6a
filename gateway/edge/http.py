"""The HTTP edge: Nameko's werkzeug-based ``@http`` entrypoint made into the API's conventions.

``api(...)`` declares a route with what it needs (roles, query and body schemas, upload), and
``ApiEndpoint`` runs the same pipeline for every route before a worker is spawned:

    authenticate (401) → role (403) → path ids (404) → size (413) → content type (415)
    → JSON (400) → text (422) → schema (422) → Idempotency-Key (replay) → worker
    → JSON or problem+json

so the service's methods only call the services and return what they answer (a route declared
with ``optional_body`` takes an empty body as ``{}``). ``ApiServer``
serves ``/healthz`` and ``/metrics`` itself, turns unknown routes and methods into problems,
and times every request. No response ever carries a traceback (see ``problems.py``).

What a user typed is checked here once for what no schema thinks of and the database or XML
cannot store: a NUL or another control character (PostgreSQL refuses NUL in text, XML refuses the
C0 controls) or half of a UTF-16 surrogate pair (not encodable as UTF-8) in a JSON string or key
or a query parameter is a 422 naming the field; a path id with one, or longer than any id, is a 404.
"""
import json
import time
from functools import lru_cache, partial
from ipaddress import ip_address, ip_network

from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from gateway import accounts
from gateway.exceptions import MalformedJson, UnsupportedMediaType
from gateway.edge.idempotency import IdempotencyStore, body_hash
from gateway.edge.metrics import HttpMetrics
from gateway.edge.revocation import TokenRevocations
from gateway.edge.problems import JSON_TYPE, dumps, response_from_exception
from heyun.errors import DomainError, Forbidden, NotFound
from heyun.identity import CONTEXT_KEY
from heyun.schemas import UNSTORABLE, UNSTORABLE_MESSAGE
from marshmallow import ValidationError

BASE = "/api/v1"
JSON_MAX_BYTES = 1024 * 1024           # 1 MiB: far above any honest JSON request
UPLOAD_MAX_BYTES = 20 * 1024 * 1024    # 20 MiB: a 100,000-row resident spreadsheet
SPREADSHEET_TYPES = {
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
# User errors raised in a worker: answered as problems, not logged as crashes.
EXPECTED = (DomainError, ValidationError)
# Every id is a UUID (36 characters); a longer path value names nothing, and keeps every path
# within what the Idempotency-Key ledger stores (500 characters).
MAX_ID_LENGTH = 100


class ApiWsgiApp:
    def __init__(self, server):
        self.server = server
        self.url_map = server.make_url_map()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        route = "unmatched"
        # eventlet's wsgi.input ends where the body ends, by Content-Length or by the last chunk
        # of a chunked body, but it does not say so; werkzeug then reads a body without a
        # Content-Length as empty. Said here, werkzeug reads chunked bodies too, and still stops
        # at the route's limit with a 413 (``_read``).
        environ["wsgi.input_terminated"] = True
        try:
            request = Request(environ, shallow=True)
            if request.path == "/healthz":
                route = "/healthz"
                response = Response(dumps({"status": "ok"}), content_type=JSON_TYPE)
            elif request.path == "/metrics":
                route = "/metrics"
                response = Response(self.server.metrics.render(), content_type=self.server.metrics.content_type)
            else:
                try:
                    provider, values = self.url_map.bind_to_environ(environ).match()
                    route = provider.url
                    request.path_values = values
                    response = provider.handle_request(request)
                except HTTPException as exc:  # unknown route 404, wrong method 405
                    response = response_from_exception(exc)
        except Exception as exc:  # a bug of ours: logged, answered with a bare 500
            response = response_from_exception(exc)
        self.server.metrics.observe(environ.get("REQUEST_METHOD", "?"), route, response.status_code,
                                    time.perf_counter() - started)
        return response(environ, start_response)


class ApiServer(WebServer):
    """Nameko's web server with the API's WSGI app and the container's own metrics."""

    def setup(self):
        self.metrics = HttpMetrics()
        try:
            trusted_networks(self.container.config)  # a typo stops the start, not every request
        except ValueError as exc:
            raise SystemExit(f"TRUSTED_PROXIES: {exc}") from None
        super().setup()

    def make_url_map(self):
        # No redirects for a trailing slash: a path is either a route or a 404.
        url_map = Map(strict_slashes=False, merge_slashes=False)
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map

    def get_wsgi_app(self):
        return ApiWsgiApp(self)


def load(schema, data, partial=False):
    return schema.load(data, partial=partial)


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw):
    if not raw.strip():
        raise MalformedJson("The body is empty; send a JSON object.")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:  # "[[[[…" nested deeper than Python's stack
        raise MalformedJson("The body is nested too deeply.") from None
    except ValueError as exc:
        # Also an integer of more than 4300 digits (Python's int_max_str_digits), and NaN or
        # Infinity, which Python accepts but JSON does not; JSONDecodeError and
        # UnicodeDecodeError are ValueErrors too.
        raise MalformedJson(f"The body is not valid UTF-8 JSON: {exc}") from None


def require_json(request):
    if not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        raise UnsupportedMediaType("Send the body as application/json.")


def check_text(data):
    """Refuse (422, naming each field path) strings and keys holding ``UNSTORABLE`` characters.
    Iterative, since parsed JSON may be nested nearly as deep as the recursion limit."""
    errors = {}
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and UNSTORABLE.search(key):
                    errors[UNSTORABLE.sub("?", child)] = ["The field name contains a control character."]
                else:
                    pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and UNSTORABLE.search(value):
            errors[path or "_schema"] = [UNSTORABLE_MESSAGE]
    if errors:
        raise ValidationError(errors)
    return data


def trusted_networks(config):
    """``TRUSTED_PROXIES`` ("10.0.0.5, 10.1.0.0/16", or a YAML list) as networks; none by default."""
    setting = config.get("TRUSTED_PROXIES") or ()
    if not isinstance(setting, str):
        setting = ",".join(str(item) for item in setting)
    return _networks(setting)


@lru_cache(maxsize=8)
def _networks(setting):
    return tuple(ip_network(item.strip(), strict=False) for item in setting.split(",") if item.strip())


def client_address(request, trusted):
    """Who is asking: the socket's peer, unless the peer is a trusted proxy; then the nearest
    address in X-Forwarded-For that is not a trusted proxy. Without trusted proxies the header is
    ignored, since anyone can send it."""
    address = request.remote_addr or "unknown"
    if not trusted:
        return address
    return _forwarded_client(address, request, trusted)[:64]  # an IPv6 zone id may be long


def _forwarded_client(address, request, trusted):
    hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in [address] + hops[::-1]:
        try:
            ip = ip_address(hop)
        except ValueError:  # a forged or broken entry: the last address we could trust
            return address
        address = hop
        if not any(ip in network for network in trusted):
            return hop
    return address


def check_path_values(values):
    """Path values are ids: one no id could be (a control character, too long) is unknown, 404."""
    for value in values.values():
        if isinstance(value, str) and (len(value) > MAX_ID_LENGTH or UNSTORABLE.search(value)):
            raise NotFound("Nothing has this id.")
    return values


class ApiEndpoint(HttpRequestHandler):
    server = ApiServer()
    idempotency = IdempotencyStore()
    revocations = TokenRevocations()

    def __init__(self, method, path, roles=None, public=False, query=None, body=None, upload=False,
                 status=200, response=None, summary="", tag="registry", max_body=None, optional_body=False,
                 produces=None, signed=None, problems=None, also=None, **kwargs):
        kwargs.setdefault("expected_exceptions", EXPECTED)
        super().__init__(method, path, **kwargs)
        self.roles = tuple(roles or ())
        self.public = public
        self.query_schema = query() if query else None
        self.body_schema = body() if body else None
        self.upload = upload
        self.status = status
        self.response_schema = response
        self.summary = summary
        self.tag = tag
        self.max_body = max_body or (UPLOAD_MAX_BYTES if upload else JSON_MAX_BYTES)
        # An empty body is ``{}`` (an acknowledgement needs nothing said); a body sent is checked.
        self.optional_body = optional_body
        # The media type of a success that is not JSON (CAP XML), for the OpenAPI document.
        self.produces = produces
        # A body signed by its sender (an SMS gateway's receipts): the route gets the raw text and
        # the X-Heyun-Signature header untouched, since a body parsed and re-serialised no longer
        # matches its signature; the service that holds the secret checks both. The schema is the
        # body's shape for the OpenAPI document.
        self.signed_schema = signed
        # Problem statuses this route answers beyond the usual ones, {status: when}, for the
        # OpenAPI document (sign-in: 401 for a wrong password, 429 when throttled).
        self.problems = dict(problems or {})
        # Other successes, with the same body: {200: "A repeat: …"} beside a 201 (OpenAPI only).
        self.also = dict(also or {})

    def get_url_rule(self):
        return Rule(self.url, methods=[self.method])

    # -- the pipeline ----------------------------------------------------------------------
    def handle_request(self, request):
        request.shallow = False
        request.client_address = client_address(request, trusted_networks(self.container.config))
        try:
            return self._handle(request)
        except Exception as exc:
            return response_from_exception(exc)

    def _handle(self, request):
        caller = None
        if not self.public:
            caller = accounts.verify_token(accounts.bearer_token(request.headers.get("Authorization")),
                                           self.container.config["TOKEN_SECRET"], self.revocations)
            if self.roles and not caller.has_role(*self.roles):
                raise Forbidden("Your role may not do this.")
        kwargs = check_path_values(dict(request.path_values))
        if self.query_schema is not None:
            kwargs["query"] = load(self.query_schema, check_text(request.args.to_dict(flat=True)))
        raw = b""
        if self.body_schema is not None:
            raw = self._read(request)
            if self.optional_body and not raw.strip():
                kwargs["body"] = load(self.body_schema, {})
            else:
                require_json(request)
                kwargs["body"] = load(self.body_schema, check_text(parse_json(raw)),
                                      partial=self.method == "PATCH")
        elif self.signed_schema is not None:
            raw = self._read(request)
            require_json(request)
            check_text(parse_json(raw))  # malformed is a 400 here; its fields are the service's to check
            kwargs["signed_body"] = raw.decode("utf-8"), request.headers.get("X-Heyun-Signature", "")
        elif self.upload:
            raw = self._read(request)
            kwargs["upload"] = self._upload(request, raw)
            raw = kwargs["upload"][1]  # the file, not a multipart envelope with a random boundary
        key = request.headers.get("Idempotency-Key") if self.method == "POST" and caller else None
        if key is None:
            return self._run(request, kwargs, caller)
        ledger = self.idempotency.ledger
        stored = ledger.claim(caller.account, key, self.method, request.path, body_hash(raw))
        if stored is not None:
            response = Response(stored.body, status=stored.status, content_type=stored.content_type)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = None
        try:
            response = self._run(request, kwargs, caller)
        finally:
            if response is not None and response.status_code < 500:
                ledger.complete(caller.account, key, response)
            else:
                ledger.release(caller.account, key)
        return response

    def _read(self, request):
        # werkzeug refuses (413) a Content-Length above the limit before reading the body. A
        # chunked body has none: werkzeug stops reading it at the limit without an error, so one
        # byte more is allowed in, and a body that reaches it is refused here.
        request.max_content_length = self.max_body + 1
        request.max_form_memory_size = self.max_body
        raw = request.get_data(cache=True)
        if len(raw) > self.max_body:
            raise RequestEntityTooLarge()
        return raw

    def _upload(self, request, raw):
        """``(kind, bytes)`` of a spreadsheet sent as the body or as a multipart ``file`` part."""
        if request.mimetype in SPREADSHEET_TYPES:
            return SPREADSHEET_TYPES[request.mimetype], raw
        if request.mimetype == "multipart/form-data":
            part = request.files.get("file")
            if part is None:
                raise ValidationError({"file": ["Missing the file part."]})
            kind = SPREADSHEET_TYPES.get(part.mimetype)
            if kind is None:
                kind = "xlsx" if (part.filename or "").lower().endswith(".xlsx") else "csv"
            return kind, part.read()
        raise UnsupportedMediaType(
            "Send a CSV (text/csv), an XLSX file, or multipart/form-data with a 'file' part.")

    def _run(self, request, kwargs, caller):
        """Spawn the worker with the caller in its context data (what ``act_as`` sets), so every
        RPC the worker makes carries who asks; web headers never set it."""
        args = (request,)
        self.check_signature(args, kwargs)
        context_data = {CONTEXT_KEY: caller.to_json()} if caller else {}
        event = Event()
        self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                    handle_result=partial(self.handle_result, event))
        try:
            return self.response_from_result(event.wait())
        except Exception as exc:
            return response_from_exception(exc)

    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        return Response(dumps(result), status=self.status, content_type=JSON_TYPE)

    def response_from_exception(self, exc):
        return response_from_exception(exc)


api = ApiEndpoint.decorator
