"""heyun.paging on SQLite, no server: cursors walk a list once in order, offsets and cursors agree,
totals are exact to the cap and marked past it, a bad cursor names the field."""
import pytest
from sqlalchemy import Column, Integer, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Session

from heyun import paging
from heyun.errors import InvalidInput
from heyun.schemas import KeysetPaging, listing, load


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "rows"
    id = Column(Integer, primary_key=True)
    name = Column(String(10), nullable=False)


KEYS = (Row.name, Row.id)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        # Namesakes, so the order needs its second key.
        session.add_all(Row(id=i, name="abc"[i % 3]) for i in range(1, 23))
        session.flush()
        yield session


def one_page(session, **given):
    _, paged = listing(None, None, given.pop("limit", 50), given.pop("offset", 0), given.pop("cursor", None),
                       keyset=True)
    return paging.page(session, select(Row), paged, lambda row: (row.name, row.id), keys=KEYS)


def test_cursor_pages_walk_the_whole_order_once(session):
    pages, cursor = [], None
    while True:
        pages.append(one_page(session, limit=5, cursor=cursor))
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            break
    walked = [item for page in pages for item in page["items"]]
    assert walked == sorted(walked) and len(set(walked)) == 22
    assert [len(page["items"]) for page in pages] == [5, 5, 5, 5, 2]
    assert {(page["total"], page["total_estimated"]) for page in pages} == {(22, False)}


def test_an_offset_page_agrees_with_the_cursor_walk(session):
    by_offset = one_page(session, limit=4, offset=8)
    after = one_page(session, limit=4, cursor=one_page(session, limit=8)["next_cursor"])
    assert by_offset["items"] == after["items"] and by_offset["next_cursor"] == after["next_cursor"]


def test_a_count_past_the_cap_is_marked_estimated(session, monkeypatch):
    monkeypatch.setattr(paging, "EXACT_UP_TO", 10)
    page = one_page(session, limit=5)
    # SQLite gives no planner estimate: the count stops at the cap and says so.
    assert (page["total"], page["total_estimated"]) == (11, True)
    last = one_page(session, limit=5, offset=20)  # the last page still knows the exact total
    assert (last["total"], last["total_estimated"]) == (22, False)


@pytest.mark.parametrize("cursor", ["", "%%%", "e30", "WzEsdHJ1ZV0", "W251bGwsMV0", "x" * 2001,
                                    paging.encode_cursor(["a\x00", 1], KEYS), paging.encode_cursor(["a", 2 ** 64], KEYS)])
def test_a_malformed_cursor_names_the_field(cursor):
    with pytest.raises(InvalidInput) as caught:
        listing(None, None, 50, 0, cursor, keyset=True)
    assert set(caught.value.errors) == {"cursor"}


def test_a_cursor_of_another_order_or_type_names_the_field(session):
    for wrong in (paging.encode_cursor(["a", 1], (Row.id, Row.name)), paging.encode_cursor([1, "a"], KEYS)):
        with pytest.raises(InvalidInput) as caught:
            one_page(session, cursor=wrong)
        assert set(caught.value.errors) == {"cursor"}


def test_a_cursor_with_an_offset_or_on_an_offset_list_names_the_field(session):
    cursor = one_page(session, limit=1)["next_cursor"]
    with pytest.raises(InvalidInput) as caught:
        load(KeysetPaging(), {"cursor": cursor, "offset": 3})
    assert set(caught.value.errors) == {"cursor"}
    with pytest.raises(InvalidInput) as caught:
        listing(None, {"cursor": cursor}, 50, 0)  # as the gateway passes it, to an offset-only list
    assert set(caught.value.errors) == {"cursor"}
