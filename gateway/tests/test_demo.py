"""The demo accounts: every account of API.md, loaded once; a second load changes nothing."""
from sqlalchemy import select

from gateway import accounts, demo
from gateway.models import Account
from heyun.db import make_engine, make_sessionmaker, transaction


def snapshot(url):
    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine, "gateway")) as session:
            return {a.username: (a.password_hash, tuple(a.roles), a.organization_kind, a.resident_name)
                    for a in session.execute(select(Account)).scalars()}
    finally:
        engine.dispose()


def test_demo_accounts_load_once(migrated_database):
    url = migrated_database("gateway")
    first = demo.load(url)
    assert first["created"] == 14 and first["existing"] == 0
    before = snapshot(url)
    assert set(before) == {"admin", "staff", "gridworker1", "gridworker2", "gridworker3", "gridworker4",
                           "property", "waterplant", "canteen", "mediator", "police", "patrol",
                           "volunteer", "resident"}
    assert before["property"][2] == "property_management" and before["gridworker3"][1] == ("grid_worker",)
    assert accounts.verify_password(demo.demo_password(), before["police"][0])
    second = demo.load(url, registry_grid_scope=lambda account: {"grid_ids": [account]})
    assert second["created"] == 0 and second["existing"] == 14
    assert second["grid_scope"]["gridworker2"] == ["gridworker2"]
    assert snapshot(url) == before
