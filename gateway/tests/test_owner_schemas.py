"""The gateway checks a request with the owning service's own schema (its contract), so the checks
that had drifted between the gateway's copies and the services are single and right.

The gateway here runs with no registry or notify behind it: a request that got past the gateway
would wait for an RPC nobody answers, so a 422 naming the field is the gateway's own answer.
"""
from notify import contract as notify
from registry import contract as registry

from gateway import schemas

NOTICE = {"title": "停水通知", "body": "明日停水。", "category": notify.Category.WATER_OUTAGE,
          "audience": {"building_ids": ["b-1"]}}


def problem_fields(response):
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    return set(response.json()["errors"])


def test_a_birth_date_that_is_no_date_is_refused_at_the_gateway_naming_birth_date(gateway):
    resident = {"name": "王五", "gender": registry.Gender.MALE, "birth_date": "1950-02-30",
                "id_number": "370112195002300014", "dwelling": {"building_id": "b-1", "unit": 1, "floor": 2, "room": "201"}}
    response = gateway.post("/api/v1/residents", json=resident, as_user="staff")
    assert problem_fields(response) == {"birth_date"}


def test_a_notice_ending_or_expiring_before_its_onset_is_refused_at_the_gateway(gateway):
    onset = "2026-07-05T08:00:00+08:00"
    expires_first = dict(NOTICE, onset=onset, expires="2026-07-05T07:00:00+08:00")
    assert problem_fields(gateway.post("/api/v1/notices", json=expires_first, as_user="staff")) == {"expires"}
    ends_first = dict(NOTICE, onset=onset, ends=onset)  # ends must be after the onset, not at it
    assert problem_fields(gateway.post("/api/v1/notices", json=ends_first, as_user="staff")) == {"ends"}


def test_floors_are_checked_by_one_range_at_the_gateway_and_in_the_services(gateway):
    assert problem_fields(gateway.get("/api/v1/dwellings?floor=61", as_user="staff")) == {"floor"}
    assert problem_fields(gateway.get("/api/v1/residents?floor_min=0", as_user="staff")) == {"floor_min"}
    assert problem_fields(gateway.get("/api/v1/residents?floor_min=5&floor_max=3", as_user="staff")) == {"floor_min"}
    beyond_the_roof = dict(NOTICE, audience={"building_ids": ["b-1"], "floor_max": 61})
    assert problem_fields(gateway.post("/api/v1/notices/preview", json=beyond_the_roof, as_user="staff")) \
        == {"audience.floor_max"}
    # The registry's and notify's RPCs refuse the same floors with the same schemas, whoever calls.
    for owner_schema, data in ((registry.DwellingFilters, {"floor": 61}), (registry.ResidentFilters, {"floor_min": 0}),
                               (registry.DwellingRef, {"building_id": "b-1", "unit": 1, "floor": 61, "room": "1"}),
                               (notify.Audience, {"floor_max": 61})):
        assert owner_schema().validate(data), f"{owner_schema.__name__} took {data}"
        assert schemas.as_sent(owner_schema)().validate(data) == owner_schema().validate(data)


def test_a_valid_body_and_a_query_s_filters_are_passed_on_as_sent():
    body = {"resident_id": "r-1", "service_item_id": "s-1",
            "authorization": {"scope": "医保激活", "valid_until": "2027-01-31"}}
    assert schemas.ProxyRequestCreate().load(body) == body  # the date stays JSON text for the RPC
    assert schemas.NoticeCreate().load(dict(NOTICE, severity="severe")) == dict(NOTICE, severity="severe")
    query = schemas.PiiAccessQuery().load({"from": "2026-07-01T00:00:00+08:00", "limit": "20"})
    assert query == {"from": "2026-07-01T00:00:00+08:00", "limit": 20, "offset": 0}


def test_the_openapi_and_asyncapi_documents_list_the_contracts_words():
    from gateway.edge import openapi
    from gateway.service import GatewayService
    from heyun.events import asyncapi_document

    components = openapi.document(GatewayService)["components"]["schemas"]
    assert components["ResidentCreate"]["properties"]["tags"]["items"]["enum"] == [str(tag) for tag in registry.Tag]
    assert components["Resident"]["properties"]["gender"]["enum"] == [str(word) for word in registry.Gender]
    assert components["NoticeCreate"]["properties"]["severity"]["enum"] == [str(word) for word in notify.Severity]
    assert components["Delivery"]["properties"]["channel"]["enum"] == [str(word) for word in notify.Channel]
    messages = asyncapi_document("registry", registry.EVENTS)["components"]["messages"]
    resident = messages["resident_registered"]["payload"]["properties"]["data"]["properties"]
    assert resident["language"]["enum"] == [str(word) for word in registry.Language]
    messages = asyncapi_document("notify", notify.EVENTS)["components"]["messages"]
    notice = messages["notice_published"]["payload"]["properties"]["data"]["properties"]
    assert notice["category"]["enum"] == [str(word) for word in notify.Category]
