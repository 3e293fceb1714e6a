"""notify learns the community from the registry (events, or a snapshot when it starts empty) and
turns registry events into notices by its rule table: both services running, real broker and DBs."""
from datetime import date, timedelta

import pytest

from community.policy import SYSTEM
from heyun.config import service_config as file_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.errors import InvalidInput
from community.policy import SYSTEM
from heyun.pii import Protector
from heyun.testing import wait_for
from heyun.testing.callers import STAFF, as_role
from heyun.testing.clients import RpcClient
from notify.service import NotifyService
from registry import idnumbers
from registry.models import Building, Grid, ProxyRequest
from registry.places import create_grid_worker
from registry.service import RegistryService

PII_KEY = file_config("registry")["PII_KEY"]
LI_NA = as_role("grid_worker", account="gridworker1")


@pytest.fixture
def registry_url(migrated_database):
    url = migrated_database("registry")
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine, "registry")) as session:
        grid = Grid(name="第一网格")
        session.add(grid)
        session.flush()
        session.add(Building(id="b3", number=3, name="3号楼", floors=6, units=2, grid_id=grid.id))
        session.flush()
        create_grid_worker(session, Protector(PII_KEY), SYSTEM,
                           {"name": "李娜", "account": "gridworker1", "grid_id": grid.id, "phone": "13800000001"})
    engine.dispose()
    return url


@pytest.fixture
def start(container_factory, service_config):
    def start_service(cls, url):
        config = service_config(DATABASE_URL=url, PII_KEY=PII_KEY, DISPATCH_POLL_SECONDS=0.2,
                                FANOUT_POLL_SECONDS=0.2, SMS_GATEWAY_URL="http://127.0.0.1:9/sms")
        container = container_factory(cls, config)
        container.start()
        return config

    return start_service


def call(config, service, method, *args, caller=STAFF):
    return RpcClient(service, config).call(method, *args, caller=caller)


def resident(seq, floor, tags=()):
    birth = date(1948, 3, 15)
    return {"name": f"居民{seq}", "gender": "male", "birth_date": birth.isoformat(),
            "id_number": idnumbers.make("370115", birth, seq), "phone": "13912345678", "tags": list(tags),
            "dwelling": {"building_id": "b3", "unit": 1, "floor": floor, "room": f"{floor}01"}}


def test_registry_events_keep_the_projection_and_rules_raise_notices(start, registry_url, migrated_database):
    notify = start(NotifyService, migrated_database("notify"))  # first, so its queues exist
    registry = start(RegistryService, registry_url)
    upstairs = call(registry, "registry", "register_resident", resident(11, 5, ["no_smartphone"]))
    call(registry, "registry", "register_resident", resident(13, 2))
    audience = {"building_ids": ["b3"], "floor_min": 4}
    wait_for(lambda: call(notify, "notify", "preview_notice", audience)["residents"] == 1,
             message="the resident registered upstairs to reach notify's projection")
    assert call(notify, "notify", "preview_notice", audience)["per_channel"] == {"door_to_door": 1}

    call(registry, "registry", "move_resident", upstairs["id"],
         {"dwelling": {"building_id": "b3", "unit": 2, "floor": 1, "room": "102"}})
    wait_for(lambda: call(notify, "notify", "preview_notice", audience)["residents"] == 0,
             message="the move to reach the projection")

    # A help-and-proxy request is announced to the grid worker by notify's rule table.
    item = call(registry, "registry", "list_service_items")["items"][0]
    request = call(registry, "registry", "submit_proxy_request", {
        "resident_id": upstairs["id"], "service_item_id": item["id"],
        "authorization": {"scope": "代办", "valid_until": (date.today() + timedelta(days=30)).isoformat()}})
    inbox = wait_for(lambda: call(notify, "notify", "inbox", caller=LI_NA)["items"],
                     message="the rule notice in the grid worker's inbox")
    assert inbox[0]["title"] == f"新的帮办代办请求：{item['name']}"

    engine = make_engine(registry_url)  # the request has been waiting too long
    with engine.begin() as conn:
        conn.execute(ProxyRequest.__table__.update().values(due_on=date.today() - timedelta(days=1)))
    engine.dispose()
    assert call(registry, "registry", "flag_overdue_proxy_requests") == {"flagged": 1}
    wait_for(lambda: any(n["title"].startswith("帮办代办逾期") for n in call(notify, "notify", "inbox", caller=STAFF)["items"]),
             message="the overdue notice to reach staff")
    titles = [n["title"] for n in call(notify, "notify", "inbox", caller=LI_NA)["items"]]
    assert sum(t.startswith("帮办代办逾期") for t in titles) == 1
    assert request["status"] == "submitted"


def test_a_notify_started_late_fills_its_projection_from_the_snapshot(start, registry_url, migrated_database):
    registry = start(RegistryService, registry_url)
    for seq, floor in ((21, 4), (23, 5), (25, 1)):
        call(registry, "registry", "register_resident", resident(seq, floor))
    notify = start(NotifyService, migrated_database("notify"))  # its queues did not exist for those events
    wait_for(lambda: call(notify, "notify", "projection_size")["residents"] == 3, timeout=20,
             message="the snapshot to fill the projection")
    assert call(notify, "notify", "preview_notice", {"building_ids": ["b3"], "floor_min": 4})["residents"] == 2


def test_an_organisation_that_gives_a_webhook_is_reached_on_it_from_then_on(start, registry_url, migrated_database):
    notify = start(NotifyService, migrated_database("notify"))
    registry = start(RegistryService, registry_url)
    plant = call(registry, "registry", "create_organization", {"name": "济南水务", "kind": "water_utility"})
    audience = {"organization_ids": [plant["id"]]}
    wait_for(lambda: call(notify, "notify", "preview_notice", audience)["organizations"] == 1,
             message="the new organisation to reach notify's projection")
    assert call(notify, "notify", "preview_notice", audience)["per_channel"] == {"in_app": 1}

    # notify would post to it from inside the platform: the broker's management API is no webhook.
    with pytest.raises(InvalidInput) as refused:
        call(registry, "registry", "update_organization", plant["id"], {"webhook_url": "http://127.0.0.1:15672/api/users"})
    assert list(refused.value.errors) == ["webhook_url"]
    call(registry, "registry", "update_organization", plant["id"], {"webhook_url": "https://water.example/heyun"})
    wait_for(lambda: call(notify, "notify", "preview_notice", audience)["per_channel"] == {"webhook": 1},
             message="the webhook URL to reach notify's projection")


def test_an_audience_by_health_tag_reaches_those_residents_though_events_carry_it_encrypted(
        start, registry_url, migrated_database):
    notify = start(NotifyService, migrated_database("notify"))
    registry = start(RegistryService, registry_url)
    call(registry, "registry", "register_resident", resident(31, 5, ["mobility_impaired"]))
    call(registry, "registry", "register_resident", resident(33, 5, ["elderly"]))
    wait_for(lambda: call(notify, "notify", "projection_size")["residents"] == 2, message="both residents in notify")
    audience = {"building_ids": ["b3"], "floor_min": 4, "tags": ["mobility_impaired"]}
    assert call(notify, "notify", "preview_notice", audience)["residents"] == 1


def test_a_building_moved_to_another_grid_takes_its_residents_door_to_door_visits_along(
        start, registry_url, migrated_database):
    notify = start(NotifyService, migrated_database("notify"))
    registry = start(RegistryService, registry_url)
    call(registry, "registry", "register_resident", resident(41, 5, ["no_smartphone"]))
    second = call(registry, "registry", "create_grid", {"name": "第二网格"})
    call(registry, "registry", "create_grid_worker", {"name": "王芳", "account": "gridworker2", "grid_id": second["id"]})
    wait_for(lambda: call(notify, "notify", "projection_size")["residents"] == 1, message="the resident in notify")
    assert call(notify, "notify", "preview_notice", {"grid_ids": [second["id"]]})["residents"] == 0

    call(registry, "registry", "move_building", "b3", {"grid_id": second["id"]})
    wait_for(lambda: call(notify, "notify", "preview_notice", {"grid_ids": [second["id"]]})["residents"] == 1,
             message="the move to reach notify's projection")
    notice = call(notify, "notify", "publish_notice", {
        "title": "入户通知", "body": "明日上门检查燃气。", "category": "gas", "severity": "Severe",
        "audience": {"building_ids": ["b3"]}})
    wanghe = as_role("grid_worker", account="gridworker2", grid_ids=(second["id"],))
    tasks = wait_for(lambda: call(notify, "notify", "door_to_door_tasks", {}, 50, 0, caller=wanghe)["items"],
                     message="the visit on the new grid worker's list")
    assert [t["notice_id"] for t in tasks] == [notice["id"]]
    assert call(notify, "notify", "door_to_door_tasks", {}, 50, 0, caller=LI_NA)["items"] == []
