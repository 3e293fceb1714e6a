"""The resident import obeys the single-resident rules, changes only the columns a sheet has, and
says per row what it changed; a move leaves the old household; staff find a person by a whole ID
or mobile number (audited), other roles do not."""
import json
from contextlib import contextmanager
from datetime import date

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from heyun.db import make_engine
from heyun.errors import Forbidden, InvalidInput, NotFound
from heyun.testing import wait_for
from heyun.testing.callers import as_role
from registry import idnumbers, importing
from registry.contract import RESIDENT_MOVED, RESIDENT_UPDATED
from registry.models import PiiAccess
from registry.tests.support import CANTEEN, PROPERTY, person

FULL_HEADER = ["姓名", "身份证号", "手机号", "楼号", "单元", "楼层", "房号", "标签", "与户主关系"]


def id_number(seq, birth=date(1946, 4, 5)):
    return idnumbers.make("370115", birth, seq)


def sheet(header, *rows):
    """Rows given as dicts by header name; a column absent from ``header`` is absent from the file."""
    return header, [[row.get(column, "") for column in header] for row in rows]


def row(seq, building="1", unit="1", floor="2", room="201", **cells):
    values = {"姓名": f"居民{seq}", "身份证号": id_number(seq), "手机号": "13900000001", "楼号": building,
              "单元": unit, "楼层": floor, "房号": room, "标签": "高龄、无智能手机", "与户主关系": "户主"}
    values.update(cells)
    return values


def find(registry, seq):
    return registry.call("list_residents", {"q": f"居民{seq}"})["items"][0]


@contextmanager
def events(registry, *routing_keys):
    """Collect the registry's events of these types published inside the block."""
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(registry.amqp_config["AMQP_URI"]) as conn:
        queues = []
        for key in routing_keys:
            queue = Queue(f"test-import-rules-{key}", exchange, routing_key=key, durable=False, auto_delete=False)
            queue(conn.channel()).declare()
            queues.append(queue)
        received = []
        yield received

        def drain():
            for queue in queues:
                while (message := queue(conn.channel()).get(no_ack=True)) is not None:
                    body = message.body if isinstance(message.body, str) else message.body.decode()
                    received.append(json.loads(body))
            return received

        wait_for(drain, message=f"{routing_keys} on the exchange")


# -- 1. an import obeys the scope of the single-resident API ----------------------------------------

def test_a_grid_worker_cannot_take_over_another_grids_resident_by_import(registry, world):
    theirs = registry.call("register_resident", person(world["west"], seq=301, phone="13811112222"))
    header, data = sheet(FULL_HEADER,
                         row(0, 身份证号=theirs["id_number"], 手机号="13999999999"),  # theirs, into grid A
                         row(303))                                                # a new one of grid A
    result = registry.call("import_residents", header, data, caller=world["gw_a"])

    assert (result["created"], result["updated"]) == (1, 0)
    assert result["errors"] == [{"row": 2, "field": "id_number", "message": importing.OUT_OF_SCOPE}]
    untouched = registry.call("get_resident", theirs["id"])
    assert (untouched["building_id"], untouched["phone"], untouched["name"]) == (world["west"], "13811112222",
                                                                                  theirs["name"])
    # The error tells nothing of where the resident is: not their id, grid or building.
    assert theirs["id"] not in json.dumps(result) and world["grid_b"] not in json.dumps(result)


def test_a_grid_worker_updates_and_moves_their_own_residents_by_import_as_by_the_api(registry, world):
    mine = registry.call("register_resident", person(world["east"], seq=305, phone="13811112222"))
    header, data = sheet(FULL_HEADER, row(0, 身份证号=mine["id_number"], 姓名=mine["name"], 楼层="3", 房号="301"))
    result = registry.call("import_residents", header, data, caller=world["gw_a"])
    assert (result["updated"], result["errors"]) == (1, [])
    moved = registry.call("get_resident", mine["id"])
    assert (moved["floor"], moved["room"], moved["phone"]) == (3, "301", "13900000001")
    # As by the API, a grid worker records that their resident moved out of their grid.
    header, data = sheet(FULL_HEADER, row(0, 身份证号=mine["id_number"], 姓名=mine["name"], building="2"))
    assert registry.call("import_residents", header, data, caller=world["gw_a"])["updated"] == 1
    assert registry.call("get_resident", mine["id"])["grid_id"] == world["grid_b"]


def test_a_new_resident_in_another_grid_is_refused_as_registering_them_is(registry, world):
    header, data = sheet(FULL_HEADER, row(307, building="2"))
    result = registry.call("import_residents", header, data, caller=world["gw_a"])
    assert result["created"] == 0 and [(e["row"], e["field"]) for e in result["errors"]] == [(2, "building")]


# -- 2. an absent column changes nothing; the result says per row what changed ----------------------

def test_a_sheet_without_optional_columns_changes_only_the_columns_it_has(registry, world):
    first = registry.call("import_residents", *sheet(FULL_HEADER, row(311, 与户主关系="配偶")))
    created = find(registry, 311)
    assert first["changes"] == [{"row": 2, "resident_id": created["id"], "action": "created",
                                 "fields": ["dwelling", "household_id", "name", "phone", "relation_to_head",
                                            "tags"]}]

    narrow = ["姓名", "身份证号", "楼号", "单元", "楼层", "房号"]  # no phone, tags or relation
    again = registry.call("import_residents", *sheet(narrow, row(311)))
    assert (again["unchanged"], again["updated"]) == (1, 0)
    assert again["changes"] == [{"row": 2, "resident_id": created["id"], "action": "unchanged", "fields": []}]
    kept = registry.call("get_resident", created["id"])
    assert (set(kept["tags"]), kept["relation_to_head"], kept["phone"]) == (
        {"elderly", "no_smartphone"}, "配偶", "13900000001")

    # A present column with an empty cell clears that field, and only that one.
    cleared = registry.call("import_residents", *sheet(narrow + ["标签"], row(311, 标签="")))
    assert cleared["changes"] == [{"row": 2, "resident_id": created["id"], "action": "updated",
                                   "fields": ["tags"]}]
    after = registry.call("get_resident", created["id"])
    assert (after["tags"], after["relation_to_head"], after["phone"]) == ([], "配偶", "13900000001")


def test_without_a_unit_column_a_resident_stays_in_their_unit(registry, world):
    registry.call("import_residents", *sheet(FULL_HEADER, row(313, unit="2")))
    no_unit = ["姓名", "身份证号", "楼号", "楼层", "房号"]
    result = registry.call("import_residents", *sheet(no_unit, row(313)))
    assert result["unchanged"] == 1 and find(registry, 313)["unit"] == 2


# -- 3. a move leaves the household of the old address ------------------------------------------------

def test_moving_out_leaves_the_household_for_the_one_at_the_new_address_and_the_others_stay(registry, world):
    registry.call("import_residents", *sheet(FULL_HEADER, row(321), row(323, 与户主关系="配偶")))
    head, spouse = find(registry, 321), find(registry, 323)
    household_id = head["household_id"]
    assert spouse["household_id"] == household_id

    with events(registry, "resident_moved") as received:
        moved = registry.call("move_resident", head["id"], {
            "dwelling": {"building_id": world["east"], "unit": 2, "floor": 3, "room": "302"}})
    # Like a resident registered there: in the household at the new address (a new one here).
    assert moved["household_id"] not in (None, household_id) and moved["relation_to_head"] is None
    assert registry.call("get_household", moved["household_id"])["member_ids"] == [head["id"]]
    left = registry.call("get_household", household_id)
    # The household keeps the spouse; it has no head until the office records the new one.
    assert (left["member_ids"], left["head_resident_id"]) == ([spouse["id"]], None)
    data = received[0]["data"]
    assert RESIDENT_MOVED.check(data) == {}
    assert (data["household_id"], data["relation_to_head"]) == (moved["household_id"], None)


def test_a_move_may_name_the_household_at_the_new_address(registry, world):
    registry.call("import_residents", *sheet(FULL_HEADER, row(331), row(333, floor="3", room="301")))
    mover, there = find(registry, 331), find(registry, 333)
    elsewhere = {"building_id": world["east"], "unit": 2, "floor": 1, "room": "102"}
    with pytest.raises(InvalidInput) as caught:
        registry.call("move_resident", mover["id"], {"dwelling": elsewhere, "household_id": there["household_id"]})
    assert "household_id" in caught.value.errors
    moved = registry.call("move_resident", mover["id"], {
        "dwelling": {"building_id": world["east"], "unit": 1, "floor": 3, "room": "301"},
        "household_id": there["household_id"], "relation_to_head": "子女"})
    assert (moved["household_id"], moved["relation_to_head"]) == (there["household_id"], "子女")


def test_an_import_that_moves_someone_puts_them_in_the_household_of_the_new_address(registry, world):
    registry.call("import_residents", *sheet(FULL_HEADER, row(341), row(343, 与户主关系="配偶"),
                                             row(345, floor="3", room="301")))
    head, spouse, there = find(registry, 341), find(registry, 343), find(registry, 345)
    with events(registry, "resident_moved", "resident_updated") as received:
        result = registry.call("import_residents", *sheet(FULL_HEADER, row(341, floor="3", room="301",
                                                                             与户主关系="子女")))
    assert result["changes"] == [{"row": 2, "resident_id": head["id"], "action": "updated",
                                  "fields": ["dwelling", "household_id", "relation_to_head"]}]
    moved = registry.call("get_resident", head["id"])
    assert (moved["household_id"], moved["relation_to_head"]) == (there["household_id"], "子女")
    old = registry.call("get_household", head["household_id"])
    assert (old["member_ids"], old["head_resident_id"]) == ([spouse["id"]], None)
    by_type = {envelope["event_type"]: envelope["data"] for envelope in received}
    assert RESIDENT_UPDATED.check(by_type["resident_updated"]) == {}
    for data in by_type.values():
        assert (data["household_id"], data["relation_to_head"]) == (there["household_id"], "子女")


def test_a_resident_moved_by_hand_is_where_an_import_would_put_them(registry, world):
    registry.call("import_residents", *sheet(FULL_HEADER, row(347)))
    resident = find(registry, 347)
    moved = registry.call("move_resident", resident["id"], {
        "dwelling": {"building_id": world["east"], "unit": 2, "floor": 1, "room": "103"},
        "relation_to_head": "户主"})
    household = registry.call("get_household", moved["household_id"])
    assert (household["member_ids"], household["head_resident_id"]) == ([resident["id"]], resident["id"])
    again = sheet(FULL_HEADER, row(347, unit="2", floor="1", room="103"))
    assert registry.call("import_residents", *again)["unchanged"] == 1


# -- 4. a whole ID or mobile number finds the person, for roles that may see numbers ------------------

def test_staff_find_a_person_by_whole_id_or_mobile_number_and_it_is_audited(registry, world):
    target = registry.call("register_resident", person(world["east"], seq=351, phone="13955550001"))
    registry.call("register_resident", person(world["east"], seq=353, room="102", phone="13955550002"))
    engine = make_engine(world["url"])
    with engine.begin() as conn:
        conn.execute(PiiAccess.__table__.delete())

    for q in (target["id_number"], target["id_number"].lower(), "13955550001"):
        found = registry.call("list_residents", {"q": q})
        assert [r["id"] for r in found["items"]] == [target["id"]], q
    assert registry.call("list_residents", {"q": "13955550009"})["total"] == 0

    with engine.connect() as conn:
        audited = conn.execute(select(PiiAccess.account, PiiAccess.subject_id)).all()
    engine.dispose()
    assert audited and set(audited) == {("staff", target["id"])}


def test_a_whole_number_is_no_oracle_for_other_roles_or_other_grids(registry, world):
    target = registry.call("register_resident", person(world["east"], seq=361, phone="13955550003"))
    police = as_role("police")
    for caller in (PROPERTY, police, world["gw_b"]):
        for q in (target["id_number"], "13955550003"):
            assert registry.call("list_residents", {"q": q}, caller=caller)["total"] == 0, (caller.account, q)
    assert registry.call("list_residents", {"q": "13955550003"}, caller=world["gw_a"])["total"] == 1


# -- who may write at all, however the call reaches the registry --------------------------------

def test_only_the_office_and_grid_workers_write_residents_even_over_rpc(registry, world):
    resident = registry.call("register_resident", person(world["east"], seq=361))
    police = as_role("police")
    own = as_role("resident", resident_id=resident["id"])
    elsewhere = {"building_id": world["east"], "unit": 2, "floor": 1, "room": "101"}
    for caller in (CANTEEN, police, own):
        with pytest.raises(Forbidden):
            registry.call("import_residents", *sheet(FULL_HEADER, row(363)), caller=caller)
        with pytest.raises((Forbidden, NotFound)):  # not theirs to change, or not theirs to see
            registry.call("update_resident", resident["id"], {"tags": []}, caller=caller)
        with pytest.raises((Forbidden, NotFound)):
            registry.call("move_resident", resident["id"], {"dwelling": elsewhere}, caller=caller)
        with pytest.raises(Forbidden):
            registry.call("register_resident", person(world["east"], seq=365), caller=caller)
        with pytest.raises(Forbidden):
            registry.call("snapshot_residents", "", 10, caller=caller)
    assert registry.call("get_resident", resident["id"])["tags"] == ["elderly"]
    assert registry.call("list_residents", {"q": "王秀英"})["total"] == 1  # nothing was registered
