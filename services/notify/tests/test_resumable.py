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

import pytest
from sqlalchemy import func, select

from deploy.run import child_env, service_command
from heyun.db import make_engine, make_sessionmaker, transaction
from notify import notices
from heyun.testing import wait_for
from heyun.testing.callers import STAFF
from heyun.testing.receivers import HttpReceiver
from notify.models import Delivery, Notice, ResidentRecipient
from heyun.schemas import load
from notify.contract import NoticeCreate
from notify.tests.support import GRIDS, fill_projection

RESIDENTS = 100_000
LEASE_SECONDS = 10  # short, so the restarted process takes over soon; still far above a batch's time
def publish_to_everyone(Session, **overrides):
    """A water outage notice to every grid (so every resident) and both organisations; its id.

    Severe, so quiet hours hold nothing back whatever the time of day the test runs."""
    data = dict({"title": "停水通知：{building}号楼", "body": "{name}您好，今日9:00–17:00停水。",
                 "category": "water_outage", "severity": "Severe", "urgency": "Immediate",
                 "audience": {"grid_ids": list(GRIDS), "organization_ids": ["org-property", "org-water"]}},
                **overrides)
    with transaction(Session) as session:
        notice = notices.publish(session, STAFF, load(NoticeCreate(), data))
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


def exited(process):
    """For ``wait_for(give_up=…)``: why waiting on ``process`` is pointless, if it is."""
    def reason():
        if process.poll() is not None:
            return f"notify exited ({process.returncode}):\n" + process.log.read_text(errors="replace")[-3000:]
    return reason


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

            wait_for(part_way, 60, interval=0.01, message="the fan-out to be part-way", give_up=exited(processes[0]))
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

            done = wait_for(finished, LEASE_SECONDS + 60, interval=0.2, message="the fan-out to finish after the restart",
                            give_up=exited(processes[1]))
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
