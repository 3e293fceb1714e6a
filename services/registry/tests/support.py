"""The registry's test data, shared by its test files (no test module imports another): the key its
PII is encrypted with, the callers its tests act as, and residents as the RPC and the import take them."""
from datetime import date

from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from community.policy import SYSTEM
from heyun.pii import Protector
from heyun.testing.callers import STAFF, as_role
from registry import idnumbers
from registry.models import Building, Grid
from registry.places import create_grid_worker

PII_KEY = service_config("registry")["PII_KEY"]
PROPERTY = as_role("property_manager", account="property")
CANTEEN = as_role("canteen_staff", account="canteen")
BORN = date(1950, 5, 1)  # ``person``'s birthday unless told

__all__ = ["PII_KEY", "STAFF", "PROPERTY", "CANTEEN", "BORN", "person", "rows", "age_on", "build_world"]


def person(building_id, floor=1, unit=1, room="101", birth=BORN, seq=11, **extra):
    """A resident as ``register_resident`` takes it, with a valid ID number for ``birth`` and ``seq``."""
    data = {"name": "王秀英", "gender": "male" if seq % 2 else "female", "birth_date": birth.isoformat(),
            "id_number": idnumbers.make("370115", birth, seq), "phone": "13812345678", "tags": ["elderly"],
            "dwelling": {"building_id": building_id, "unit": unit, "floor": floor, "room": room}}
    data.update(extra)
    return data


def rows(*people):
    """An import sheet: the header of the office's spreadsheet and ``people`` as its rows."""
    header = ["姓名", "性别", "身份证号", "手机号", "楼号", "单元", "楼层", "房号", "标签", "与户主关系", "原村"]
    return header, [list(p) for p in people]


def age_on(birth, day):
    """Whole years from ``birth`` to ``day``, worked out here by hand (not by the code under test)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def build_world(url):
    """Two grids of one building each (3 floors, 2 units), a grid worker for each, in the migrated
    database at ``url`` (PostgreSQL for the service tests, SQLite for the unit tier): ``{"url",
    "grid_a", "grid_b", "east", "west", "gw_a", "gw_b"}``, the last two the grid workers' callers."""
    engine = make_engine(url)
    Session = make_sessionmaker(engine, "registry")
    with transaction(Session) as session:
        grid_a, grid_b = Grid(name="A"), Grid(name="B")
        session.add_all([grid_a, grid_b])
        session.flush()
        east = Building(number=1, name="1号楼", floors=3, units=2, grid_id=grid_a.id)
        west = Building(number=2, name="2号楼", floors=3, units=2, grid_id=grid_b.id)
        session.add_all([east, west])
        session.flush()
        protector = Protector(PII_KEY)
        create_grid_worker(session, protector, SYSTEM, {"name": "李娜", "account": "gw-a", "grid_id": grid_a.id,
                                                        "phone": "13800000001"})
        create_grid_worker(session, protector, SYSTEM, {"name": "王芳", "account": "gw-b", "grid_id": grid_b.id,
                                                        "phone": "13800000002"})
        ids = {"url": url, "grid_a": grid_a.id, "grid_b": grid_b.id, "east": east.id, "west": west.id}
    engine.dispose()
    ids["gw_a"] = as_role("grid_worker", account="gw-a", grid_ids=(ids["grid_a"],))
    ids["gw_b"] = as_role("grid_worker", account="gw-b", grid_ids=(ids["grid_b"],))
    return ids
