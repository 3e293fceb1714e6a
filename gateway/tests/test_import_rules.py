"""The resident import through the gateway, over real HTTP with the Wanghe demo registry: a grid
worker cannot take over another grid's resident, a sheet without a column leaves that field alone
and the answer says per row what changed, the template is served as XLSX to the roles that
import, and staff find a person by their whole ID or mobile number."""
import io

from openpyxl import load_workbook

from heyun.testing.clients import assert_problem
from gateway.tests.support import buildings, new_id_number, resident_body
from registry import idnumbers

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_headers():
    return {"Content-Type": "text/csv"}  # a new dict each time: the client adds the token to it


def csv(header, *rows):
    return "\n".join(",".join(map(str, row)) for row in [header, *rows]).encode("utf-8")


def test_a_grid_worker_cannot_move_another_grids_resident_into_their_grid_by_import(platform):
    gridworker1_grid = platform.get("/api/v1/residents?limit=1", as_user="gridworker1").json()["items"][0]["grid_id"]
    mine = next(b for b in buildings(platform) if b["grid_id"] == gridworker1_grid)
    theirs = next(b for b in buildings(platform) if b["grid_id"] != gridworker1_grid)
    resident = platform.post("/api/v1/residents", as_user="staff",
                             json=resident_body(theirs["id"], phone="13700001111")).json()
    assert_problem(platform.get(f"/api/v1/residents/{resident['id']}", as_user="gridworker1"), 404)

    sheet = csv(["姓名", "身份证号", "手机号", "楼号", "楼层", "房号"],
                ["冒名", resident["id_number"], "13999999999", mine["number"], 1, "101"])
    result = platform.post("/api/v1/residents/import", as_user="gridworker1", data=sheet, headers=csv_headers()).json()
    assert (result["updated"], [(e["row"], e["field"]) for e in result["errors"]]) == (0, [(2, "id_number")])
    after = platform.get(f"/api/v1/residents/{resident['id']}", as_user="staff").json()
    assert (after["building_id"], after["phone"], after["name"]) == (theirs["id"], "13700001111", "测试居民")


def test_a_sheet_without_the_tags_relation_and_phone_columns_leaves_them_alone(platform):
    building = buildings(platform)[9]
    id_number, _ = new_id_number()
    full = ["姓名", "身份证号", "手机号", "楼号", "单元", "楼层", "房号", "标签", "与户主关系"]
    row = ["导入老人", id_number, "13600002222", building["number"], 1, 2, "202", "高龄、无智能手机", "配偶"]
    first = platform.post("/api/v1/residents/import", as_user="staff", data=csv(full, row),
                          headers=csv_headers()).json()
    assert first["created"] == 1 and first["changes"][0]["action"] == "created", first
    resident_id = first["changes"][0]["resident_id"]

    narrow = platform.post("/api/v1/residents/import", as_user="staff", headers=csv_headers(),
                           data=csv(full[:2] + full[3:7], row[:2] + row[3:7])).json()
    assert narrow["changes"] == [{"row": 2, "resident_id": resident_id, "action": "unchanged", "fields": []}]
    kept = platform.get(f"/api/v1/residents/{resident_id}", as_user="staff").json()
    assert (set(kept["tags"]), kept["relation_to_head"], kept["phone"]) == (
        {"elderly", "no_smartphone"}, "配偶", "13600002222")
    # Field names only in the answer, never what they hold.
    assert id_number not in str(first) and "13600002222" not in str(first)


def test_the_template_is_an_xlsx_the_import_takes_and_is_for_the_roles_that_import(platform):
    response = platform.get("/api/v1/residents/import/template", as_user="gridworker1")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    header, example = rows
    assert {"姓名", "身份证号", "楼号", "楼层", "房号", "手机号", "标签", "与户主关系"} <= set(header)
    id_number = example[header.index("身份证号")]
    assert isinstance(id_number, str) and idnumbers.parse(id_number)  # a valid number, kept as text
    for role in ("property", "police", "resident"):
        assert_problem(platform.get("/api/v1/residents/import/template", as_user=role), 403)
    paths = platform.get("/api/v1/openapi.json", as_user="staff").json()["paths"]
    assert XLSX in paths["/api/v1/residents/import/template"]["get"]["responses"]["200"]["content"]


def test_staff_find_a_person_by_whole_id_or_mobile_number_and_the_canteen_cannot(platform):
    body = resident_body(buildings(platform)[10]["id"], phone="13655556666")
    resident = platform.post("/api/v1/residents", as_user="staff", json=body).json()
    for q in (body["id_number"], "13655556666"):
        found = platform.get("/api/v1/residents", as_user="staff", params={"q": q}).json()
        assert [r["id"] for r in found["items"]] == [resident["id"]]
        # The canteen lists residents with numbers masked: a whole number is no oracle for it.
        assert platform.get("/api/v1/residents", as_user="canteen", params={"q": q}).json()["total"] == 0
