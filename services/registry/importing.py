"""Bulk import of residents from the spreadsheets communities already keep.

Rows are keyed by ID number: a row whose resident exists updates what changed in the columns the
sheet has (an absent column changes nothing; a new dwelling is a move, with history), an
identical row changes nothing, so importing the same file twice is harmless. A row obeys the
rules of registering, updating and moving one resident (``residents``), so a grid worker reaches
no further by import than by hand. Each bad row is reported by row number and column and
skipped; the good rows are kept. docs/import.md is the sheet-filler's guide.
Work is done a chunk at a time with set-based queries, so 100,000 rows stay fast.
"""
import re
from datetime import date, datetime

from sqlalchemy import insert, select

from community import policy
from heyun.errors import Forbidden, InvalidInput
from heyun.outbox import record_many
from heyun.schemas import UNSTORABLE, UNSTORABLE_MESSAGE
from registry import idnumbers
from registry.contract import (
    HOUSEHOLD_REGISTERED,
    RESIDENT_MOVED,
    RESIDENT_REGISTERED,
    RESIDENT_UPDATED,
    Gender,
    Tag,
)
from registry.models import Building, Dwelling, Household, Residence, Resident, new_id, utcnow
from registry.places import dwelling_payload
from registry.residents import (
    HEAD_RELATIONS,
    check_grid,
    check_move,
    encode_tags,
    join_household,
    leave_household,
    move_payload,
    resident_payload,
    today,
    visible_residents,
)

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
# What a row sets on a resident besides the name and the dwelling; on a resident already
# registered, only when the sheet has the column (an absent column changes nothing, an empty
# cell in a present one clears the field).
UPDATABLE = ("phone", "tags", "relation_to_head")
# A row naming a resident the importer may not change, wherever that resident lives.
OUT_OF_SCOPE = "You may not change the resident with this ID number; the community office can."
# The cells stored as typed, with their columns: a value too long for its column, or holding a
# character PostgreSQL (NUL) or XML (the other C0 controls) refuses, would fail the insert of the
# whole chunk and lose its good rows, so it is that row's error instead.
TEXT_COLUMNS = {
    "name": Resident.name, "room": Dwelling.room,
    "relation_to_head": Resident.relation_to_head, "origin_village": Household.origin_village,
}
# The template sheet (GET /residents/import/template): each column under its first (Chinese)
# name, and one made-up row that imports cleanly into building 1 (its ID number is valid but
# nobody's: the Jinan Lixia area code, a sequence of test numbers).
EXAMPLE_ROW = {
    "name": "张桂英", "gender": "女", "birth_date": "1948-03-15",
    "id_number": idnumbers.make("370102", date(1948, 3, 15), 998), "phone": "13912345678",
    "building": "1", "unit": "1", "floor": "3", "room": "301", "tags": "高龄、独居",
    "relation_to_head": "户主", "origin_village": "东辛村",
}


def template():
    """``{"header", "example"}``: the columns as the template names them, and one example row."""
    return {"header": [aliases[0] for aliases in COLUMNS.values()],
            "example": [EXAMPLE_ROW[field] for field in COLUMNS]}


# The contract's own words are accepted too (``male``), and their first letters.
GENDER_WORDS = {"男": Gender.MALE, "女": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE,
                **{gender.value: gender for gender in Gender}}
TAG_WORDS = {
    "高龄": Tag.ELDERLY, "老年": Tag.ELDERLY, "独居": Tag.LIVING_ALONE, "行动不便": Tag.MOBILITY_IMPAIRED,
    "残疾": Tag.DISABLED, "退役军人": Tag.VETERAN, "低保": Tag.LOW_INCOME, "无智能手机": Tag.NO_SMARTPHONE,
    "党员": Tag.PARTY_MEMBER, "楼长": Tag.BUILDING_HEAD, "居民代表": Tag.RESIDENT_REPRESENTATIVE,
    "空巢": Tag.EMPTY_NESTER,
}
TAG_NAMES = frozenset(tag.value for tag in Tag)
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
        row["unit"] = _int(cell("unit"), 1, building.units if building else 20, "The unit") if cell("unit") else None
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
            if tag not in TAG_NAMES:
                errors.append(("tags", f"Unknown tag {word}."))
            tags.append(tag)
    row["tags"] = tags
    row["building"] = building
    return (None, errors) if errors else (row, [])


class ImportResult:
    def __init__(self):
        self.created = self.updated = self.unchanged = 0
        self.errors, self.changes = [], []

    def error(self, number, field, message):
        self.errors.append({"row": number, "field": field, "message": message})

    def done(self, number, resident_id, action, fields):
        """One good row: ``action`` is created, updated or unchanged; ``fields`` names what it set
        (names only: the result must not carry personal values)."""
        setattr(self, action, getattr(self, action) + 1)
        self.changes.append({"row": number, "resident_id": resident_id, "action": action, "fields": sorted(fields)})

    def as_dict(self):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "errors": self.errors, "changes": self.changes}


def import_rows(session, protector, caller, header, rows, first_row_number=2):
    """Import one chunk of spreadsheet rows (lists of cell strings); the caller commits."""
    if not caller.has_role(*policy.RESIDENT_WRITERS):  # before reading a row: its answer maps ID numbers to ids
        raise Forbidden("Your role may not import residents.")
    positions = map_header(header)
    buildings = {b.number: b for b in session.execute(select(Building)).scalars()}
    result = ImportResult()
    parsed, seen = [], {}
    for offset, cells in enumerate(rows):
        number = first_row_number + offset
        row, errors = parse_row(cells, positions, buildings)
        if row and row["id_number"] in seen:
            errors = [("id_number", f"Same ID number as row {seen[row['id_number']]}.")]
        if errors:
            for field, message in errors:
                result.error(number, field, message)
            continue
        seen[row["id_number"]] = number
        row["number"] = number
        row["digest"] = protector.digest(row["id_number"])
        parsed.append(row)
    parsed = _allowed(session, caller, parsed, result)
    if not parsed:
        return result.as_dict()

    dwellings = _dwellings_for(session, parsed)
    # New residents get their ids now, so a new household can name its head in the same insert.
    for row in parsed:
        row["resident_id"] = row["current"][0].id if row["current"] else new_id()
        row["joins"] = row["current"] is None or _joins(row["current"][0], dwellings[_address(row)])
    households = _households_for(session, parsed, dwellings)

    new_residents, new_residences, registered, updated, moved = [], [], [], [], []
    for row in parsed:
        dwelling = dwellings[_address(row)]
        household = households[dwelling.id]
        if row["current"] is None:
            values = _new_resident(row, dwelling, household, protector)
            new_residents.append(values)
            new_residences.append({"id": new_id(), "resident_id": values["id"], "dwelling_id": dwelling.id,
                                   "moved_in": today()})
            registered.append(resident_payload(Resident(**values), dwelling, row["building"], protector))
            given = [field for field in UPDATABLE if row[field]]
            result.done(row["number"], values["id"], "created", ["name", "dwelling", "household_id"] + given)
            continue
        resident = row["current"][0]
        changes = _apply_changes(session, row, positions, dwelling, household, protector, moved)
        if changes:
            updated.append(dict(resident_payload(resident, dwelling, row["building"], protector), changed=changes))
        result.done(row["number"], resident.id, "updated" if changes else "unchanged", changes)
    if new_residents:
        session.execute(insert(Resident.__table__), new_residents)  # Core: one multi-row insert, not ORM batches
        session.execute(insert(Residence.__table__), new_residences)
    record_many(session, RESIDENT_REGISTERED, registered)
    record_many(session, RESIDENT_UPDATED, updated)
    record_many(session, RESIDENT_MOVED, moved)
    session.flush()
    return result.as_dict()


def _allowed(session, caller, parsed, result):
    """The rows ``caller`` may apply, by the rules of the single-resident API, each with the
    resident it names as ``row["current"]`` (resident, dwelling, building; ``None`` for a new one).

    A new resident is a registration (the new building must be in a grid worker's grids); an
    existing one must be in the caller's scope, and changing or moving them is checked where they
    live now. A row naming a resident outside the caller's scope gets the same error wherever
    that resident lives, so the import does not tell where they are.
    """
    digests = [row["digest"] for row in parsed]
    if not digests:
        return []
    visible = {resident.id_number_digest: (resident, dwelling, building) for resident, dwelling, building in
               session.execute(visible_residents(caller).where(Resident.id_number_digest.in_(digests)))}
    unseen = [digest for digest in digests if digest not in visible]
    registered = visible.keys() | (set(session.execute(
        select(Resident.id_number_digest).where(Resident.id_number_digest.in_(unseen))).scalars()) if unseen else set())
    allowed = []
    for row in parsed:
        row["current"] = current = visible.get(row["digest"])
        if row["unit"] is None:
            row["unit"] = _unit_of(current, row)
        try:
            if current is not None:
                check_grid(caller, current[2], "update residents of")
                if _address_of(current) != _address(row):
                    check_move(caller, current[2])
            elif row["digest"] in registered:
                raise Forbidden(OUT_OF_SCOPE)
            else:
                check_grid(caller, row["building"])
        except Forbidden as exc:
            result.error(row["number"], "building" if row["digest"] not in registered else "id_number", str(exc))
            continue
        allowed.append(row)
    return allowed


def _joins(resident, dwelling):
    """Whether a registered resident joins the household at ``dwelling``: when they move in."""
    return resident.dwelling_id != dwelling.id


def _unit_of(current, row):
    """A row with no unit: the resident's own unit if they live at that building, floor and
    room, else unit 1 (buildings with one unit need no unit column)."""
    if current is not None and current[1] is not None:
        resident, dwelling, building = current
        if (building.id, dwelling.floor, dwelling.room) == (row["building"].id, row["floor"], row["room"]):
            return dwelling.unit
    return 1


def _address_of(current):
    resident, dwelling, building = current
    return (building.id, dwelling.unit, dwelling.floor, dwelling.room) if dwelling is not None else None


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
        # Only a resident joining the household (new, or moving in) may become its head here.
        is_head = row["joins"] and row["relation_to_head"] in HEAD_RELATIONS
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


def _apply_changes(session, row, positions, dwelling, household, protector, moved):
    """Bring the resident in line with ``row`` in the columns the sheet has (an absent column
    changes nothing); a new dwelling is a move. Returns the changed field names."""
    resident, old_dwelling, old_building = row["current"]
    before = {field: getattr(resident, field) for field in ("relation_to_head", "household_id")}
    changes = []
    if resident.name != row["name"]:
        resident.name = row["name"]
        changes.append("name")
    if "tags" in positions and resident.tags != encode_tags(row["tags"]):
        resident.tags = encode_tags(row["tags"])
        changes.append("tags")
    phone_now = protector.decrypt(resident.phone_cipher) if "phone" in positions and resident.phone_cipher else None
    if "phone" in positions and phone_now != row["phone"]:
        resident.phone_cipher = protector.encrypt(row["phone"])
        resident.phone_masked = idnumbers.mask_phone(row["phone"])
        changes.append("phone")
    if resident.dwelling_id != dwelling.id:
        for residence in session.execute(select(Residence).where(
                Residence.resident_id == resident.id, Residence.moved_out.is_(None))).scalars():
            residence.moved_out = today()
        session.add(Residence(resident_id=resident.id, dwelling_id=dwelling.id, moved_in=today()))
        resident.dwelling_id = dwelling.id
        # As for new rows, the dwelling's household is the family living there: the resident
        # leaves the old one and joins it, with the sheet's relation (none without that column).
        leave_household(session, resident)
        join_household(resident, household, row["relation_to_head"])
        moved.append(move_payload(resident, old_dwelling, old_building, dwelling, row["building"], today()))
        changes.append("dwelling")
    else:
        if "relation_to_head" in positions and resident.relation_to_head != row["relation_to_head"]:
            resident.relation_to_head = row["relation_to_head"]
        if resident.household_id is None:  # the dwelling's household is the family living there
            join_household(resident, household, resident.relation_to_head)
    changes += [field for field, value in before.items() if getattr(resident, field) != value]
    if changes:
        resident.updated_at = utcnow()
    return changes
