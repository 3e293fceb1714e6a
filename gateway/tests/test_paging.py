"""Paging bounds: every list route takes the kernel's one ``Paging``, so a limit or offset out of
range is a 422 naming it, on every list, before any service is asked."""
import re

import pytest

from gateway.edge.openapi import endpoints
from gateway.service import GatewayService
from heyun.schemas import MAX_OFFSET, Paging

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
