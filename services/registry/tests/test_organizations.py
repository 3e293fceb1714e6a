"""Updating an organisation over RPC: only what is sent changes, and the change is announced so
notify's projection learns a new webhook URL."""
import json

import pytest
from kombu import Connection, Exchange, Queue

from heyun.errors import Conflict, Forbidden, InvalidInput
from heyun.testing import wait_for
from registry.events import ORGANIZATION_UPDATED
from registry.tests.conftest import PROPERTY

WATER_PLANT = {"name": "济南水务集团东区供水所", "kind": "water_utility",
               "contacts": [{"name": "赵工", "role": "调度", "phone": "053188880000", "email": "dispatch@water.example"}]}


def test_an_update_changes_only_what_is_sent_and_publishes_it(registry):
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(registry.amqp_config["AMQP_URI"]) as conn:
        queue = Queue("test-organization-updated", exchange, routing_key="organization_updated", durable=False,
                      auto_delete=False)
        queue(conn.channel()).declare()
        org = registry.call("create_organization", WATER_PLANT)
        updated = registry.call("update_organization", org["id"], {"webhook_url": "https://water.example/heyun"})
        message = wait_for(lambda: queue(conn.channel()).get(no_ack=True),
                           message="organization_updated on the exchange")
    assert updated["webhook_url"] == "https://water.example/heyun"
    assert updated["name"] == WATER_PLANT["name"] and updated["contacts"][0]["name"] == "赵工"
    assert registry.call("get_organization", org["id"])["webhook_url"] == "https://water.example/heyun"
    body = message.body if isinstance(message.body, str) else message.body.decode()
    data = json.loads(body)["data"]
    assert ORGANIZATION_UPDATED.check(data) == {}
    assert data["organization_id"] == org["id"] and data["webhook_url"] == "https://water.example/heyun"
    assert data["emails"] == ["dispatch@water.example"]


def test_the_kind_is_fixed_and_names_stay_unique(registry):
    first = registry.call("create_organization", {"name": "王河物业", "kind": "property_management"})
    registry.call("create_organization", {"name": "王河物业二期", "kind": "property_management"})
    with pytest.raises(InvalidInput) as refused:
        registry.call("update_organization", first["id"], {"kind": "water_utility"})
    assert "kind" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:
        registry.call("update_organization", first["id"], {"webhook_url": "ftp://files.example/x"})
    assert "webhook_url" in refused.value.errors
    with pytest.raises(InvalidInput) as refused:  # longer than the column: refused, not a database error
        registry.call("update_organization", first["id"], {"webhook_url": "https://water.example/" + "x" * 480})
    assert "webhook_url" in refused.value.errors
    with pytest.raises(Conflict):
        registry.call("update_organization", first["id"], {"name": "王河物业二期"})
    # The same name again is no change, not a clash with itself.
    assert registry.call("update_organization", first["id"], {"name": "王河物业"})["name"] == "王河物业"


def test_the_catalogue_describes_organization_updated(registry):
    assert "organization_updated" in registry.call("catalogue")["components"]["messages"]


def test_only_the_community_office_registers_or_changes_organisations(registry):
    org = registry.call("create_organization", {"name": "王河物业", "kind": "property_management"})
    with pytest.raises(Forbidden):  # property management may not rename itself or add a rival
        registry.call("update_organization", org["id"], {"name": "别的物业"}, caller=PROPERTY)
    with pytest.raises(Forbidden):
        registry.call("create_organization", {"name": "另一家物业", "kind": "property_management"}, caller=PROPERTY)
    assert registry.call("get_organization", org["id"])["name"] == "王河物业"
