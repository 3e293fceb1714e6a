"""Stopping `make run` the ways an operator does: Ctrl-C or `kill` in a terminal (a foreground
job: its own process group, SIGINT as the default) and `kill` of a `make run &` started by a
script (a background job of a non-interactive shell: SIGINT ignored, inherited by make and the
launcher). Each signal, sent to the whole group or to the launcher alone (and SIGTERM to make
alone), must stop every service once: no child left running, the gateway's port free."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from deploy.run import ROOT, port_in_use
from heyun.testing import wait_for
from heyun.testing import free_port
from heyun.testing.broker import Vhost

STOP_WITHIN = 30  # seconds: the launcher's own grace is 10 s per child, SIGKILL after


def make_command(port, data_dir):
    """`make run`, with the Python running these tests rather than a fresh .venv: the stamp that
    would install one is taken as up to date (-o), and BIN points at this interpreter."""
    return ["make", "--no-print-directory", "run", "-o", ".venv/.installed",
            f"BIN={Path(sys.executable).parent}", f"PYTHON={sys.executable}"], {
        "GATEWAY_PORT": str(port), "HEYUN_DATA_DIR": str(data_dir)}


def children_of(pid):
    """The pids whose parent is ``pid`` (from /proc: no psutil here)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


class Launch:
    """`make run` (or the launcher alone) in its own process group, its output collected."""

    def __init__(self, command, env, background):
        def as_job():
            os.setpgid(0, 0)
            if background:  # what `sh -c 'make run &'` does to a background job
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(command, cwd=ROOT, env=env, preexec_fn=as_job,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self):
        return "\n".join(self.lines)

    def service_pids(self):
        return [int(line.rsplit("(pid ", 1)[1].rstrip(")")) for line in self.lines
                if line.startswith("[heyun] started ")]

    def up(self):
        assert self.process.poll() is None, self.output[-3000:]
        return "Heyun is up." in self.lines

    def kill_everything(self):
        for pid in [self.process.pid, *children_of(self.process.pid), *self.service_pids()]:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One data folder for every launch: migrated by the first, so the others start sooner."""
    return tmp_path_factory.mktemp("launcher-signals")


@pytest.fixture(scope="module")
def vhost():
    vhost = Vhost(os.environ["AMQP_URI"])
    yield vhost
    vhost.delete()


CASES = [pytest.param(signum, job, target, repeated, id="-".join(
              [signum.name, job, target] + (["repeatedly"] if repeated else [])))
         for signum in (signal.SIGTERM, signal.SIGINT)
         for job, target, repeated in [("foreground", "group", False), ("foreground", "launcher", False),
                                       ("background", "group", False), ("background", "launcher", False),
                                       # Ctrl-C pressed again and again, `kill` typed twice
                                       ("foreground", "group", True)]] + [
    # `kill <pid of make>`: make passes SIGTERM on to the launcher (not SIGINT: a terminal sends
    # that to the whole group).
    pytest.param(signal.SIGTERM, "foreground", "make", False, id="SIGTERM-foreground-make")]


@pytest.mark.e2e
@pytest.mark.parametrize("signum, job, target, repeated", CASES)
def test_a_signal_stops_every_service(signum, job, target, repeated, data_dir, vhost):
    port = free_port()
    command, settings = make_command(port, data_dir)
    env = {k: v for k, v in os.environ.items()  # SQLite in data_dir; not inside a `make test`'s make
           if not k.endswith("_DATABASE_URL") and k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    env.update(settings, AMQP_URI=vhost.uri)
    launch = Launch(command, env, background=job == "background")
    try:
        wait_for(launch.up, timeout=180, interval=0.5, message="make run to come up")
        services = launch.service_pids()
        assert len(services) == 3 and all(alive(pid) for pid in services)
        make = launch.process.pid
        (launcher,) = children_of(make)

        sent = time.monotonic()
        send = {"group": lambda: os.killpg(make, signum), "launcher": lambda: os.kill(launcher, signum),
                "make": lambda: os.kill(make, signum)}[target]
        send()
        while repeated and time.monotonic() - sent < 3 and alive(launcher):
            time.sleep(0.001)  # a second signal must not interrupt the stop (it may hurry it)
            send()
        wait_for(lambda: not any(alive(pid) for pid in [*services, launcher]) and not port_in_use(port),
                 timeout=STOP_WITHIN, interval=0.2, message="every service to stop and the port to be free")
        seconds = time.monotonic() - sent
        launch.process.wait(timeout=10)  # make ends with its recipe
        launch.reader.join(timeout=5)
    finally:
        launch.kill_everything()
    print(f"{signum.name} to the {job} job's {target}: stopped in {seconds:.1f}s")
    # The launcher's own lines (a child's are prefixed "name | "): one stop, finished, no traceback.
    own = [line for line in launch.lines if not re.match(r"\s*\w+ \| ", line)]
    assert own.count("[heyun] stopping") == 1, launch.output[-3000:]
    assert "[heyun] all stopped" in own, launch.output[-3000:]
    assert not any("Traceback" in line for line in own), launch.output[-3000:]
