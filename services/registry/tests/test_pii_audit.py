"""The registry's audit log of unmasked reads: readable by admins only (checked here, not only in
the gateway), filtered and paged, and expired after the retention period by the hourly timer."""
from datetime import timedelta

import pytest
from nameko.testing.services import entrypoint_hook
from sqlalchemy import insert, select

from heyun.config import service_config as config_file
from heyun.db import make_engine, new_id, utcnow
from heyun.errors import Forbidden
from registry.models import PiiAccess
from registry.service import RegistryService
from heyun.testing.callers import ADMIN
from registry.tests.support import PII_KEY, STAFF, person


def test_reads_are_logged_with_their_route_and_only_admins_see_the_log(registry, world):
    created = registry.call("register_resident", person(world["east"]))
    registry.call("get_resident", created["id"])  # staff: unmasked, audited
    log = registry.call("list_pii_access", {"account": "staff", "resident_id": created["id"]}, caller=ADMIN)
    routes = {item["route"]: item["fields"] for item in log["items"]}
    # Called over RPC, not through the gateway: the RPC is the route.
    assert routes["rpc registry.get_resident"] == ["id_number", "phone"]
    assert routes["rpc registry.register_resident"] == ["id_number", "phone"]
    assert log["total"] == 2
    for caller in (STAFF, world["gw_a"], None):
        with pytest.raises(Forbidden):
            registry.call("list_pii_access", {}, caller=caller)


def test_the_hourly_timer_deletes_rows_past_the_retention(container_factory, service_config, world):
    """Three years by default (PII_AUDIT_RETENTION_DAYS, 1096 days): an older row goes, a recent one stays."""
    assert config_file("registry")["PII_AUDIT_RETENTION_DAYS"] == 1096  # what config.yml sets unless overridden
    engine = make_engine(world["url"])
    now = utcnow()
    rows = {"old": now - timedelta(days=1097), "recent": now - timedelta(days=1095)}
    with engine.begin() as conn:
        conn.execute(insert(PiiAccess), [
            {"id": new_id(), "account": name, "subject_type": "resident", "subject_id": new_id(),
             "fields": "phone", "route": "GET /api/v1/residents/{resident_id}", "at": at}
            for name, at in rows.items()])
    container = container_factory(RegistryService, service_config(DATABASE_URL=world["url"], PII_KEY=PII_KEY))
    container.start()
    with entrypoint_hook(container, "hourly_pii_access_expiry") as expire:
        expire()
    with engine.connect() as conn:
        left = conn.execute(select(PiiAccess.account).where(PiiAccess.account.in_(rows))).scalars().all()
    engine.dispose()
    assert left == ["recent"]


@pytest.mark.parametrize("value", ["three years", "0", ""])
def test_a_bad_retention_stops_the_start(container_factory, service_config, world, value):
    """Not at the first hourly expiry, and every hour after."""
    container = container_factory(RegistryService, service_config(
        DATABASE_URL=world["url"], PII_KEY=PII_KEY, PII_AUDIT_RETENTION_DAYS=value))
    with pytest.raises(SystemExit, match="PII_AUDIT_RETENTION_DAYS must be a whole number of days"):
        container.start()
