"""End-to-end fixtures: the whole platform as real processes, through the gateway's HTTP API.

``platform`` (session-scoped) starts Heyun the way ``make run`` does, with the launcher's own
functions (``deploy.run``), but isolated from anything a developer has running:

- a RabbitMQ vhost of its own on the broker at ``AMQP_URI`` (created with the management API,
  deleted afterwards), so its queues and exchanges never meet those of another platform;
- a fresh PostgreSQL database per service on ``TEST_DATABASE_URL`` (``database_factory``),
  migrated and loaded with the Wanghe demo data;
- the gateway on a free port.

A failing e2e test gets the last lines of every child's output in its report, because the cause
of a wrong HTTP answer is usually in a service's log, not in the test.
"""
import os
import socket
import uuid
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

import pytest
import requests

from deploy.run import (
    LaunchError,
    ServiceProcesses,
    check_broker,
    child_env,
    load_demo,
    migrate,
)
from heyun.config import service_names

DEMO_PASSWORD = os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")
READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", 120))
LOG_LINES = 200  # per child, in a failing test's report


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rabbit_api():
    """The management API as (base URL, (user, password)); ``RABBIT_API_URI`` or the local one."""
    parts = urlsplit(os.environ.get("RABBIT_API_URI") or "http://guest:guest@127.0.0.1:15672")
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
    return base, (parts.username or "guest", parts.password or "guest")


class Vhost:
    """A throwaway vhost on the tests' broker, with full permissions for the broker's user."""

    def __init__(self, amqp_uri):
        self.name = f"heyun-e2e-{uuid.uuid4().hex[:10]}"
        self.api, self.auth = rabbit_api()
        user = urlsplit(amqp_uri).username or "guest"
        vhost = quote(self.name, safe="")
        self._put(f"/api/vhosts/{vhost}", {})
        self._put(f"/api/permissions/{vhost}/{quote(user, safe='')}",
                  {"configure": ".*", "write": ".*", "read": ".*"})
        self.uri = urlsplit(amqp_uri)._replace(path="/" + vhost).geturl()

    def _put(self, path, body):
        response = requests.put(self.api + path, json=body, auth=self.auth, timeout=10)
        response.raise_for_status()

    def delete(self):
        requests.delete(f"{self.api}/api/vhosts/{quote(self.name, safe='')}",
                        auth=self.auth, timeout=10)


class Platform:
    """What the tests get: where the API is, and clients signed in as the demo accounts."""

    def __init__(self, base_url, processes):
        self.base_url = base_url
        self.api_url = base_url + "/api/v1"
        self.processes = processes
        self._tokens = {}

    def token(self, username, password=DEMO_PASSWORD):
        if username not in self._tokens:
            response = requests.post(self.api_url + "/auth/token",
                                     json={"username": username, "password": password}, timeout=30)
            assert response.status_code == 200, f"sign-in as {username}: {response.text}"
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    def client(self, username=None):
        """A ``requests.Session`` whose relative paths are under /api/v1, signed in if asked."""
        session = ApiSession(self.api_url)
        if username:
            session.headers["Authorization"] = f"Bearer {self.token(username)}"
        return session

    def logs(self, lines=LOG_LINES):
        return "\n\n".join(
            f"----- {name} -----\n{self.processes.log(name, lines)}"
            for name in self.processes.services
        )


class ApiSession(requests.Session):
    """``session.get("/residents")`` → ``GET {base}/api/v1/residents``, with a default timeout."""

    def __init__(self, api_url):
        super().__init__()
        self.api_url = api_url

    def request(self, method, url, **kwargs):
        if url.startswith("/"):
            url = self.api_url + url
        kwargs.setdefault("timeout", 60)
        return super().request(method, url, **kwargs)


@pytest.fixture(scope="session")
def channel_receivers():
    """A local SMS gateway (HTTP) and SMTP server for notify's channels, so its deliveries have
    somewhere real to go (``(http, smtp)``, from notify's own test receivers)."""
    from notify.tests.receivers import HttpReceiver, SmtpReceiver

    with HttpReceiver() as http, SmtpReceiver() as smtp:
        yield http, smtp


def notify_env(receivers):
    """notify's settings for the e2e platform: the receivers above, and a missed acknowledgement
    noticed within a second (the stories use deadlines seconds ahead, not 30 minutes)."""
    http, smtp = receivers
    return {"SMS_GATEWAY_URL": http.url + "/sms", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
            "NOTIFY_ESCALATION_CHECK_SECONDS": "1"}


@contextmanager
def running_platform(database_factory, receivers, settings=None):
    """Start a whole platform of its own (vhost, databases with the demo data, every service and
    the gateway) and yield its ``Platform``; stop it and delete the vhost afterwards. ``settings``:
    environment variables of its own (config.yml's ``${…}``)."""
    vhost = Vhost(os.environ["AMQP_URI"])
    try:
        check_broker(vhost.uri)
        names = service_names()
        urls = {name: database_factory.create(name) for name in names}
        migrate(urls)
        load_demo(urls)
        port = free_port()
        env = child_env(urls, {"AMQP_URI": vhost.uri, "GATEWAY_PORT": str(port),
                               **notify_env(receivers), **(settings or {})})
        processes = ServiceProcesses(names, env, echo=False)
        platform = Platform(f"http://127.0.0.1:{port}", processes)
        processes.start()
        try:
            processes.wait_ready(platform.base_url + "/readyz", READY_TIMEOUT)
        except LaunchError as exc:
            pytest.fail(f"the platform did not start: {exc}\n\n{platform.logs()}", pytrace=False)
        yield platform
    finally:
        if "processes" in locals():
            processes.stop()
        vhost.delete()


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
