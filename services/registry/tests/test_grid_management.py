"""The community office manages its grid over RPC: new grids and buildings, a building moved to
another grid (its residents go with it, announced as ``building_moved``), a grid worker moved
(``grid_worker_assigned`` again, so notify learns the new grid)."""
import json
from contextlib import contextmanager

import pytest
from kombu import Connection, Exchange, Queue

from heyun.errors import Conflict, Forbidden, InvalidInput, NotFound
from heyun.testing import wait_for
from registry.contract import BUILDING_MOVED, GRID_WORKER_ASSIGNED
from registry.tests.support import PROPERTY, person

TOWER = {"number": 3, "name": "3号楼", "floors": 18, "units": 2}


@contextmanager
def published(registry, event_type):
    """``with published(registry, "building_moved") as next_event:``: ``next_event()`` is the
    data of the next such event on the registry's exchange."""
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(registry.amqp_config["AMQP_URI"]) as conn:
        queue = Queue(f"test-{event_type}", exchange, routing_key=event_type, durable=False, auto_delete=False)
        queue(conn.channel()).declare()

        def next_event():
            message = wait_for(lambda: queue(conn.channel()).get(no_ack=True), message=f"{event_type} on the exchange")
            body = message.body if isinstance(message.body, str) else message.body.decode()
            return json.loads(body)["data"]

        yield next_event


def seen_by(registry, caller):
    return [r["id"] for r in registry.call("list_residents", {}, caller=caller)["items"]]


def grid_worker(registry, account):
    return next(w for w in registry.call("list_grid_workers", {})["items"] if w["account"] == account)


def test_moving_a_building_hands_its_residents_to_the_other_grids_worker(registry, world):
    resident = registry.call("register_resident", person(world["east"], seq=81))
    assert seen_by(registry, world["gw_a"]) == [resident["id"]] and seen_by(registry, world["gw_b"]) == []
    with published(registry, "building_moved") as next_event:
        moved = registry.call("move_building", world["east"], {"grid_id": world["grid_b"]})
        event = next_event()
    assert moved["grid_id"] == world["grid_b"]
    assert seen_by(registry, world["gw_b"]) == [resident["id"]] and seen_by(registry, world["gw_a"]) == []
    with pytest.raises(NotFound):
        registry.call("get_resident", resident["id"], caller=world["gw_a"])
    assert registry.call("get_resident", resident["id"], caller=world["gw_b"])["grid_id"] == world["grid_b"]
    assert registry.call("get_grid", world["grid_b"])["building_ids"] == [world["east"], world["west"]]
    assert registry.call("get_grid", world["grid_a"])["building_ids"] == []
    assert BUILDING_MOVED.check(event) == {}
    assert event == {"building_id": world["east"], "building_number": 1,
                     "from_grid_id": world["grid_a"], "to_grid_id": world["grid_b"]}


def test_a_new_grid_takes_over_the_buildings_it_lists(registry, world):
    with published(registry, "building_moved") as next_event:
        grid = registry.call("create_grid", {"name": "C", "building_ids": [world["west"]]})
        event = next_event()
    assert grid["name"] == "C" and grid["building_ids"] == [world["west"]] and grid["workers"] == []
    assert (event["building_id"], event["from_grid_id"], event["to_grid_id"]) == (world["west"], world["grid_b"],
                                                                                  grid["id"])
    assert registry.call("get_building", world["west"])["grid_id"] == grid["id"]
    assert registry.call("list_grids")["total"] == 3
    with pytest.raises(Conflict) as taken:
        registry.call("create_grid", {"name": "A"})
    assert "name" in taken.value.errors
    with pytest.raises(InvalidInput) as unknown:
        registry.call("create_grid", {"name": "D", "building_ids": [world["east"], "no-such-building"]})
    assert set(unknown.value.errors) == {"building_ids.1"}
    assert registry.call("get_building", world["east"])["grid_id"] == world["grid_a"]  # nothing half done


def test_a_new_building_takes_residents_up_to_its_roof(registry, world):
    building = registry.call("create_building", dict(TOWER, grid_id=world["grid_a"]))
    assert {key: building[key] for key in TOWER} == TOWER and building["grid_id"] == world["grid_a"]
    assert building["id"] in [b["id"] for b in registry.call("list_buildings", {"grid_id": world["grid_a"]})["items"]]
    # Its dwellings are made as people move in, within its floors and units.
    top = registry.call("register_resident", person(building["id"], seq=91, unit=2, floor=18, room="1802"))
    assert (top["building_id"], top["floor"], top["grid_id"]) == (building["id"], 18, world["grid_a"])
    assert top["id"] in seen_by(registry, world["gw_a"])
    with pytest.raises(InvalidInput) as refused:
        registry.call("register_resident", person(building["id"], seq=93, floor=19, room="1901"))
    assert "dwelling.floor" in refused.value.errors
    without_grid = registry.call("create_building", dict(TOWER, number=4, name="4号楼"))
    assert without_grid["grid_id"] is None


@pytest.mark.parametrize("change, field", [
    ({"floors": 0}, "floors"), ({"floors": 61}, "floors"), ({"units": 21}, "units"), ({"number": "三"}, "number"),
    ({"grid_id": "no-such-grid"}, "grid_id"), ({"name": ""}, "name"), ({"colour": "red"}, "colour"),
])
def test_a_bad_building_is_refused_naming_the_field(registry, world, change, field):
    with pytest.raises(InvalidInput) as refused:
        registry.call("create_building", dict(TOWER, **change))
    assert set(refused.value.errors) == {field}


def test_a_building_number_is_taken_once(registry, world):
    with pytest.raises(Conflict) as taken:
        registry.call("create_building", dict(TOWER, number=1))
    assert "number" in taken.value.errors


def test_moving_a_building_names_what_is_wrong(registry, world):
    for body in ({}, {"grid_id": "no-such-grid"}, {"grid_id": None}):
        with pytest.raises(InvalidInput) as refused:
            registry.call("move_building", world["east"], body)
        assert set(refused.value.errors) == {"grid_id"}
    with pytest.raises(NotFound):
        registry.call("move_building", "no-such-building", {"grid_id": world["grid_b"]})
    # The same grid again is no move (and nothing to announce).
    assert registry.call("move_building", world["east"], {"grid_id": world["grid_a"]})["grid_id"] == world["grid_a"]


def test_moving_a_grid_worker_republishes_the_assignment(registry, world):
    worker = grid_worker(registry, "gw-a")
    with published(registry, "grid_worker_assigned") as next_event:
        moved = registry.call("update_grid_worker", worker["id"], {"grid_id": world["grid_b"], "phone": "13900000009"})
        event = next_event()
    assert (moved["grid_id"], moved["name"], moved["account"]) == (world["grid_b"], "李娜", "gw-a")
    assert moved["phone"] == "13900000009"  # staff see it
    assert GRID_WORKER_ASSIGNED.check(event) == {}
    assert event == {"grid_worker_id": worker["id"], "name": "李娜", "account": "gw-a",
                     "grid_id": world["grid_b"], "building_ids": [world["west"]]}
    assert registry.call("grid_scope", "gw-a") == {"grid_ids": [world["grid_b"]]}  # covered from the next sign-in
    assert grid_worker(registry, "gw-a")["phone"] == "13900000009"
    seen_by_property = registry.call("list_grid_workers", {"grid_id": world["grid_b"]}, caller=PROPERTY)["items"]
    assert {w["phone"] for w in seen_by_property} == {"139****0009", "138****0002"}


def test_a_grid_worker_update_names_what_is_wrong(registry, world):
    worker = grid_worker(registry, "gw-a")
    with pytest.raises(Conflict) as taken:  # an account acts as one grid worker only
        registry.call("update_grid_worker", worker["id"], {"account": "gw-b"})
    assert "account" in taken.value.errors
    assert registry.call("update_grid_worker", worker["id"], {"account": "gw-a"})["account"] == "gw-a"
    for body, field in (({"grid_id": "no-such-grid"}, "grid_id"), ({"grid_id": None}, "grid_id"),
                        ({"phone": "12345"}, "phone"), ({"name": None}, "name"), ({"grid": "A"}, "grid")):
        with pytest.raises(InvalidInput) as refused:
            registry.call("update_grid_worker", worker["id"], body)
        assert set(refused.value.errors) == {field}
    with pytest.raises(NotFound):
        registry.call("update_grid_worker", "no-such-worker", {"name": "某人"})
    assert grid_worker(registry, "gw-a")["grid_id"] == world["grid_a"]


def test_only_the_community_office_manages_the_grid(registry, world):
    worker = grid_worker(registry, "gw-a")
    writes = [("create_grid", {"name": "C"}), ("create_building", TOWER),
              ("move_building", world["east"], {"grid_id": world["grid_b"]}),
              ("update_grid_worker", worker["id"], {"grid_id": world["grid_b"]}),
              ("create_grid_worker", {"name": "张伟", "grid_id": world["grid_a"]})]
    for caller in (PROPERTY, world["gw_a"]):
        for method, *args in writes:
            with pytest.raises(Forbidden):
                registry.call(method, *args, caller=caller)
    assert registry.call("get_building", world["east"])["grid_id"] == world["grid_a"]
    assert registry.call("list_grids")["total"] == 2


def test_the_catalogue_describes_building_moved_as_it_is_published(registry, world):
    # Checked against an event the registry really sent: the catalogue is made from the same
    # declarations as the events, so looking a declared name up in it could never fail.
    with published(registry, "building_moved") as next_event:
        registry.call("move_building", world["east"], {"grid_id": world["grid_b"]})
        event = next_event()
    described = registry.call("catalogue")["components"]["messages"]["building_moved"]
    data = described["payload"]["properties"]["data"]
    assert set(data["properties"]) == set(event) == {"building_id", "building_number", "from_grid_id", "to_grid_id"}
    assert set(data.get("required", ())) <= set(event)
