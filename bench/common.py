"""Shared bench plumbing: a scratch PostgreSQL database per run, the registry and the gateway
started as processes beside the echo service (the baseline), and a figure printer."""
import os
import subprocess
import sys
import time
from contextlib import contextmanager

from deploy.run import ServiceProcesses, child_env
from heyun.testing import LOCAL_POSTGRES_URL, DatabaseFactory, free_port

SERVER_URL = os.environ.get("TEST_DATABASE_URL", LOCAL_POSTGRES_URL)
AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")


@contextmanager
def scratch_databases():
    factory = DatabaseFactory(SERVER_URL)
    try:
        yield factory
    finally:
        factory.drop_all()


class Stopwatch:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@contextmanager
def registry_behind_gateway(urls):
    """The registry and the gateway on the databases ``urls``, and ``bench.echo_service`` (a bare
    Nameko RPC round trip, every benchmark's baseline), as processes; yields the gateway's base URL
    (``http://127.0.0.1:<port>``) once it is ready, and stops them all afterwards."""
    port = free_port()
    env = child_env(urls, {"GATEWAY_PORT": str(port), "AMQP_URI": AMQP_URI, "LOG_LEVEL": "WARNING",
                           "READY_SERVICES": "registry"})  # notify is not part of these benches
    processes = ServiceProcesses(["registry", "gateway"], env, echo=False)
    echo = subprocess.Popen([sys.executable, "-m", "nameko", "run", "--broker", AMQP_URI, "bench.echo_service"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    processes.start()
    try:
        base = f"http://127.0.0.1:{port}"
        processes.wait_ready(f"{base}/readyz")
        yield base
    finally:
        processes.stop()
        echo.terminate()
        echo.wait(10)
