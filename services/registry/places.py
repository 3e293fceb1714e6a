"""Places and the grid: buildings → units → floors → dwellings, grids covering buildings, and
the grid workers assigned to them."""
from sqlalchemy import select

from community import policy
from heyun.errors import Conflict, Forbidden, InvalidInput, NotFound
from heyun.outbox import record
from heyun.paging import page
from registry import idnumbers
from registry.contract import BUILDING_MOVED, GRID_WORKER_ASSIGNED, PiiSubject
from registry.models import Building, Dwelling, Grid, GridWorker
from registry.pii import Viewer


def get_or_404(session, model, object_id, what):
    obj = session.get(model, object_id) if object_id else None
    if obj is None:
        raise NotFound(f"No {what} with id {object_id}.")
    return obj


def require_office(caller, doing):
    """Places, the grid and organisations are the community office's to manage; the registry
    checks it as well as the gateway, since other services call it too."""
    if not policy.community_wide(caller):
        raise Forbidden(f"Only admin and staff may {doing}.")


def refuse_taken(session, column, value, message):
    """A 409 naming the field when another row already holds ``value`` in the unique ``column``."""
    if session.execute(select(column).where(column == value)).first():
        raise Conflict(message, {column.key: ["Already registered."]})


def grid_in_body(session, grid_id, field="grid_id"):
    """The grid a request body names: an unknown one is the body's fault (422), not a missing page."""
    grid = session.get(Grid, grid_id)
    if grid is None:
        raise InvalidInput("Unknown grid.", {field: ["No grid with this id."]})
    return grid


def building_dict(building):
    return {"id": building.id, "number": building.number, "name": building.name,
            "floors": building.floors, "units": building.units, "grid_id": building.grid_id}


def list_buildings(session, filters, paging):
    query = select(Building)
    if filters.get("grid_id"):
        query = query.where(Building.grid_id == filters["grid_id"])
    return page(session, query, paging, building_dict, keys=[Building.number])


def create_building(session, caller, data):
    """A building with no dwellings yet: they are created as residents are registered into them
    (``resolve_dwelling``), within its floors and units."""
    require_office(caller, "add buildings")
    refuse_taken(session, Building.number, data["number"], "A building with this number exists.")
    if data.get("grid_id"):
        grid_in_body(session, data["grid_id"])
    building = Building(number=data["number"], name=data["name"], floors=data["floors"], units=data["units"],
                        grid_id=data.get("grid_id"))
    session.add(building)
    session.flush()
    return building_dict(building)


def move_building(session, caller, building_id, data):
    require_office(caller, "move buildings between grids")
    building = get_or_404(session, Building, building_id, "building")
    reassign(session, building, grid_in_body(session, data["grid_id"]))
    return building_dict(building)


def reassign(session, building, grid):
    """Put ``building`` in ``grid``: its residents now belong to that grid (their grid worker
    changes), which ``building_moved`` tells the projections that keep a grid per resident."""
    if building.grid_id == grid.id:
        return
    from_grid_id, building.grid_id = building.grid_id, grid.id
    session.flush()
    record(session, BUILDING_MOVED, {"building_id": building.id, "building_number": building.number,
                                     "from_grid_id": from_grid_id, "to_grid_id": grid.id})


def dwelling_dict(dwelling):
    return {"id": dwelling.id, "building_id": dwelling.building_id, "unit": dwelling.unit,
            "floor": dwelling.floor, "room": dwelling.room}


def dwelling_payload(dwelling, building):
    """The dwelling as events carry it (with the building number, which people use)."""
    if dwelling is None:
        return None
    return {"dwelling_id": dwelling.id, "building_id": building.id, "building_number": building.number,
            "unit": dwelling.unit, "floor": dwelling.floor, "room": dwelling.room}


def list_dwellings(session, filters, paging):
    query = select(Dwelling)
    for key in ("building_id", "unit", "floor"):
        if filters.get(key) is not None:
            query = query.where(getattr(Dwelling, key) == filters[key])
    # The address's unique index (uq_dwelling_address) is this order.
    return page(session, query, paging, dwelling_dict,
                keys=[Dwelling.building_id, Dwelling.unit, Dwelling.floor, Dwelling.room])


def resolve_dwelling(session, ref, field="dwelling"):
    """The dwelling at ``ref`` (building, unit, floor, room), created on first use.

    An address outside the building (a 7th floor in a 6-floor block) is refused, naming the field.
    """
    building = session.get(Building, ref["building_id"])
    if building is None:
        raise InvalidInput("Unknown building.", {f"{field}.building_id": ["No building with this id."]})
    if ref["unit"] > building.units:
        raise InvalidInput("No such unit.", {f"{field}.unit": [f"Building {building.number} has {building.units} units."]})
    if ref["floor"] > building.floors:
        raise InvalidInput("No such floor.", {f"{field}.floor": [f"Building {building.number} has {building.floors} floors."]})
    dwelling = session.execute(
        select(Dwelling).where(Dwelling.building_id == building.id, Dwelling.unit == ref["unit"],
                               Dwelling.floor == ref["floor"], Dwelling.room == ref["room"])
    ).scalar_one_or_none()
    if dwelling is None:
        dwelling = Dwelling(building_id=building.id, unit=ref["unit"], floor=ref["floor"], room=ref["room"])
        session.add(dwelling)
        session.flush()
    return dwelling, building


def grid_dict(grid, session):
    building_ids = session.execute(
        select(Building.id).where(Building.grid_id == grid.id).order_by(Building.number)).scalars().all()
    workers = session.execute(select(GridWorker).where(GridWorker.grid_id == grid.id)).scalars().all()
    return {"id": grid.id, "name": grid.name, "building_ids": list(building_ids),
            "workers": [{"id": w.id, "name": w.name, "account": w.account} for w in workers]}


def list_grids(session, paging):
    return page(session, select(Grid), paging, lambda g: grid_dict(g, session), keys=[Grid.name])


def create_grid(session, caller, data):
    """A grid, taking over the buildings listed (each move announced as ``building_moved``)."""
    require_office(caller, "create grids")
    refuse_taken(session, Grid.name, data["name"], "A grid with this name exists.")
    buildings = []
    for index, building_id in enumerate(data["building_ids"]):
        building = session.get(Building, building_id)
        if building is None:
            raise InvalidInput("Unknown building.", {f"building_ids.{index}": ["No building with this id."]})
        buildings.append(building)
    grid = Grid(name=data["name"])
    session.add(grid)
    session.flush()
    for building in buildings:
        reassign(session, building, grid)
    return grid_dict(grid, session)


def grid_worker_dict(worker, phone):
    return {"id": worker.id, "name": worker.name, "phone": phone, "account": worker.account,
            "grid_id": worker.grid_id}


def list_grid_workers(session, protector, caller, filters, paging):
    query = select(GridWorker)
    if filters.get("grid_id"):
        query = query.where(GridWorker.grid_id == filters["grid_id"])
    with Viewer(session, caller, protector) as viewer:
        # By name as before; the id breaks ties between namesakes, so the order is total.
        return page(session, query, paging, lambda w: grid_worker_dict(w, shown_phone(viewer, w)),
                    keys=[GridWorker.name, GridWorker.id])


def shown_phone(viewer, worker):
    # A grid worker's phone is a work number, shown to the roles that see residents' numbers.
    return viewer.show(PiiSubject.GRID_WORKER, worker.id, "phone", worker.phone_cipher, worker.phone_masked,
                       allowed=policy.may_see_pii(viewer.caller))


def grid_scope(session, account):
    ids = session.execute(select(GridWorker.grid_id).where(GridWorker.account == account)).scalars().all()
    return {"grid_ids": sorted(set(ids))}


def building_ids_of_grid(session, grid_id):
    return list(session.execute(select(Building.id).where(Building.grid_id == grid_id)).scalars())


def check_grid_worker(session, data, worker_id=None):
    """The rules for a grid worker's ``data`` (whole or partial): a known grid, a mobile number,
    an account no other grid worker acts as (it decides whose grids a sign-in covers)."""
    if "grid_id" in data:
        grid_in_body(session, data["grid_id"])
    if data.get("phone") and not idnumbers.is_mobile(data["phone"]):
        raise InvalidInput("The phone number is not valid.", {"phone": ["A mobile number is 11 digits."]})
    if data.get("account"):
        holder = session.execute(select(GridWorker.id).where(GridWorker.account == data["account"])).scalar()
        if holder not in (None, worker_id):
            raise Conflict("That account already belongs to a grid worker.", {"account": ["Already assigned."]})


def set_phone(worker, protector, phone):
    """Stored encrypted beside its masked form, like residents' numbers."""
    worker.phone_cipher = protector.encrypt(phone)
    worker.phone_masked = idnumbers.mask_phone(phone)


def create_grid_worker(session, protector, caller, data):
    require_office(caller, "assign grid workers")
    check_grid_worker(session, data)
    worker = GridWorker(name=data["name"], account=data.get("account"), grid_id=data["grid_id"])
    set_phone(worker, protector, data.get("phone"))
    session.add(worker)
    session.flush()
    record(session, GRID_WORKER_ASSIGNED, grid_worker_payload(session, worker))
    phone = worker.phone_masked if not policy.may_see_pii(caller) else data.get("phone")
    return grid_worker_dict(worker, phone)


def update_grid_worker(session, protector, caller, worker_id, changes):
    """Change what ``changes`` names. A change to what events carry (name, account, grid)
    republishes ``grid_worker_assigned`` with the whole worker, which projections apply as an
    upsert: that is how notify learns a worker's new grid."""
    require_office(caller, "change grid workers")
    worker = get_or_404(session, GridWorker, worker_id, "grid worker")
    check_grid_worker(session, changes, worker.id)
    announced = [key for key in ("name", "account", "grid_id")
                 if key in changes and changes[key] != getattr(worker, key)]
    for key in announced:
        setattr(worker, key, changes[key])
    if "phone" in changes:  # no event: events never carry it
        set_phone(worker, protector, changes["phone"])
    session.flush()
    if announced:
        record(session, GRID_WORKER_ASSIGNED, grid_worker_payload(session, worker))
    with Viewer(session, caller, protector) as viewer:
        return grid_worker_dict(worker, shown_phone(viewer, worker))


def grid_worker_payload(session, worker):
    return {"grid_worker_id": worker.id, "name": worker.name, "account": worker.account,
            "grid_id": worker.grid_id, "building_ids": building_ids_of_grid(session, worker.grid_id)}
