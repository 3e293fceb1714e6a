"""Residents and households: registering, updating, moving, finding, and who may see whom.

Scope rules live here, not only in the gateway: a grid worker sees the residents of their own
grids, a resident account sees itself, community staff see everyone. ID and phone numbers are
masked unless the caller's role needs them (``pii.Viewer`` audits every reveal).
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Text, cast, false, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY, array

from community import policy
from community.policy import HEALTH_TAGS
from heyun.config import service_config
from heyun.errors import Conflict, Forbidden, InvalidInput, NotFound
from heyun.outbox import record
from registry import idnumbers
from registry.contract import (
    HOUSEHOLD_REGISTERED,
    RESIDENT_MOVED,
    RESIDENT_REGISTERED,
    RESIDENT_UPDATED,
    Language,
    PiiSubject,
)
from registry.models import Building, Dwelling, Household, Residence, Resident, utcnow
from registry.pii import Viewer
from heyun.paging import page
from registry.places import dwelling_payload, resolve_dwelling

HEAD_RELATIONS = ("户主", "head")


# The community's time zone (config.yml's TIME_ZONE, set by HEYUN_TIME_ZONE).
TIME_ZONE = ZoneInfo(service_config("registry")["TIME_ZONE"])


def today():
    """The community's calendar day (ages and move dates are in local time)."""
    return datetime.now(TIME_ZONE).date()


def years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def encode_tags(tags):
    return "," + ",".join(sorted(set(tags))) + "," if tags else ","


def decode_tags(text):
    return [t for t in (text or "").split(",") if t]


def has_tag(dialect, tag):
    """Residents tagged ``tag``. On PostgreSQL as an array containment, which the GIN index
    ``ix_residents_tag_set`` answers; elsewhere (SQLite) the LIKE the storage was chosen for."""
    if dialect == "postgresql":
        return func.string_to_array(Resident.tags, literal_column("','")).op("@>")(cast(array([tag]), ARRAY(Text)))
    return Resident.tags.like(f"%,{tag},%")


# -- reading -------------------------------------------------------------------------------

def resident_dict(resident, dwelling, building, viewer):
    """The resident as ``viewer``'s caller may see them: the policy's fields only, numbers
    masked unless it lets them be read (each reveal audited), its tags only."""
    access = viewer.access_to(resident.id)
    record = {
        "id": resident.id,
        "name": resident.name,
        "gender": resident.gender,
        "birth_date": resident.birth_date.isoformat(),
        "age": age_on(resident.birth_date, today()),
        "household_id": resident.household_id,
        "relation_to_head": resident.relation_to_head,
        "building_id": building.id if building else None,
        "building_number": building.number if building else None,
        "unit": dwelling.unit if dwelling else None,
        "floor": dwelling.floor if dwelling else None,
        "room": dwelling.room if dwelling else None,
        "grid_id": building.grid_id if building else None,
        "tags": decode_tags(resident.tags),
        "language": resident.language or Language.ZH,
        "preferred_channel": resident.preferred_channel,
    }
    for field, cipher, masked in (("id_number", resident.id_number_cipher, resident.id_number_masked),
                                  ("phone", resident.phone_cipher, resident.phone_masked)):
        if field in access.fields:
            record[field] = viewer.show(PiiSubject.RESIDENT, resident.id, field, cipher, masked,
                                        allowed=field in access.numbers)
    return policy.shown(access, record)


def resident_payload(resident, dwelling, building, protector):
    """The resident as events carry it: no ID number, the phone masked, health tags only as
    ciphertext (notify, which holds the key, needs them to reach those who cannot walk)."""
    tags = decode_tags(resident.tags)
    health = [tag for tag in tags if tag in HEALTH_TAGS]
    return {
        "resident_id": resident.id,
        "name": resident.name,
        "gender": resident.gender,
        "birth_date": resident.birth_date,
        "household_id": resident.household_id,
        "relation_to_head": resident.relation_to_head,
        "dwelling": dwelling_payload(dwelling, building),
        "grid_id": building.grid_id if building else None,
        "tags": [tag for tag in tags if tag not in HEALTH_TAGS],
        "health_tags_token": protector.encrypt_list(health),
        "phone_masked": resident.phone_masked,
        "has_phone": resident.phone_cipher is not None,
        "phone_token": resident.phone_cipher,
        "language": resident.language or Language.ZH,
        "preferred_channel": resident.preferred_channel,
    }


def _with_place():
    return (
        select(Resident, Dwelling, Building)
        .outerjoin(Dwelling, Resident.dwelling_id == Dwelling.id)
        .outerjoin(Building, Dwelling.building_id == Building.id)
    )


# The resident list's order: by address, then name, the id making it total. Every resident has a
# dwelling (registering, importing and moving each name one), so the list joins its place inner:
# PostgreSQL can then walk buildings, their dwellings and their residents in this order by their
# indexes (buildings.number, uq_dwelling_address, ix_residents_dwelling_order) and stop after a
# page, at any size, where an outer join had it sort every resident first. Every role that may
# list residents sees their address and name (heyun.policy), so a cursor carrying these keys
# tells the caller nothing the page did not.
RESIDENT_ORDER = (Building.number, Dwelling.unit, Dwelling.floor, Dwelling.room, Resident.name, Resident.id)


def _placed():
    return (
        select(Resident, Dwelling, Building)
        .join(Dwelling, Resident.dwelling_id == Dwelling.id)
        .join(Building, Dwelling.building_id == Building.id)
    )


def _scope_conditions(caller, scopes):
    """The conditions (on a query joined to Building) of the scopes ``caller`` reaches, or None
    for the whole community. Scopes owned by services that have not landed (a volunteer's
    pairings, a mediator's cases) add nothing: those callers see nobody here yet."""
    if policy.COMMUNITY in scopes:
        return None
    conditions = []
    if policy.OWN_GRIDS in scopes:
        conditions.append(Building.grid_id.in_(caller.grid_ids or ["-"]))
    if caller.resident_id:
        conditions.append(Resident.id == caller.resident_id)
    return conditions


def visible_to(query, caller):
    """Narrow ``query`` (joined to Building) to the residents ``caller`` may see at all; the
    access policy's scopes, default deny."""
    conditions = _scope_conditions(caller, policy.resident_access(caller.roles).scopes)
    if conditions is None:
        return query
    return query.where(or_(*conditions) if conditions else false())


# Filters that select by a field: a caller may filter only by what the policy lets them see,
# since the list would reveal the field as surely as showing it.
FILTERED_FIELDS = {"building_id": "building_id", "floor_min": "floor", "floor_max": "floor", "grid_id": "grid_id",
                   "household_id": "household_id", "min_age": "age", "max_age": "age", "tag": "tags"}


def check_filters(caller, filters):
    access = policy.resident_access(caller.roles)
    for name, field in FILTERED_FIELDS.items():
        if filters.get(name) is not None and field not in access.fields:
            raise Forbidden(f"Your role may not select residents by {name}.")
    if filters.get("tag") and filters["tag"] not in access.tags:
        raise Forbidden(f"Your role may not select residents by the tag {filters['tag']}.")


def list_residents(session, protector, caller, filters, paging):
    check_filters(caller, filters)
    if session.get_bind().dialect.name == "postgresql":
        # For a rare tag (a few hundred of a million) the planner would walk the buildings in
        # order, rescanning a materialised set of the tagged residents at each one (800 ms at 1M);
        # without that plan it sorts the few the tag index finds (under 40 ms). No other plan of
        # this list uses one. For this transaction only.
        session.execute(text("SET LOCAL enable_material = off"))
    query = visible_to(_placed(), caller)
    if filters.get("building_id"):
        query = query.where(Building.id == filters["building_id"])
    if filters.get("floor_min"):
        query = query.where(Dwelling.floor >= filters["floor_min"])
    if filters.get("floor_max"):
        query = query.where(Dwelling.floor <= filters["floor_max"])
    if filters.get("tag"):
        query = query.where(has_tag(session.get_bind().dialect.name, filters["tag"]))
    if filters.get("grid_id"):
        query = query.where(Building.grid_id == filters["grid_id"])
    if filters.get("household_id"):
        query = query.where(Resident.household_id == filters["household_id"])
    if filters.get("min_age") is not None:
        query = query.where(Resident.birth_date <= years_before(today(), filters["min_age"]))
    if filters.get("max_age") is not None:
        query = query.where(Resident.birth_date > years_before(today(), filters["max_age"] + 1))
    searched_by = None
    if filters.get("q"):
        access = policy.resident_access(caller.roles)
        q = filters["q"].strip()
        searched_by, number = whole_number(q)
        if searched_by:
            # A whole number finds its person only for roles that may see numbers unmasked (a grid
            # worker within their grids, by the scope above); for any other role it finds no one,
            # so trying numbers cannot tell who lives here.
            found = residents_with_number(session, protector, searched_by, number) \
                if searched_by in access.numbers else []
            query = query.where(Resident.id.in_(found))
        else:
            # Names by substring; digits match the unmasked tail of a number the role sees at all
            # (the canteen, which never sees ID numbers, cannot search by their last digits).
            matches = [Resident.name.contains(q, autoescape=True)]
            if "phone" in access.fields:
                matches.append(Resident.phone_masked.endswith(q, autoescape=True))
            if "id_number" in access.fields:
                matches.append(Resident.id_number_masked.endswith(q.upper(), autoescape=True))
            query = query.where(or_(*matches))
    with Viewer(session, caller, protector) as viewer:
        def item(resident, dwelling, building):
            if searched_by:  # found by their number: a use of it, audited like a reveal
                viewer.used(PiiSubject.RESIDENT, resident.id, searched_by)
            return resident_dict(resident, dwelling, building, viewer)

        return page(session, query, paging, item, keys=RESIDENT_ORDER)


def whole_number(q):
    """``("id_number", normalized)`` or ``("phone", q)`` when ``q`` is a whole ID or mobile
    number, ``(None, None)`` for anything else (a name, the last digits of a number)."""
    if idnumbers.ID_PATTERN.match(idnumbers.normalize(q)):
        return "id_number", idnumbers.normalize(q)
    if idnumbers.is_mobile(q):
        return "phone", q
    return None, None


def residents_with_number(session, protector, field, number):
    """The ids of the residents whose ID number (by its keyed hash) or phone is ``number``.

    Phones have no keyed hash: the masked form (first three and last four digits) narrows the
    residents to a handful, whose phones are decrypted and compared.
    """
    if field == "id_number":
        return select(Resident.id).where(Resident.id_number_digest == protector.digest(number))
    candidates = session.execute(select(Resident.id, Resident.phone_cipher)
                                 .where(Resident.phone_masked == idnumbers.mask_phone(number))).all()
    return [resident_id for resident_id, cipher in candidates if protector.decrypt(cipher) == number]


def visible_residents(caller):
    """Residents with their dwelling and building, narrowed to those ``caller`` may see."""
    return visible_to(_with_place(), caller)


def _load(session, caller, resident_id):
    row = session.execute(visible_to(_with_place(), caller).where(Resident.id == resident_id)).first()
    if row is None:
        # Out of scope looks the same as unknown: the id's existence must not leak.
        raise NotFound(f"No resident with id {resident_id}.")
    return row


def show(session, protector, caller, resident, dwelling, building):
    """One resident as ``caller`` may see them (reveals audited)."""
    with Viewer(session, caller, protector) as viewer:
        return resident_dict(resident, dwelling, building, viewer)


def get_resident(session, protector, caller, resident_id):
    return show(session, protector, caller, *_load(session, caller, resident_id))


def residence_history(session, caller, resident_id):
    _load(session, caller, resident_id)
    if not set(policy.ADDRESS) <= policy.access_to(caller, resident_id).fields:
        raise Forbidden("Your role may not see where residents live.")
    rows = session.execute(
        select(Residence, Dwelling)
        .join(Dwelling, Residence.dwelling_id == Dwelling.id)
        .where(Residence.resident_id == resident_id)
        .order_by(Residence.moved_in, Residence.moved_out.is_(None))
    ).all()
    items = [{"building_id": d.building_id, "unit": d.unit, "floor": d.floor, "room": d.room,
              "moved_in": r.moved_in.isoformat(),
              "moved_out": r.moved_out.isoformat() if r.moved_out else None} for r, d in rows]
    return {"items": items, "total": len(items)}


# -- writing -------------------------------------------------------------------------------

def check_identity(data):
    """Rules a form cannot check alone: the ID's check digit, birth date and gender; the phone."""
    errors = {}
    try:
        idnumbers.validate_against(data["id_number"], data.get("birth_date"), data.get("gender"))
    except idnumbers.InvalidIdNumber as exc:
        errors["id_number"] = [str(exc)]
    if data.get("phone") and not idnumbers.is_mobile(data["phone"]):
        errors["phone"] = ["A mobile number is 11 digits starting with 13–19."]
    if errors:
        raise InvalidInput("The resident's details are not valid.", errors)


def check_grid(caller, building, action="register residents in"):
    """Who may write residents and households (the access policy's writers): the community
    office anywhere, a grid worker in their own grids, nobody else, however the call came."""
    if not caller.has_role(*policy.RESIDENT_WRITERS):
        raise Forbidden(f"Your role may not {action} any grid.")
    if not policy.community_wide(caller) and (building is None or building.grid_id not in caller.grid_ids):
        raise Forbidden(f"Grid workers may only {action} their own grid.")


def household_at(session, dwelling, building, origin_village=None, resettled_on=None):
    """The household living at ``dwelling``, registered on first use."""
    household = session.execute(
        select(Household).where(Household.dwelling_id == dwelling.id).order_by(Household.created_at)
    ).scalars().first()
    if household is None:
        household = Household(dwelling_id=dwelling.id, origin_village=origin_village, resettled_on=resettled_on)
        session.add(household)
        session.flush()
        record(session, HOUSEHOLD_REGISTERED, household_payload(household, dwelling, building))
    return household


def household_payload(household, dwelling, building):
    return {"household_id": household.id, "origin_village": household.origin_village,
            "resettled_on": household.resettled_on, "dwelling": dwelling_payload(dwelling, building)}


def register_resident(session, protector, caller, data):
    check_identity(data)
    id_number = idnumbers.normalize(data["id_number"])
    digest = protector.digest(id_number)
    if session.execute(select(Resident.id).where(Resident.id_number_digest == digest)).first():
        raise Conflict("A resident with this ID number is already registered.",
                       {"id_number": ["Already registered."]})
    dwelling, building = resolve_dwelling(session, data["dwelling"])
    check_grid(caller, building)
    if data.get("household_id"):
        household = session.get(Household, data["household_id"])
        if household is None:
            raise InvalidInput("Unknown household.", {"household_id": ["No household with this id."]})
    else:
        household = household_at(session, dwelling, building)
    resident = Resident(
        name=data["name"].strip(), gender=data["gender"], birth_date=data["birth_date"],
        id_number_digest=digest, id_number_cipher=protector.encrypt(id_number),
        id_number_masked=idnumbers.mask_id_number(id_number),
        phone_cipher=protector.encrypt(data.get("phone")), phone_masked=idnumbers.mask_phone(data.get("phone")),
        household_id=household.id, relation_to_head=data.get("relation_to_head"),
        dwelling_id=dwelling.id, tags=encode_tags(data.get("tags")),
        language=data.get("language") or Language.ZH, preferred_channel=data.get("preferred_channel"),
    )
    session.add(resident)
    session.flush()
    if household.head_resident_id is None and resident.relation_to_head in HEAD_RELATIONS:
        household.head_resident_id = resident.id
    session.add(Residence(resident_id=resident.id, dwelling_id=dwelling.id, moved_in=today()))
    record(session, RESIDENT_REGISTERED, resident_payload(resident, dwelling, building, protector))
    return show(session, protector, caller, resident, dwelling, building)


def update_resident(session, protector, caller, resident_id, data):
    resident, dwelling, building = _load(session, caller, resident_id)
    check_grid(caller, building, "update residents of")
    if data.get("phone") and not idnumbers.is_mobile(data["phone"]):
        raise InvalidInput("The phone number is not valid.",
                           {"phone": ["A mobile number is 11 digits starting with 13–19."]})
    if data.get("household_id") and session.get(Household, data["household_id"]) is None:
        raise InvalidInput("Unknown household.", {"household_id": ["No household with this id."]})
    changed = []
    for field in ("name", "relation_to_head", "household_id", "language", "preferred_channel"):
        if field in data and getattr(resident, field) != data[field]:
            setattr(resident, field, data[field])
            changed.append(field)
    if "tags" in data and encode_tags(data["tags"]) != resident.tags:
        resident.tags = encode_tags(data["tags"])
        changed.append("tags")
    if "phone" in data and (protector.decrypt(resident.phone_cipher) if resident.phone_cipher else None) != data["phone"]:
        resident.phone_cipher = protector.encrypt(data["phone"])
        resident.phone_masked = idnumbers.mask_phone(data["phone"])
        changed.append("phone")
    if changed:
        resident.updated_at = utcnow()
        record(session, RESIDENT_UPDATED, dict(resident_payload(resident, dwelling, building, protector),
                                                    changed=changed))
    return show(session, protector, caller, resident, dwelling, building)


def check_move(caller, building):
    """Who may move a resident: whoever may change them where they live now (``building``). The
    new address may be in another grid: a grid worker records that their resident moved away,
    and the new grid's worker takes over."""
    check_grid(caller, building, "move residents of")


def household_for_move(session, data, dwelling, building):
    """The household a move names (it must live at the new address), or else the one living
    there (registered on first use), as for a resident registered at that address."""
    if not data.get("household_id"):
        return household_at(session, dwelling, building)
    household = session.get(Household, data["household_id"])
    if household is None or household.dwelling_id != dwelling.id:
        raise InvalidInput("The household does not live at the new address.",
                           {"household_id": ["No household with this id at the new dwelling."]})
    return household


def leave_household(session, resident):
    """The resident leaves their household (they moved out); the others stay in it. If they headed
    it, it has no head until the office records the new one: who heads a family (户主变更) is the
    family's decision, which the registry does not guess."""
    if resident.household_id:
        household = session.get(Household, resident.household_id)
        if household is not None and household.head_resident_id == resident.id:
            household.head_resident_id = None
    resident.household_id = None
    resident.relation_to_head = None


def join_household(resident, household, relation_to_head):
    """``household`` is an ORM object or a row about to be inserted (the import's), with
    ``id`` and ``head_resident_id``."""
    resident.household_id = household.id
    resident.relation_to_head = relation_to_head
    if household.head_resident_id is None and relation_to_head in HEAD_RELATIONS:
        household.head_resident_id = resident.id


def move_resident(session, protector, caller, resident_id, data):
    resident, old_dwelling, old_building = _load(session, caller, resident_id)
    check_move(caller, old_building)
    dwelling, building = resolve_dwelling(session, data["dwelling"])
    if old_dwelling is not None and dwelling.id == old_dwelling.id:
        raise Conflict("The resident already lives there.", {"dwelling": ["Same dwelling as now."]})
    new_household = household_for_move(session, data, dwelling, building)
    moved_on = data.get("moved_on") or today()
    current = session.execute(
        select(Residence).where(Residence.resident_id == resident.id, Residence.moved_out.is_(None))
    ).scalars().all()
    for residence in current:
        if moved_on < residence.moved_in:
            raise InvalidInput("Move date before the current move-in.",
                               {"moved_on": [f"The resident moved in on {residence.moved_in.isoformat()}."]})
        residence.moved_out = moved_on
    session.add(Residence(resident_id=resident.id, dwelling_id=dwelling.id, moved_in=moved_on))
    resident.dwelling_id = dwelling.id
    # Moving out of the dwelling is moving out of its household, and into the one at the new
    # address (the one the move names, or the one living there).
    leave_household(session, resident)
    join_household(resident, new_household, data.get("relation_to_head"))
    resident.updated_at = utcnow()
    record(session, RESIDENT_MOVED, move_payload(resident, old_dwelling, old_building, dwelling, building, moved_on))
    return show(session, protector, caller, resident, dwelling, building)


def move_payload(resident, old_dwelling, old_building, dwelling, building, moved_on):
    """``resident_moved``: from where to where, and the household the resident is in now."""
    return {
        "resident_id": resident.id, "from_dwelling": dwelling_payload(old_dwelling, old_building),
        "to_dwelling": dwelling_payload(dwelling, building), "grid_id": building.grid_id, "moved_on": moved_on,
        "household_id": resident.household_id, "relation_to_head": resident.relation_to_head,
    }


# -- households ----------------------------------------------------------------------------

def household_dict(session, household):
    dwelling = session.get(Dwelling, household.dwelling_id) if household.dwelling_id else None
    members = session.execute(select(Resident.id).where(Resident.household_id == household.id)).scalars().all()
    return {
        "id": household.id, "origin_village": household.origin_village,
        "resettled_on": household.resettled_on.isoformat() if household.resettled_on else None,
        "dwelling": {"building_id": dwelling.building_id, "unit": dwelling.unit, "floor": dwelling.floor,
                     "room": dwelling.room} if dwelling else None,
        "head_resident_id": household.head_resident_id, "member_count": len(members),
        "member_ids": list(members),
    }


def households_visible_to(caller, placed=False):
    """Households joined to their place, narrowed by the access policy: the community office
    sees all, a grid worker their grids', other roles none. ``placed`` joins the place inner
    (every household has a dwelling), which lets the list walk it in order (see RESIDENT_ORDER)."""
    query = (select(Household).join(Dwelling, Household.dwelling_id == Dwelling.id, isouter=not placed)
             .join(Building, Dwelling.building_id == Building.id, isouter=not placed))
    scopes = policy.household_scopes(caller.roles)
    if policy.COMMUNITY in scopes:
        return query
    if policy.OWN_GRIDS in scopes:
        return query.where(Building.grid_id.in_(caller.grid_ids or ["-"]))
    return query.where(false())


def list_households(session, caller, filters, paging):
    query = households_visible_to(caller, placed=True)
    if filters.get("building_id"):
        query = query.where(Building.id == filters["building_id"])
    if filters.get("origin_village"):
        query = query.where(Household.origin_village == filters["origin_village"])
    return page(session, query, paging, lambda h: household_dict(session, h),
                keys=(Building.number, Dwelling.unit, Dwelling.floor, Dwelling.room, Household.id))


def get_household(session, caller, household_id):
    household = session.execute(households_visible_to(caller).where(Household.id == household_id)).scalar()
    if household is None:
        # Out of scope looks the same as unknown, as for residents: the id's existence must not leak.
        raise NotFound(f"No household with id {household_id}.")
    return household_dict(session, household)


def register_household(session, caller, data):
    dwelling, building = resolve_dwelling(session, data["dwelling"])
    check_grid(caller, building, "register households in")
    household = Household(dwelling_id=dwelling.id, origin_village=data.get("origin_village"),
                          resettled_on=data.get("resettled_on"))
    session.add(household)
    session.flush()
    record(session, HOUSEHOLD_REGISTERED, household_payload(household, dwelling, building))
    return household_dict(session, household)



def snapshot(session, protector, after_id, limit):
    """Every resident as events describe them, in id order, for a consumer rebuilding its projection."""
    rows = session.execute(_with_place().where(Resident.id > after_id).order_by(Resident.id).limit(limit)).all()
    items = [resident_payload(r, d, b, protector) for r, d, b in rows]
    return {"items": items, "next_after_id": rows[-1][0].id if len(rows) == limit else None}
