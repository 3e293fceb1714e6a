"""The served OpenAPI document as a contract the running platform keeps.

Schemathesis takes the document ``GET /api/v1/openapi.json`` serves (checked to be the one the
gateway's code builds) and sends generated requests to every operation in it, against a platform
of this module's own (every service a real process, with the Wanghe demo data), as staff and as
a resident. A case fails on any 5xx, any response whose body breaks its documented schema, and any
status code its operation does not document. The requests create and change data: the platform is
thrown away afterwards, never shared with the other end-to-end tests.

Seeded and derandomized (the same cases every run) and bounded (the coverage phase's boundary
cases as staff, and FUZZ_EXAMPLES random cases per operation and role): about a minute on two
cores, after the platform has started. Each operation is a test of its own, named
``test_staff_gets_only_documented_answers[POST /api/v1/buildings]``; a failure prints the case as
a curl command. Run it alone with ``pytest tests/test_openapi_fuzz.py``; ``FUZZ_EXAMPLES=100``
fuzzes harder (not deterministic in time, but in cases).

The tests before the fuzz pin the defects it found, each checked against the served document.
"""
import os

import jwt
import pytest
import schemathesis
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from gateway.edge import openapi
from gateway.service import GatewayService
from heyun.testing import wait_for
from tests.support import Platform, running_platform

pytestmark = pytest.mark.e2e

SEED = 20261129
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 5))
# What the contract promises; other checks (e.g. that every invalid input is refused) are not
# part of the document.
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.response_schema_conformance]


# The fuzz fails hundreds of sign-ins from 127.0.0.1, which would lock that address for every
# test after it (a 429 where the test expects a 401, or a sign-in refused).
FUZZ_SETTINGS = {"SIGN_IN_ADDRESS_FREE_FAILURES": "1000000"}


@pytest.fixture(scope="module")
def fuzzed_platform(database_factory, channel_receivers):
    with running_platform(database_factory, channel_receivers, FUZZ_SETTINGS) as platform:
        for username in ("staff", "resident"):  # signed in before any test fails a sign-in
            platform.token(username)
        yield platform


def signed_in(platform, username):
    return {"Authorization": f"Bearer {platform.token(username)}"}


# The document the gateway serves, built by the code that serves it (schemathesis needs it when
# the tests are collected, before the platform runs); the first test shows the served one is this.
DOCUMENT = openapi.build(GatewayService)


def contract(coverage):
    """Schemathesis over DOCUMENT from a fixed seed: EXAMPLES random cases per operation and, if
    ``coverage`` is "all", the coverage phase's cases (each parameter's boundaries and values
    just outside them: about 60 per operation)."""
    phases = {"stateful": {"enabled": False},
              "coverage": {"enabled": coverage, "unexpected-methods": [], "generation": {"mode": "all"}}}
    return schemathesis.openapi.from_dict(DOCUMENT, config=SchemathesisConfig.from_dict({
        "seed": SEED,
        "generation": {"deterministic": True, "max-examples": EXAMPLES, "database": "none"},
        "phases": phases,
    }))


STAFF_CONTRACT = contract(coverage=True)
# A resident is refused (403) most operations before their input is read, so the coverage
# phase's boundaries would mostly repeat that 403: random cases only.
RESIDENT_CONTRACT = contract(coverage=False)


def test_the_fuzzed_document_is_the_served_one(fuzzed_platform):
    served = fuzzed_platform.client("staff").get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


# -- what the fuzz found, each checked against the served document -------------------------
def assert_documented(platform, method, path, response):
    """``response`` has a status its operation documents, and a body of the documented shape,
    in the document the platform serves."""
    document = platform.client("staff").get("/openapi.json").json()
    documented = document["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in documented, f"{method} {path}: {response.status_code} {response.text}"
    schemathesis.openapi.from_dict(document)[path][method].validate_response(response)


def test_a_building_created_without_a_grid_is_answered_as_documented(fuzzed_platform):
    response = fuzzed_platform.client("staff").post("/buildings", json={
        "number": 9001, "name": "新建楼", "floors": 6, "units": 2})
    assert response.status_code == 201, response.text
    assert response.json()["grid_id"] is None
    assert_documented(fuzzed_platform, "POST", "/api/v1/buildings", response)


def test_a_notice_raised_by_a_rule_is_answered_as_documented(fuzzed_platform):
    # A resident's help-and-proxy request raises a notice to their grid worker's account
    # (services/notify/rules.yml): its audience names accounts, which a publisher cannot.
    resident = fuzzed_platform.client("resident")
    me = jwt.decode(fuzzed_platform.token("resident"), options={"verify_signature": False})
    item = resident.get("/service-items").json()["items"][0]
    submitted = resident.post("/proxy-requests", json={
        "resident_id": me["resident_id"], "service_item_id": item["id"],
        "authorization": {"scope": "代为办理", "valid_until": "2099-12-31"}})
    assert submitted.status_code == 201, submitted.text
    staff = fuzzed_platform.client("staff")
    raised = wait_for(lambda: [n for n in staff.get("/notices").json()["items"]
                               if n["title"] == f"新的帮办代办请求：{item['name']}"], timeout=30,
                      message="the rule's notice")
    assert raised[0]["audience"]["accounts"]
    assert_documented(fuzzed_platform, "GET", "/api/v1/notices", staff.get("/notices"))
    assert_documented(fuzzed_platform, "GET", "/api/v1/notices/{notice_id}", staff.get(f"/notices/{raised[0]['id']}"))


@pytest.mark.parametrize("request_", [
    {"json": {"username": "staff", "password": "not-the-password"}},             # 401
    {"data": "username=staff", "headers": {"Content-Type": "text/plain"}},       # 415
], ids=["wrong-password", "not-json"])
def test_sign_in_refusals_are_documented(fuzzed_platform, request_):
    response = fuzzed_platform.client().post("/auth/token", **request_)
    assert response.status_code in (401, 415), response.text
    assert_documented(fuzzed_platform, "POST", "/api/v1/auth/token", response)


def test_sign_in_documents_throttling(fuzzed_platform):
    # 429 after repeated failed sign-ins: the fuzz, which fails many sign-ins as a username it
    # made up, may meet it, and must find it documented.
    document = fuzzed_platform.client("staff").get("/openapi.json").json()
    assert "429" in document["paths"]["/api/v1/auth/token"]["post"]["responses"]


# -- the fuzz -------------------------------------------------------------------------------
@STAFF_CONTRACT.parametrize()
def test_staff_gets_only_documented_answers(case, fuzzed_platform: Platform):
    case.call_and_validate(base_url=fuzzed_platform.base_url, headers=signed_in(fuzzed_platform, "staff"),
                           checks=CHECKS, timeout=60)


@RESIDENT_CONTRACT.parametrize()
def test_a_resident_gets_only_documented_answers(case, fuzzed_platform: Platform):
    case.call_and_validate(base_url=fuzzed_platform.base_url, headers=signed_in(fuzzed_platform, "resident"),
                           checks=CHECKS, timeout=60)
