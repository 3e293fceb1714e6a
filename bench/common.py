"""Shared bench plumbing: a scratch PostgreSQL database per run and a figure printer."""
import os
import time
from contextlib import contextmanager

from heyun.testing import LOCAL_POSTGRES_URL, DatabaseFactory

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
