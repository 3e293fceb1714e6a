"""The registry's resident rules with no broker and no database server: ages, households, who may
write where, and the import's reading of a sheet (its domain functions, and its entrypoints
through Nameko's ``worker_factory`` on SQLite)."""
from datetime import date, timedelta

import pytest

from heyun.errors import Forbidden, InvalidInput, NotFound
from registry import idnumbers, importing, residents
from registry.tests.support import CANTEEN, PROPERTY, age_on, person, rows


# -- ages --------------------------------------------------------------------------------------

@pytest.mark.parametrize("birth, day, age", [
    (date(1950, 5, 1), date(2026, 4, 30), 75),   # the day before the birthday
    (date(1950, 5, 1), date(2026, 5, 1), 76),    # on it
    (date(1948, 2, 29), date(2027, 2, 28), 78),  # born on a leap day: not yet in a common year
    (date(1948, 2, 29), date(2027, 3, 1), 79),
])
def test_an_age_counts_whole_years_to_the_birthday(birth, day, age):
    assert residents.age_on(birth, day) == age


def test_years_before_a_leap_day_lands_on_the_28th():
    assert residents.years_before(date(2024, 2, 29), 1) == date(2023, 2, 28)
    assert residents.years_before(date(2024, 3, 1), 76) == date(1948, 3, 1)


def test_a_resident_shows_their_age_today(registry, world):
    born = date(1950, 5, 1)
    created = registry.register_resident(person(world["east"], birth=born))
    registry.context.caller = CANTEEN
    assert registry.get_resident(created["id"])["age"] == age_on(born, residents.today())


def test_the_age_filter_includes_whoever_turns_that_age_today(registry, world):
    today = residents.today()
    seventy_today = residents.years_before(today, 70)
    seventy_tomorrow = residents.years_before(today + timedelta(days=1), 70)
    registry.register_resident(person(world["east"], birth=seventy_today, seq=21, room="101"))
    registry.register_resident(person(world["east"], birth=seventy_tomorrow, seq=23, room="102"))
    found = registry.list_residents({"min_age": 70})
    assert [r["birth_date"] for r in found["items"]] == [seventy_today.isoformat()]
    assert registry.list_residents({"max_age": 69})["total"] == 1


# -- households and scope ----------------------------------------------------------------------

def test_people_at_one_dwelling_share_a_household_and_a_move_leaves_it(registry, world):
    head = registry.register_resident(person(world["east"], seq=31, relation_to_head="户主"))
    spouse = registry.register_resident(person(world["east"], seq=33, relation_to_head="配偶"))
    assert head["household_id"] == spouse["household_id"]
    household = registry.get_household(head["household_id"])
    assert household["member_count"] == 2 and household["head_resident_id"] == head["id"]
    registry.move_resident(spouse["id"], {"dwelling": {"building_id": world["east"], "unit": 2, "floor": 3,
                                                       "room": "302"}})
    assert registry.get_household(head["household_id"])["member_count"] == 1
    assert registry.get_resident(spouse["id"])["household_id"] != head["household_id"]


def test_a_grid_worker_writes_only_in_their_own_grid(registry, world):
    registry.context.caller = world["gw_a"]
    mine = registry.register_resident(person(world["east"], seq=41))
    assert mine["grid_id"] == world["grid_a"]
    with pytest.raises(Forbidden):
        registry.register_resident(person(world["west"], seq=43))
    registry.context.caller = PROPERTY  # reaches residents through notices only
    with pytest.raises(Forbidden):
        registry.register_resident(person(world["east"], seq=45))
    with pytest.raises(NotFound):
        registry.get_resident(mine["id"])


def test_a_floor_above_the_roof_and_a_wrong_check_digit_name_their_fields(registry, world):
    with pytest.raises(InvalidInput) as caught:
        registry.register_resident(person(world["east"], floor=4))  # the building has 3
    assert set(caught.value.errors) == {"dwelling.floor"}
    data = person(world["east"], seq=51)
    data["id_number"] = data["id_number"][:-1] + ("0" if data["id_number"][-1] != "0" else "1")
    with pytest.raises(InvalidInput) as caught:
        registry.register_resident(data)
    assert set(caught.value.errors) == {"id_number"}


# -- reading an import sheet -------------------------------------------------------------------

BUILDINGS = {1: type("Building", (), {"units": 2, "floors": 6})()}


def test_the_header_is_read_in_either_language_and_a_missing_column_named():
    header, _ = rows()
    positions = importing.map_header(["\ufeff" + header[0]] + header[1:])
    assert positions["name"] == 0 and positions["id_number"] == 2 and positions["floor"] == 6
    with pytest.raises(InvalidInput) as caught:
        importing.map_header(["姓名", "电话"])
    assert "header" in caught.value.errors


def test_a_good_row_is_read_with_its_tags_in_chinese():
    header, data = rows(("程建国", "男", idnumbers.make("370115", date(1945, 2, 3), 101), "13900000001",
                         "1", "1单元", "3楼", "301", "高龄、无智能手机", "户主", "东辛村"))
    row, errors = importing.parse_row(data[0], importing.map_header(header), BUILDINGS)
    assert errors == []
    assert (row["gender"], row["birth_date"], row["unit"], row["floor"]) == ("male", date(1945, 2, 3), 1, 3)
    assert row["tags"] == ["elderly", "no_smartphone"]


def test_a_bad_row_names_every_field_that_is_wrong():
    header, data = rows(("刘秀英", "男", idnumbers.make("370115", date(1947, 8, 9), 102), "12345",
                         "1", "3", "7", "701", "富裕", "", ""))
    row, errors = importing.parse_row(data[0], importing.map_header(header), BUILDINGS)
    assert row is None
    # an even sequence is a woman's number; the phone is not a mobile; unit 3 and floor 7 do not
    # exist in a building of 2 units and 6 floors; the tag is not in the vocabulary
    assert {field for field, _ in errors} == {"id_number", "phone", "unit", "floor", "tags"}


def test_an_unknown_building_is_the_rows_error():
    header, data = rows(("无此楼", "男", idnumbers.make("370115", date(1960, 1, 1), 105), "", "99", "1", "2", "201",
                         "", "", ""))
    _, errors = importing.parse_row(data[0], importing.map_header(header), BUILDINGS)
    assert [field for field, _ in errors] == ["building"]


def test_an_import_through_the_entrypoint_twice_changes_nothing_the_second_time(registry, world):
    header, data = rows(("程建国", "男", idnumbers.make("370115", date(1945, 2, 3), 101), "13900000001",
                         "1", "1", "3", "301", "高龄", "户主", "东辛村"))
    first = registry.import_residents(header, data)
    again = registry.import_residents(header, data)
    assert (first["created"], again["created"], again["unchanged"]) == (1, 0, 1)
    assert registry.list_residents({"q": "程建国"})["items"][0]["tags"] == ["elderly"]
