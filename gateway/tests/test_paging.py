"""Paging bounds: every list route takes the kernel's one ``Paging``, so a limit or offset out of
range is a 422 naming it, on every list, before any service is asked."""
import re

import pytest

from gateway.edge.openapi import endpoints
from gateway.service import GatewayService
from heyun.schemas import MAX_OFFSET, KeysetPaging, Paging

LISTS = sorted(endpoint.url for _, endpoint in endpoints(GatewayService)
               if isinstance(endpoint.query_schema, Paging))


def test_the_lists_are_found():
    assert {"/api/v1/residents", "/api/v1/notices", "/api/v1/me/notices", "/api/v1/accounts"} <= set(LISTS)


@pytest.mark.parametrize("paging", [
    {"offset": 2 ** 63},        # past the database's bigint: was an OverflowError in the service, a 502
    {"offset": MAX_OFFSET + 1},
    {"offset": -1},
    {"limit": 0},
    {"limit": 501},
])
def test_paging_out_of_range_is_422_naming_the_parameter_on_every_list(gateway, paging):
    answers = {}
    for url in LISTS:
        response = gateway.get(re.sub(r"<[^>]+>", "some-id", url), as_user="admin", params=paging)
        answers[url] = (response.status_code, sorted(response.json().get("errors", {})))
    assert answers == {url: (422, sorted(paging)) for url in LISTS}


def test_the_largest_offset_is_a_page(gateway):
    response = gateway.get("/api/v1/accounts", as_user="staff", params={"offset": MAX_OFFSET})
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


# -- cursors -----------------------------------------------------------------------------------
CURSOR_LISTS = sorted(endpoint.url for _, endpoint in endpoints(GatewayService)
                      if isinstance(endpoint.query_schema, KeysetPaging))


def test_the_registry_lists_take_a_cursor_and_the_others_do_not():
    assert {"/api/v1/residents", "/api/v1/households", "/api/v1/buildings"} <= set(CURSOR_LISTS)
    assert "/api/v1/accounts" not in CURSOR_LISTS and "/api/v1/notices" not in CURSOR_LISTS


@pytest.mark.parametrize("cursor", ["not a cursor", "e30", "WzEsdHJ1ZV0", "x" * 3000])
def test_a_malformed_cursor_is_422_naming_it_on_every_list_that_takes_one(gateway, cursor):
    answers = {}
    for url in CURSOR_LISTS:
        response = gateway.get(url, as_user="admin", params={"cursor": cursor})
        answers[url] = (response.status_code, sorted(response.json().get("errors", {})))
    assert answers == {url: (422, ["cursor"]) for url in CURSOR_LISTS}


def test_a_cursor_on_a_list_without_cursor_mode_is_422_naming_it(gateway):
    response = gateway.get("/api/v1/accounts", as_user="admin", params={"cursor": "WzEsIngiXQ"})
    assert (response.status_code, sorted(response.json()["errors"])) == (422, ["cursor"])


def test_pages_by_cursor_through_the_gateway(platform):
    """Through to the registry: every building once, the last page's next_cursor null, and a
    cursor from another list refused by the registry as a 422 naming it."""
    whole = platform.get("/api/v1/buildings", as_user="staff", params={"limit": 100}).json()
    assert whole["total"] > 3 and whole["next_cursor"] is None and whole["total_estimated"] is False
    seen, cursor = [], None
    while True:
        page = platform.get("/api/v1/buildings", as_user="staff",
                            params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [building["id"] for building in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [building["id"] for building in whole["items"]]
    from_buildings = platform.get("/api/v1/buildings", as_user="staff", params={"limit": 1}).json()["next_cursor"]
    response = platform.get("/api/v1/residents", as_user="staff", params={"cursor": from_buildings})
    assert (response.status_code, sorted(response.json()["errors"])) == (422, ["cursor"])
