"""The test kit: what every service's, the gateway's and the end-to-end tests share, written once
(loaded as a pytest plugin by the root conftest). No test module imports another: what two test
files need lives here, or in a ``support.py`` beside them when it is one service's own data.

- ``clients``: ``RpcClient`` (a service over AMQP, as a caller), ``HttpClient`` (a server over HTTP,
  signed in as a demo account), ``assert_problem``, ``all_items``;
- ``callers``: ``as_role(role, …)`` and the office callers (``STAFF``, ``ADMIN``);
- ``receivers``: a real HTTP endpoint (SMS gateway, webhooks) and SMTP server on loopback;
- ``broker``: a throwaway RabbitMQ vhost (``Vhost``);
- ``unit``: ``service_worker``, a service's worker (Nameko's ``worker_factory``) on a SQLite database;
- here: ``wait_for`` (polling), ``free_port``, and the fixtures ``database_factory``,
  ``migrated_database``, ``service_config`` (real servers) and ``sqlite_database`` (unit tier).

Tiers: ``<package>/tests/unit/`` is the unit tier (domain functions, workers from
``worker_factory``; SQLite or no database; no broker): ``make unit``. Everything else uses real
components: RabbitMQ from ``AMQP_URI`` and PostgreSQL from ``TEST_DATABASE_URL`` (a server URL whose
user may create databases). Where one is unset and a Docker engine is present it is started with
testcontainers; where neither is possible the run stops with a message saying what to set, instead
of skipping tests. A run that collected only unit tests needs neither and checks for neither.
"""
import os
import socket
import time
import uuid
from urllib.parse import urlparse

import pytest
from sqlalchemy import create_engine, text

from heyun.db import normalize_url

_containers = []


def _docker_available():
    return os.path.exists("/var/run/docker.sock") or bool(os.environ.get("DOCKER_HOST"))


def _reachable(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


LOCAL_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
LOCAL_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _start_container(kind):
    """Unset in the environment: a local server if one answers, else testcontainers."""
    if kind == "rabbitmq" and _reachable("127.0.0.1", 5672) and not _docker_available():
        return LOCAL_AMQP_URI, "http://guest:guest@127.0.0.1:15672"
    if kind == "postgresql" and _reachable("127.0.0.1", 5432) and not _docker_available():
        return LOCAL_POSTGRES_URL
    if not _docker_available():
        raise pytest.UsageError(
            f"No {kind} for the tests: set "
            + ("AMQP_URI (e.g. amqp://guest:guest@127.0.0.1:5672/)" if kind == "rabbitmq"
               else "TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres)")
            + ", or run a Docker engine so testcontainers can start one."
        )
    if kind == "rabbitmq":
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3-management").start()
        _containers.append(container)
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        api_port = container.get_exposed_port(15672)
        return f"amqp://guest:guest@{host}:{port}/", f"http://guest:guest@{host}:{api_port}"
    from testcontainers.community.postgres import PostgresContainer

    container = PostgresContainer("postgres:15").start()
    _containers.append(container)
    return container.get_connection_url().replace("+psycopg2", "")


def is_unit_test(item):
    """In a ``tests/unit/`` directory: the tier that needs no broker and no database server."""
    parts = item.path.parts
    return any(a == "tests" and b == "unit" for a, b in zip(parts, parts[1:]))


def pytest_collection_finish(session):
    """The real broker and database, found (or started) and checked once the tests to run are
    known: not at all when every one of them is a unit test (``make unit`` on a bare machine)."""
    if not session.config.option.collectonly and not all(is_unit_test(item) for item in session.items):
        provide_services(session.config)


def provide_services(config):
    amqp_uri = os.environ.get("AMQP_URI")
    if not amqp_uri:
        amqp_uri, api_uri = _start_container("rabbitmq")
        os.environ["AMQP_URI"], os.environ["RABBIT_API_URI"] = amqp_uri, api_uri
    # nameko's own fixtures (rabbit_config gives each test a fresh vhost) read these options.
    config.option.RABBIT_AMQP_URI = amqp_uri
    if os.environ.get("RABBIT_API_URI"):
        config.option.RABBIT_API_URI = os.environ["RABBIT_API_URI"]
    if not os.environ.get("TEST_DATABASE_URL"):
        os.environ["TEST_DATABASE_URL"] = _start_container("postgresql")
    check_prerequisites(amqp_uri, config.option.RABBIT_API_URI, os.environ["TEST_DATABASE_URL"])


# What a newcomer meets first (RabbitMQ from Debian has its management plugin off), said once and
# in seconds, instead of a hundred tests failing one by one with "connection refused".
FIXES = {
    "broker": "start RabbitMQ: rabbitmq-server -detached (or apt-get install rabbitmq-server), or set AMQP_URI",
    "management": "enable RabbitMQ's management plugin (nameko's test fixtures use its HTTP API): "
                  "rabbitmq-plugins enable rabbitmq_management, or set RABBIT_API_URI",
    "database": "start PostgreSQL: pg_ctlcluster --skip-systemctl-redirect <version> main start, "
                "or set TEST_DATABASE_URL to a server whose user may create databases",
}


def check_prerequisites(amqp_uri, api_uri, database_url):
    """Stop the run with one message naming each missing piece and the command that fixes it."""
    import requests

    missing = []
    amqp = urlparse(amqp_uri)
    if not _reachable(amqp.hostname or "127.0.0.1", amqp.port or 5672):
        missing.append(("broker", f"nothing answers at {amqp.hostname}:{amqp.port or 5672}"))
    else:
        api = urlparse(api_uri)
        try:
            answer = requests.get(f"{api.scheme}://{api.hostname}:{api.port or 15672}/api/overview",
                                  auth=(api.username or "guest", api.password or "guest"), timeout=3)
            if answer.status_code != 200:
                missing.append(("management", f"{api.hostname}:{api.port} answered {answer.status_code}"))
        except requests.RequestException:
            missing.append(("management", f"nothing answers at {api.hostname}:{api.port or 15672}"))
    database = urlparse(database_url)
    if not _reachable(database.hostname or "127.0.0.1", database.port or 5432):
        missing.append(("database", f"nothing answers at {database.hostname}:{database.port or 5432}"))
    if missing:
        raise pytest.UsageError("The tests need real services, and some are not there:\n" + "\n".join(
            f"- {piece} ({why}): {FIXES[piece]}" for piece, why in missing))


def pytest_unconfigure(config):
    for container in _containers:
        container.stop()


def wait_for(condition, timeout=10.0, interval=0.05, message="condition", give_up=None):
    """Poll ``condition`` until it returns something truthy and return that; fail after ``timeout``
    seconds saying what never happened. ``give_up()``: checked between polls, a reason to stop at
    once (a process that died) or None."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        reason = give_up() if give_up else None
        if reason:
            raise AssertionError(f"gave up waiting for {message}: {reason}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port():
    """A port free on 127.0.0.1 now (bound, then released) for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DatabaseFactory:
    """Creates throwaway PostgreSQL databases on the test server and drops them afterwards."""

    def __init__(self, server_url):
        self.server_url = server_url
        self.created = []

    def _admin(self):
        return create_engine(normalize_url(self.server_url), isolation_level="AUTOCOMMIT")

    def create(self, label):
        name = f"heyun_t_{label}_{uuid.uuid4().hex[:10]}"
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        parts = urlparse(self.server_url)
        return parts._replace(path=f"/{name}").geturl()

    def drop_all(self):
        engine = self._admin()
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
        self.created.clear()


@pytest.fixture(scope="session")
def database_factory():
    factory = DatabaseFactory(os.environ["TEST_DATABASE_URL"])
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def migrated_database(database_factory):
    """``migrated_database("registry")`` → URL of a fresh database at the service's latest revision."""
    from heyun.migrations import upgrade

    def make(service):
        url = database_factory.create(service)
        upgrade(service, url)
        return url

    return make


@pytest.fixture
def service_config(rabbit_config):
    """``service_config(DATABASE_URL=…)`` → a container config on this test's own vhost."""

    def make(**overrides):
        config = {
            "AMQP_URI": rabbit_config["AMQP_URI"],
            "max_workers": 10,
            "OUTBOX_POLL_SECONDS": 0.2,
            "EVENT_RETRY_DELAYS": [0.1, 0.2],
        }
        config.update(overrides)
        return config

    return make


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory):
    """One migrated SQLite file per service per run, copied for each test (a migration takes a
    second; a copy, nothing)."""
    from heyun.migrations import upgrade

    made = {}

    def template(service):
        if service not in made:
            path = tmp_path_factory.mktemp("sqlite-templates") / f"{service}.db"
            upgrade(service, f"sqlite:///{path}")
            made[service] = path
        return made[service]

    return template


@pytest.fixture
def sqlite_database(_migrated_sqlite, tmp_path):
    """``sqlite_database("registry")`` → URL of a fresh SQLite database at the service's latest
    revision (the ``make run`` default), for the unit tier."""
    import shutil

    def make(service):
        path = tmp_path / f"{service}.db"
        shutil.copyfile(_migrated_sqlite(service), path)
        return f"sqlite:///{path}"

    return make
