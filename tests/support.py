"""The end-to-end tests' platform, shared by their files (no test module imports another): the whole
of Heyun started the way ``make run`` starts it (``deploy.run``'s own functions), isolated from
anything a developer has running, and what a test gets of it (``Platform``)."""
import os
from contextlib import contextmanager

import pytest

from community.services import ALL, names as service_names
from deploy.run import (
    LaunchError,
    ServiceProcesses,
    check_broker,
    child_env,
    load_demo,
    migrate,
)
from heyun.testing import free_port
from heyun.testing.broker import Vhost
from heyun.testing.clients import HttpClient

DEMO_PASSWORD = os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")
READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", 120))
LOG_LINES = 200  # per child, in a failing test's report


class Platform:
    """What the tests get: where the API is, and clients signed in as the demo accounts."""

    def __init__(self, base_url, processes):
        self.base_url = base_url
        self.api_url = base_url + "/api/v1"
        self.processes = processes
        self.http = HttpClient(base_url, DEMO_PASSWORD, prefix="/api/v1")

    def token(self, username, password=None):
        return self.http.token(username, password)

    def client(self, username=None):
        """An ``HttpClient`` whose relative paths are under /api/v1, signed in as ``username`` if given."""
        return self.http.signed_in(username)

    def logs(self, lines=LOG_LINES):
        return "\n\n".join(
            f"----- {name} -----\n{self.processes.log(name, lines)}"
            for name in self.processes.services
        )


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
        names = service_names(ALL)
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
