"""A newcomer's first `make test` on a machine missing a piece: one message naming it and the
command that fixes it, in seconds, instead of every test failing with "connection refused"."""
import os
import re
import socket
import subprocess
import sys
import time

from heyun.config import ROOT


def closed_port():
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_tests(**environment):
    env = dict(os.environ, **environment)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "heyun/tests/test_utc_datetime.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - started


def test_the_management_plugin_off_is_named_with_its_fix():
    done, took = run_tests(RABBIT_API_URI=f"http://guest:guest@127.0.0.1:{closed_port()}")
    assert done.returncode != 0 and took < 60
    output = done.stdout + done.stderr
    assert "rabbitmq-plugins enable rabbitmq_management" in output
    assert not re.search(r"\d+ (passed|failed|errors?)\b", output)  # stopped before any test ran


def test_a_missing_database_and_broker_are_named_together():
    done, took = run_tests(TEST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres",
                           AMQP_URI=f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
    output = done.stdout + done.stderr
    assert done.returncode != 0 and took < 60
    assert "rabbitmq-server -detached" in output and "TEST_DATABASE_URL" in output


def test_with_everything_there_the_tests_run():
    done, _ = run_tests()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_the_unit_tier_needs_neither_broker_nor_database():
    """``make unit`` on a machine with neither: it runs, and says nothing about them."""
    env = dict(os.environ, AMQP_URI=f"amqp://guest:guest@127.0.0.1:{closed_port()}/",
               RABBIT_API_URI=f"http://guest:guest@127.0.0.1:{closed_port()}",
               TEST_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "heyun/tests/unit/test_netguard.py",
                           "services/registry/tests/unit/test_idnumbers.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "rabbitmq-server" not in done.stdout + done.stderr
