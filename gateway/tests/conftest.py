"""Gateway test fixtures: a running gateway on a free port with a real migrated PostgreSQL
database and the demo accounts, a running registry (and, for the notice routes, notify) beside
it, and an HTTP client (requests)."""
import pytest
import requests

from gateway import demo
from gateway.service import GatewayService
from gateway.tests.support import PASSWORD, SMS_RECEIPT_SECRET, TOKEN_SECRET
from heyun.testing import free_port, wait_for
from heyun.testing.clients import HttpClient
from heyun.testing.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def gateway_db(migrated_database):
    url = migrated_database("gateway")
    demo.load(url)
    return url


@pytest.fixture
def start_gateway(container_factory, service_config, gateway_db):
    """``start_gateway(**config)`` → a ``Client`` for a gateway container listening on a free port."""

    def start(**overrides):
        port = free_port()
        settings = dict(
            DATABASE_URL=gateway_db, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", TOKEN_SECRET=TOKEN_SECRET,
            TOKEN_TTL_SECONDS=600, TOKEN_REVOCATION_REFRESH_SECONDS=0.2, RPC_TIMEOUT_SECONDS=10, READY_TIMEOUT_SECONDS=1,
            READY_SERVICES=["registry"])
        settings.update(overrides)  # e.g. READY_SERVICES with notify too
        config = service_config(**settings)
        container = container_factory(GatewayService, config)
        container.start()
        client = HttpClient(f"http://127.0.0.1:{port}", PASSWORD, timeout=30)
        wait_for(lambda: _answers(client), message="the gateway to listen")
        client.config, client.container = config, container
        return client

    return start


def _answers(client):
    try:
        return client.get("/healthz").status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()


@pytest.fixture(scope="session")
def registry_demo_db(migrated_database):
    """The registry's Wanghe demo community, built once per test run (tests add only unique data)."""
    from registry import demo as registry_demo

    url = migrated_database("registry")
    registry_demo.load(url)
    return url


@pytest.fixture
def start_registry(container_factory, service_config):
    """``start_registry(database_url)`` → a running registry container on that database."""
    from heyun.config import service_config as file_config
    from registry.service import RegistryService

    def start(database_url):
        config = service_config(DATABASE_URL=database_url, PII_KEY=file_config("registry")["PII_KEY"])
        container = container_factory(RegistryService, config)
        container.start()
        return container

    return start


@pytest.fixture
def registry_service(start_registry, registry_demo_db):
    return start_registry(registry_demo_db)


@pytest.fixture
def empty_community(start_registry, migrated_database, start_gateway):
    """The gateway with a registry of its own, with no buildings or grids yet: tests that add
    or move them cannot change the demo community other tests count."""
    start_registry(migrated_database("registry"))
    return start_gateway()


@pytest.fixture
def platform(registry_service, start_gateway):
    """The gateway with the registry running behind it."""
    return start_gateway()


@pytest.fixture
def channel_receivers():
    """A local SMS gateway (HTTP) and SMTP server, so notify's channels have somewhere to send."""
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture
def notify_service(container_factory, service_config, migrated_database, registry_service, channel_receivers):
    """notify on a fresh database, started after the registry: finding its projection empty, it
    fills it from the registry's snapshot RPCs at once (its timer is eager)."""
    from heyun.config import service_config as file_config
    from notify.service import NotifyService

    http, smtp = channel_receivers
    config = service_config(
        DATABASE_URL=migrated_database("notify"), PII_KEY=file_config("notify")["PII_KEY"],
        SMS_GATEWAY_URL=http.url + "/sms", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
        WEBHOOK_SECRET="test-secret", SMS_RECEIPT_SECRET=SMS_RECEIPT_SECRET, FANOUT_POLL_SECONDS=0.2, DISPATCH_POLL_SECONDS=0.2,
        ESCALATION_CHECK_SECONDS=0.5, CHANNEL_TIMEOUT_SECONDS=2, QUIET_HOURS="off")
    container = container_factory(NotifyService, config)
    container.start()
    return container


@pytest.fixture
def notify_platform(notify_service, start_gateway):
    """The gateway with the registry and notify behind it; /readyz checks both."""
    return start_gateway(READY_SERVICES=["registry", "notify"])
