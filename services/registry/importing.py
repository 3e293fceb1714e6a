"""Bulk import of residents from the spreadsheets communities already keep.

Rows are keyed by ID number: a row whose resident exists updates what changed (a new dwelling
is a move, with history), an identical row changes nothing, so importing the same file twice is
harmless. Each bad row is reported by row number and column and skipped; the good rows are kept.
Work is done a chunk at a time with set-based queries, so 100,000 rows stay fast.
"""
import re
from datetime import datetime

from sqlalchemy import insert, select

from heyun.errors import InvalidInput
from heyun.outbox import record_many
from heyun.schemas import UNSTORABLE, UNSTORABLE_MESSAGE
from registry import idnumbers
from registry.events import HOUSEHOLD_REGISTERED, RESIDENT_MOVED, RESIDENT_REGISTERED, RESIDENT_UPDATED
from registry.models import Building, Dwelling, Household, Residence, Resident, new_id, utcnow
from registry.places import dwelling_payload
from registry.residents import HEAD_RELATIONS, encode_tags, resident_payload, today
from registry.schemas import TAGS

# Column names as communities write them, in Chinese or English → our field names.
COLUMNS = {
    "name": ("姓名", "name"),
    "gender": ("性别", "gender"),
    "birth_date": ("出生日期", "birth_date"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "id_number"),
    "phone": ("手机号", "手机号码", "联系电话", "phone"),
    "building": ("楼号", "楼栋", "building", "building_number"),
    "unit": ("单元", "unit"),
    "floor": ("楼层", "floor"),
    "room": ("房号", "门牌号", "room"),
    "tags": ("标签", "tags"),
    "relation_to_head": ("与户主关系", "relation_to_head"),
    "origin_village": ("原村", "原籍村", "origin_village"),
}
REQUIRED = ("name", "id_number", "building", "floor", "room")
# The cells stored as typed, with their columns: a value too long for its column, or holding a
# character PostgreSQL (NUL) or XML (the other C0 controls) refuses, would fail the insert of the
# whole chunk and lose its good rows, so it is that row's error instead.
TEXT_COLUMNS = {
    "name": Resident.name, "room": Dwelling.room,
    "relation_to_head": Resident.relation_to_head, "origin_village": Household.origin_village,
}
GENDER_WORDS = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male", "f": "female"}
TAG_WORDS = {
    "高龄": "elderly", "老年": "elderly", "独居": "living_alone", "行动不便": "mobility_impaired",
    "残疾": "disabled", "退役军人": "veteran", "低保": "low_income", "无智能手机": "no_smartphone",
    "党员": "party_member", "楼长": "building_head", "居民代表": "resident_representative",
    "空巢": "empty_nester",
}
TAG_SPLIT = re.compile(r"[,;，；、\s|]+")


def map_header(header):
    """``{field: column index}``; a missing required column fails the whole file."""
    lookup = {alias.lower(): field for field, aliases in COLUMNS.items() for alias in aliases}
    positions = {}
    for index, title in enumerate(header):
        field = lookup.get(str(title or "").strip().lstrip("\ufeff").lower())
        if field and field not in positions:
            positions[field] = index
    missing = [f for f in REQUIRED if f not in positions]
    if missing:
        raise InvalidInput(
            "The spreadsheet lacks required columns.",
            {"header": [f"Missing column {COLUMNS[f][0]} ({f})." for f in missing]})
    return positions


def _date(text):
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError("Dates look like 1948-03-15.")


def _int(text, low, high, what):
    text = text.strip().rstrip("楼层单元号")
    if not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{what} is a whole number from {low} to {high}.")
    return int(text)


def parse_row(cells, positions, buildings):
    """A clean row dict, or the list of ``(field, message)`` wrong with it."""
    def cell(field):
        index = positions.get(field)
        value = cells[index] if index is not None and index < len(cells) else ""
        return "" if value is None else str(value).strip()

    errors, row = [], {}
    for field, column in TEXT_COLUMNS.items():
        value, limit = cell(field), column.type.length
        if field in REQUIRED and not value:
            errors.append((field, f"Required (at most {limit} characters)."))
        elif len(value) > limit:
            errors.append((field, f"At most {limit} characters, not {len(value)}."))
        elif UNSTORABLE.search(value):
            errors.append((field, UNSTORABLE_MESSAGE))
        row[field] = value or None
    stated_gender = stated_birth = None
    if cell("gender"):
        stated_gender = GENDER_WORDS.get(cell("gender").lower())
        if stated_gender is None:
            errors.append(("gender", "Gender is 男/女 (male/female)."))
    if cell("birth_date"):
        try:
            stated_birth = _date(cell("birth_date"))
        except ValueError as exc:
            errors.append(("birth_date", str(exc)))
    try:
        row["birth_date"], row["gender"] = idnumbers.validate_against(
            cell("id_number"), stated_birth, stated_gender)
        row["id_number"] = idnumbers.normalize(cell("id_number"))
    except idnumbers.InvalidIdNumber as exc:
        errors.append(("id_number", str(exc)))
    row["phone"] = cell("phone") or None
    if row["phone"] and not idnumbers.is_mobile(row["phone"]):
        errors.append(("phone", "A mobile number is 11 digits starting with 13–19."))
    building = None
    try:
        building = buildings.get(_int(cell("building"), 1, 9999, "The building number"))
        if building is None:
            errors.append(("building", f"No building number {cell('building')} in this community."))
    except ValueError as exc:
        errors.append(("building", str(exc)))
    try:
        row["unit"] = _int(cell("unit") or "1", 1, building.units if building else 20, "The unit")
    except ValueError as exc:
        errors.append(("unit", str(exc)))
    try:
        row["floor"] = _int(cell("floor"), 1, building.floors if building else 60, "The floor")
    except ValueError as exc:
        errors.append(("floor", str(exc)))
    tags = []
    for word in TAG_SPLIT.split(cell("tags")):
        if word:
            tag = TAG_WORDS.get(word, word.lower())
            if tag not in TAGS:
                errors.append(("tags", f"Unknown tag {word}."))
            tags.append(tag)
    row["tags"] = tags
    row["building"] = building
    return (None, errors) if errors else (row, [])


class ImportResult:
    def __init__(self):
        self.created = self.updated = self.unchanged = 0
        self.errors = []

    def as_dict(self):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": self.errors}


def import_rows(session, protector, caller, header, rows, first_row_number=2):
    """Import one chunk of spreadsheet rows (lists of cell strings); the caller commits."""
    positions = map_header(header)
    buildings = {b.number: b for b in session.execute(select(Building)).scalars()}
    result = ImportResult()
    parsed, seen = [], {}
    for offset, cells in enumerate(rows):
        number = first_row_number + offset
        row, errors = parse_row(cells, positions, buildings)
        if row and not caller.community_wide and row["building"].grid_id not in caller.grid_ids:
            errors = [("building", "Grid workers may only import residents of their own grid.")]
            row = None
        if row and row["id_number"] in seen:
            errors = [("id_number", f"Same ID number as row {seen[row['id_number']]}.")]
            row = None
        if errors:
            result.errors.extend({"row": number, "field": f, "message": m} for f, m in errors)
            continue
        seen[row["id_number"]] = number
        row["digest"] = protector.digest(row["id_number"])
        parsed.append(row)
    if not parsed:
        return result.as_dict()

    existing = {r.id_number_digest: r for r in session.execute(
        select(Resident).where(Resident.id_number_digest.in_([row["digest"] for row in parsed]))).scalars()}
    dwellings = _dwellings_for(session, parsed)
    # New residents get their ids now, so a new household can name its head in the same insert.
    for row in parsed:
        row["resident_id"] = None if row["digest"] in existing else new_id()
    households = _households_for(session, parsed, dwellings)

    new_residents, new_residences, registered, updated, moved = [], [], [], [], []
    for row in parsed:
        dwelling = dwellings[_address(row)]
        resident = existing.get(row["digest"])
        if resident is None:
            values = _new_resident(row, dwelling, households[dwelling.id], protector)
            new_residents.append(values)
            new_residences.append({"id": new_id(), "resident_id": values["id"], "dwelling_id": dwelling.id,
                                   "moved_in": today()})
            registered.append(resident_payload(Resident(**values), dwelling, row["building"], protector))
            result.created += 1
        else:
            changes = _apply_changes(session, resident, row, dwelling, protector, moved)
            if changes:
                updated.append(dict(resident_payload(resident, dwelling, row["building"], protector), changed=changes))
                result.updated += 1
            else:
                result.unchanged += 1
    if new_residents:
        session.execute(insert(Resident.__table__), new_residents)  # Core: one multi-row insert, not ORM batches
        session.execute(insert(Residence.__table__), new_residences)
    record_many(session, RESIDENT_REGISTERED, registered)
    record_many(session, RESIDENT_UPDATED, updated)
    record_many(session, RESIDENT_MOVED, moved)
    session.flush()
    return result.as_dict()


def _address(row):
    return (row["building"].id, row["unit"], row["floor"], row["room"])


class _Row:
    """A row inserted with Core, read back like an ORM object (``.id``, ``.head_resident_id``)."""

    def __init__(self, **values):
        self.__dict__.update(values)


def _dwellings_for(session, parsed):
    """Every dwelling the rows name, creating the missing ones in one insert."""
    building_ids = {row["building"].id for row in parsed}
    known = {(d.building_id, d.unit, d.floor, d.room): d for d in session.execute(
        select(Dwelling).where(Dwelling.building_id.in_(building_ids))).scalars()}
    missing = sorted({_address(row) for row in parsed} - known.keys())
    values = [{"id": new_id(), "building_id": b, "unit": u, "floor": f, "room": r} for b, u, f, r in missing]
    if values:
        session.execute(insert(Dwelling.__table__), values)
    for value in values:
        known[(value["building_id"], value["unit"], value["floor"], value["room"])] = _Row(**value)
    return known


def _households_for(session, parsed, dwellings):
    """The household of each named dwelling; a dwelling with none gets one (one family a flat),
    headed by the new resident whose relation says 户主."""
    dwelling_ids = {dwellings[_address(row)].id for row in parsed}
    households = {}
    for household in session.execute(select(Household).where(Household.dwelling_id.in_(dwelling_ids))
                                     .order_by(Household.created_at.desc())).scalars():
        households[household.dwelling_id] = household
    new, payloads = {}, []
    for row in parsed:
        dwelling = dwellings[_address(row)]
        is_head = row["resident_id"] and row["relation_to_head"] in HEAD_RELATIONS
        if dwelling.id in households:
            household = households[dwelling.id]
            if is_head and household.head_resident_id is None:
                household.head_resident_id = row["resident_id"]
            continue
        household = _Row(id=new_id(), dwelling_id=dwelling.id, origin_village=row["origin_village"],
                         resettled_on=None, head_resident_id=row["resident_id"] if is_head else None,
                         created_at=utcnow())
        households[dwelling.id] = new[dwelling.id] = household
        payloads.append({"household_id": household.id, "origin_village": household.origin_village,
                         "resettled_on": None, "dwelling": dwelling_payload(dwelling, row["building"])})
    if new:
        session.execute(insert(Household.__table__), [vars(h) for h in new.values()])
    record_many(session, HOUSEHOLD_REGISTERED, payloads)
    return households


def _new_resident(row, dwelling, household, protector):
    now = utcnow()
    return {
        "id": row["resident_id"], "name": row["name"], "gender": row["gender"], "birth_date": row["birth_date"],
        "id_number_digest": row["digest"], "id_number_cipher": protector.encrypt(row["id_number"]),
        "id_number_masked": idnumbers.mask_id_number(row["id_number"]),
        "phone_cipher": protector.encrypt(row["phone"]), "phone_masked": idnumbers.mask_phone(row["phone"]),
        "household_id": household.id, "relation_to_head": row["relation_to_head"],
        "dwelling_id": dwelling.id, "tags": encode_tags(row["tags"]), "created_at": now, "updated_at": now,
    }


def _apply_changes(session, resident, row, dwelling, protector, moved):
    """Bring ``resident`` in line with ``row``; returns the changed field names."""
    changes = []
    if resident.name != row["name"]:
        resident.name = row["name"]
        changes.append("name")
    if resident.relation_to_head != row["relation_to_head"]:
        resident.relation_to_head = row["relation_to_head"]
        changes.append("relation_to_head")
    if resident.tags != encode_tags(row["tags"]):
        resident.tags = encode_tags(row["tags"])
        changes.append("tags")
    if (protector.decrypt(resident.phone_cipher) if resident.phone_cipher else None) != row["phone"]:
        resident.phone_cipher = protector.encrypt(row["phone"])
        resident.phone_masked = idnumbers.mask_phone(row["phone"])
        changes.append("phone")
    if resident.dwelling_id != dwelling.id:
        old = session.get(Dwelling, resident.dwelling_id) if resident.dwelling_id else None
        old_building = session.get(Building, old.building_id) if old else None
        for residence in session.execute(select(Residence).where(
                Residence.resident_id == resident.id, Residence.moved_out.is_(None))).scalars():
            residence.moved_out = today()
        session.add(Residence(resident_id=resident.id, dwelling_id=dwelling.id, moved_in=today()))
        resident.dwelling_id = dwelling.id
        moved.append({"resident_id": resident.id, "from_dwelling": dwelling_payload(old, old_building),
                      "to_dwelling": dwelling_payload(dwelling, row["building"]),
                      "grid_id": row["building"].grid_id, "moved_on": today()})
        changes.append("dwelling")
    if changes:
        resident.updated_at = utcnow()
    return changes

