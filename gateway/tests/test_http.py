"""The gateway alone over real HTTP: auth, the API's error conventions, health, metrics, OpenAPI."""
import json

import jwt

from gateway.tests.support import PASSWORD, TOKEN_SECRET
from heyun.testing.clients import assert_problem


def test_signing_in_returns_a_bearer_token(gateway):
    response = gateway.post("/api/v1/auth/token", json={"username": "staff", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 600
    claims = jwt.decode(body["access_token"], TOKEN_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "staff" and claims["roles"] == ["staff"]


def test_wrong_password_and_unknown_user_are_401(gateway):
    for username, password in (("staff", "nope"), ("nobody", PASSWORD)):
        response = gateway.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert_problem(response, 401)


def test_signing_in_with_missing_or_extra_fields_is_422_naming_them(gateway):
    body = assert_problem(gateway.post("/api/v1/auth/token", json={"username": "staff", "pw": "x"}), 422)
    assert set(body["errors"]) == {"password", "pw"}


def test_paths_need_a_valid_token(gateway):
    assert_problem(gateway.get("/api/v1/buildings"), 401)
    assert_problem(gateway.get("/api/v1/buildings", headers={"Authorization": "Bearer not.a.token"}), 401)
    expired = jwt.encode({"sub": "admin", "roles": ["admin"], "exp": 1}, TOKEN_SECRET, algorithm="HS256")
    body = assert_problem(gateway.get("/api/v1/buildings", headers={"Authorization": f"Bearer {expired}"}), 401)
    assert "expired" in body["detail"]


def test_a_role_that_may_not_write_is_403(gateway):
    assert_problem(gateway.post("/api/v1/organizations", as_user="volunteer",
                                json={"name": "x", "kind": "street_office"}), 403)


def test_malformed_json_is_400(gateway):
    response = gateway.post("/api/v1/organizations", as_user="admin", data=b'{"name": ',
                            headers={"Content-Type": "application/json"})
    assert_problem(response, 400)


def test_wrong_content_type_is_415(gateway):
    response = gateway.post("/api/v1/organizations", as_user="admin", data=b"name=x",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415)


def test_a_huge_body_is_413(gateway):
    response = gateway.post("/api/v1/organizations", as_user="admin", data=b" " * (2 * 1024 * 1024),
                            headers={"Content-Type": "application/json"})
    assert_problem(response, 413)


def test_unknown_and_mistyped_fields_are_422_naming_each(gateway):
    body = assert_problem(gateway.post("/api/v1/residents", as_user="admin", json={
        "name": "王秀英", "gender": "female", "birth_date": "1950-05-01", "id_number": "x", "colour": "blue",
        "dwelling": {"building_id": "b", "unit": 1, "floor": "third", "room": "301"}}), 422)
    assert set(body["errors"]) == {"colour", "dwelling.floor"}


def test_bad_filters_and_paging_are_422_naming_the_parameter(gateway):
    body = assert_problem(gateway.get("/api/v1/residents?floor_min=top&limit=1000&offset=-1", as_user="staff"), 422)
    assert set(body["errors"]) == {"floor_min", "limit", "offset"}


def test_unknown_routes_are_404_and_wrong_methods_405(gateway):
    assert_problem(gateway.get("/api/v1/no-such-thing", as_user="staff"), 404)
    assert_problem(gateway.get("/nowhere"), 404)
    response = gateway.request("DELETE", "/api/v1/buildings", as_user="staff")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_healthz_answers_while_readyz_names_what_is_down(gateway):
    assert gateway.get("/healthz").json() == {"status": "ok"}
    body = assert_problem(gateway.get("/readyz"), 503)  # no registry running in this test
    assert body["down"] == ["registry"]


def test_a_service_that_is_not_running_is_503(gateway):
    body = assert_problem(gateway.get("/api/v1/buildings", as_user="staff"), 503)
    assert "registry" in body["detail"]


def test_metrics_count_requests_by_route_and_status(gateway):
    gateway.get("/api/v1/buildings")
    gateway.get("/api/v1/buildings/abc")
    text = gateway.get("/metrics").text
    assert 'heyun_gateway_requests_total{method="GET",route="/api/v1/buildings",status="401"} 1.0' in text
    assert 'route="/api/v1/buildings/<building_id>"' in text
    assert "heyun_gateway_request_duration_seconds_bucket" in text


def test_openapi_document_describes_every_path(gateway):
    assert_problem(gateway.get("/api/v1/openapi.json"), 401)
    response = gateway.get("/api/v1/openapi.json", as_user="staff")
    document = response.json()
    assert document["openapi"].startswith("3.") and document["info"]["title"]
    expected = {
        "/api/v1/auth/token", "/api/v1/buildings", "/api/v1/buildings/{building_id}", "/api/v1/dwellings",
        "/api/v1/grids", "/api/v1/grids/{grid_id}", "/api/v1/grid-workers", "/api/v1/grid-workers/{grid_worker_id}",
        "/api/v1/households",
        "/api/v1/households/{household_id}", "/api/v1/residents", "/api/v1/residents/{resident_id}",
        "/api/v1/residents/{resident_id}/moves", "/api/v1/residents/{resident_id}/history",
        "/api/v1/residents/import", "/api/v1/organizations", "/api/v1/organizations/{organization_id}",
        "/api/v1/service-items", "/api/v1/service-items/{item_id}", "/api/v1/proxy-requests",
        "/api/v1/proxy-requests/{request_id}", "/api/v1/proxy-requests/{request_id}/transitions",
        "/api/v1/proxy-requests/{request_id}/rating", "/api/v1/events/catalogue", "/api/v1/openapi.json",
        "/healthz", "/readyz", "/metrics",
    }
    assert expected <= set(document["paths"])
    residents = document["paths"]["/api/v1/residents"]
    assert {p["name"] for p in residents["get"]["parameters"]} >= {
        "building_id", "floor_min", "floor_max", "tag", "grid_id", "min_age", "q", "limit", "offset"}
    assert "ResidentCreate" in document["components"]["schemas"]
    assert {"post", "get"} <= set(document["paths"]["/api/v1/buildings"])
    assert {"patch", "get"} <= set(document["paths"]["/api/v1/buildings/{building_id}"])
    assert {"BuildingCreate", "BuildingMove", "GridCreate", "GridWorkerUpdate"} <= set(document["components"]["schemas"])
    assert residents["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Resident")
    json.dumps(document)  # plain JSON throughout
