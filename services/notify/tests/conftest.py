"""notify test fixtures: a projection of a small community in fresh PostgreSQL, real SMS, SMTP and
webhook receivers on loopback, and a running notify service."""
import pytest

from heyun.db import make_engine
from heyun.testing.callers import STAFF
from heyun.testing.clients import RpcClient
from heyun.testing.receivers import HttpReceiver, SmtpReceiver
from notify.service import NotifyService
from notify.tests.support import PII_KEY, project_small_community


@pytest.fixture
def receivers():
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture
def notify_db(migrated_database, receivers):
    http, _ = receivers
    url = migrated_database("notify")
    project_small_community(url, webhook_url=http.url + "/webhook")
    engine = make_engine(url)
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
        return RpcClient("notify", config, caller=STAFF)
    return start


@pytest.fixture
def notify(start_notify):
    return start_notify()
