"""The notify engine: the background loops of one notify process (plain Python; the service's
``Engine`` dependency in ``service.py`` starts and stops them with the container).

* fan-out: notices in ``publishing`` get their deliveries written, batch by batch, resumably;
* dispatch: due deliveries are handed to their channels;
* housekeeping: scheduled notices are released and missed acknowledgements escalated.

Each loop wakes at once when there is new work in this process (``wake``) and otherwise polls,
so work left by a crashed process or another replica is picked up too. Replicas share the work
through leases; nothing here needs to be the only copy running.
"""
import logging
from datetime import timedelta

from sqlalchemy import select

from heyun.db import transaction
from heyun.loops import Loop
from heyun.outbox import record
from notify import fanout, notices
from notify.channels import build_channels
from notify.dispatch import Dispatcher
from notify.contract import NOTICE_FANNED_OUT, NoticeStatus
from notify.models import Notice, utcnow

log = logging.getLogger(__name__)


class NotifyEngine:
    def __init__(self, config):
        self.config = config
        self.Session = None  # the service's Database provider's, given at start
        self.batch_size = int(config.get("FANOUT_BATCH_SIZE") or 5000)
        self.lease = timedelta(seconds=float(config.get("FANOUT_LEASE_SECONDS") or 60))
        self.channels = build_channels(config)
        # Absent: the 22:00-07:00 of DOMAIN.md. A malformed value stops the service at start.
        fanout.configure_quiet_hours(config.get("QUIET_HOURS", "22:00-07:00"), config.get("TIME_ZONE"))
        self.loops = {
            "fanout": Loop("notify fan-out", self.fan_out_step, float(config.get("FANOUT_POLL_SECONDS") or 1)),
            "dispatch": Loop("notify dispatch", self.dispatch_step, float(config.get("DISPATCH_POLL_SECONDS") or 1)),
            "housekeeping": Loop("notify housekeeping", self.housekeeping_step,
                                 float(config.get("ESCALATION_CHECK_SECONDS") or 30)),
        }

    def start(self, Session, spawn):
        """Run the loops with ``Session`` (the service's database: events recorded here then wake
        its outbox relay) in threads ``spawn(run, identifier=…)`` starts."""
        self.Session = Session
        self.dispatcher = Dispatcher(self.Session, transaction, self.channels, self.config["PII_KEY"],
                                     int(self.config.get("DISPATCH_BATCH_SIZE") or 500))
        for name, loop in self.loops.items():
            spawn(loop.run, identifier=f"notify-{name}")

    def stop(self):
        for loop in self.loops.values():
            loop.stop()

    def wake(self, *names):
        for name in names or self.loops:
            self.loops[name].wake()

    # -- the steps ----------------------------------------------------------------------------
    def fan_out_step(self):
        """Take one notice being published and write all its deliveries, batch by batch."""
        with transaction(self.Session) as session:
            candidates = session.execute(select(Notice.id).where(Notice.status == NoticeStatus.PUBLISHING)
                                         .order_by(Notice.published_at).limit(10)).scalars().all()
        for notice_id in candidates:
            with transaction(self.Session) as session:
                if fanout.source_still_publishing(session, notice_id):
                    continue  # a correction goes to the original's recipients: wait until they are all known
                if not fanout.claim(session, notice_id, utcnow(), self.lease):
                    continue  # another process has it
            while self.loops["fanout"].running:
                with transaction(self.Session) as session:
                    # Locked for the batch, so a cancel either waits for this batch (and then
                    # cancels its deliveries too) or has already happened (and we stop here).
                    notice = fanout.lock_notice(session, notice_id)
                    if notice.status != NoticeStatus.PUBLISHING:
                        log.info("notice %s was %s during its fan-out; stopped", notice_id, notice.status)
                        break
                    written = fanout.next_batch(session, notice, self.batch_size, utcnow(), self.lease)  # renews it
                    if written is None:
                        notice.status, notice.fanned_out_at, notice.fanout_lease_until = (
                            NoticeStatus.PUBLISHED, utcnow(), None)
                        record(session, NOTICE_FANNED_OUT, dict(notices.event_payload(notice),
                                                                 recipients=notice.recipient_count))
                self.wake("dispatch")
                if written is None:
                    break
            return True
        return False

    def dispatch_step(self):
        return self.dispatcher.run_once() > 0

    def housekeeping_step(self):
        with transaction(self.Session) as session:
            released = notices.release_scheduled(session)
            escalated = notices.escalate_overdue(session)
        if released or escalated:
            log.info("released %d scheduled notice(s), escalated %s", released, escalated or "none")
            self.wake("fanout")
        return False
