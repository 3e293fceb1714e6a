"""Bulk import throughput: rows/s through the registry's import (validation, ID check digits,
encryption, dedup by ID digest, households, history, outbox events) against a raw SQLAlchemy
bulk insert of the same rows into the same table, in the same run, on the same PostgreSQL.

    .venv/bin/python -m bench.bench_import [ROWS ...]      (default: 10000 100000)
"""
import sys
from datetime import date

from sqlalchemy import insert

from bench.common import Stopwatch, scratch_databases
from community.policy import SYSTEM
from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.migrations import upgrade
from registry.demo import Wanghe
from registry.importing import import_rows
from registry.models import Building, Grid, Resident, new_id, utcnow
from heyun.pii import Protector

HEADER = ["姓名", "性别", "身份证号", "手机号", "楼号", "单元", "楼层", "房号", "标签", "与户主关系", "原村"]
CHUNK = 1000  # what the gateway sends per RPC


def make_rows(count):
    gen = Wanghe(seed=7)
    rows = []
    for i in range(count):
        p = gen.person(gen.rng.randint(1, 95), gen.rng.choice(("male", "female")), "户主")
        building, rest = divmod(i, 1200)
        unit, rest = divmod(rest, 300)
        floor, room = divmod(rest, 10)
        rows.append([p["name"], "男" if p["gender"] == "male" else "女", p["id_number"], p["phone"] or "",
                     str(building + 1), str(unit + 1), str(floor + 1), f"{floor + 1}{room:02d}",
                     "、".join(p["tags"]), "户主", "东辛村"])
    return rows


def prepare(factory, buildings):
    url = factory.create("bench")
    upgrade("registry", url)
    engine = make_engine(url)
    with engine.begin() as conn:
        grid_id = new_id()
        conn.execute(insert(Grid), [{"id": grid_id, "name": "bench"}])
        conn.execute(insert(Building), [{"id": new_id(), "number": n, "name": f"{n}号楼", "floors": 30,
                                         "units": 4, "grid_id": grid_id} for n in range(1, buildings + 1)])
    return engine


def through_import(engine, rows, protector):
    Session = make_sessionmaker(engine, "registry")
    created = 0
    with Stopwatch() as watch:
        for start in range(0, len(rows), CHUNK):
            with transaction(Session) as session:
                result = import_rows(session, protector, SYSTEM, HEADER, rows[start:start + CHUNK], start + 2)
            created += result["created"]
            assert not result["errors"], result["errors"][:3]
    assert created == len(rows)
    return watch.seconds


def raw_bulk_insert(engine, rows):
    """The floor: the same rows straight into ``residents`` with one executemany per chunk."""
    now = utcnow()
    values = [{"id": new_id(), "name": r[0], "gender": "male" if r[1] == "男" else "female",
               "birth_date": date(int(r[2][6:10]), int(r[2][10:12]), int(r[2][12:14])),
               "id_number_digest": r[2], "id_number_cipher": r[2], "id_number_masked": r[2][:4],
               "phone_cipher": r[3] or None, "phone_masked": r[3][:3] or None, "tags": "," + r[8] + ",",
               "relation_to_head": r[9], "created_at": now, "updated_at": now} for r in rows]
    with Stopwatch() as watch:
        for start in range(0, len(values), CHUNK):
            with engine.begin() as conn:
                conn.execute(insert(Resident.__table__), values[start:start + CHUNK])
    return watch.seconds


def main(sizes):
    protector = Protector(service_config("registry")["PII_KEY"])
    print(f"{'rows':>8} {'import rows/s':>14} {'raw insert rows/s':>18} {'ratio':>7}")
    with scratch_databases() as factory:
        for size in sizes:
            rows = make_rows(size)
            buildings = size // 1200 + 1
            engine = prepare(factory, buildings)
            imported = through_import(engine, rows, protector)
            again = through_import_repeat(engine, rows, protector)
            engine.dispose()
            raw_engine = prepare(factory, buildings)
            raw = raw_bulk_insert(raw_engine, rows)
            raw_engine.dispose()
            print(f"{size:>8} {size / imported:>14,.0f} {size / raw:>18,.0f} {raw / imported:>7.2f}"
                  f"   (re-import of the same file, all unchanged: {size / again:,.0f} rows/s)")


def through_import_repeat(engine, rows, protector):
    Session = make_sessionmaker(engine, "registry")
    with Stopwatch() as watch:
        for start in range(0, len(rows), CHUNK):
            with transaction(Session) as session:
                result = import_rows(session, protector, SYSTEM, HEADER, rows[start:start + CHUNK], start + 2)
            assert result["created"] == 0 and result["updated"] == 0
    return watch.seconds


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10000, 100000])
