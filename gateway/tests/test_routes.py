"""The gateway's route mixins, without a broker: the event catalogue goes over the service list
(``community.services``), not names written in the route."""
from nameko.testing.services import worker_factory

from community.services import SERVICES
from gateway.dependencies import default_services
from gateway.service import GatewayService


def catalogue(service, channel):
    return {"asyncapi": "2.6.0", "info": {"title": service, "version": "1"},
            "channels": {channel: {"subscribe": {"message": {"$ref": "#/components/messages/changed"}}}},
            "components": {"messages": {"changed": {"name": "changed"}}, "schemas": {}}}


def test_the_catalogue_merges_every_listed_service_in_order():
    gateway = worker_factory(GatewayService)
    documents = {service.name: catalogue(service.name, f"{service.name}.events") for service in SERVICES}
    asked = []

    def service_named(name):
        asked.append(name)
        return _answering(documents[name])

    gateway.services.__getitem__.side_effect = service_named

    merged = gateway.event_catalogue(request=None)

    assert asked == [service.name for service in SERVICES]
    assert merged["x-services"] == asked
    assert set(merged["channels"]) == {f"{name}.events" for name in asked}
    # The same message name from two services is kept apart by its service, not overwritten.
    assert set(merged["components"]["messages"]) == {"changed"} | {f"{name}.changed" for name in asked[1:]}


def test_readiness_pings_the_listed_services_by_default():
    assert default_services() == [service.name for service in SERVICES]


class _answering:
    def __init__(self, document):
        self.document = document

    def catalogue(self):
        return self.document
