"""notify's test data, shared by its test files (no test module imports another): the key its PII
is encrypted with, the callers of the small community the tests project, that community's residents,
a big one written straight into the projection, and the outage notice the tests publish."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.pii import Protector
from heyun.testing.callers import STAFF, as_role
from notify import projection
from notify.models import GridWorkerRecipient, OrganizationRecipient, ResidentRecipient

PII_KEY = service_config("notify")["PII_KEY"]
WATER_PLANT = as_role("water_utility_staff", account="waterplant", organization_id="org-water")
PROPERTY = as_role("property_manager", account="property", organization_id="org-property")
GRID_WORKER_1 = as_role("grid_worker", account="gridworker1", grid_ids=("grid-1",))


def resident(n, building, floor, tags=(), phone="13800000000", language="zh", preferred=None):
    """A projection record as the registry's events carry it (health tags encrypted)."""
    protector = Protector(PII_KEY)
    health = [tag for tag in tags if tag in ("mobility_impaired", "disabled")]
    return {"resident_id": f"r{n:03d}", "name": f"居民{n}",
            "dwelling": {"building_id": f"b{building}", "building_number": building, "unit": 1,
                         "floor": floor, "room": f"{floor}01"},
            "grid_id": "grid-1" if building <= 4 else "grid-2", "tags": [tag for tag in tags if tag not in health],
            "health_tags_token": protector.encrypt_list(health), "language": language,
            "preferred_channel": preferred, "phone_token": protector.encrypt(phone) if phone else None}


# Buildings 3 and 5 have six floors; the outage hits 3 and 5, the advisory floors 4 and up.
RESIDENTS = [
    resident(1, 3, 1), resident(2, 3, 4), resident(3, 3, 5, tags=["no_smartphone", "elderly", "mobility_impaired"]),
    resident(4, 3, 6, preferred="sms", phone="13900000004"), resident(5, 5, 4, language="en"),
    resident(6, 5, 6, tags=["no_smartphone"]), resident(7, 7, 5), resident(8, 5, 2),
]


def project_small_community(url, webhook_url=None):
    """``RESIDENTS``, two grid workers and two organisations (property management by e-mail, the
    water plant by ``webhook_url``) into notify's projection in the migrated database at ``url``."""
    engine = make_engine(url)
    Session = make_sessionmaker(engine, "notify")
    with transaction(Session) as session:
        for data in RESIDENTS:
            projection.apply_resident(session, Protector(PII_KEY), data)
        projection.apply_grid_worker(session, {"grid_worker_id": "gw1", "account": "gridworker1",
                                               "grid_id": "grid-1", "name": "李娜"})
        projection.apply_grid_worker(session, {"grid_worker_id": "gw2", "account": "gridworker2",
                                               "grid_id": "grid-2", "name": "王芳"})
        projection.apply_organization(session, {"organization_id": "org-property", "name": "王河社区物业服务中心",
                                                "kind": "property_management", "emails": ["property@wanghe.example"],
                                                "webhook_url": None})
        projection.apply_organization(session, {"organization_id": "org-water", "name": "崔寨街道供水厂",
                                                "kind": "water_utility", "emails": [],
                                                "webhook_url": webhook_url})
    engine.dispose()


# The big community (``fill_projection``): four grids of 1,200-resident blocks.
GRIDS = ("grid-0", "grid-1", "grid-2", "grid-3")
PER_BUILDING = 6 * 4 * 50  # six floors, four units, fifty rooms a floor: a big estate's block


def resident_id(n):
    return f"r{n:07d}"


def fill_projection(url, count, no_smartphone_every=10, sms_every=20, phone_every=2, chunk=10_000):
    """``count`` residents straight into the projection (bulk Core inserts, ``chunk`` rows each),
    plus one grid worker per grid and two organisations. Deterministic mix:

    - every ``no_smartphone_every``-th resident is tagged ``no_smartphone`` (door to door);
    - every ``phone_every``-th has a phone (a token under the notify PII key), and of those every
      ``sms_every``-th resident prefers SMS;
    - everyone else reads the notice in the app.

    Returns ``{channel: residents whose first channel it is}``."""
    protector = Protector(PII_KEY)
    tokens = [protector.encrypt(f"139{n:08d}") for n in range(64)]  # encryption is not what is measured
    now = datetime.now(timezone.utc)
    engine = make_engine(url)
    first = {"in_app": 0, "sms": 0, "door_to_door": 0}
    try:
        with engine.begin() as conn:
            conn.execute(insert(GridWorkerRecipient), [
                {"grid_worker_id": f"gw-{g}", "account": f"gridworker-{g}", "grid_id": g, "name": f"网格员{g}",
                 "as_of": now} for g in GRIDS])
            conn.execute(insert(OrganizationRecipient), [
                {"organization_id": "org-property", "name": "物业服务中心", "kind": "property_management",
                 "emails": [], "webhook_url": None, "as_of": now},
                {"organization_id": "org-water", "name": "供水厂", "kind": "water_utility", "emails": [],
                 "webhook_url": None, "as_of": now}])
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(count, start + chunk)):
                building, rest = divmod(n, PER_BUILDING)
                unit, rest = divmod(rest, 6 * 50)
                floor, room = divmod(rest, 50)
                no_smartphone = n % no_smartphone_every == 3
                phone = n % phone_every == 0
                preferred = "sms" if phone and not no_smartphone and n % (phone_every * sms_every) == 0 else None
                rows.append({
                    "resident_id": resident_id(n), "name": f"居民{n}", "building_id": f"b{building:04d}",
                    "building_number": building + 1, "unit": unit + 1, "floor": floor + 1,
                    "room": f"{floor + 1}{room:02d}", "grid_id": GRIDS[building % len(GRIDS)],
                    "tags": ",elderly,no_smartphone," if no_smartphone else ",",
                    "language": "en" if n % 50 == 7 else "zh", "preferred_channel": preferred,
                    "phone_token": tokens[n % len(tokens)] if phone else None, "as_of": now})
                first["door_to_door" if no_smartphone else preferred or "in_app"] += 1
            with engine.begin() as conn:
                conn.execute(insert(ResidentRecipient), rows)
    finally:
        engine.dispose()
    return first


OUTAGE = {
    "title": "停水通知：{building}号楼", "body": "{name}您好，因管网施工，今日9:00–17:00停水；4层以上水压偏低。",
    "title_en": "Water outage", "body_en": "Dear {name}, water is off 9:00–17:00 today.",
    "category": "water_outage", "severity": "moderate", "urgency": "Expected",
    "audience": {"building_ids": ["b3", "b5"], "floor_min": 4, "organization_ids": ["org-property"]},
}


def later(minutes):
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def deliveries(notify, notice_id, caller=STAFF, **filters):
    return notify.call("list_deliveries", notice_id, filters, 500, caller=caller)["items"]


def settled(notify, notice_id):
    """Fanned out, and nothing left pending on a channel."""
    notice = notify.call("get_notice", notice_id)
    return notice["status"] == "published" and notice["stats"]["pending"] == 0 and notice
