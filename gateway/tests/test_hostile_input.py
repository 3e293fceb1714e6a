"""Hostile input over real HTTP: whatever a client sends is a 4xx problem naming what is wrong,
never a 500 (our crash) or a 502 (a service's crash on it)."""
import io
import uuid
import zipfile

import jwt
import pytest
from openpyxl import Workbook

from gateway.tests.support import PASSWORD, TOKEN_SECRET
from heyun.testing.clients import assert_problem

JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


@pytest.mark.parametrize("raw", [
    b"[" * 100_000,                      # deeper than Python's recursion limit
    b'{"name": ' + b"9" * 5000 + b"}",   # more digits than int() converts (4300)
    b'{"name": NaN}',                    # Python's json takes it; JSON has no NaN
])
def test_json_python_cannot_or_should_not_parse_is_400(gateway, raw):
    response = gateway.post("/api/v1/organizations", as_user="admin", data=raw, headers=JSON)
    assert_problem(response, 400)


@pytest.mark.parametrize("text", ["sta\u0000ff", "staff\u0007", "\ud800"])
def test_a_control_character_in_the_sign_in_name_is_422_naming_it(gateway, text):
    body = assert_problem(gateway.post("/api/v1/auth/token", json={"username": text, "password": PASSWORD}), 422)
    assert set(body["errors"]) == {"username"}


def test_control_characters_deep_in_a_body_are_422_naming_each_path(gateway):
    body = assert_problem(gateway.post("/api/v1/residents", as_user="admin", json={
        "name": "王秀英\u0000", "gender": "female", "birth_date": "1950-05-01", "id_number": "x",
        "dwelling": {"building_id": "b", "unit": 1, "floor": 3, "room": "3\u000b01"},
        "tags": ["elderly", "\u001b[31m"]}), 422)
    assert set(body["errors"]) == {"name", "dwelling.room", "tags.1"}


def test_tabs_and_line_breaks_are_ordinary_text(gateway):
    # Passes the text check; the schema then refuses only the unknown field.
    body = assert_problem(gateway.post("/api/v1/organizations", as_user="admin",
                                       json={"name": "居委会\t一组\r\n", "kind": "street_office", "x": 1}), 422)
    assert set(body["errors"]) == {"x"}


def test_a_control_character_in_a_query_parameter_is_422_naming_it(gateway):
    body = assert_problem(gateway.get("/api/v1/residents?q=%00&limit=5", as_user="staff"), 422)
    assert set(body["errors"]) == {"q"}


@pytest.mark.parametrize("resident_id", ["%00", "abc%00def", "%01", "x" * 200])
def test_a_path_id_no_id_could_be_is_404(gateway, resident_id):
    assert_problem(gateway.get(f"/api/v1/residents/{resident_id}", as_user="staff"), 404)


def test_an_idempotency_key_on_an_overlong_path_is_404_not_a_crash(gateway):
    response = gateway.post(f"/api/v1/notices/{'n' * 600}/acknowledgements", as_user="staff",
                            headers={"Idempotency-Key": str(uuid.uuid4())})
    assert_problem(response, 404)


@pytest.mark.parametrize("key", ["k" * 201, "key\u0001"])
def test_an_idempotency_key_the_ledger_cannot_hold_is_422_naming_it(gateway, key):
    response = gateway.post("/api/v1/organizations", as_user="admin", headers={"Idempotency-Key": key},
                            json={"name": "某物业", "kind": "property_management"})
    assert "Idempotency-Key" in assert_problem(response, 422)["errors"]


def test_a_csv_cell_over_the_csv_field_limit_is_422_naming_the_file_and_line(gateway):
    data = ("姓名,房号\n王秀英,301\n" + "x" * 200_000 + ",302\n").encode()
    body = assert_problem(gateway.post("/api/v1/residents/import", as_user="staff", data=data, headers=CSV), 422)
    assert set(body["errors"]) == {"file"} and "line 3" in body["errors"]["file"][0]


def test_a_damaged_xlsx_sheet_is_422_naming_the_file_and_row(gateway):
    workbook = Workbook()
    workbook.active.append(["姓名", "房号"])
    workbook.active.append(["王秀英", "301"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = rewrite_zip_member(buffer.getvalue(), "xl/worksheets/sheet1.xml",
                              lambda xml: xml.replace(b'r="A2"', b'r="ZZZZZZZZ2"'))  # a cell no sheet has
    body = assert_problem(gateway.post("/api/v1/residents/import", as_user="staff", data=data, headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}), 422)
    assert set(body["errors"]) == {"file"} and "row 2" in body["errors"]["file"][0]


def rewrite_zip_member(data, name, change):
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            target.writestr(item, change(content) if item.filename == name else content)
    return out.getvalue()


def test_a_grid_worker_cannot_read_a_household_of_another_grid(platform):
    own_grids = set(jwt.decode(platform.token("gridworker1"), TOKEN_SECRET, algorithms=["HS256"])["grid_ids"])
    grid_of_building = {b["id"]: b["grid_id"] for b in
                        platform.get("/api/v1/buildings?limit=500", as_user="staff").json()["items"]}
    households = platform.get("/api/v1/households?limit=500", as_user="staff").json()["items"]
    inside = next(h for h in households if grid_of_building[h["dwelling"]["building_id"]] in own_grids)
    outside = next(h for h in households if grid_of_building[h["dwelling"]["building_id"]] not in own_grids)
    assert platform.get(f"/api/v1/households/{inside['id']}", as_user="gridworker1").json()["id"] == inside["id"]
    # The same answer as for an id that does not exist: another grid's households do not leak.
    assert_problem(platform.get(f"/api/v1/households/{outside['id']}", as_user="gridworker1"), 404)
    assert platform.get(f"/api/v1/households/{outside['id']}", as_user="staff").status_code == 200
