"""The gateway's test data, shared by its test files (no test module imports another): the secrets
its test configuration uses, the demo accounts' password, and new residents and import sheets that
no demo resident clashes with."""
import io
import random
from datetime import date

from openpyxl import Workbook

from gateway import demo
from registry import idnumbers

TOKEN_SECRET = "test-secret-with-enough-bytes-for-hs256"
PASSWORD = demo.demo_password()
SMS_RECEIPT_SECRET = "gateway-test-sms-receipts"  # what the SMS gateway and notify share

IMPORT_TYPES = {"csv": "text/csv",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def new_id_number(gender="female"):
    """A valid ID number no demo resident has (another region, a random birth date)."""
    birth = date(random.randint(1940, 2000), random.randint(1, 12), random.randint(1, 28))
    seq = random.randrange(0, 998, 2) + (1 if gender == "male" else 0)
    return idnumbers.make("370102", birth, seq), birth


def buildings(client):
    return sorted(client.get("/api/v1/buildings?limit=100", as_user="staff").json()["items"],
                  key=lambda b: b["number"])


def resident_body(building_id, **extra):
    id_number, birth = new_id_number()
    body = {"name": "测试居民", "gender": "female", "birth_date": birth.isoformat(), "id_number": id_number,
            "phone": "13912345678", "tags": ["elderly"],
            "dwelling": {"building_id": building_id, "unit": 1, "floor": 2, "room": "201"}}
    body.update(extra)
    return body


def spreadsheet(kind, rows):
    header = ["姓名", "性别", "出生日期", "身份证号", "楼号", "单元", "楼层", "房号"]
    if kind == "csv":
        text = "\n".join(",".join(map(str, row)) for row in [header] + rows) + "\n"
        return ("\ufeff" + text).encode("utf-8")
    workbook = Workbook()
    for row in [header] + rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def import_rows(count, building_number):
    rows = []
    for index in range(count):
        id_number, birth = new_id_number()
        rows.append([f"导入居民{index}", "女", birth.isoformat(), id_number, building_number, 1, 1, "10" + str(index % 3 + 1)])
    return rows
