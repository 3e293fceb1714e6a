"""The event envelope and the catalogue of event types a service publishes.

Every event on the wire is ``{event_id, event_type, version, occurred_at, source, data}``,
published on the source service's topic exchange ``<source>.events`` with the event type as the
routing key (the names Nameko's own ``event_handler`` binds to). Each service declares its events
once, with a marshmallow schema for ``data``; the same declarations validate what is recorded and
build the machine-readable AsyncAPI catalogue integrators read.
"""
import uuid
from urllib.parse import urlsplit

from marshmallow import Schema

from heyun.clock import utcnow
from heyun.schemadoc import json_schema

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


# The AMQP bindings' version these documents follow (https://github.com/asyncapi/bindings/tree/master/amqp).
AMQP_BINDINGS = "0.3.0"


def asyncapi_document(service, event_types, amqp_uri_hint="amqp://broker:5672"):
    """An AsyncAPI 3.0 document describing every event ``service`` publishes.

    What is on the wire: one topic exchange per service (``<service>.events``, durable, declared
    when the service starts) and the event type as the routing key. In AsyncAPI 3.0 a channel's
    ``address`` is that routing key and its AMQP binding (``is: routingKey``) names the exchange;
    the channel's id (``<service>.<event type>``) is only the document's own key, so two services'
    events never clash when catalogues are merged.
    """
    messages, channels, operations = {}, {}, {}
    exchange = {"name": exchange_name(service), "type": "topic", "durable": True, "autoDelete": False}
    for et in event_types:
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
                    "data": json_schema(et.schema),
                },
            },
            # The relay publishes UTF-8 JSON (content_encoding utf-8, as the publisher sets it).
            "bindings": {"amqp": {"contentEncoding": "utf-8", "bindingVersion": AMQP_BINDINGS}},
        }
        channel_id = f"{service}.{et.name}"
        channels[channel_id] = {
            "address": et.name,  # the routing key
            "title": f"{et.name} on {exchange_name(service)}",
            "description": et.description,
            "messages": {et.name: {"$ref": f"#/components/messages/{et.name}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": dict(exchange),
                                  "bindingVersion": AMQP_BINDINGS}},
        }
        operations[channel_id] = {
            "action": "send",
            "title": f"{service} publishes {et.name}",
            "summary": et.description,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{et.name}"}],
            # Persistent messages, confirmed by the broker before the outbox row is marked sent.
            "bindings": {"amqp": {"deliveryMode": 2, "bindingVersion": AMQP_BINDINGS}},
        }
    hint = urlsplit(amqp_uri_hint)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": f"Heyun {service} events", "version": "1.0.0",
                 "description": f"Events {service} publishes on the topic exchange `{exchange_name(service)}`, "
                                "the event type as the routing key; every message is the envelope "
                                "{event_id, event_type, version, occurred_at, source, data}."},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": hint.netloc, "protocol": "amqp", "protocolVersion": "0.9.1",
                                 "description": "The platform's RabbitMQ broker."}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }
