"""The OpenAPI 3 document, built from the routes themselves: every ``@api`` entrypoint of the
service with its query, body and response schemas, so the document cannot drift from the code."""
import inspect
import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from gateway.edge.http import ApiEndpoint, SPREADSHEET_TYPES
from gateway.schemas import Health, Problem
from heyun.schemadoc import null_in_enums
from heyun.schemas import MAX_LIMIT, MAX_OFFSET

_documents = {}
PROBLEM = {"application/problem+json": {"schema": "Problem"}}
ERRORS = {
    "400": "Malformed JSON", "401": "No or bad token", "403": "Role or scope forbids",
    "404": "Unknown id", "409": "Conflict or illegal state transition", "413": "Body too large",
    "415": "Unsupported content type", "422": "Invalid input; `errors` names the fields",
    "503": "A service or the broker is unavailable",
}
# A public route has no token to check, but its JSON body can still be too large or not JSON.
PUBLIC_ERRORS = ["400", "413", "415", "422", "503"]
SIGNED_ERRORS = ["400", "401", "413", "415", "422", "503"]


def endpoints(service_cls):
    for _, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, ApiEndpoint):
                yield method, entrypoint


def path_template(url):
    """``/residents/<resident_id>`` (werkzeug) → ``/residents/{resident_id}`` (OpenAPI, API.md)."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", url)


def _operation(method, endpoint):
    operation = {
        "operationId": method.__name__,
        "summary": endpoint.summary or (method.__doc__ or method.__name__.replace("_", " ")).strip(),
        "tags": [endpoint.tag],
        "parameters": [{"in": "path", "name": name, "required": True, "schema": {"type": "string"}}
                       for name in re.findall(r"<(?:[^:>]+:)?([^>]+)>", endpoint.url)],
        "responses": {},
    }
    if endpoint.query_schema is not None:
        operation["parameters"].append({"in": "query", "schema": type(endpoint.query_schema)})
    if endpoint.body_schema is not None:
        operation["requestBody"] = {"required": not endpoint.optional_body, "content": {
            "application/json": {"schema": type(endpoint.body_schema)}}}
    if endpoint.signed_schema is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": endpoint.signed_schema}}}
        operation["parameters"].append({
            "in": "header", "name": "X-Heyun-Signature", "required": True, "schema": {"type": "string"},
            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\" under the shared secret>"})
    if endpoint.upload:
        operation["requestBody"] = {"required": True, "content": dict(
            {kind: {"schema": {"type": "string", "format": "binary"}} for kind in SPREADSHEET_TYPES},
            **{"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "string", "format": "binary"}}}}})}
    success = {"description": "OK" if endpoint.status == 200 else "Created"}
    if endpoint.produces:
        success["content"] = {endpoint.produces: {"schema": {"type": "string"}}}
    elif endpoint.response_schema is not None:
        success["content"] = {"application/json": {"schema": endpoint.response_schema}}
    operation["responses"][str(endpoint.status)] = success
    for code, description in endpoint.also.items():
        operation["responses"][str(code)] = dict(success, description=description)
    codes = PUBLIC_ERRORS if endpoint.public else list(ERRORS)
    if endpoint.signed_schema is not None:
        codes = SIGNED_ERRORS
    problems = {code: ERRORS[code] for code in codes}
    problems.update({str(code): when for code, when in endpoint.problems.items()})
    for code in sorted(problems):
        operation["responses"][code] = {"description": problems[code], "content": PROBLEM}
    if endpoint.public:
        operation["security"] = []
    return operation


def build(service_cls):
    spec = APISpec(
        title="Heyun 河润 API", version="1.0.0", openapi_version="3.0.3",
        info={"description": "The HTTP API of the Wanghe community platform. Errors are "
                             "application/problem+json (RFC 9457); lists are {items, total} with limit "
                             f"(default 50, max {MAX_LIMIT}) and offset (max {MAX_OFFSET:,}), and the registry's lists "
                             "also by cursor (next_cursor; a total past 10,000 is an estimate, marked "
                             "total_estimated); POST accepts an "
                             "Idempotency-Key header."},
        servers=[{"url": "/"}],
        plugins=[MarshmallowPlugin()],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", schema=Problem)
    spec.options["security"] = [{"bearer": []}]
    paths = {}
    for method, endpoint in endpoints(service_cls):
        paths.setdefault(path_template(endpoint.url), {})[endpoint.method.lower()] = _operation(method, endpoint)
    # Served by the web server itself, outside any worker.
    paths["/healthz"] = {"get": {"operationId": "healthz", "summary": "The process is up.", "tags": ["operations"],
                                 "security": [], "responses": {"200": {"description": "OK", "content": {
                                     "application/json": {"schema": Health}}}}}}
    paths["/metrics"] = {"get": {"operationId": "metrics", "summary": "Prometheus metrics.", "tags": ["operations"],
                                 "security": [], "responses": {"200": {"description": "Prometheus text",
                                                                       "content": {"text/plain": {}}}}}}
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    document = spec.to_dict()
    document["security"] = [{"bearer": []}]
    # OpenAPI 3.0.3: `nullable` does not widen an `enum`; a null the API sends must be listed.
    return null_in_enums(document)


def document(service_cls):
    """Built once per service class: the routes do not change while the process runs."""
    if service_cls not in _documents:
        _documents[service_cls] = build(service_cls)
    return _documents[service_cls]
