"""Updating an organisation over RPC: only what is sent changes, and the change is announced so
notify's projection learns a new webhook URL."""
import json

import pytest
from kombu import Connection, Exchange, Queue

from heyun.errors import Conflict, Forbidden, InvalidInput
from heyun.testing import wait_for
from registry.contract import ORGANIZATION_UPDATED
from registry.service import RegistryService
from heyun.testing.clients import RpcClient
from registry.tests.support import PII_KEY, PROPERTY, STAFF

WATER_PLANT = {"name": "济南水务集团东区供水所", "kind": "water_utility",
               "contacts": [{"name": "赵工", "role": "调度", "phone": "053188880000", "email": "dispatch@water.example"}]}


def test_an_update_changes_only_what_is_sent_and_publishes_it_as_the_catalogue_says(registry):
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
    # The catalogue describes the event that was sent (not a name looked up in the document made
    # from the same declarations, which could never fail).
    described = registry.call("catalogue")["components"]["messages"]["organization_updated"]
    assert set(described["payload"]["properties"]["data"]["properties"]) == set(data)
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



def test_only_the_community_office_registers_or_changes_organisations(registry):
    org = registry.call("create_organization", {"name": "王河物业", "kind": "property_management"})
    with pytest.raises(Forbidden):  # property management may not rename itself or add a rival
        registry.call("update_organization", org["id"], {"name": "别的物业"}, caller=PROPERTY)
    with pytest.raises(Forbidden):
        registry.call("create_organization", {"name": "另一家物业", "kind": "property_management"}, caller=PROPERTY)
    assert registry.call("get_organization", org["id"])["name"] == "王河物业"


# -- webhook URLs: notify posts to them from inside the platform ------------------------------

INSIDE = ["http://127.0.0.1:15672/api/users", "http://localhost:5432/", "http://[::1]:8080/hook",
          "http://[::ffff:127.0.0.1]/hook", "http://10.0.0.5/hook", "http://192.168.1.10/hook",
          "http://172.16.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
          "http://100.100.100.200/latest/meta-data/", "http://[fe80::1]/hook", "http://[fc00::1]/hook",
          "http://0.0.0.0/hook", "http://224.0.0.1/hook"]


def test_a_webhook_url_aimed_inside_is_refused_naming_it(registry):
    org = registry.call("create_organization", {"name": "王河物业", "kind": "property_management"})
    for url in INSIDE:
        with pytest.raises(InvalidInput) as refused:
            registry.call("create_organization", {"name": "供水所", "kind": "water_utility", "webhook_url": url})
        assert list(refused.value.errors) == ["webhook_url"], url
        with pytest.raises(InvalidInput) as refused:
            registry.call("update_organization", org["id"], {"webhook_url": url})
        assert list(refused.value.errors) == ["webhook_url"], url
    assert "loopback" in str(refused.value.errors) or "multicast" in str(refused.value.errors)
    assert registry.call("get_organization", org["id"])["webhook_url"] is None
    # A public address, and a name that does not resolve yet (notify checks again on sending).
    for url in ("https://93.184.215.14/heyun", "https://hooks.water.example/heyun"):
        assert registry.call("update_organization", org["id"], {"webhook_url": url})["webhook_url"] == url


def test_the_installation_may_allow_its_own_networks_and_hosts_but_never_metadata(
        container_factory, service_config, world):
    config = service_config(DATABASE_URL=world["url"], PII_KEY=PII_KEY,
                            WEBHOOK_ALLOWED_NETWORKS="10.0.0.0/8, localhost, 169.254.0.0/16")
    container_factory(RegistryService, config).start()

    call = RpcClient("registry", config, caller=STAFF).call

    org = call("create_organization", {"name": "王河物业", "kind": "property_management"})
    for url in ("http://10.0.0.5/hook", "http://localhost:9000/hook"):
        assert call("update_organization", org["id"], {"webhook_url": url})["webhook_url"] == url
    for url in ("http://127.0.0.1:9000/hook", "http://169.254.169.254/latest/meta-data/", "http://192.168.1.10/"):
        with pytest.raises(InvalidInput) as refused:
            call("update_organization", org["id"], {"webhook_url": url})
        assert "webhook_url" in refused.value.errors
