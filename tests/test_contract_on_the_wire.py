"""The published contract holds on the wire, checked by the ecosystem's own tools (issue 8 §1b).

Tried as an integrator would, against a platform of this module's own (every service a real
process on the Wanghe demo data, on a vhost of its own):

- the served OpenAPI document passes ``openapi-spec-validator``, and live answers of a sample of
  routes (residents, households, buildings, notices, deliveries) validate against the response
  schemas it serves (``openapi-schema-validator``, OpenAPI 3.0.3's own rules: ``nullable`` does
  not let a null through a closed ``enum``);
- the served AsyncAPI catalogue passes the official AsyncAPI parser (npm ``@asyncapi/parser``,
  ``tools/asyncapi``; installed with ``npm ci`` the first time), with no error and no warning;
- every exchange the catalogue names exists (an integrator's passive declare), and a consumer
  that binds exactly what the catalogue says (each channel's address as the routing key, on its
  binding's exchange) receives the events of a run, each of which validates against its
  channel's documented payload (``jsonschema``);
- the Prometheus ``method`` label folds methods it does not know into one value.
"""
import json
from datetime import date
import shutil
import subprocess
import uuid
from pathlib import Path

import jsonschema
import pytest
import requests
from kombu import Connection, Exchange, Queue, binding
from marshmallow import Schema, fields
from openapi_schema_validator import OAS30ReadValidator
from openapi_spec_validator import validate as validate_openapi_document

from gateway.routes.operations import merge_catalogues
from heyun.events import EventType, asyncapi_document
from heyun.testing import wait_for
from heyun.testing.clients import all_items
from registry.idnumbers import make as id_number
from tests.support import running_platform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI_TOOL = ROOT / "tools" / "asyncapi"
# The events an integrator of the registry and notify meets first; each must be captured.
EXPECTED_EVENTS = {"resident_registered", "resident_updated", "notice_published", "notice_fanned_out"}


@pytest.fixture(scope="module")
def wire(database_factory, channel_receivers):
    """A platform of this module's own: its consumer must see every event of the run."""
    with running_platform(database_factory, channel_receivers) as platform:
        yield platform


@pytest.fixture(scope="module")
def openapi_document(wire):
    response = wire.client("staff").get("/openapi.json")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def catalogue(wire):
    response = wire.client("staff").get("/events/catalogue")
    assert response.status_code == 200, response.text
    return response.json()


def amqp_uri(platform):
    """The platform's own vhost on the tests' broker."""
    return platform.processes.env["AMQP_URI"]


def resolve(document, node):
    """``node`` itself, or what its local ``$ref`` points at."""
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"]
        assert pointer.startswith("#/"), pointer
        node = document
        for part in pointer[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def walk(node):
    """Every dict inside ``node`` (a JSON document), ``node`` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# -- the documents, checked by the ecosystem's validators ----------------------------------------
def test_every_exchange_the_catalogue_names_exists(wire, catalogue):
    # An integrator checks the exchange with a passive declare (which creates nothing) before
    # binding a queue to it. Each service declares its own when it starts; that this holds before
    # its first event is heyun/tests/test_exchange_at_start.py (here the demo's overdue proxy
    # requests make the registry, then notify, publish within seconds of the start).
    exchanges = {channel["bindings"]["amqp"]["exchange"]["name"] for channel in catalogue["channels"].values()}
    assert exchanges == {f"{service}.events" for service in catalogue["x-services"]}
    with Connection(amqp_uri(wire), connect_timeout=10) as connection:
        for name in sorted(exchanges):
            Exchange(name, "topic", durable=True, passive=True)(connection.channel()).declare()


def test_the_served_openapi_document_is_valid(openapi_document):
    assert openapi_document["openapi"] == "3.0.3"
    validate_openapi_document(openapi_document)  # raises, naming the first violation


def test_a_nullable_enum_lists_null_in_the_openapi_document(openapi_document):
    # OpenAPI 3.0.3: `nullable: true` does not add null to an `enum`; a null the API sends (a
    # resident without a preferred channel) must be listed, or strict validators refuse it.
    resident = openapi_document["components"]["schemas"]["Resident"]["properties"]["preferred_channel"]
    assert resident["nullable"] is True and None in resident["enum"]
    wrong = [schema for schema in walk(openapi_document)
             if schema.get("nullable") is True and isinstance(schema.get("enum"), list) and None not in schema["enum"]]
    assert wrong == []


@pytest.fixture(scope="module")
def asyncapi_parser():
    """The official AsyncAPI parser, installed from tools/asyncapi's lockfile on first use."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "The AsyncAPI check needs Node.js 18+ and npm (apt-get install nodejs npm)."
    if not (ASYNCAPI_TOOL / "node_modules" / "@asyncapi" / "parser").is_dir():
        # --ignore-scripts: the parser needs no install script (one dependency's is telemetry).
        installed = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                                   cwd=ASYNCAPI_TOOL, capture_output=True, text=True, timeout=600)
        assert installed.returncode == 0, f"npm ci in {ASYNCAPI_TOOL}:\n{installed.stdout}\n{installed.stderr}"

    def parse(document, tmp_path):
        path = tmp_path / "asyncapi.json"
        path.write_text(json.dumps(document))
        result = subprocess.run([node, str(ASYNCAPI_TOOL / "validate.js"), "--strict", str(path)],
                                capture_output=True, text=True, timeout=120)
        return result.returncode, result.stdout + result.stderr

    return parse


def test_the_served_catalogue_passes_the_official_asyncapi_parser(catalogue, asyncapi_parser, tmp_path):
    status, output = asyncapi_parser(catalogue, tmp_path)
    assert status == 0, output  # every error and warning, with where it is
    assert "valid (AsyncAPI 3." in output


def test_the_parser_check_can_fail(catalogue, asyncapi_parser, tmp_path):
    # The parser is really checking: the AMQP binding's `is` is a closed list.
    broken = json.loads(json.dumps(catalogue))
    next(iter(broken["channels"].values()))["bindings"]["amqp"]["is"] = "exchange"
    status, output = asyncapi_parser(broken, tmp_path)
    assert status == 1 and "bindings/amqp/is" in output, output


def test_merged_catalogues_keep_an_event_name_two_services_share_apart(asyncapi_parser, tmp_path):
    # Channel ids start with the service; the message a second service names alike is renamed.
    class Thing(Schema):
        thing_id = fields.String(required=True)
        colour = fields.String(allow_none=True, metadata={"enum": ["red", "green"]})

    thing = EventType("thing_happened", Thing, "A thing happened.")
    merged = merge_catalogues({"alpha": asyncapi_document("alpha", [thing]),
                               "beta": asyncapi_document("beta", [thing])})
    status, output = asyncapi_parser(merged, tmp_path)
    assert status == 0, output
    alpha, beta = merged["channels"]["alpha.thing_happened"], merged["channels"]["beta.thing_happened"]
    assert alpha["address"] == beta["address"] == "thing_happened"
    assert [c["bindings"]["amqp"]["exchange"]["name"] for c in (alpha, beta)] == ["alpha.events", "beta.events"]
    assert resolve(merged, beta["messages"]["thing_happened"])["payload"]["properties"]["source"]["const"] == "beta"
    assert resolve(merged, alpha["messages"]["thing_happened"])["payload"]["properties"]["source"]["const"] == "alpha"
    colour = merged["components"]["messages"]["thing_happened"]["payload"]["properties"]["data"]["properties"]["colour"]
    assert colour == {"type": ["string", "null"], "enum": ["red", "green", None]}


def test_the_catalogue_payloads_are_plain_json_schema(catalogue):
    # AsyncAPI's Schema Object is JSON Schema draft 7: OpenAPI 3.0's `nullable` means nothing
    # there, so a null field is `type: [X, "null"]`.
    assert not [schema for schema in walk(catalogue) if "nullable" in schema]
    for name, message in catalogue["components"]["messages"].items():
        jsonschema.Draft7Validator.check_schema(message["payload"])
        for schema in walk(message["payload"]):
            if isinstance(schema.get("enum"), list) and "null" in (schema.get("type") or []):
                assert None in schema["enum"], (name, schema)


def test_each_channel_is_a_routing_key_on_its_services_exchange(catalogue):
    # AMQP bindings: with `is: routingKey` the channel's address is the routing key, on the
    # binding's exchange; Heyun's routing key is the event type, the exchange `<service>.events`.
    for channel_id, channel in catalogue["channels"].items():
        amqp = channel["bindings"]["amqp"]
        (message,) = [resolve(catalogue, ref) for ref in channel["messages"].values()]
        envelope = message["payload"]["properties"]
        assert channel["address"] == envelope["event_type"]["const"], channel_id
        assert amqp["is"] == "routingKey"
        assert amqp["exchange"] == {"name": f"{envelope['source']['const']}.events", "type": "topic",
                                    "durable": True, "autoDelete": False}


# -- what travels, against the documents ------------------------------------------------------------
@pytest.fixture(scope="module")
def captured(wire, catalogue):
    """A consumer built from the catalogue alone: one queue bound to each channel's address on its
    binding's exchange (both declared passively: they are the services'). Yields the messages
    received so far, read with basic.get, as (exchange, routing key, body)."""
    bindings = [binding(Exchange(channel["bindings"]["amqp"]["exchange"]["name"], "topic", passive=True),
                        routing_key=channel["address"])
                for channel in catalogue["channels"].values()]
    messages = []
    with Connection(amqp_uri(wire), connect_timeout=10) as connection:
        queue = Queue(f"integrator-{uuid.uuid4().hex[:8]}", bindings=bindings, exclusive=True)
        queue = queue(connection.channel())
        queue.declare()

        def receive():
            while (message := queue.get(no_ack=True)) is not None:
                info = message.delivery_info
                messages.append((info["exchange"], info["routing_key"], json.loads(message.body)))
            return messages

        yield receive


def schema_of(catalogue, exchange, routing_key):
    """The payload schema of the channel an integrator finds by exchange and routing key."""
    for channel in catalogue["channels"].values():
        if channel["address"] == routing_key and channel["bindings"]["amqp"]["exchange"]["name"] == exchange:
            (message,) = [resolve(catalogue, ref) for ref in channel["messages"].values()]
            return message["payload"]
    raise AssertionError(f"no channel in the catalogue for {routing_key} on {exchange}")


@pytest.fixture(scope="module")
def run(wire, captured):
    """A small run through the gateway: a resident registered and changed, a notice published and
    fanned out (no acknowledgement asked, so its deadline is null)."""
    staff, waterplant = wire.client("staff"), wire.client("waterplant")
    building = all_items(staff, "/buildings")[0]
    registered = staff.post("/residents", json={
        "name": "契约测试", "gender": "female", "birth_date": "1948-06-01",
        "id_number": id_number("370115", date(1948, 6, 1), 778), "phone": "13900000777", "tags": ["elderly"],
        "dwelling": {"building_id": building["id"], "unit": 1, "floor": 5, "room": "501"}})
    assert registered.status_code == 201, registered.text
    resident = registered.json()
    updated = staff.patch(f"/residents/{resident['id']}", json={"language": "en"})
    assert updated.status_code == 200, updated.text
    created = waterplant.post("/notices", json={
        "title": "停水通知", "body": "明日9:00–12:00停水。", "category": "water_outage",
        "severity": "Moderate", "urgency": "Expected", "certainty": "Likely",
        "audience": {"building_ids": [building["id"]], "floor_min": 5}})
    assert created.status_code == 201, created.text
    notice = created.json()
    wait_for(lambda: staff.get(f"/notices/{notice['id']}").json()["status"] == "published", timeout=60,
             interval=0.25, message="the notice's fan-out")
    events = wait_for(lambda: EXPECTED_EVENTS <= {body["event_type"] for _, _, body in captured()} and captured(),
                      timeout=60, interval=0.25, message=f"the events {sorted(EXPECTED_EVENTS)}")
    return {"resident": resident, "notice": notice, "building": building, "events": events}


def test_captured_events_validate_against_the_served_catalogue(run, catalogue):
    events = run["events"]
    mine = [body for _, _, body in events if body["data"].get("resident_id") == run["resident"]["id"]
            or body["data"].get("notice_id") == run["notice"]["id"]]
    assert EXPECTED_EVENTS <= {body["event_type"] for body in mine}
    # The nulls the defect was about travel, and must validate as documented.
    registered = next(body for body in mine if body["event_type"] == "resident_registered")
    assert registered["data"]["preferred_channel"] is None and registered["data"]["relation_to_head"] is None
    published = next(body for body in mine if body["event_type"] == "notice_published")
    assert published["data"]["ack_deadline"] is None and published["data"]["references_id"] is None
    failures = []
    for exchange, routing_key, body in events:
        assert body["event_type"] == routing_key and exchange == f"{body['source']}.events"
        validator = jsonschema.Draft7Validator(schema_of(catalogue, exchange, routing_key),
                                               format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        failures += [f"{routing_key}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                     for error in validator.iter_errors(body)]
    assert failures == []


def operation_schema(document, method, template, status):
    """The JSON response schema the served document gives ``method template`` for ``status``."""
    responses = document["paths"]["/api/v1" + template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template}: {status} is not documented"
    return responses[str(status)]["content"]["application/json"]["schema"]


def test_live_responses_validate_against_the_served_openapi(wire, run, openapi_document):
    staff, waterplant = wire.client("staff"), wire.client("waterplant")
    households = staff.get("/households", params={"limit": 5}).json()["items"]
    assert households, "the demo data has households"
    resident, notice = run["resident"], run["notice"]
    sample = [
        (staff, "GET", "/residents", "/residents", {"limit": 100}),
        (staff, "GET", "/residents/{resident_id}", f"/residents/{resident['id']}", None),
        (staff, "GET", "/households", "/households", {"limit": 100}),
        (staff, "GET", "/households/{household_id}", f"/households/{households[0]['id']}", None),
        (staff, "GET", "/buildings", "/buildings", None),
        (staff, "GET", "/buildings/{building_id}", f"/buildings/{run['building']['id']}", None),
        (waterplant, "GET", "/notices", "/notices", None),
        (waterplant, "GET", "/notices/{notice_id}", f"/notices/{notice['id']}", None),
        (waterplant, "GET", "/notices/{notice_id}/deliveries", f"/notices/{notice['id']}/deliveries", {"limit": 100}),
    ]
    failures, nulls = [], 0
    for client, method, template, path, params in sample:
        response = client.request(method, path, params=params)
        assert response.status_code == 200, f"{method} {path}: {response.text}"
        body = response.json()
        nulls += json.dumps(body).count('"preferred_channel": null')
        # The response schema inside the whole document, so its $refs resolve.
        schema = {"allOf": [operation_schema(openapi_document, method, template, 200)],
                  "components": openapi_document["components"]}
        validator = OAS30ReadValidator(schema, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
        failures += [f"{method} {path}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                     for error in validator.iter_errors(body)]
    assert nulls, "the sample holds a resident without a preferred channel (the null the enum lacked)"
    assert failures == []
    # And the answers of the run's own writes.
    for status, template, body in ((201, "/residents", resident), (201, "/notices", notice)):
        schema = {"allOf": [operation_schema(openapi_document, "POST", template, status)],
                  "components": openapi_document["components"]}
        assert not list(OAS30ReadValidator(schema).iter_errors(body)), (template, body)


# -- the metrics' labels ------------------------------------------------------------------------------
def test_unknown_http_methods_share_one_metrics_label(wire):
    for method in ("BREW", "WHEN", "get"):
        requests.request(method, wire.api_url + "/residents", timeout=30)
    text = requests.get(wire.base_url + "/metrics", timeout=30).text
    methods = {line.split('method="', 1)[1].split('"', 1)[0]
               for line in text.splitlines() if line.startswith("heyun_gateway_requests_total{")}
    assert "other" in methods and methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, methods
