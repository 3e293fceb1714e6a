"""The registry over RPC against real RabbitMQ and PostgreSQL: rules, scope, masking, events."""
import json
from datetime import date, timedelta

import pytest
from kombu import Connection, Exchange, Queue
from sqlalchemy import select

from heyun.db import make_engine
from heyun.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from heyun.pii import Protector
from heyun.testing import wait_for
from heyun.testing.callers import as_role
from registry import idnumbers
from registry.contract import RESIDENT_REGISTERED
from registry.models import PiiAccess
from registry.tests.support import BORN, CANTEEN, PII_KEY, PROPERTY, STAFF, age_on, person, rows


def test_register_and_read_back_with_masking_by_role(registry, world):
    created = registry.call("register_resident", person(world["east"]))
    assert created["id_number"] == idnumbers.make("370115", BORN, 11)  # staff sees it
    seen_by_canteen = registry.call("get_resident", created["id"], caller=CANTEEN)
    assert "id_number" not in seen_by_canteen and "household_id" not in seen_by_canteen  # not theirs to know
    assert seen_by_canteen["phone"] == "138****5678"
    # The age as of today (a literal would be wrong from the next birthday on).
    assert seen_by_canteen["age"] == age_on(BORN, date.today()) and seen_by_canteen["floor"] == 1
    with pytest.raises(NotFound):  # property management reaches residents through notices only
        registry.call("get_resident", created["id"], caller=PROPERTY)


def test_a_message_without_a_caller_sees_nobody(registry, world):
    created = registry.call("register_resident", person(world["east"]))
    assert registry.call("list_residents", {}, caller=None)["total"] == 0
    with pytest.raises(NotFound):
        registry.call("get_resident", created["id"], caller=None)


def test_every_unmasked_read_is_audited(registry, world):
    created = registry.call("register_resident", person(world["east"]))
    engine = make_engine(world["url"])
    with engine.begin() as conn:  # count only the reads below, not the answer to the registration
        conn.execute(PiiAccess.__table__.delete())
    registry.call("get_resident", created["id"], caller=CANTEEN)   # masked: no audit
    registry.call("get_resident", created["id"])                   # staff: audited
    with engine.connect() as conn:
        rows = conn.execute(select(PiiAccess.account, PiiAccess.fields)
                            .where(PiiAccess.subject_id == created["id"])).all()
    engine.dispose()
    assert rows == [("staff", "id_number,phone")]


def test_a_bad_check_digit_names_id_number(registry, world):
    data = person(world["east"])
    data["id_number"] = data["id_number"][:-1] + ("0" if data["id_number"][-1] != "0" else "1")
    with pytest.raises(InvalidInput) as caught:
        registry.call("register_resident", data)
    assert "check digit" in caught.value.errors["id_number"][0]


def test_birth_date_and_gender_must_agree_with_the_id(registry, world):
    data = person(world["east"], birth_date="1951-01-01")
    with pytest.raises(InvalidInput) as caught:
        registry.call("register_resident", data)
    assert "id_number" in caught.value.errors


def test_wrong_types_and_unknown_fields_name_the_field(registry, world):
    data = person(world["east"], colour="blue")
    data["dwelling"]["floor"] = "third"
    with pytest.raises(InvalidInput) as caught:
        registry.call("register_resident", data)
    assert set(caught.value.errors) == {"colour", "dwelling.floor"}


def test_a_floor_above_the_roof_is_refused(registry, world):
    with pytest.raises(InvalidInput) as caught:
        registry.call("register_resident", person(world["east"], floor=7))
    assert "dwelling.floor" in caught.value.errors


def test_a_duplicate_id_number_is_a_conflict(registry, world):
    registry.call("register_resident", person(world["east"]))
    with pytest.raises(Conflict):
        registry.call("register_resident", person(world["west"], room="102"))


def test_floor_and_building_filters_return_exactly_those_residents(registry, world):
    for seq, (building, floor) in enumerate([("east", 1), ("east", 2), ("east", 3), ("west", 3)], start=21):
        registry.call("register_resident", person(world[building], floor=floor, room=f"{floor}01", seq=seq))
    found = registry.call("list_residents", {"building_id": world["east"], "floor_min": 2})
    assert found["total"] == 2
    assert sorted(r["floor"] for r in found["items"]) == [2, 3]
    assert {r["building_id"] for r in found["items"]} == {world["east"]}


def test_age_and_tag_filters(registry, world):
    registry.call("register_resident", person(world["east"], seq=31, birth=date(1940, 1, 1), tags=["living_alone"]))
    registry.call("register_resident", person(world["east"], seq=33, birth=date(1990, 1, 1), tags=[], room="102"))
    assert registry.call("list_residents", {"min_age": 70})["total"] == 1
    assert registry.call("list_residents", {"tag": "living_alone"})["total"] == 1
    with pytest.raises(InvalidInput) as caught:
        registry.call("list_residents", {"tag": "rich"})
    assert "tag" in caught.value.errors


def test_a_grid_worker_sees_and_changes_only_their_grid(registry, world):
    mine = registry.call("register_resident", person(world["east"], seq=41))
    theirs = registry.call("register_resident", person(world["west"], seq=43))
    listed = registry.call("list_residents", {}, caller=world["gw_a"])
    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert listed["items"][0]["id_number"] == mine["id_number"]  # unmasked for their own grid
    with pytest.raises(NotFound):
        registry.call("get_resident", theirs["id"], caller=world["gw_a"])
    with pytest.raises(Forbidden):
        registry.call("register_resident", person(world["west"], seq=45, room="301"), caller=world["gw_a"])


def test_moving_keeps_the_history(registry, world):
    resident = registry.call("register_resident", person(world["east"], seq=51))
    moved = registry.call("move_resident", resident["id"], {
        "dwelling": {"building_id": world["west"], "unit": 2, "floor": 3, "room": "302"}})
    assert (moved["building_id"], moved["floor"], moved["room"]) == (world["west"], 3, "302")
    history = registry.call("residence_history", resident["id"])["items"]
    assert [(h["floor"], h["room"], h["moved_out"] is None) for h in history] == [(1, "101", False), (3, "302", True)]


def test_registering_publishes_an_event_without_the_id_number(registry, world):
    exchange = Exchange("registry.events", type="topic", durable=True)
    with Connection(registry.amqp_config["AMQP_URI"]) as conn:
        queue = Queue("test-resident-registered", exchange, routing_key="resident_registered", durable=False,
                      auto_delete=False)
        queue(conn.channel()).declare()
        created = registry.call("register_resident", person(world["east"], seq=61,
                                                            tags=["elderly", "mobility_impaired"]))

        def fetch():
            return queue(conn.channel()).get(no_ack=True)

        message = wait_for(fetch, message="resident_registered on the exchange")
    body = message.body if isinstance(message.body, str) else message.body.decode()
    envelope = json.loads(body)
    assert envelope["event_type"] == "resident_registered" and envelope["source"] == "registry"
    assert envelope["data"]["resident_id"] == created["id"]
    assert RESIDENT_REGISTERED.check(envelope["data"]) == {}  # conforms to the published catalogue
    assert envelope["data"]["dwelling"]["floor"] == 1 and envelope["data"]["grid_id"] == world["grid_a"]
    assert created["id_number"] not in body and "13812345678" not in body
    # Health data only as ciphertext: the other tags in the clear, this one for key holders.
    assert "mobility_impaired" not in body and envelope["data"]["tags"] == ["elderly"]
    assert Protector(PII_KEY).decrypt(envelope["data"]["health_tags_token"]) == "mobility_impaired"


def test_health_tags_are_shown_only_to_roles_that_care_for_residents(registry, world):
    created = registry.call("register_resident", person(world["east"], seq=71,
                                                        tags=["living_alone", "disabled", "low_income"]))
    police = as_role("police")
    for caller in (STAFF, world["gw_a"]):
        assert registry.call("get_resident", created["id"], caller=caller)["tags"] == [
            "disabled", "living_alone", "low_income"]
    # The canteen brings meals to those who cannot walk, and checks on elders living alone; who
    # is poor is not its business, and selecting by it would tell as much as showing it.
    assert registry.call("get_resident", created["id"], caller=CANTEEN)["tags"] == ["disabled", "living_alone"]
    assert registry.call("list_residents", {"tag": "disabled"}, caller=CANTEEN)["total"] == 1
    with pytest.raises(Forbidden):
        registry.call("list_residents", {"tag": "low_income"}, caller=CANTEEN)
    for caller in (PROPERTY, police):  # no resident at all, by list, by id or by tag
        assert registry.call("list_residents", {}, caller=caller)["total"] == 0
        with pytest.raises(NotFound):
            registry.call("get_resident", created["id"], caller=caller)
        with pytest.raises(Forbidden):
            registry.call("list_residents", {"tag": "living_alone"}, caller=caller)


def test_import_twice_changes_nothing_and_reports_bad_rows(registry, world):
    good_a = idnumbers.make("370115", date(1945, 2, 3), 101)
    good_b = idnumbers.make("370115", date(1947, 8, 9), 102)
    header, data = rows(
        ("程建国", "男", good_a, "13900000001", "1", "1", "3", "301", "高龄、无智能手机", "户主", "东辛村"),
        ("刘秀英", "女", good_b, "", "1", "1", "3", "301", "elderly", "配偶", "东辛村"),
        ("坏号码", "男", good_a[:-1] + "0" if good_a[-1] != "0" else good_a[:-1] + "1", "", "1", "1", "2", "201", "", "", ""),
        ("无此楼", "男", idnumbers.make("370115", date(1960, 1, 1), 105), "", "99", "1", "2", "201", "", "", ""),
    )
    first = registry.call("import_residents", header, data)
    assert (first["created"], first["updated"], first["unchanged"]) == (2, 0, 0)
    assert {(e["row"], e["field"]) for e in first["errors"]} == {(4, "id_number"), (5, "building")}
    again = registry.call("import_residents", header, data)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    cheng = registry.call("list_residents", {"q": "程建国"})["items"][0]
    assert set(cheng["tags"]) == {"elderly", "no_smartphone"} and cheng["floor"] == 3
    household = registry.call("get_household", cheng["household_id"])
    assert household["member_count"] == 2 and household["head_resident_id"] == cheng["id"]
    data[0][3] = "13900000009"
    third = registry.call("import_residents", header, data[:2])
    assert (third["updated"], third["unchanged"]) == (1, 1)


def test_import_without_required_columns_is_refused(registry):
    with pytest.raises(InvalidInput) as caught:
        registry.call("import_residents", ["姓名", "电话"], [["张三", "1"]])
    assert "header" in caught.value.errors


def test_proxy_request_lifecycle(registry, world):
    resident = registry.call("register_resident", person(world["east"], seq=71))
    item = next(i for i in registry.call("list_service_items", limit=100)["items"] if i["code"] == "MI-02")
    assert registry.call("list_service_items", limit=100)["total"] == 33
    request = registry.call("submit_proxy_request", {
        "resident_id": resident["id"], "service_item_id": item["id"], "description": "激活医保电子凭证",
        "authorization": {"scope": "代为激活", "valid_until": (date.today() + timedelta(days=30)).isoformat()}},
        caller=world["gw_a"])
    assert request["status"] == "submitted" and request["grid_id"] == world["grid_a"]
    with pytest.raises(IllegalTransition):
        registry.call("transition_proxy_request", request["id"], {"action": "complete", "evidence": "x"},
                      caller=world["gw_a"])
    with pytest.raises(NotFound):  # another grid's worker cannot even see it
        registry.call("transition_proxy_request", request["id"], {"action": "accept"}, caller=world["gw_b"])
    for action in ("accept", "start"):
        registry.call("transition_proxy_request", request["id"], {"action": action}, caller=world["gw_a"])
    with pytest.raises(InvalidInput) as caught:
        registry.call("transition_proxy_request", request["id"], {"action": "complete"}, caller=world["gw_a"])
    assert "evidence" in caught.value.errors
    done = registry.call("transition_proxy_request", request["id"],
                         {"action": "complete", "evidence": "医保电子凭证已激活，截图存档"}, caller=world["gw_a"])
    assert done["status"] == "completed"
    assert [h["to_status"] for h in done["history"]] == ["submitted", "accepted", "in_progress", "completed"]
    rated = registry.call("rate_proxy_request", request["id"], {"rating": 5, "comment": "像家人一样"})
    assert rated["rating"] == 5
    with pytest.raises(IllegalTransition):
        registry.call("rate_proxy_request", request["id"], {"rating": 4})


def test_overdue_requests_are_flagged_once(registry, world):
    resident = registry.call("register_resident", person(world["east"], seq=81))
    item = registry.call("list_service_items", limit=1)["items"][0]
    request = registry.call("submit_proxy_request", {
        "resident_id": resident["id"], "service_item_id": item["id"],
        "authorization": {"scope": "代办", "valid_until": (date.today() + timedelta(days=30)).isoformat()}})
    engine = make_engine(world["url"])
    with engine.begin() as conn:  # the request was submitted long ago
        from registry.models import ProxyRequest
        conn.execute(ProxyRequest.__table__.update().values(due_on=date.today() - timedelta(days=3)))
    engine.dispose()
    assert registry.call("list_proxy_requests", {"overdue": True})["total"] == 1
    assert registry.call("flag_overdue_proxy_requests") == {"flagged": 1}
    assert registry.call("flag_overdue_proxy_requests") == {"flagged": 0}
    assert registry.call("get_proxy_request", request["id"])["overdue"] is True


def test_unknown_ids_are_not_found(registry):
    for method in ("get_resident", "get_building", "get_household", "get_proxy_request", "get_organization"):
        with pytest.raises(NotFound):
            registry.call(method, "no-such-id")


def test_catalogue_lists_every_event(registry):
    doc = registry.call("catalogue")
    assert doc["asyncapi"].startswith("3.")
    names = set(doc["components"]["messages"])
    assert {"resident_registered", "resident_moved", "proxy_request_overdue"} <= names
    payload = doc["components"]["messages"]["resident_registered"]["payload"]["properties"]["data"]
    assert "id_number" not in payload["properties"] and "grid_id" in payload["properties"]




def test_totals_are_right_on_every_page(registry, world):
    for seq, room in ((91, "101"), (93, "102"), (95, "103")):
        registry.call("register_resident", person(world["east"], seq=seq, room=room))
    pages = [registry.call("list_residents", {}, limit=2, offset=offset) for offset in (0, 2, 5)]
    assert [(len(p["items"]), p["total"]) for p in pages] == [(2, 3), (1, 3), (0, 3)]


@pytest.mark.parametrize("method", ["list_residents", "list_buildings", "list_households", "list_organizations"])
def test_an_offset_past_the_ceiling_is_invalid_input_naming_it(registry, method):
    # An RPC caller bypassing the gateway: was an OverflowError from the database driver.
    with pytest.raises(InvalidInput) as caught:
        registry.call(method, {}, limit=10, offset=2 ** 63)
    assert set(caught.value.errors) == {"offset"}


def test_snapshot_pages_through_residents_as_events_describe_them(registry, world):
    for seq, room in ((101, "101"), (103, "102"), (105, "103")):
        registry.call("register_resident", person(world["east"], seq=seq, room=room, language="en",
                                                  preferred_channel="sms"))
    first = registry.call("snapshot_residents", "", 2)
    rest = registry.call("snapshot_residents", first["next_after_id"], 2)
    items = first["items"] + rest["items"]
    assert len(items) == 3 and rest["next_after_id"] is None
    assert all(RESIDENT_REGISTERED.check(item) == {} for item in items)
    assert {(i["language"], i["preferred_channel"]) for i in items} == {("en", "sms")}
    assert all(i["phone_token"] and "13812345678" not in i["phone_token"] for i in items)
