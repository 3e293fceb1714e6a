"""The registry issue's "Done when", checked through the gateway with every service a real process
on the Wanghe demo data (see ``conftest.py``)."""
import re
from datetime import date

import pytest

from heyun.testing.clients import all_items, assert_problem
from registry.idnumbers import make as id_number

pytestmark = pytest.mark.e2e

FULL_ID = re.compile(r"^\d{17}[\dX]$")
MASKED_PHONE = re.compile(r"^\d{3}\*{4}\d{4}$")  # 138****5678


@pytest.fixture(scope="module")
def buildings(platform):
    response = platform.client("staff").get("/buildings")
    assert response.status_code == 200, response.text
    return response.json()


def test_demo_account_gets_a_token(platform):
    response = platform.client().post("/auth/token",
                                      json={"username": "staff", "password": "wanghe-demo"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"] and body["token_type"] == "bearer" and body["expires_in"] > 0


def test_wrong_password_is_401(platform):
    response = platform.client().post("/auth/token",
                                      json={"username": "staff", "password": "not-it"})
    assert_problem(response, 401)


def test_sixteen_buildings(buildings):
    assert buildings["total"] == 16
    assert len(buildings["items"]) == 16
    assert sorted(b["number"] for b in buildings["items"]) == list(range(1, 17))
    for building in buildings["items"]:
        assert {"id", "number", "name", "floors", "units", "grid_id"} <= set(building)


def test_residents_by_building_and_floor(platform, buildings):
    staff = platform.client("staff")
    building_id = buildings["items"][0]["id"]

    response = staff.get("/residents", params={"building_id": building_id, "floor_min": 4,
                                               "limit": 500})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["total"] > 0
    assert len(found["items"]) == found["total"]
    for resident in found["items"]:
        assert resident["building_id"] == building_id
        assert resident["floor"] >= 4

    # The same answer counted by hand from every resident of the building.
    everyone = all_items(staff, "/residents", building_id=building_id)
    upstairs = {r["id"] for r in everyone if r["floor"] >= 4}
    assert found["total"] == len(upstairs)
    assert {r["id"] for r in found["items"]} == upstairs


def test_staff_see_id_numbers_the_canteen_masked_phones_and_property_nobody(platform):
    unmasked = platform.client("staff").get("/residents", params={"limit": 20})
    assert unmasked.status_code == 200, unmasked.text
    assert unmasked.json()["items"]
    for resident in unmasked.json()["items"]:
        assert FULL_ID.match(resident["id_number"]), resident["id_number"]

    masked = platform.client("canteen").get("/residents", params={"limit": 20})
    assert masked.status_code == 200, masked.text
    items = masked.json()["items"]
    assert items and any(resident.get("phone") for resident in items)
    for resident in items:
        assert "id_number" not in resident
        if resident.get("phone"):
            assert MASKED_PHONE.match(resident["phone"]), resident["phone"]

    # Property management reaches residents through notices, never through lists.
    assert platform.client("property").get("/residents", params={"limit": 20}).status_code == 403


def test_grid_worker_sees_only_their_grid(platform):
    staff = platform.client("staff")
    grids = all_items(staff, "/grids")
    grid = next(g for g in grids if "gridworker1" in {w["account"] for w in g["workers"]})
    grid_buildings = set(grid["building_ids"])
    assert grid_buildings

    seen = all_items(platform.client("gridworker1"), "/residents")
    assert seen
    assert {r["building_id"] for r in seen} <= grid_buildings
    in_grid = staff.get("/residents", params={"grid_id": grid["id"], "limit": 1})
    assert in_grid.status_code == 200, in_grid.text
    assert len(seen) == in_grid.json()["total"]


def test_bad_id_check_digit_is_422_naming_id_number(platform, buildings):
    number = id_number("370115", date(1950, 3, 15), 123)
    wrong = next(c for c in "0123456789X" if c != number[-1])
    response = platform.client("staff").post("/residents", json={
        "name": "测试居民",
        "gender": "male",
        "birth_date": "1950-03-15",
        "id_number": number[:-1] + wrong,
        "phone": "13800000000",
        "tags": [],
        "dwelling": {"building_id": buildings["items"][0]["id"], "unit": 1, "floor": 1,
                     "room": "101"},
    })
    body = assert_problem(response, 422)
    assert any(field.split(".")[0] == "id_number" for field in body.get("errors", {})), body


def test_malformed_json_is_400(platform):
    response = platform.client("staff").post(
        "/residents", data=b'{"name": "', headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_no_token_is_401(platform):
    assert_problem(platform.client().get("/residents"), 401)
    assert_problem(platform.client().get("/buildings"), 401)
