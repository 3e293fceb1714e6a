"""notify's own copy of who lives where and how to reach them, kept from registry events.

A fan-out reads only these tables, so it makes no RPC per recipient and keeps working while the
registry is down. Events may arrive twice or out of order: each upsert applies only an event
newer than the row (``as_of``), and when the projection is empty at start it is filled from the
registry's snapshot RPCs, so a notify started after the registry's events went out still knows
everyone.
"""
from datetime import datetime, timezone

from sqlalchemy import select, update

from heyun.db import conflict_insert
from heyun.projection import snapshot_pages
from notify.models import BuildingGrid, GridWorkerRecipient, OrganizationRecipient, ResidentRecipient
from registry.contract import Language

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _as_of(event):
    return datetime.fromisoformat(event["occurred_at"]) if event else EPOCH


def _upsert(session, model, key, values, as_of):
    """Insert, or update if what we hold is not newer: one statement, so a snapshot and an event
    writing the same row at once cannot collide."""
    table = model.__table__
    statement = conflict_insert(session, table).values(**values, as_of=as_of)
    key_column = next(iter(table.primary_key.columns))
    session.execute(statement.on_conflict_do_update(
        index_elements=[key_column],
        set_={name: statement.excluded[name] for name in list(values) + ["as_of"] if name != key_column.name},
        where=table.c.as_of <= statement.excluded.as_of,
    ))


def apply_resident(session, protector, data, event=None):
    """``resident_registered`` / ``resident_updated`` payloads (and snapshot items). The health
    tags come encrypted (``health_tags_token``); an audience may select them, so they are kept
    with the others here, in notify's own database, and never shown or published again."""
    dwelling = data.get("dwelling") or {}
    tags = set(data.get("tags") or ()) | set(protector.decrypt_list(data.get("health_tags_token")))
    _upsert(session, ResidentRecipient, data["resident_id"], {
        "resident_id": data["resident_id"], "name": data["name"],
        "building_id": dwelling.get("building_id"), "building_number": dwelling.get("building_number"),
        "unit": dwelling.get("unit"), "floor": dwelling.get("floor"), "room": dwelling.get("room"),
        "grid_id": data.get("grid_id"),
        "tags": "," + ",".join(sorted(tags)) + "," if tags else ",",
        "language": data.get("language") or Language.ZH, "preferred_channel": data.get("preferred_channel"),
        "phone_token": data.get("phone_token"),
    }, _as_of(event))
    _follow_building_moves(session, ResidentRecipient.resident_id == data["resident_id"])


def apply_move(session, data, event):
    row = session.get(ResidentRecipient, data["resident_id"])
    as_of = _as_of(event)
    if row is None or row.as_of > as_of:
        return  # the registration (or a newer state) will carry the dwelling
    to = data["to_dwelling"]
    row.building_id, row.building_number = to["building_id"], to["building_number"]
    row.unit, row.floor, row.room, row.grid_id = to["unit"], to["floor"], to["room"], data.get("grid_id")
    row.as_of = as_of
    session.flush()
    _follow_building_moves(session, ResidentRecipient.resident_id == data["resident_id"])


def apply_building_move(session, data, event=None):
    """``building_moved``: a building passed to another grid, and so did everyone living in it
    (their door-to-door notices go to the new grid's worker from the next fan-out on)."""
    _upsert(session, BuildingGrid, data["building_id"],
            {"building_id": data["building_id"], "grid_id": data["to_grid_id"]}, _as_of(event))
    _follow_building_moves(session, ResidentRecipient.building_id == data["building_id"])


def _follow_building_moves(session, which):
    """Give the residents ``which`` selects the grid of their building's last move, where that move
    is newer than what the resident's own last event said."""
    session.execute(
        update(ResidentRecipient)
        .where(which, ResidentRecipient.building_id == BuildingGrid.building_id,
               BuildingGrid.as_of > ResidentRecipient.as_of, ResidentRecipient.grid_id != BuildingGrid.grid_id)
        .values(grid_id=BuildingGrid.grid_id))


def apply_organization(session, data, event=None):
    _upsert(session, OrganizationRecipient, data["organization_id"], {
        "organization_id": data["organization_id"], "name": data["name"], "kind": data["kind"],
        "emails": data.get("emails") or [], "webhook_url": data.get("webhook_url"),
    }, _as_of(event))


def apply_grid_worker(session, data, event=None):
    _upsert(session, GridWorkerRecipient, data["grid_worker_id"], {
        "grid_worker_id": data["grid_worker_id"], "account": data.get("account"),
        "grid_id": data["grid_id"], "name": data["name"],
    }, _as_of(event))


def is_empty(session):
    return session.execute(select(ResidentRecipient.resident_id).limit(1)).first() is None


def fill_from_snapshot(Session, registry, transaction, protector):
    """Pull every resident, organisation and grid worker from the registry (startup, when empty)."""
    count = 0
    with transaction(Session) as session:
        for item in registry.snapshot_organizations()["items"]:
            apply_organization(session, item)
        for item in registry.snapshot_grid_workers()["items"]:
            apply_grid_worker(session, item)
    for items in snapshot_pages(registry.snapshot_residents, 2000):
        with transaction(Session) as session:
            for item in items:
                apply_resident(session, protector, item)
        count += len(items)
    return count
