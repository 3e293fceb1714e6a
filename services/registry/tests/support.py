"""The registry's test data, shared by its test files (no test module imports another): the key its
PII is encrypted with, the callers its tests act as, and residents as the RPC and the import take them."""
from datetime import date

from heyun.config import service_config
from heyun.testing.callers import STAFF, caller
from registry import idnumbers

PII_KEY = service_config("registry")["PII_KEY"]
PROPERTY = caller("property_manager", account="property")
CANTEEN = caller("canteen_staff", account="canteen")
BORN = date(1950, 5, 1)  # ``person``'s birthday unless told

__all__ = ["PII_KEY", "STAFF", "PROPERTY", "CANTEEN", "BORN", "person", "rows", "age_on"]


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
