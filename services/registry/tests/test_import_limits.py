"""Import on PostgreSQL: a value its column cannot store is that row's error, naming the column;
the good rows of the same chunk are still imported (one bad value used to fail the whole chunk)."""
from datetime import date

from registry import idnumbers
from registry.tests.support import rows


def person(seq, name="周桂兰", room="301", relation="配偶", village="东辛村"):
    id_number = idnumbers.make("370115", date(1950, 1, 1), 200 + seq)
    return (name, "", id_number, "", "1", "1", "3", room, "", relation, village)


def test_values_the_columns_cannot_store_are_row_errors_and_good_rows_are_kept(registry, world):
    header, data = rows(
        person(1, name="好人甲"),
        person(2, relation="关" * 31),         # relation_to_head is String(30)
        person(3, village="村" * 51),          # origin_village is String(50)
        person(4, name="名" * 101),            # name is String(100)
        person(5, room="1" * 11),              # room is String(10)
        person(6, name="周\u0000桂兰"),         # PostgreSQL refuses NUL in text
        person(7, village="东辛\u0007村"),       # the bell: no XML (CAP) can carry it
        person(8, name="好人乙", relation="关" * 30, village="村" * 50),  # exactly at the limits
    )
    result = registry.call("import_residents", header, data)

    assert {(e["row"], e["field"]) for e in result["errors"]} == {
        (3, "relation_to_head"), (4, "origin_village"), (5, "name"), (6, "room"), (7, "name"), (8, "origin_village")}
    assert (result["created"], result["updated"], result["unchanged"]) == (2, 0, 0)
    for name in ("好人甲", "好人乙"):
        assert registry.call("list_residents", {"q": name})["total"] == 1
