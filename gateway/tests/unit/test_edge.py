"""Unit tests of the gateway's plain code: the error table, paging, spreadsheets, passwords, tokens."""
import io
import json
import time

import pytest
from marshmallow import ValidationError
from nameko.exceptions import RemoteError, UnknownService
from openpyxl import Workbook
from werkzeug.exceptions import MethodNotAllowed, NotFound as RouteNotFound, RequestEntityTooLarge

from gateway import accounts, schemas, spreadsheets
from gateway.exceptions import InvalidIdempotencyKey, MalformedJson, Unauthorized, UnsupportedMediaType
from gateway.edge.idempotency import IdempotencyLedger
from gateway.edge.problems import problem_for, response_from_exception
from heyun.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound
from heyun.identity import Caller
from heyun.testing.callers import STAFF

SECRET = "unit-test-secret-long-enough-for-hs256"


# -- the error table ---------------------------------------------------------------------------
@pytest.mark.parametrize("exc, status", [
    (InvalidInput("bad", {"id_number": ["Wrong check digit."]}), 422),
    (NotFound("none"), 404),
    (Conflict("dup"), 409),
    (IllegalTransition("no"), 409),
    (Forbidden("no"), 403),
    (Unauthorized("who"), 401),
    (MalformedJson("x"), 400),
    (UnsupportedMediaType("x"), 415),
    (ValidationError({"name": ["Missing."]}), 422),
    (json.JSONDecodeError("x", "{", 0), 400),
    (RouteNotFound(), 404),
    (MethodNotAllowed(valid_methods=["GET"]), 405),
    (RequestEntityTooLarge(), 413),
    (UnknownService("registry"), 503),
    (RemoteError("KeyError", "boom"), 502),
    (ConnectionRefusedError(), 503),
])
def test_each_error_class_has_its_status(exc, status):
    assert problem_for(exc)["status"] == status
    response = response_from_exception(exc)
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    assert set(json.loads(response.get_data())) >= {"type", "title", "status", "detail"}


def test_validation_errors_name_dotted_field_paths():
    body = problem_for(ValidationError({"dwelling": {"floor": ["Not a valid integer."]}, "colour": ["Unknown field."]}))
    assert body["errors"] == {"dwelling.floor": ["Not a valid integer."], "colour": ["Unknown field."]}


def test_a_bug_is_a_bare_500_without_details():
    response = response_from_exception(KeyError("secret_internal_name"))
    body = json.loads(response.get_data())
    assert response.status_code == 500 and "secret_internal_name" not in response.get_data(as_text=True)
    assert body["title"] == "Internal server error"


def test_a_remote_crash_does_not_leak_its_message():
    body = problem_for(RemoteError("KeyError", "password=hunter2"))
    assert "hunter2" not in json.dumps(body)


# -- paging ------------------------------------------------------------------------------------
def test_paging_defaults():
    assert schemas.Paging().load({}) == {"limit": 50, "offset": 0}


@pytest.mark.parametrize("query, field", [
    ({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"), ({"offset": "1.5"}, "offset"),
])
def test_bad_paging_names_the_parameter(query, field):
    with pytest.raises(ValidationError) as caught:
        schemas.Paging().load(query)
    assert list(caught.value.messages) == [field]


def test_resident_filters_are_typed_and_unknown_ones_refused():
    with pytest.raises(ValidationError) as caught:
        schemas.ResidentQuery().load({"floor_min": "high", "min_age": "70", "colour": "red"})
    assert set(caught.value.messages) == {"floor_min", "colour"}
    loaded = schemas.ResidentQuery().load({"floor_min": "4", "min_age": "70", "limit": "500"})
    assert schemas.split_query(loaded) == ({"floor_min": 4, "min_age": 70}, 500, 0)


# -- spreadsheets ------------------------------------------------------------------------------
HEADER = ["姓名", "性别", "身份证号", "楼号", "单元", "楼层", "房号"]
ROW = ["王秀英", "女", "370115195005010023", "3", "1", "3", "301"]


def test_csv_with_a_bom():
    data = ("\ufeff" + ",".join(HEADER) + "\r\n" + ",".join(ROW) + "\r\n").encode("utf-8")
    header, rows = spreadsheets.read("csv", data)
    assert header == HEADER and rows == [(2, ROW)]


def test_gbk_csv_is_read_as_a_fallback():
    data = (",".join(HEADER) + "\n" + ",".join(ROW) + "\n").encode("gbk")
    header, rows = spreadsheets.read("csv", data)
    assert header[0] == "姓名" and rows[0][1][0] == "王秀英"


def test_xlsx_made_with_openpyxl():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append(["王秀英", "女", "370115195005010023", 3, 1, 3.0, "301"])
    sheet.append([None] * len(HEADER))             # a blank row keeps its number's gap
    sheet.append(["李娜", "女", "370115198001010021", 4, 2, 5, "502"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    header, rows = spreadsheets.read("xlsx", buffer.getvalue())
    assert header == HEADER
    assert rows == [(2, ROW), (4, ["李娜", "女", "370115198001010021", "4", "2", "5", "502"])]
    assert list(spreadsheets.chunks(rows)) == [(2, [ROW]), (4, [rows[1][1]])]


def test_chunks_keep_spreadsheet_row_numbers():
    rows = [(n, [str(n)]) for n in range(2, 2503)]
    chunked = list(spreadsheets.chunks(rows, size=1000))
    assert [(first, len(part)) for first, part in chunked] == [(2, 1000), (1002, 1000), (2002, 501)]


@pytest.mark.parametrize("kind, data", [
    ("csv", b""), ("csv", b"\r\n\r\n"), ("csv", "姓名,性别\n".encode()), ("xlsx", b"not a zip file"),
    ("csv", b"\xff\xfe\x00\xd8\x00\xdc" * 3),
    ("csv", b"name\n" + b"x" * 200_000 + b"\n"),  # a cell over the csv module's field limit
])
def test_empty_or_unreadable_files_are_validation_errors(kind, data):
    with pytest.raises(ValidationError) as caught:
        spreadsheets.read(kind, data)
    assert "file" in caught.value.messages


# -- idempotency -------------------------------------------------------------------------------
@pytest.mark.parametrize("key, path, field", [
    ("k\u0000ey", "/api/v1/organizations", "Idempotency-Key"),   # PostgreSQL refuses NUL in text
    ("key", "/api/v1/" + "p" * 500, "path"),                     # the path column holds 500
])
def test_a_claim_the_ledger_cannot_store_is_refused_before_touching_the_database(key, path, field):
    ledger = IdempotencyLedger(Session=None, claim_timeout=None)  # never reached
    with pytest.raises(InvalidIdempotencyKey) as caught:
        ledger.claim("staff", key, "POST", path, "0" * 64)
    assert field in problem_for(caught.value)["errors"]


# -- passwords and tokens ----------------------------------------------------------------------
def test_password_hashing_is_salted_and_verifiable():
    first, second = accounts.hash_password("wanghe-demo"), accounts.hash_password("wanghe-demo")
    assert first != second and first.startswith("scrypt$")
    assert accounts.verify_password("wanghe-demo", first)
    assert not accounts.verify_password("wanghe-demo!", first)
    assert not accounts.verify_password("wanghe-demo", "garbage")


def test_token_round_trip_carries_the_caller():
    caller = Caller(account="gridworker1", roles=("grid_worker",), grid_ids=("g1",), organization_id=None)
    token = accounts.issue_token(caller, SECRET, 60)
    assert accounts.verify_token(token, SECRET) == caller


def test_an_expired_token_is_refused():
    token = accounts.issue_token(STAFF, SECRET, 60, now=time.time() - 120)
    with pytest.raises(Unauthorized) as caught:
        accounts.verify_token(token, SECRET)
    assert "expired" in caught.value.detail


def test_a_forged_token_is_refused():
    token = accounts.issue_token(Caller(account="staff", roles=("admin",)), "another-secret-of-enough-length!", 60)
    with pytest.raises(Unauthorized):
        accounts.verify_token(token, SECRET)
    with pytest.raises(Unauthorized):
        accounts.bearer_token("Basic abc")
