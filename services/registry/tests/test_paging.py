"""Paging by cursor and totals over RPC against real RabbitMQ and PostgreSQL (heyun.paging)."""
from datetime import date

import pytest

from heyun import paging
from heyun.errors import InvalidInput
from registry import idnumbers

# Three residents in one dwelling (two of them namesakes, whom only the id orders), two more
# on another floor, two in the other building: every key of the order decides somewhere.
PEOPLE = [("east", 1, 1, "101", "王秀英"), ("east", 1, 1, "101", "王秀英"), ("east", 1, 1, "101", "李娜"),
          ("east", 2, 1, "201", "张伟"), ("east", 2, 2, "201", "刘洋"), ("west", 1, 1, "101", "陈静"),
          ("west", 3, 2, "302", "赵磊")]


@pytest.fixture
def people(registry, world):
    born = date(1950, 5, 1)
    for seq, (building, floor, unit, room, name) in enumerate(PEOPLE, start=201):
        registry.call("register_resident", {
            "name": name, "gender": "male" if seq % 2 else "female", "birth_date": born.isoformat(),
            "id_number": idnumbers.make("370115", born, seq), "tags": ["elderly"],
            "dwelling": {"building_id": world[building], "unit": unit, "floor": floor, "room": room}})
    return registry


def by_cursor(registry, method, limit, **kwargs):
    """Every page of ``method`` by cursor: the pages' items and what each page said."""
    pages, cursor = [], None
    while True:
        page = registry.call(method, {}, limit=limit, cursor=cursor, **kwargs)
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor does not advance"


@pytest.mark.parametrize("method", ["list_residents", "list_households", "list_buildings", "list_grid_workers"])
@pytest.mark.parametrize("limit", [1, 3])
def test_cursor_pages_return_every_row_once_in_the_offset_order(people, method, limit):
    whole = people.call(method, {}, limit=100)
    assert whole["total"] >= 2 and whole["next_cursor"] is None  # several rows, all on one page
    pages = by_cursor(people, method, limit)
    ids = [item["id"] for page in pages for item in page["items"]]
    assert ids == [item["id"] for item in whole["items"]]
    assert all(len(page["items"]) == limit for page in pages[:-1])
    assert {page["total"] for page in pages} == {whole["total"]}
    assert not any(page["total_estimated"] for page in pages)


def test_the_resident_order_is_by_address_then_name(people):
    items = people.call("list_residents", {}, limit=100)["items"]
    keys = [(i["building_number"], i["unit"], i["floor"], i["room"], i["name"], i["id"]) for i in items]
    assert keys == sorted(keys) and len(items) == len(PEOPLE)


def test_an_offset_page_gives_a_cursor_to_go_on_from(people):
    first = people.call("list_residents", {}, limit=2, offset=3)
    rest = people.call("list_residents", {}, limit=100, cursor=first["next_cursor"])
    whole = people.call("list_residents", {}, limit=100)["items"]
    assert [i["id"] for i in first["items"] + rest["items"]] == [i["id"] for i in whole[3:]]


def test_a_cursor_keeps_to_the_filters(people, world):
    pages = by_cursor(people, "list_residents", 1, caller=world["gw_b"])  # the west building's grid
    assert [i["name"] for page in pages for i in page["items"]] == ["陈静", "赵磊"]


def test_a_total_past_the_exact_limit_is_marked_estimated(people, monkeypatch):
    monkeypatch.setattr(paging, "EXACT_UP_TO", 2)  # the service runs in this process
    page = people.call("list_residents", {}, limit=2)
    assert page["total_estimated"] is True
    assert page["total"] >= 3  # at least what the count read before it stopped
    monkeypatch.undo()
    exact = people.call("list_residents", {}, limit=2)
    assert (exact["total"], exact["total_estimated"]) == (len(PEOPLE), False)


@pytest.mark.parametrize("cursor", ["not a cursor", "W10", "e30", "WzEsdHJ1ZV0", "x" * 3000])
def test_a_malformed_cursor_is_invalid_input_naming_it(people, cursor):
    with pytest.raises(InvalidInput) as caught:
        people.call("list_residents", {}, cursor=cursor)
    assert set(caught.value.errors) == {"cursor"}


def test_a_cursor_from_another_list_is_refused(people):
    cursor = people.call("list_buildings", {}, limit=1)["next_cursor"]
    with pytest.raises(InvalidInput) as caught:
        people.call("list_residents", {}, cursor=cursor)
    assert set(caught.value.errors) == {"cursor"}


def test_a_cursor_with_an_offset_is_refused(people):
    cursor = people.call("list_residents", {}, limit=1)["next_cursor"]
    with pytest.raises(InvalidInput) as caught:
        people.call("list_residents", {}, cursor=cursor, offset=1)
    assert set(caught.value.errors) == {"cursor"}


def test_a_list_without_a_cursor_mode_refuses_one(people):
    cursor = people.call("list_residents", {}, limit=1)["next_cursor"]
    with pytest.raises(InvalidInput) as caught:
        people.call("list_proxy_requests", {"cursor": cursor})  # as the gateway passes a query string
    assert set(caught.value.errors) == {"cursor"}
