"""The gateway in front of a running registry (the Wanghe demo community), over real HTTP:
role-dependent masking and grid scope applied by the registry, domain errors as problems,
Idempotency-Key replay, spreadsheet import, help-and-proxy requests."""
import uuid

import jwt

from gateway.tests.support import (
    IMPORT_TYPES, TOKEN_SECRET, buildings, import_rows, resident_body, spreadsheet,
)
from heyun.testing.clients import assert_problem


def test_ready_when_the_registry_answers(platform):
    assert platform.get("/readyz").json() == {"status": "ready", "down": []}


def test_buildings_grids_and_unknown_ids(platform):
    body = platform.get("/api/v1/buildings", as_user="staff").json()
    assert body["total"] == 16 and len(body["items"]) == 16
    assert set(body["items"][0]) >= {"id", "number", "name", "floors", "units", "grid_id"}
    one = platform.get(f"/api/v1/buildings/{body['items'][0]['id']}", as_user="staff").json()
    assert one["id"] == body["items"][0]["id"]
    assert platform.get("/api/v1/grids", as_user="staff").json()["total"] == 4
    assert_problem(platform.get(f"/api/v1/buildings/{uuid.uuid4()}", as_user="staff"), 404)
    paged = platform.get("/api/v1/buildings?limit=5&offset=14", as_user="staff").json()
    assert paged["total"] == 16 and len(paged["items"]) == 2


def test_resident_filters_and_masking_by_role(platform):
    building = buildings(platform)[0]
    path = f"/api/v1/residents?building_id={building['id']}&floor_min=4&limit=500"
    seen_by_staff = platform.get(path, as_user="staff").json()
    assert seen_by_staff["total"] > 0 and all(r["floor"] >= 4 for r in seen_by_staff["items"])
    assert "*" not in seen_by_staff["items"][0]["id_number"]
    seen_by_canteen = platform.get(path, as_user="canteen").json()
    assert seen_by_canteen["total"] == seen_by_staff["total"]
    masked = seen_by_canteen["items"][0]
    assert "id_number" not in masked
    assert masked["phone"] is None or "****" in masked["phone"]
    elderly = platform.get("/api/v1/residents?min_age=70&tag=elderly&limit=1", as_user="staff").json()
    assert elderly["total"] > 300 and elderly["items"][0]["age"] >= 70


def test_a_grid_worker_sees_only_their_grid(platform):
    claims = jwt.decode(platform.token("gridworker1"), TOKEN_SECRET, algorithms=["HS256"])
    assert len(claims["grid_ids"]) == 1
    residents = platform.get("/api/v1/residents?limit=500", as_user="gridworker1").json()
    assert residents["total"] > 0
    assert {r["grid_id"] for r in residents["items"]} == set(claims["grid_ids"])


def test_register_a_resident_and_the_registry_rules_come_back_as_422(platform):
    building = buildings(platform)[1]
    created = platform.post("/api/v1/residents", as_user="staff", json=resident_body(building["id"]))
    assert created.status_code == 201, created.text
    assert created.headers["Content-Type"].startswith("application/json")
    assert created.json()["name"] == "测试居民" and "测试居民" in created.text  # UTF-8, no \u escapes
    bad = resident_body(building["id"])
    bad["id_number"] = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
    body = assert_problem(platform.post("/api/v1/residents", as_user="staff", json=bad), 422)
    assert "id_number" in body["errors"]
    duplicate = dict(resident_body(building["id"]), id_number=created.json()["id_number"],
                     birth_date=created.json()["birth_date"])
    assert_problem(platform.post("/api/v1/residents", as_user="staff", json=duplicate), 409)
    above_the_roof = resident_body(building["id"])
    above_the_roof["dwelling"]["floor"] = 7
    body = assert_problem(platform.post("/api/v1/residents", as_user="staff", json=above_the_roof), 422)
    assert "dwelling.floor" in body["errors"]


def test_update_move_and_history(platform):
    first, second = buildings(platform)[4:6]
    resident = platform.post("/api/v1/residents", as_user="staff", json=resident_body(first["id"])).json()
    patched = platform.patch(f"/api/v1/residents/{resident['id']}", as_user="staff", json={"tags": ["living_alone"]})
    assert patched.status_code == 200 and patched.json()["tags"] == ["living_alone"]
    moved = platform.post(f"/api/v1/residents/{resident['id']}/moves", as_user="staff", json={
        "dwelling": {"building_id": second["id"], "unit": 2, "floor": 5, "room": "502"}})
    assert moved.status_code == 200 and moved.json()["building_id"] == second["id"]
    history = platform.get(f"/api/v1/residents/{resident['id']}/history", as_user="staff").json()
    assert len(history["items"]) == 2


def test_idempotency_key_replays_the_first_response_and_creates_nothing(platform):
    name = f"测试社会组织 {uuid.uuid4().hex[:6]}"
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"name": name, "kind": "social_organization"}
    first = platform.post("/api/v1/organizations", as_user="staff", json=body, headers=headers)
    again = platform.post("/api/v1/organizations", as_user="staff", json=body, headers=dict(headers))
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    listed = platform.get("/api/v1/organizations?kind=social_organization&limit=500", as_user="staff").json()
    assert [o["name"] for o in listed["items"]].count(name) == 1
    other = platform.post("/api/v1/organizations", as_user="staff", json=dict(body, name=name + "二"),
                          headers=dict(headers))
    assert "Idempotency-Key" in assert_problem(other, 422)["errors"]


def test_organisation_accounts_are_linked_at_sign_in(platform):
    for username, kind in (("property", "property_management"), ("waterplant", "water_utility")):
        claims = jwt.decode(platform.token(username), TOKEN_SECRET, algorithms=["HS256"])
        organization = platform.get(f"/api/v1/organizations/{claims['organization_id']}", as_user="staff").json()
        assert organization["kind"] == kind


def test_import_csv_twice_changes_nothing_the_second_time(platform):
    rows = import_rows(3, 7) + [["坏行", "女", "1950-01-01", "370102195001010000", 7, 1, 1, "101"]]
    data = spreadsheet("csv", rows)
    headers = {"Content-Type": "text/csv"}
    first = platform.post("/api/v1/residents/import", as_user="staff", data=data, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 3
    assert [(e["row"], e["field"]) for e in first.json()["errors"]] == [(5, "id_number")]
    second = platform.post("/api/v1/residents/import", as_user="staff", data=data, headers=headers).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3)


def test_import_xlsx_as_multipart(platform):
    data = spreadsheet("xlsx", import_rows(2, 8))
    response = platform.post("/api/v1/residents/import", as_user="staff",
                             files={"file": ("居民.xlsx", data, IMPORT_TYPES["xlsx"])})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2


def test_import_refuses_empty_files_and_other_types(platform):
    body = assert_problem(platform.post("/api/v1/residents/import", as_user="staff", data=b"",
                                        headers={"Content-Type": "text/csv"}), 422)
    assert "file" in body["errors"]
    assert_problem(platform.post("/api/v1/residents/import", as_user="staff", data=b"{}",
                                 headers={"Content-Type": "application/json"}), 415)
    missing_column = "姓名,性别\n王,女\n".encode()
    body = assert_problem(platform.post("/api/v1/residents/import", as_user="staff", data=missing_column,
                                        headers={"Content-Type": "text/csv"}), 422)
    assert "header" in body["errors"]


def test_a_resident_reads_only_their_own_record(platform):
    claims = jwt.decode(platform.token("resident"), TOKEN_SECRET, algorithms=["HS256"])
    own = platform.get(f"/api/v1/residents/{claims['resident_id']}", as_user="resident")
    assert own.status_code == 200 and own.json()["name"] == "程建国"
    someone_else = platform.get("/api/v1/residents?limit=1&q=测试", as_user="staff").json()["items"]
    other_id = someone_else[0]["id"] if someone_else else str(uuid.uuid4())
    assert_problem(platform.get(f"/api/v1/residents/{other_id}", as_user="resident"), 404)
    assert_problem(platform.get("/api/v1/residents", as_user="resident"), 403)


def test_proxy_request_lifecycle_through_the_gateway(platform):
    claims = jwt.decode(platform.token("resident"), TOKEN_SECRET, algorithms=["HS256"])
    items = platform.get("/api/v1/service-items", as_user="resident").json()["items"]
    request = platform.post("/api/v1/proxy-requests", as_user="resident", json={
        "resident_id": claims["resident_id"], "service_item_id": items[0]["id"], "description": "请帮忙办理",
        "authorization": {"scope": "代为办理", "valid_until": "2027-12-31"}})
    assert request.status_code == 201, request.text
    request_id = request.json()["id"]
    assert_problem(platform.post(f"/api/v1/proxy-requests/{request_id}/transitions", as_user="resident",
                                 json={"action": "accept"}), 403)
    accepted = platform.post(f"/api/v1/proxy-requests/{request_id}/transitions", as_user="gridworker1",
                             json={"action": "accept", "note": "上门"})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    body = assert_problem(platform.post(f"/api/v1/proxy-requests/{request_id}/transitions", as_user="gridworker1",
                                        json={"action": "complete", "evidence": "done"}), 409)
    assert body["title"] == "Illegal state transition"
    withdrawn = platform.post(f"/api/v1/proxy-requests/{request_id}/transitions", as_user="resident",
                              json={"action": "withdraw"})
    assert withdrawn.json()["status"] == "withdrawn"
    mine = platform.get("/api/v1/proxy-requests", as_user="resident").json()
    assert mine["total"] >= 1 and {r["resident_id"] for r in mine["items"]} == {claims["resident_id"]}
    assert_problem(platform.post("/api/v1/proxy-requests", as_user="resident", json={
        "resident_id": str(uuid.uuid4()), "service_item_id": items[0]["id"],
        "authorization": {"scope": "代为办理", "valid_until": "2027-12-31"}}), 403)


def test_the_event_catalogue_needs_every_service_it_merges(platform):
    # notify is not running beside this gateway: a catalogue without its events would mislead.
    body = assert_problem(platform.get("/api/v1/events/catalogue", as_user="staff"), 503)
    assert "notify" in body["detail"]


def test_the_office_builds_its_grid_and_moves_a_building_with_its_residents(empty_community):
    office = empty_community

    def post(path, body, as_user="staff"):
        return office.post("/api/v1" + path, as_user=as_user, json=body)

    def residents_seen_by(username):
        return [r["id"] for r in office.get("/api/v1/residents", as_user=username).json()["items"]]

    east, west = (post("/grids", {"name": name}) for name in ("东区网格", "西区网格"))
    assert east.status_code == west.status_code == 201, east.text
    east, west = east.json(), west.json()
    assert_problem(post("/grids", {"name": "东区网格"}), 409)
    building = post("/buildings", {"number": 1, "name": "1号楼", "floors": 6, "units": 2, "grid_id": east["id"]})
    assert building.status_code == 201, building.text
    building = building.json()
    assert_problem(post("/buildings", {"number": 1, "name": "又一个1号楼", "floors": 6, "units": 2}), 409)
    for worker in ({"name": "李娜", "phone": "13800000001", "account": "gridworker1", "grid_id": east["id"]},
                   {"name": "王芳", "phone": "13800000002", "account": "gridworker2", "grid_id": west["id"]}):
        assert post("/grid-workers", worker).status_code == 201
    # The dwelling on the top floor is made as its first resident moves in.
    resident = post("/residents", resident_body(building["id"], dwelling={
        "building_id": building["id"], "unit": 2, "floor": 6, "room": "602"}))
    assert resident.status_code == 201, resident.text
    resident = resident.json()
    assert residents_seen_by("gridworker1") == [resident["id"]] and residents_seen_by("gridworker2") == []

    moved = office.patch(f"/api/v1/buildings/{building['id']}", as_user="staff", json={"grid_id": west["id"]})
    assert moved.status_code == 200 and moved.json()["grid_id"] == west["id"]
    assert residents_seen_by("gridworker2") == [resident["id"]] and residents_seen_by("gridworker1") == []
    assert_problem(office.get(f"/api/v1/residents/{resident['id']}", as_user="gridworker1"), 404)
    assert office.get(f"/api/v1/grids/{west['id']}", as_user="staff").json()["building_ids"] == [building["id"]]


def test_the_office_moves_a_grid_worker_who_covers_the_new_grid_from_the_next_sign_in(empty_community):
    office = empty_community
    east, west = (office.post("/api/v1/grids", as_user="admin", json={"name": name}).json() for name in ("东", "西"))
    building = office.post("/api/v1/buildings", as_user="admin",
                           json={"number": 2, "name": "2号楼", "floors": 6, "units": 2, "grid_id": west["id"]}).json()
    resident = office.post("/api/v1/residents", as_user="staff", json=resident_body(building["id"])).json()
    worker = office.post("/api/v1/grid-workers", as_user="staff", json={
        "name": "李娜", "phone": "13800000001", "account": "gridworker1", "grid_id": east["id"]}).json()
    assert office.get("/api/v1/residents", as_user="gridworker1").json()["total"] == 0

    moved = office.patch(f"/api/v1/grid-workers/{worker['id']}", as_user="staff",
                         json={"grid_id": west["id"], "phone": "13900000009"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["grid_id"], moved.json()["phone"]) == (west["id"], "13900000009")
    office.tokens.pop("gridworker1")  # signs in again
    seen = office.get("/api/v1/residents", as_user="gridworker1").json()["items"]
    assert [r["id"] for r in seen] == [resident["id"]] and "*" not in seen[0]["phone"]  # their own grid's numbers
    listed = office.get(f"/api/v1/grid-workers?grid_id={west['id']}", as_user="property").json()["items"]
    assert [w["phone"] for w in listed] == ["139****0009"]


def test_grid_management_is_for_the_office_and_bad_input_names_the_field(empty_community):
    office = empty_community
    grid = office.post("/api/v1/grids", as_user="staff", json={"name": "东区网格"}).json()
    building = office.post("/api/v1/buildings", as_user="staff",
                           json={"number": 3, "name": "3号楼", "floors": 6, "units": 2}).json()
    worker = office.post("/api/v1/grid-workers", as_user="staff", json={"name": "李娜", "grid_id": grid["id"]}).json()
    for username in ("property", "gridworker1"):
        assert_problem(office.post("/api/v1/grids", as_user=username, json={"name": "别的网格"}), 403)
        assert_problem(office.post("/api/v1/buildings", as_user=username,
                                   json={"number": 4, "name": "4号楼", "floors": 6, "units": 2}), 403)
        assert_problem(office.patch(f"/api/v1/buildings/{building['id']}", as_user=username,
                                    json={"grid_id": grid["id"]}), 403)
        assert_problem(office.patch(f"/api/v1/grid-workers/{worker['id']}", as_user=username,
                                    json={"name": "别人"}), 403)
    for body, field in (({"floors": 0}, "floors"), ({"floors": 10 ** 30}, "floors"), ({"units": 21}, "units"),
                        ({"number": "三"}, "number"), ({"grid_id": "no-such-grid"}, "grid_id")):
        sent = dict({"number": 5, "name": "5号楼", "floors": 6, "units": 2}, **body)
        problem = assert_problem(office.post("/api/v1/buildings", as_user="staff", json=sent), 422)
        assert field in problem["errors"], problem
    assert "grid_id" in assert_problem(office.patch(f"/api/v1/buildings/{building['id']}", as_user="staff",
                                                    json={"grid_id": "no-such-grid"}), 422)["errors"]
    assert "grid_id" in assert_problem(office.patch(f"/api/v1/buildings/{building['id']}", as_user="staff",
                                                    json={}), 422)["errors"]
    assert_problem(office.patch(f"/api/v1/buildings/{uuid.uuid4()}", as_user="staff", json={"grid_id": grid["id"]}),
                   404)
    assert "building_ids.0" in assert_problem(office.post("/api/v1/grids", as_user="staff", json={
        "name": "西区网格", "building_ids": [str(uuid.uuid4())]}), 422)["errors"]
    assert "phone" in assert_problem(office.patch(f"/api/v1/grid-workers/{worker['id']}", as_user="staff",
                                                  json={"phone": "12345"}), 422)["errors"]
    assert_problem(office.patch(f"/api/v1/grid-workers/{uuid.uuid4()}", as_user="staff", json={"name": "某人"}), 404)
    assert office.get("/api/v1/buildings", as_user="staff").json()["total"] == 1
