"""notify test fixtures: a projection of a small community in fresh PostgreSQL, real SMS, SMTP and
webhook receivers on loopback, and a running notify service."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from heyun.config import service_config as file_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.identity import CONTEXT_KEY, Caller
from heyun.pii import Protector
from notify import projection
from notify.service import NotifyService
from notify.tests.receivers import HttpReceiver, SmtpReceiver

PII_KEY = file_config("notify")["PII_KEY"]
STAFF = Caller(account="staff", roles=("staff",))
WATER_PLANT = Caller(account="waterplant", roles=("water_utility_staff",), organization_id="org-water")
PROPERTY = Caller(account="property", roles=("property_manager",), organization_id="org-property")
GRID_WORKER_1 = Caller(account="gridworker1", roles=("grid_worker",), grid_ids=("grid-1",))


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


@pytest.fixture
def receivers():
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture
def notify_db(migrated_database, receivers):
    http, _ = receivers
    url = migrated_database("notify")
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
                                                "webhook_url": http.url + "/webhook"})
    yield url, engine
    engine.dispose()


@pytest.fixture
def start_notify(container_factory, service_config, notify_db, receivers):
    """``start_notify(**settings)`` → a client calling a notify container over RPC as a caller."""
    http, smtp = receivers
    url, _ = notify_db

    def start(**overrides):
        settings = dict(
            DATABASE_URL=url, PII_KEY=PII_KEY, SMS_GATEWAY_URL=http.url + "/sms", SMTP_HOST="127.0.0.1",
            SMTP_PORT=smtp.port, WEBHOOK_SECRET="test-secret", FANOUT_BATCH_SIZE=3, DISPATCH_POLL_SECONDS=0.2,
            FANOUT_POLL_SECONDS=0.2, ESCALATION_CHECK_SECONDS=0.3, CHANNEL_TIMEOUT_SECONDS=2,
            # Tests about sending must not depend on the hour they run at; the quiet-hours
            # test sets its own window.
            QUIET_HOURS="off",
            # The water plant's webhook is the receiver on loopback, which webhooks may reach
            # only when the configuration allows it.
            WEBHOOK_ALLOWED_NETWORKS="127.0.0.1/32")
        settings.update(overrides)
        config = service_config(**settings)
        container = container_factory(NotifyService, config)
        container.start()

        class Client:
            amqp_config = config

            def call(self, method, *args, caller=STAFF, **kwargs):
                context = {CONTEXT_KEY: caller.to_json()} if caller else {}
                with ServiceRpcProxy("notify", config, context_data=context) as proxy:
                    return getattr(proxy, method)(*args, **kwargs)

        return Client()
    return start


@pytest.fixture
def notify(start_notify):
    return start_notify()
