"""A registry database filled straight in SQL with ``n`` residents, at a city's proportions:
18-floor buildings of 2 units × 4 rooms (144 dwellings), one household per dwelling, ~2.3
residents a household (so ~330 a building), three buildings to a grid with one grid worker each
(a grid's size does not grow with the city; the number of grids does).

Rows are made by ``INSERT … SELECT generate_series`` (a million residents in about a minute):
the import's validation, encryption and events are what ``bench_import`` measures, not this.
ID and phone ciphertexts come from a pool of real ones, so a role that sees numbers unmasked
decrypts them as it would real ones.
"""
from sqlalchemy import create_engine, text

from heyun.db import normalize_url

from heyun.pii import Protector

FLOORS, UNITS, ROOMS = 18, 2, 4
DWELLINGS_PER_BUILDING = FLOORS * UNITS * ROOMS
RESIDENTS_PER_DWELLING = 2.3
BUILDINGS_PER_GRID = 3
CIPHER_POOL = 64
TABLES = ("grids", "grid_workers", "buildings", "dwellings", "households", "residents")
# Surnames and given names as the demo writes them; a resident's name is one of each.
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾程袁田董潘于蒋蔡余杜叶"
GIVEN = "建国伟强军明勇杰涛超磊刚平辉鹏华飞志红林宏庆德福海山成祥文秀英桂兰玉梅淑珍丽娜静芳敏燕霞娟凤琴云莲荣春慧婷雪"


def sizes(n):
    dwellings = max(1, round(n / RESIDENTS_PER_DWELLING))
    buildings = -(-dwellings // DWELLINGS_PER_BUILDING)
    return {"residents": n, "dwellings": dwellings, "buildings": buildings,
            "grids": -(-buildings // BUILDINGS_PER_GRID)}


def fill(url, n, pii_key):
    """Fill the (migrated, empty) registry database at ``url``; returns ``sizes(n)``."""
    size = sizes(n)
    protector = Protector(pii_key)
    id_ciphers = [protector.encrypt(f"37011519500101{i:03d}X") for i in range(CIPHER_POOL)]
    phone_ciphers = [protector.encrypt(f"139{i:08d}") for i in range(CIPHER_POOL)]
    engine = create_engine(normalize_url(url))
    with engine.begin() as db:
        db.execute(text("SET LOCAL synchronous_commit = off"))
        # Loading first and indexing after is several times faster than keeping a dozen indexes
        # up to date row by row; the foreign keys hold by construction, so their checks are off
        # for this transaction (replica role: PostgreSQL fires no FK triggers).
        db.execute(text("SET LOCAL session_replication_role = replica"))
        indexes = db.execute(text("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY(:tables) AND t.relnamespace = 'public'::regnamespace
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""),
            {"tables": list(TABLES)}).all()
        for name, _ in indexes:
            db.exec_driver_sql(f"DROP INDEX {name}")
        db.execute(text("""
            INSERT INTO grids (id, name)
            SELECT md5('g' || g)::uuid::text, '第' || g || '网格' FROM generate_series(1, :grids) g"""), size)
        db.execute(text("""
            INSERT INTO grid_workers (id, name, account, grid_id, phone_masked)
            SELECT md5('w' || g)::uuid::text, '网格员' || g, 'gridworker' || g, md5('g' || g)::uuid::text,
                   '139****' || lpad((g % 10000)::text, 4, '0')
            FROM generate_series(1, :grids) g"""), size)
        db.execute(text("""
            INSERT INTO buildings (id, number, name, floors, units, grid_id)
            SELECT md5('b' || b)::uuid::text, b, b || '号楼', :floors, :units,
                   md5('g' || ((b - 1) / :per_grid + 1))::uuid::text
            FROM generate_series(1, :buildings) b"""),
            dict(size, floors=FLOORS, units=UNITS, per_grid=BUILDINGS_PER_GRID))
        # Dwelling d (0-based) is in building d / 144, then unit, floor, room in that order.
        db.execute(text("""
            INSERT INTO dwellings (id, building_id, unit, floor, room)
            SELECT md5('d' || d)::uuid::text, md5('b' || (d / :per_building + 1))::uuid::text,
                   (d % :per_building) / (:floors * :rooms) + 1,
                   (d % (:floors * :rooms)) / :rooms + 1,
                   ((d % (:floors * :rooms)) / :rooms + 1) * 100 + d % :rooms + 1
            FROM generate_series(0, :dwellings - 1) d"""),
            dict(size, per_building=DWELLINGS_PER_BUILDING, floors=FLOORS, rooms=ROOMS))
        db.execute(text("""
            INSERT INTO households (id, origin_village, dwelling_id, created_at)
            SELECT md5('h' || d)::uuid::text, CASE WHEN d % 3 = 0 THEN '东辛村' WHEN d % 3 = 1 THEN '花二村' END,
                   md5('d' || d)::uuid::text, now()
            FROM generate_series(0, :dwellings - 1) d"""), size)
        # Resident i lives in dwelling i * dwellings / n; ages spread over 0–99 (a fifth 80 or
        # over), a tenth of those 60 or over living alone.
        db.execute(text("""
            INSERT INTO residents (id, name, gender, birth_date, id_number_digest, id_number_cipher,
                                   id_number_masked, phone_cipher, phone_masked, household_id,
                                   relation_to_head, dwelling_id, tags, language, created_at, updated_at)
            SELECT md5('r' || i)::uuid::text,
                   substr(:surnames, i % length(:surnames) + 1, 1) || substr(:given, (i / 7) % length(:given) + 1, 1)
                       || substr(:given, (i / 13) % length(:given) + 1, 1),
                   CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END,
                   DATE '2026-06-30' - (age * 365 + i % 365),
                   md5('id' || i), (:id_ciphers)[i % :pool + 1], '370115********' || lpad((i % 10000)::text, 4, '0'),
                   (:phone_ciphers)[i % :pool + 1], '139****' || lpad((i % 10000)::text, 4, '0'),
                   md5('h' || dwelling)::uuid::text,
                   CASE WHEN i = (dwelling::bigint * :n + :dwellings - 1) / :dwellings THEN '户主' ELSE '家属' END,
                   md5('d' || dwelling)::uuid::text,
                   CASE WHEN age >= 60 THEN ',elderly,' || CASE WHEN i % 10 = 3 THEN 'living_alone,' ELSE '' END
                        ELSE ',' END,
                   'zh', now(), now()
            FROM (SELECT i, (i::bigint * 7919 % 100)::int AS age, (i::bigint * :dwellings / :n)::int AS dwelling
                  FROM generate_series(0, :n - 1) i) r"""),
            dict(size, n=n, surnames=SURNAMES, given=GIVEN, id_ciphers=id_ciphers, phone_ciphers=phone_ciphers,
                 pool=CIPHER_POOL))
        db.execute(text("""
            UPDATE households h SET head_resident_id = r.id FROM residents r
            WHERE r.household_id = h.id AND r.relation_to_head = '户主'"""))
        db.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for _, definition in indexes:
            db.exec_driver_sql(definition)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(text("VACUUM ANALYZE"))  # the planner's statistics, as autovacuum would have them
    engine.dispose()
    return size
