"""End-to-end fixtures: the whole platform as real processes, through the gateway's HTTP API.

``platform`` (session-scoped) starts Heyun the way ``make run`` does, with the launcher's own
functions (``deploy.run``), but isolated from anything a developer has running:

- a RabbitMQ vhost of its own on the broker at ``AMQP_URI`` (created with the management API,
  deleted afterwards), so its queues and exchanges never meet those of another platform;
- a fresh PostgreSQL database per service on ``TEST_DATABASE_URL`` (``database_factory``),
  migrated and loaded with the Wanghe demo data;
- the gateway on a free port.

A failing e2e test gets the last lines of every child's output in its report, because the cause
of a wrong HTTP answer is usually in a service's log, not in the test (the platform itself is in
``support.py``).
"""
import pytest

from heyun.testing.receivers import HttpReceiver, SmtpReceiver
from tests.support import Platform, running_platform


@pytest.fixture(scope="session")
def channel_receivers():
    """A local SMS gateway (HTTP) and SMTP server for notify's channels, so its deliveries have
    somewhere real to go (``(http, smtp)``, from the test kit)."""
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


@pytest.fixture(scope="session")
def platform(database_factory, channel_receivers):
    with running_platform(database_factory, channel_receivers) as platform:
        yield platform


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the children's output to a failing test that used the platform."""
    outcome = yield
    report = outcome.get_result()
    platforms = [value for value in getattr(item, "funcargs", {}).values() if isinstance(value, Platform)]
    if report.failed and platforms:
        report.sections.append(("platform logs", platforms[0].logs()))
