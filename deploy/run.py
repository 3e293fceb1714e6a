"""The local launcher: ``python -m deploy.run`` (what ``make run`` calls) brings Wanghe up.

In order, and stopping with a plain message (never a traceback) at the first thing that is wrong:

1. the broker: RabbitMQ at ``$AMQP_URI`` must answer within a few seconds;
2. the databases: ``<NAME>_DATABASE_URL`` where set (a missing PostgreSQL database is created),
   else a SQLite file per service under the data folder; the URLs are exported to the children
   so each ``config.yml`` reads the same value the launcher used;
3. migrations for every service (``heyun.migrations.upgrade``);
4. the Wanghe demo data on first run (never with ``HEYUN_ENV=production`` or ``--no-demo``);
5. every service and the gateway as separate ``nameko run`` processes, their output prefixed with
   the service name, until the gateway's ``/readyz`` says 200; then where to point a client.

The services and their order are those of ``community/services.py``.

Ctrl-C, SIGINT, SIGTERM or SIGHUP (to the launcher, to its process group, or through ``make``,
foreground or background) stops the children once (SIGTERM, a grace period, then SIGKILL; a
repeated Ctrl-C skips the grace) and exits 0; a child that dies on its own stops the rest and
exits 1, naming it.

The end-to-end tests (``tests/conftest.py``) start the platform with the same functions
(``database_urls``, ``migrate``, ``load_demo``, ``ServiceProcesses``), so what they test is what
``make run`` does.
"""
import argparse
import collections
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
# `python -m deploy.run` from the repository puts ROOT on the path; services/ comes from the
# venv's heyun.pth, added here too so the launcher also works from a plain checkout.
for _path in (str(ROOT), str(ROOT / "services")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# Importing the kernel imports eventlet, which warns that it is in maintenance mode (a known,
# accepted risk: ARCHITECTURE.md); the launcher's own output need not repeat it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEMO_MARKER = "demo-loaded.json"
BROKER_HINT = """\
Start RabbitMQ, then run this again:
  Debian/Ubuntu:  apt-get install rabbitmq-server && rabbitmq-server -detached
  container:      docker run -d -p 5672:5672 -p 15672:15672 rabbitmq:3-management
or point AMQP_URI at a running broker (amqp://USER:PASSWORD@HOST:5672/VHOST)."""


class LaunchError(Exception):
    """Something the operator must fix; main() prints it without a traceback and exits 1."""


def say(message):
    print(f"[heyun] {message}", flush=True)


# -- 1. the broker ---------------------------------------------------------------------------

def mask_uri(uri):
    """``amqp://guest:guest@host/`` → ``amqp://guest:***@host/``: URIs go to logs and terminals."""
    parts = urlsplit(uri)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return uri
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def check_broker(uri, timeout=3.0):
    """Log in to RabbitMQ at ``uri``; raise LaunchError saying what failed and how to fix it.

    A real AMQP login, not only a TCP connect, so a wrong password or a missing vhost is caught
    here rather than as a wall of reconnect errors from every child.
    """
    import amqp  # kombu's transport; imported here so `--help` stays instant

    parts = urlsplit(uri)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    connection = amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost,
        connect_timeout=timeout,
    )
    try:
        connection.connect()
    except (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed) as exc:
        # The broker is up but refuses this user or vhost: starting one would not help.
        raise LaunchError(
            f"RabbitMQ at {mask_uri(uri)} refused the connection ({exc}).\n"
            "Check the user, password and vhost in AMQP_URI."
        ) from None
    except Exception as exc:  # refused, timed out, unknown host, closed mid-handshake
        reason = str(exc) or type(exc).__name__
        raise LaunchError(
            f"Cannot reach RabbitMQ at {mask_uri(uri)} ({reason}).\n{BROKER_HINT}"
        ) from None
    finally:
        try:
            connection.collect()
        except Exception:  # nothing to clean up after a failed connect
            pass


# -- 2. the databases ------------------------------------------------------------------------

def env_name(service):
    return f"{service.upper()}_DATABASE_URL"


def database_urls(services, data_dir, environ=os.environ):
    """``{service: url}``: ``<NAME>_DATABASE_URL`` if set, else ``<data_dir>/<service>.db``.

    The SQLite path is absolute so a child's working directory cannot change which file it opens.
    """
    data_dir = Path(data_dir).resolve()
    return {
        name: environ.get(env_name(name)) or f"sqlite:///{data_dir / (name + '.db')}"
        for name in services
    }


def ensure_database(url):
    """Create a PostgreSQL database that does not exist yet; SQLite creates its own file."""
    if not url.startswith(("postgresql", "postgres:")):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from heyun.db import normalize_url

    target = make_url(normalize_url(url))
    # Any user that may create databases can connect to the server's `postgres` database.
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                say(f"created PostgreSQL database {target.database}")
    except Exception as exc:
        raise LaunchError(
            f"Cannot prepare PostgreSQL database {target.database} at {mask_uri(url)}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    finally:
        server.dispose()


# -- 3. migrations ---------------------------------------------------------------------------

def migrate(urls):
    from heyun.migrations import upgrade

    for name, url in urls.items():
        ensure_database(url)
        try:
            upgrade(name, url)
        except Exception:
            # A database that cannot be reached was reported by ensure_database; a migration
            # that fails is a bug, and its traceback is what the developer needs.
            say(f"migrating {name} ({mask_uri(url)}) failed:")
            raise
        say(f"{name}: database at {mask_uri(url)} is up to date")


# -- 4. demo data ----------------------------------------------------------------------------

def demo_loaders(services):
    """Registry first (the others refer to its residents and organisations), the gateway last."""
    order = sorted(services, key=lambda name: (name != "registry", name == "gateway"))
    loaders = []
    for name in order:
        if importlib.util.find_spec(f"{name}.demo") is not None:
            loaders.append((name, importlib.import_module(f"{name}.demo").load))
    return loaders


def summarise(summary):
    """One line of a loader's summary: its counts, not its lists."""
    if not isinstance(summary, dict):
        return str(summary)
    return ", ".join(f"{k}={v}" for k, v in summary.items() if isinstance(v, (int, str, bool)))


def load_demo(urls, marker=None):
    """Call each service's ``demo.load(url)``.

    The loaders are idempotent themselves; the marker (the masked URLs that were loaded) only
    lets a second ``make run`` say so instead of opening every database to find out.
    """
    for name, load in demo_loaders(urls):
        try:
            summary = load(urls[name])
        except Exception:
            say(f"loading the {name} demo data failed:")  # a bug: keep the traceback
            raise
        say(f"{name}: demo data {summarise(summary)}")
    if marker is not None:
        Path(marker).write_text(
            json.dumps({name: mask_uri(url) for name, url in urls.items()}, indent=2) + "\n"
        )


def demo_already_loaded(urls, marker):
    try:
        loaded = json.loads(Path(marker).read_text())
    except (OSError, ValueError):
        return False
    return all(loaded.get(name) == mask_uri(url) for name, url in urls.items())


# -- 5. the processes ------------------------------------------------------------------------

def child_env(urls, overrides=None, environ=os.environ):
    """The environment every child sees: ours, plus each database URL and any overrides."""
    env = dict(environ)
    env.update({env_name(name): url for name, url in urls.items()})
    env.update(overrides or {})
    env["PYTHONUNBUFFERED"] = "1"  # log lines as they happen, not when a buffer fills
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "services"), environ.get("PYTHONPATH")) if p
    )
    return env


def service_command(name, python=sys.executable):
    from heyun.config import service_dir

    config = service_dir(name) / "config.yml"
    return [python, "-m", "nameko", "run", "--config", str(config), f"{name}.service"]


class ServiceProcesses:
    """The platform's processes: one ``nameko run`` per service, the gateway last.

    Each child's output is read by a thread, kept (the last ``keep`` lines, for error reports
    and test failures) and, with ``echo``, printed prefixed with the service's name.
    """

    def __init__(self, services, env, echo=True, keep=2000):
        self.services = list(services)
        self.env = env
        self.echo = echo
        self.width = max(len(name) for name in self.services)
        self.processes = {}
        self.readers = []
        self.output = {name: collections.deque(maxlen=keep) for name in self.services}
        self.print_lock = threading.Lock()

    def start(self):
        for name in self.services:
            self.processes[name] = subprocess.Popen(
                service_command(name),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                # Their own process group: Ctrl-C reaches only the launcher, which stops the
                # children in order instead of every process racing to shut down at once.
                start_new_session=True,
            )
            reader = threading.Thread(target=self._read, args=(name,), daemon=True)
            reader.start()
            self.readers.append(reader)
            say(f"started {name} (pid {self.processes[name].pid})")

    def _read(self, name):
        for line in self.processes[name].stdout:
            line = line.rstrip("\n")
            self.output[name].append(line)
            if self.echo:
                with self.print_lock:
                    print(f"{name:>{self.width}} | {line}", flush=True)

    def dead(self):
        """``[(name, exit code)]`` of the children that have exited."""
        return [(name, p.returncode) for name, p in self.processes.items() if p.poll() is not None]

    def log(self, name, lines=None):
        output = list(self.output[name])
        return "\n".join(output[-lines:] if lines else output)

    def wait_ready(self, url, timeout=120.0, stop=lambda: False):
        """Poll ``url`` (the gateway's /readyz) until it answers 200, or ``stop()`` says to give
        up; raise if a child dies."""
        deadline = time.monotonic() + timeout
        while not stop():
            dead = self.dead()
            if dead:
                name, code = dead[0]
                raise LaunchError(
                    f"{name} exited with code {code} while starting. Its last lines:\n"
                    + self.log(name, 30)
                )
            try:
                with urllib.request.urlopen(url, timeout=3) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass  # not listening yet, or 503 while a service is still connecting
            if time.monotonic() > deadline:
                raise LaunchError(
                    f"{url} did not answer 200 within {timeout:.0f}s; every process is still "
                    "running, so look at their output above (is the broker healthy?)."
                )
            time.sleep(0.5)

    def stop(self, timeout=10.0, hurry=None):
        """SIGTERM every child (nameko stops gracefully on it), wait, then SIGKILL the rest;
        at once when the ``hurry`` event is set (a second Ctrl-C)."""
        hurry = hurry or threading.Event()
        running = {n: p for n, p in self.processes.items() if p.poll() is None}
        for process in running.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(p.poll() is None for p in running.values()):
            if time.monotonic() > deadline or hurry.is_set():
                if hurry.is_set():
                    say("asked again: killing what still runs")
                for name, process in running.items():
                    if process.poll() is None:
                        if not hurry.is_set():
                            say(f"{name} did not stop within {timeout:.0f}s: killing it")
                        _signal_group(process, signal.SIGKILL)
                        process.wait()
                break
            hurry.wait(0.1)
        for reader in self.readers:
            reader.join(timeout=2)


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # already gone
        pass


def port_in_use(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def banner(port, demo_loaded):
    base = f"http://127.0.0.1:{port}"
    lines = [
        "",
        "Heyun is up.",
        f"  API:      {base}/api/v1",
        f"  OpenAPI:  {base}/api/v1/openapi.json",
        f"  health:   {base}/healthz   {base}/readyz   {base}/metrics",
    ]
    if demo_loaded:
        password = os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")
        lines += [
            "  demo accounts (password %r):" % password,
            "    admin, staff, gridworker1..gridworker4, property, waterplant, canteen,",
            "    mediator, police, patrol, volunteer, resident",
            "  try:",
            f"    curl -s -X POST {base}/api/v1/auth/token -H 'Content-Type: application/json' \\",
            f"         -d '{{\"username\": \"staff\", \"password\": \"{password}\"}}'",
            f"    curl -s {base}/api/v1/buildings -H 'Authorization: Bearer <access_token>'",
        ]
    lines += ["Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


# -- the command -----------------------------------------------------------------------------

class StopRequest:
    """The signal handler for SIGINT (Ctrl-C), SIGTERM and SIGHUP while the children run.

    It only records the request: the launcher's own loop notices it and stops the children, so
    no signal can land in the middle of stopping and abort it (the old way raised an exception
    from the handler, and `make`, which forwards SIGTERM to its child, delivered a second one
    into the clean-up). A signal more than a second after the first (Ctrl-C pressed again, a
    second `kill`) hurries the stop: the children still running are killed at once. One within
    that second is the same request delivered twice (the group's signal plus make's copy).
    """

    REPEAT = 1.0  # seconds

    def __init__(self):
        self.first = None
        self.hurry = threading.Event()

    def __call__(self, signum, frame):
        now = time.monotonic()
        if self.first is None:
            self.first = now
        elif now - self.first > self.REPEAT:
            self.hurry.set()  # said by stop(): printing here could re-enter a print it interrupted

    @property
    def requested(self):
        return self.first is not None

    def install(self):
        # Installed whether or not SIGINT was ignored when we started: a shell starts a background
        # job (`make run &`) with SIGINT ignored, and `kill -INT` must stop it all the same.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m deploy.run",
        description="Check the broker, migrate, load demo data, run every service and the gateway.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", 8000)),
                        help="gateway port (GATEWAY_PORT, default 8000)")
    parser.add_argument("--data-dir", default=os.environ.get("HEYUN_DATA_DIR", "data"),
                        help="folder for the SQLite files and the demo marker "
                             "(HEYUN_DATA_DIR, default ./data)")
    demo = parser.add_mutually_exclusive_group()
    demo.add_argument("--demo", dest="demo", action="store_true", default=None,
                      help="load the demo data even if it was loaded before")
    demo.add_argument("--no-demo", dest="demo", action="store_false",
                      help="do not load demo data")
    parser.add_argument("--ready-timeout", type=float, default=120.0,
                        help="seconds to wait for the gateway's /readyz (default 120)")
    parser.add_argument("--migrate-only", action="store_true",
                        help="prepare the databases (migrations, and demo data by the same rules) "
                             "and exit: the one-shot job of compose and Kubernetes")
    return parser.parse_args(argv)


def prepare(args):
    """Steps 1-4; returns (database URLs, whether demo data is in place)."""
    production = os.environ.get("HEYUN_ENV", "development") == "production"
    if production and args.demo:
        raise LaunchError("HEYUN_ENV is production: refusing to load demo data.")
    # Migrating needs only the databases; the broker and the port matter to the processes.
    if not args.migrate_only:
        amqp_uri = os.environ.setdefault("AMQP_URI", DEFAULT_AMQP_URI)
        check_broker(amqp_uri)
        say(f"RabbitMQ at {mask_uri(amqp_uri)} is up")
    if not args.migrate_only and port_in_use(args.port):
        raise LaunchError(
            f"Port {args.port} is already in use (another Heyun running?). "
            "Stop it, or choose another with --port or GATEWAY_PORT."
        )

    from community.services import ALL, names

    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    urls = database_urls(names(ALL), data_dir)
    migrate(urls)

    marker = data_dir / DEMO_MARKER
    if production or args.demo is False:
        say("demo data: not loaded" + (" (production)" if production else " (--no-demo)"))
        return urls, False
    if args.demo is None and demo_already_loaded(urls, marker):
        say("demo data already loaded")
        return urls, True
    load_demo(urls, marker)
    return urls, True


def serve(urls, port, demo_loaded, ready_timeout):
    """Step 5: run the children until a signal or a child's death; returns the exit code."""
    processes = ServiceProcesses(list(urls), child_env(urls, {"GATEWAY_PORT": str(port)}))
    stop = StopRequest()
    stop.install()
    try:
        processes.start()
        processes.wait_ready(f"http://127.0.0.1:{port}/readyz", ready_timeout,
                             stop=lambda: stop.requested)
        if not stop.requested:
            banner(port, demo_loaded)
        while not stop.requested:
            dead = processes.dead()
            if dead:
                for name, code in dead:
                    say(f"{name} exited unexpectedly with code {code}; stopping the others")
                return 1
            time.sleep(0.2)
        say("stopping")
        return 0
    except LaunchError as exc:
        say(str(exc))
        return 1
    finally:
        processes.stop(hurry=stop.hurry)
        say("all stopped")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # A background job (`make run &` from a script) starts with SIGINT ignored; `kill -INT`
    # must still stop the launcher while it migrates (serve() then installs StopRequest).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        urls, demo_loaded = prepare(args)
    except LaunchError as exc:
        print(f"[heyun] {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.migrate_only:
        return 0
    return serve(urls, args.port, demo_loaded, args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
