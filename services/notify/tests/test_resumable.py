"""The fan-out is resumable: kill -9 the notify process in the middle of a 100,000-recipient
fan-out, start it again, and every recipient ends with exactly one delivery per channel.

notify runs as a real process (``python -m nameko run … notify.service``, the launcher's
command) on a fresh migrated PostgreSQL database and this test's own RabbitMQ vhost. SMS goes to
a real HTTP receiver on loopback. The process is killed with SIGKILL (its whole session) once the
cursor shows the fan-out part-way, then a second process is started; it takes the fan-out over
when the first one's lease runs out (``NOTIFY_FANOUT_LEASE_SECONDS``) and resumes from the cursor.

``fill_projection`` is also what ``bench/bench_notify.py`` uses to build large audiences.
"""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, insert, select

from deploy.run import child_env, service_command
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.identity import Caller
from heyun.pii import Protector
from heyun.schemas import load
from notify import notices
from notify.models import Delivery, GridWorkerRecipient, Notice, OrganizationRecipient, ResidentRecipient
from notify.contract import NoticeCreate
from notify.tests.conftest import PII_KEY
from notify.tests.receivers import HttpReceiver

RESIDENTS = 100_000
LEASE_SECONDS = 10  # short, so the restarted process takes over soon; still far above a batch's time
GRIDS = ("grid-0", "grid-1", "grid-2", "grid-3")
PER_BUILDING = 6 * 4 * 50  # six floors, four units, fifty rooms a floor: a big estate's block


def resident_id(n):
    return f"r{n:07d}"


def fill_projection(url, count, no_smartphone_every=10, sms_every=20, phone_every=2, chunk=10_000):
    """``count`` residents straight into the projection (bulk Core inserts, ``chunk`` rows each),
    plus one grid worker per grid and two organisations. Deterministic mix:

    - every ``no_smartphone_every``-th resident is tagged ``no_smartphone`` (door to door);
    - every ``phone_every``-th has a phone (a token under the notify PII key), and of those every
      ``sms_every``-th resident prefers SMS;
    - everyone else reads the notice in the app.

    Returns ``{channel: residents whose first channel it is}``."""
    protector = Protector(PII_KEY)
    tokens = [protector.encrypt(f"139{n:08d}") for n in range(64)]  # encryption is not what is measured
    now = datetime.now(timezone.utc)
    engine = make_engine(url)
    first = {"in_app": 0, "sms": 0, "door_to_door": 0}
    try:
        with engine.begin() as conn:
            conn.execute(insert(GridWorkerRecipient), [
                {"grid_worker_id": f"gw-{g}", "account": f"gridworker-{g}", "grid_id": g, "name": f"网格员{g}",
                 "as_of": now} for g in GRIDS])
            conn.execute(insert(OrganizationRecipient), [
                {"organization_id": "org-property", "name": "物业服务中心", "kind": "property_management",
                 "emails": [], "webhook_url": None, "as_of": now},
                {"organization_id": "org-water", "name": "供水厂", "kind": "water_utility", "emails": [],
                 "webhook_url": None, "as_of": now}])
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(count, start + chunk)):
                building, rest = divmod(n, PER_BUILDING)
                unit, rest = divmod(rest, 6 * 50)
                floor, room = divmod(rest, 50)
                no_smartphone = n % no_smartphone_every == 3
                phone = n % phone_every == 0
                preferred = "sms" if phone and not no_smartphone and n % (phone_every * sms_every) == 0 else None
                rows.append({
                    "resident_id": resident_id(n), "name": f"居民{n}", "building_id": f"b{building:04d}",
                    "building_number": building + 1, "unit": unit + 1, "floor": floor + 1,
                    "room": f"{floor + 1}{room:02d}", "grid_id": GRIDS[building % len(GRIDS)],
                    "tags": ",elderly,no_smartphone," if no_smartphone else ",",
                    "language": "en" if n % 50 == 7 else "zh", "preferred_channel": preferred,
                    "phone_token": tokens[n % len(tokens)] if phone else None, "as_of": now})
                first["door_to_door" if no_smartphone else preferred or "in_app"] += 1
            with engine.begin() as conn:
                conn.execute(insert(ResidentRecipient), rows)
    finally:
        engine.dispose()
    return first


def publish_to_everyone(Session, **overrides):
    """A water outage notice to every grid (so every resident) and both organisations; its id.

    Severe, so quiet hours hold nothing back whatever the time of day the test runs."""
    data = dict({"title": "停水通知：{building}号楼", "body": "{name}您好，今日9:00–17:00停水。",
                 "category": "water_outage", "severity": "Severe", "urgency": "Immediate",
                 "audience": {"grid_ids": list(GRIDS), "organization_ids": ["org-property", "org-water"]}},
                **overrides)
    with transaction(Session) as session:
        notice = notices.publish(session, Caller(account="staff", roles=("staff",)), load(NoticeCreate(), data))
        return notice.id


def start_notify(url, amqp_uri, sms_url, log, **env):
    """notify as a real process in its own session (so killpg reaches all of it), its output to ``log``."""
    overrides = {"AMQP_URI": amqp_uri, "SMS_GATEWAY_URL": sms_url, "LOG_LEVEL": "WARNING", **env}
    with open(log, "ab") as output:
        process = subprocess.Popen(service_command("notify", sys.executable),
                                   env=child_env({"notify": url}, overrides),
                                   stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    process.log = log
    return process


def kill(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


def progress(engine, notice_id):
    with engine.connect() as conn:
        notice = conn.execute(select(Notice.status, Notice.fanout_segment, Notice.fanout_after,
                                     Notice.recipient_count).where(Notice.id == notice_id)).one()
        written = conn.execute(select(func.count()).select_from(Delivery)
                               .where(Delivery.notice_id == notice_id)).scalar()
    return notice, written


def poll(condition, timeout, what, process=None, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if process is not None and process.poll() is not None:
            pytest.fail(f"notify exited ({process.returncode}) while waiting for {what}:\n"
                        + process.log.read_text(errors="replace")[-3000:])
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def big_community(migrated_database):
    url = migrated_database("notify")
    started = time.monotonic()
    first = fill_projection(url, RESIDENTS)
    print(f"projection of {RESIDENTS:,} residents filled in {time.monotonic() - started:.1f}s: {first}")
    engine = make_engine(url)
    yield url, engine, first
    engine.dispose()


def test_kill_9_mid_fanout_then_restart_loses_and_doubles_nothing(big_community, rabbit_config, tmp_path):
    url, engine, first = big_community
    notice_id = publish_to_everyone(make_sessionmaker(engine, "notify"))
    processes = []
    with HttpReceiver() as sms:
        try:
            # Small batches, so there are many cursor positions for the kill to land between (or in).
            def start():
                processes.append(start_notify(url, rabbit_config["AMQP_URI"], sms.url + "/sms",
                                              tmp_path / "notify.log", NOTIFY_FANOUT_BATCH_SIZE="1000",
                                              NOTIFY_FANOUT_LEASE_SECONDS=str(LEASE_SECONDS)))
                return processes[-1]

            start()

            def part_way():
                notice, written = progress(engine, notice_id)
                return notice.fanout_segment == "residents" and RESIDENTS // 5 <= written and notice

            poll(part_way, 60, "the fan-out to be part-way", processes[0], interval=0.01)
            kill(processes[0])
            notice, written = progress(engine, notice_id)
            assert notice.status == "publishing" and notice.fanout_segment == "residents"
            assert 0 < written < RESIDENTS, "the kill should land part-way through the fan-out"
            cursor = notice.fanout_after
            print(f"killed with {written:,} deliveries written, cursor at {cursor}")

            # The new process waits out the dead one's lease, then goes on from the cursor.
            start()
            def finished():
                notice, written = progress(engine, notice_id)
                return notice.status == "published" and (notice, written)

            done = poll(finished, LEASE_SECONDS + 60, "the fan-out to finish after the restart",
                        processes[1], interval=0.2)
        finally:
            for process in processes:
                kill(process)

    notice, written = done
    with engine.connect() as conn:
        residents = Delivery.recipient_type == "resident"
        primary = (Delivery.notice_id == notice_id) & residents & Delivery.fallback_of.is_(None)
        # none doubled: one row per (recipient, channel) — and the fan-out wrote one primary each
        doubled = conn.execute(select(Delivery.recipient_type, Delivery.recipient_id, Delivery.channel)
                               .where(Delivery.notice_id == notice_id)
                               .group_by(Delivery.recipient_type, Delivery.recipient_id, Delivery.channel)
                               .having(func.count() > 1).limit(5)).all()
        assert doubled == []
        two_primaries = conn.execute(select(Delivery.recipient_id).where(primary).group_by(Delivery.recipient_id)
                                     .having(func.count() > 1).limit(5)).scalars().all()
        assert two_primaries == []
        assert conn.execute(select(func.count()).where(primary)).scalar() == RESIDENTS
        # none lost: every resident of the projection has a delivery
        reached = conn.execute(select(func.count(func.distinct(Delivery.recipient_id)))
                               .where(Delivery.notice_id == notice_id, residents)).scalar()
        assert reached == RESIDENTS
        reached_ids = select(Delivery.recipient_id).where(Delivery.notice_id == notice_id, residents)
        missing = conn.execute(select(ResidentRecipient.resident_id)
                               .where(~ResidentRecipient.resident_id.in_(reached_ids)).limit(5)).scalars().all()
        assert missing == []
        # on the channel each one's first: the kill changed nobody's channel
        per_channel = dict(conn.execute(select(Delivery.channel, func.count()).where(primary)
                                        .group_by(Delivery.channel)).all())
        assert per_channel == {k: v for k, v in first.items() if v}
        organizations = conn.execute(select(func.count()).where(
            Delivery.notice_id == notice_id, Delivery.recipient_type == "organization",
            Delivery.fallback_of.is_(None))).scalar()
        assert organizations == 2
    assert notice.recipient_count == RESIDENTS + 2  # the counter, too, counted each batch once
