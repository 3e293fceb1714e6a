"""notify fan-out and dispatch: how long a notice takes to reach everyone, and at what cost.

(a) Wanghe's whole community (the registry demo: 1,100+ residents, its grid workers and
    organisations, in notify's projection as the registry snapshot gives them): a notice to every
    grid and every organisation, from calling ``publish_notice`` over RPC to every delivery handed
    to its channel (none ``pending`` or ``held``; in-app rows are in the inbox when written, SMS
    goes to a local HTTP gateway, e-mail to a local SMTP server). p50/p90 over ``--runs`` notices.

(b) ``--sizes`` recipients (default 100,000 and 1,000,000) in a projection filled in bulk: most
    residents read notices in the app, 5 % are ``no_smartphone`` (door to door, a task for their
    grid worker) and 2.5 % prefer SMS. Recipients per second from ``publish_notice`` to every
    delivery handed to its channel, against a raw kombu publish of as many delivery-sized JSON
    messages to a fresh queue, without publisher confirms, measured in the same run; and notify's
    peak resident memory (VmHWM from /proc) for each audience.

    .venv/bin/python -m bench.bench_notify [--runs 10] [--sizes 100000 1000000] [--skip-community]

notify runs as a real process (the launcher's ``nameko run`` command) on a PostgreSQL database
made for each run, on a RabbitMQ vhost made for the bench. The notices are Severe, so quiet hours
hold nothing back whatever the hour the bench runs. Everything shares this 2-core machine: the
SMS receiver and the load generator compete with notify and PostgreSQL for CPU.
"""
import argparse
import logging
import os
import socket
import time
import uuid
import warnings
from urllib.parse import urlsplit, urlunsplit

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import requests  # noqa: E402  (after the filter: importing nameko imports eventlet)
from kombu import Connection, Exchange, Producer, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select

from bench.common import AMQP_URI, Stopwatch, percentile, scratch_databases
from deploy.run import ServiceProcesses, child_env
from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.identity import CONTEXT_KEY, Caller
from heyun.migrations import upgrade
from heyun.pii import Protector
from notify import projection
from notify.models import Delivery, Notice
from heyun.testing.receivers import HttpReceiver, SmtpReceiver
from notify.tests.support import GRIDS, fill_projection

logging.getLogger("amqp").setLevel(logging.ERROR)  # the readiness probe's unroutable pings
STAFF = Caller(account="staff", roles=("staff",))
RABBIT_API = os.environ.get("RABBIT_API_URI", "http://guest:guest@127.0.0.1:15672")
NOTICE = {"title": "停水通知：{building}号楼", "body": "{name}您好，因管网抢修，今日9:00–17:00停水，4层以上水压偏低。",
          "title_en": "Water outage", "body_en": "Dear {name}, water is off 9:00–17:00 today.",
          "category": "water_outage", "severity": "Severe", "urgency": "Immediate"}


# -- the broker: a vhost of our own, so nothing else's "notify" answers our RPCs -----------------

class Vhost:
    def __init__(self, amqp_uri):
        self.name = f"heyun-bench-notify-{uuid.uuid4().hex[:8]}"
        parts = urlsplit(amqp_uri)
        self.uri = urlunsplit(parts._replace(path="/" + self.name))
        self.api = RABBIT_API.rstrip("/")

    def _call(self, method, path, **kwargs):
        api = urlsplit(self.api)
        base = urlunsplit(api._replace(netloc=api.hostname + (f":{api.port}" if api.port else "")))
        response = requests.request(method, base + path, auth=(api.username or "guest", api.password or "guest"),
                                    timeout=10, **kwargs)
        response.raise_for_status()

    def __enter__(self):
        self._call("PUT", f"/api/vhosts/{self.name}")
        user = urlsplit(AMQP_URI).username or "guest"
        self._call("PUT", f"/api/permissions/{self.name}/{user}",
                   json={"configure": ".*", "write": ".*", "read": ".*"})
        return self

    def __exit__(self, *exc):
        self._call("DELETE", f"/api/vhosts/{self.name}")


# -- notify as a process ---------------------------------------------------------------------

class Notify:
    """One ``nameko run … notify.service`` on ``url``; ``peak_kib`` reads its VmHWM."""

    def __init__(self, url, amqp_uri, **env):
        env = {"AMQP_URI": amqp_uri, "LOG_LEVEL": "WARNING", **env}
        self.amqp_uri = amqp_uri
        self.processes = ServiceProcesses(["notify"], child_env({"notify": url}, env), echo=False)

    def __enter__(self):
        self.processes.start()
        self.pid = self.processes.processes["notify"].pid
        self.rpc = ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, context_data={CONTEXT_KEY: STAFF.to_json()},
                                   timeout=600)
        self.proxy = self.rpc.start()
        deadline = time.monotonic() + 60
        while True:  # ready when it answers (until then the RPC is unroutable, or times out)
            if self.processes.dead():
                raise RuntimeError("notify died while starting:\n" + self.processes.log("notify", 30))
            try:
                with ClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=2) as probe:
                    probe.notify.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return self

    def memory_kib(self, field="VmHWM"):
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def __exit__(self, *exc):
        self.rpc.stop()
        self.processes.stop()


def publish_and_wait(notify, engine, audience, timeout, poll=0.005):
    """Seconds from calling publish_notice to the notice fanned out with no delivery pending or
    held, observed on the database; also the RPC's own time and the notice id."""
    started = time.perf_counter()
    created = notify.proxy.notify.publish_notice(dict(NOTICE, audience=audience))
    answered = time.perf_counter() - started
    deadline = started + timeout
    with engine.connect() as conn:
        while True:
            status = conn.execute(select(Notice.status).where(Notice.id == created["id"])).scalar()
            if status == "published":
                waiting = conn.execute(select(func.count()).select_from(Delivery).where(
                    Delivery.notice_id == created["id"], Delivery.status.in_(("pending", "held")))).scalar()
                if not waiting:
                    return time.perf_counter() - started, answered, created["id"]
            conn.rollback()  # a fresh snapshot each time round
            if notify.processes.dead():
                raise RuntimeError("notify died:\n" + notify.processes.log("notify", 30))
            if time.perf_counter() > deadline:
                raise RuntimeError(f"notice {created['id']} not handed over within {timeout}s")
            time.sleep(poll)


def channel_counts(engine, notice_id):
    with engine.connect() as conn:
        rows = conn.execute(select(Delivery.channel, Delivery.status, func.count())
                            .where(Delivery.notice_id == notice_id)
                            .group_by(Delivery.channel, Delivery.status)).all()
    return ", ".join(f"{channel} {status} {count:,}" for channel, status, count in sorted(rows))


# -- (a) Wanghe -------------------------------------------------------------------------------

def wanghe_projection(factory):
    """The registry demo loaded into a registry database, then copied into notify's projection
    the way notify fills it from the registry's snapshot RPCs."""
    from registry import demo as registry_demo
    from registry import organizations, places, residents
    from registry.models import GridWorker, Organization

    registry_url, notify_url = factory.create("bench_registry"), factory.create("bench_notify")
    upgrade("registry", registry_url)
    upgrade("notify", notify_url)
    registry_demo.load(registry_url)
    registry_engine, notify_engine = make_engine(registry_url), make_engine(notify_url)
    protector = Protector(service_config("registry")["PII_KEY"])
    RegistrySession = make_sessionmaker(registry_engine, "registry")
    NotifySession = make_sessionmaker(notify_engine, "notify")
    with transaction(RegistrySession) as source, transaction(NotifySession) as target:
        for o in source.execute(select(Organization).order_by(Organization.id)).scalars():
            projection.apply_organization(target, organizations.organization_payload(o))
        for w in source.execute(select(GridWorker).order_by(GridWorker.id)).scalars():
            projection.apply_grid_worker(target, places.grid_worker_payload(source, w))
        after = ""
        while after is not None:
            page = residents.snapshot(source, protector, after, 2000)
            for item in page["items"]:
                projection.apply_resident(target, protector, item)
            after = page["next_after_id"]
    registry_engine.dispose()
    return notify_url, notify_engine


def community(factory, vhost, runs):
    from notify.models import GridWorkerRecipient, OrganizationRecipient, ResidentRecipient

    url, engine = wanghe_projection(factory)
    with engine.connect() as conn:
        residents = conn.execute(select(func.count()).select_from(ResidentRecipient)).scalar()
        grids = conn.execute(select(func.distinct(GridWorkerRecipient.grid_id))).scalars().all()
        orgs = conn.execute(select(OrganizationRecipient.organization_id)).scalars().all()
    audience = {"grid_ids": sorted(grids), "organization_ids": sorted(orgs)}
    with HttpReceiver() as http, SmtpReceiver() as smtp, \
            Notify(url, vhost.uri, SMS_GATEWAY_URL=http.url + "/sms", SMTP_HOST="127.0.0.1",
                   SMTP_PORT=str(smtp.port)) as notify:
        publish_and_wait(notify, engine, audience, 60)  # warm-up: pools, connections, caches
        samples, answers = [], []
        for _ in range(runs):
            seconds, answered, notice_id = publish_and_wait(notify, engine, audience, 60)
            samples.append(seconds)
            answers.append(answered)
        mix = channel_counts(engine, notice_id)
        sms = sum(1 for r in http.requests if r.path.startswith("/sms"))
    engine.dispose()
    print(f"(a) Wanghe: {residents:,} residents in {len(grids)} grids + {len(orgs)} organisations; "
          f"{runs} notices after one warm-up")
    print(f"    last notice's deliveries: {mix}; SMS gateway received {sms:,} in all")
    print(f"    {'':<40} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
    print(f"    {'publish_notice RPC answered':<40} {percentile(answers, 50) * 1000:>8.0f} "
          f"{percentile(answers, 90) * 1000:>8.0f} {max(answers) * 1000:>8.0f}")
    print(f"    {'publish → every delivery handed over':<40} {percentile(samples, 50) * 1000:>8.0f} "
          f"{percentile(samples, 90) * 1000:>8.0f} {max(samples) * 1000:>8.0f}   target p50 < 1000")
    return samples


# -- (b) large audiences ------------------------------------------------------------------------

def raw_kombu(amqp_uri, count, persistent=False):
    """The floor: ``count`` delivery-sized JSON messages published with kombu to a fresh queue,
    no publisher confirms; seconds."""
    template = {"id": "", "notice_id": str(uuid.uuid4()), "recipient_type": "resident", "recipient_id": "",
                "channel": "in_app", "title": NOTICE["title"], "body": NOTICE["body"], "language": "zh"}
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    # py-amqp sets TCP_USER_TIMEOUT to 1 s: when RabbitMQ's flow control stops reading a publisher
    # for longer (it does, a few hundred thousand messages into a queue), the write fails with
    # ETIMEDOUT. 0 is the kernel's default: wait, as a publisher under flow control should.
    with Connection(amqp_uri, transport_options={"socket_settings": {socket.TCP_USER_TIMEOUT: 0}}) as connection:
        channel = connection.channel()
        queue = Queue(name, durable=persistent, auto_delete=False, channel=channel)
        queue.declare()
        producer = Producer(channel, exchange=Exchange(""), routing_key=name, serializer="json")
        mode = 2 if persistent else 1
        try:
            with Stopwatch() as watch:
                for n in range(count):
                    producer.publish(dict(template, id=str(uuid.uuid4()), recipient_id=f"r{n:07d}"),
                                     delivery_mode=mode)
        finally:
            queue.delete()
    return watch.seconds


MIX = {"no_smartphone_every": 20, "phone_every": 2, "sms_every": 20}  # 5 % door to door, 2.5 % SMS
HEADER = (f"    {'recipients':>10} {'notify s':>9} {'fan-out s':>9} {'notify rcpt/s':>13} {'raw msg/s':>10} "
          f"{'ratio':>6} {'notify CPU s':>12} {'idle RSS MiB':>12} {'peak RSS MiB':>12}")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def large(factory, vhost, size):
    url = factory.create("bench_notify")
    upgrade("notify", url)
    with Stopwatch() as filling:
        first = fill_projection(url, size, **MIX)
    engine = make_engine(url)
    with HttpReceiver() as http, Notify(url, vhost.uri, SMS_GATEWAY_URL=http.url + "/sms") as notify:
        idle_kib, cpu_before = notify.memory_kib(), cpu_seconds(notify.pid)
        seconds, _, notice_id = publish_and_wait(notify, engine, {"grid_ids": list(GRIDS)}, 3600, poll=0.2)
        peak_kib, cpu = notify.memory_kib(), cpu_seconds(notify.pid) - cpu_before
        mix = channel_counts(engine, notice_id)
        with engine.connect() as conn:
            notice = conn.execute(select(Notice.published_at, Notice.fanned_out_at)
                                  .where(Notice.id == notice_id)).one()
        sms = len(http.requests)
    engine.dispose()
    factory.drop_all()  # a million deliveries take room; the next run starts clean
    raw = raw_kombu(vhost.uri, size)
    print(f"    {size:,} residents (projection filled in {filling.seconds:.0f} s), first channels {first}; "
          f"deliveries: {mix}; SMS gateway received {sms:,}", flush=True)
    return {"size": size, "seconds": seconds, "raw": raw, "idle_kib": idle_kib, "peak_kib": peak_kib, "cpu": cpu,
            "fanout": (notice.fanned_out_at - notice.published_at).total_seconds()}


def row(r):
    return (f"    {r['size']:>10,} {r['seconds']:>9.1f} {r['fanout']:>9.1f} {r['size'] / r['seconds']:>13,.0f} "
            f"{r['size'] / r['raw']:>10,.0f} {r['raw'] / r['seconds']:>6.2f} {r['cpu']:>12.1f} "
            f"{r['idle_kib'] / 1024:>12.0f} {r['peak_kib'] / 1024:>12.0f}")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--skip-community", action="store_true")
    args = parser.parse_args(argv)

    with Vhost(AMQP_URI) as vhost, scratch_databases() as factory:
        if not args.skip_community:
            community(factory, vhost, args.runs)
            factory.drop_all()
        if not args.sizes:
            return
        print("(b) large audiences: 92.5 % in_app, 5 % door_to_door, 2.5 % sms (to a local HTTP gateway); "
              "raw = kombu Producer.publish of as many JSON messages, transient (delivery_mode 1), no confirms")
        results = []
        for size in args.sizes:
            results.append(large(factory, vhost, size))
        print(HEADER)
        for r in results:
            print(row(r))
        if len(results) > 1:
            small, big = results[0], results[-1]
            print(f"    {big['size']:,} took {big['seconds'] / small['seconds']:.1f}x the time of {small['size']:,} "
                  f"({big['size'] / small['size']:.0f}x the recipients; target ≤ 11x); "
                  f"peak RSS {big['peak_kib'] / small['peak_kib']:.2f}x")


if __name__ == "__main__":
    main()
