"""The event envelope and the catalogue of event types a service publishes.

Every event on the wire is ``{event_id, event_type, version, occurred_at, source, data}``,
published on the source service's topic exchange ``<source>.events`` with the event type as the
routing key (the names Nameko's own ``event_handler`` binds to). Each service declares its events
once, with a marshmallow schema for ``data``; the same declarations validate what is recorded and
build the machine-readable AsyncAPI catalogue integrators read.
"""
import uuid

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from heyun.clock import utcnow

ENVELOPE_FIELDS = ("event_id", "event_type", "version", "occurred_at", "source", "data")


def exchange_name(source):
    """All topology names are made here, so publisher, consumers and operators agree."""
    return f"{source}.events"


class EventType:
    """One kind of fact a service announces, e.g. ``resident_registered`` version 1."""

    def __init__(self, name, schema, description, version=1):
        if not isinstance(schema, Schema):
            schema = schema()
        self.name = name
        self.schema = schema
        self.description = description
        self.version = version

    def payload(self, data):
        """Serialise ``data`` with the schema (dates to ISO strings, only declared fields).

        Not re-validated on every publish (it doubles the cost of a bulk import); the services'
        tests check that what they publish validates against the catalogue (``check``).
        """
        return self.schema.dump(data)

    def check(self, payload):
        """The schema's complaints about a published payload, ``{}`` when it conforms."""
        return self.schema.validate(payload)

    def __repr__(self):
        return f"<EventType {self.name} v{self.version}>"


def make_envelope(event_type, data, source, version=1, event_id=None, occurred_at=None):
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "version": version,
        "occurred_at": (occurred_at or utcnow()).isoformat(),
        "source": source,
        "data": data,
    }


def is_envelope(body):
    return isinstance(body, dict) and all(key in body for key in ENVELOPE_FIELDS)


def asyncapi_document(service, event_types, amqp_uri_hint="amqp://broker:5672"):
    """An AsyncAPI 2.6 document describing every event ``service`` publishes."""
    # apispec turns marshmallow schemas into JSON Schema; nested schemas are inlined (no resolver).
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    spec = APISpec(title=service, version="1", openapi_version="3.0.3", plugins=[plugin])
    channels, messages = {}, {}
    for et in event_types:
        payload = plugin.converter.schema2jsonschema(et.schema)
        messages[et.name] = {
            "name": et.name,
            "title": et.name,
            "summary": et.description,
            "contentType": "application/json",
            "payload": {
                "type": "object",
                "required": list(ENVELOPE_FIELDS),
                "properties": {
                    "event_id": {"type": "string", "format": "uuid"},
                    "event_type": {"type": "string", "const": et.name},
                    "version": {"type": "integer", "const": et.version},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "source": {"type": "string", "const": service},
                    "data": payload,
                },
            },
        }
        channels[f"{exchange_name(service)}/{et.name}"] = {
            "description": et.description,
            "subscribe": {"message": {"$ref": f"#/components/messages/{et.name}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": exchange_name(service), "type": "topic", "durable": True},
                    "bindingVersion": "0.2.0",
                }
            },
        }
    return {
        "asyncapi": "2.6.0",
        "info": {"title": f"Heyun {service} events", "version": "1.0.0"},
        "servers": {"rabbitmq": {"url": amqp_uri_hint, "protocol": "amqp"}},
        "channels": channels,
        "components": {"messages": messages, "schemas": spec.to_dict().get("components", {}).get("schemas", {})},
    }
