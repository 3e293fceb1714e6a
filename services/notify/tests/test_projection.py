"""The projection keeps the newest facts whatever order the registry's events are handled in
(handlers of different events run concurrently), on PostgreSQL and on SQLite (``make run``)."""
from datetime import datetime, timedelta, timezone

import pytest

from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.migrations import upgrade
from heyun.pii import Protector
from notify import projection
from notify.models import ResidentRecipient
from notify.tests.support import PII_KEY, resident

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)


def event(minutes):
    return {"occurred_at": (T0 + timedelta(minutes=minutes)).isoformat()}


@pytest.fixture(params=["postgresql", "sqlite"])
def Session(request, migrated_database, tmp_path):
    url = migrated_database("notify") if request.param == "postgresql" else f"sqlite:///{tmp_path}/notify.db"
    if request.param == "sqlite":
        upgrade("notify", url)
    engine = make_engine(url)
    yield make_sessionmaker(engine, "notify")
    engine.dispose()


def grid_of(Session, resident_id):
    with transaction(Session) as session:
        return session.get(ResidentRecipient, resident_id).grid_id


def test_a_resident_event_older_than_a_building_move_does_not_undo_it(Session):
    protector, before = Protector(PII_KEY), resident(1, 3, 5)  # building b3, grid-1
    with transaction(Session) as session:
        projection.apply_resident(session, protector, before, event(0))
    moved = {"building_id": "b3", "building_number": 3, "from_grid_id": "grid-1", "to_grid_id": "grid-9"}
    with transaction(Session) as session:
        projection.apply_building_move(session, moved, event(10))
    assert grid_of(Session, "r001") == "grid-9"
    # A name change made at minute 5, before the move, is handled only now: its payload still
    # says grid-1. The name is taken, the grid stays the moved one.
    with transaction(Session) as session:
        projection.apply_resident(session, protector, dict(before, name="改名"), event(5))
    assert grid_of(Session, "r001") == "grid-9"
    # A resident event after the move carries the new grid itself; a later move back wins again.
    with transaction(Session) as session:
        projection.apply_resident(session, protector, dict(before, grid_id="grid-9"), event(20))
        projection.apply_building_move(session, dict(moved, from_grid_id="grid-9", to_grid_id="grid-1"), event(30))
    assert grid_of(Session, "r001") == "grid-1"
    with transaction(Session) as session:  # the first move, redelivered late, changes nothing
        projection.apply_building_move(session, moved, event(10))
    assert grid_of(Session, "r001") == "grid-1"
