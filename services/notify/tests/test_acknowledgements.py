"""Acknowledgements that are repeated (a second tap, a retried request, two at once) and the
statistics of a notice whose deliveries wait for quiet hours: real broker, real PostgreSQL."""
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from heyun.db import make_sessionmaker, transaction
from heyun.outbox import outbox_events
from heyun.testing import wait_for
from notify import fanout, notices
from notify.channels.base import SENT, Outcome
from notify.dispatch import Dispatcher
from notify.contract import NOTICE_ACKNOWLEDGED
from notify.models import Delivery, utcnow
from notify.tests.support import GRID_WORKER_1, OUTAGE, PII_KEY, PROPERTY, WATER_PLANT, deliveries, settled


def acknowledged_events(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox_events).where(
            outbox_events.c.event_type == NOTICE_ACKNOWLEDGED.name)).scalar()


def lock_waiters(engine):
    """How many sessions on this database are blocked waiting for a lock another one holds."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar()


def test_a_repeated_acknowledgement_answers_the_first_and_records_nothing(notify, notify_db):
    _, engine = notify_db
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")

    first = notify.call("acknowledge", created["id"], {}, caller=PROPERTY)
    time.sleep(0.01)  # a later time, were a repeat to write its own
    again = notify.call("acknowledge", created["id"], {}, caller=PROPERTY)
    created_flags = first.pop("created", None), again.pop("created", None)
    assert again == first  # the same time, by the same account
    [delivery] = deliveries(notify, created["id"], recipient_type="organization")
    assert delivery["acknowledged_at"] == first["acknowledged_at"]

    # A grid worker's door-to-door hand-over, recorded twice.
    handed = notify.call("acknowledge", created["id"], {"resident_id": "r003"}, caller=GRID_WORKER_1)
    handed_again = notify.call("acknowledge", created["id"], {"resident_id": "r003"}, caller=GRID_WORKER_1)
    handed_flags = handed.pop("created", None), handed_again.pop("created", None)
    assert handed_again == handed and handed["recipient_id"] == "r003"

    assert acknowledged_events(engine) == 2  # one per recipient, not one per request
    assert notify.call("get_notice", created["id"])["stats"]["acknowledged"] == 2
    # What tells the gateway to answer a repeat 200 instead of 201.
    assert created_flags == handed_flags == (True, False)


def test_two_acknowledgements_at_once_record_one(notify, notify_db):
    """The first holds its transaction open; the second, arriving meanwhile, must wait for it and
    answer its acknowledgement rather than write another."""
    _, engine = notify_db
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    Session = make_sessionmaker(engine, "notify")

    first_session = Session()
    first = notices.acknowledge(first_session, PROPERTY, created["id"], {})
    answers = []

    def second():
        with transaction(Session) as session:
            answers.append(notices.acknowledge(session, PROPERTY, created["id"], {}))

    thread = threading.Thread(target=second)
    thread.start()
    # The second is really waiting on the first's lock (not just slow to start), and has no answer.
    wait_for(lambda: lock_waiters(engine) == 1, message="the second acknowledgement to wait on the lock")
    assert answers == []
    first_session.commit()
    first_session.close()
    thread.join(10)
    [answer] = answers
    assert answer["acknowledged_at"] == first["acknowledged_at"]
    assert acknowledged_events(engine) == 1
    assert answer["created"] is False


def test_held_deliveries_are_apart_from_pending_and_the_stats_add_up(start_notify):
    # A quiet window around this very moment (as in test_notices), so SMS and visits are held.
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    notify = start_notify(QUIET_HOURS=f"{start}-{end}", TIME_ZONE="Asia/Shanghai")
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    stats = notify.call("get_notice", created["id"])["stats"]
    # r003 and r006 wait for a visit, r004 for an SMS; r002 and r005 have it in their inbox;
    # property management's e-mail went at once.
    assert stats == {"recipients": 6, "pending": 0, "held": 3, "sent": 1, "delivered": 2, "acknowledged": 0,
                     "failed": 0, "cancelled": 0}
    assert stats["recipients"] == sum(v for k, v in stats.items() if k != "recipients")


def test_an_acknowledgement_made_while_its_delivery_is_being_sent_stands(notify_db):
    """The dispatcher sends property management's e-mail; meanwhile property management
    acknowledges in the app. The dispatcher's "sent", recorded after, must not undo the
    acknowledgement: the escalation would then re-send and report a notice that was answered."""
    _, engine = notify_db
    Session = make_sessionmaker(engine, "notify")
    with transaction(Session) as session:
        notice = notices.publish(session, WATER_PLANT, dict(
            OUTAGE, audience={"organization_ids": ["org-property"]}, requires_ack=True, certainty="Likely",
            ack_deadline=utcnow() + timedelta(hours=1)))
        notice_id = notice.id
        row = fanout.delivery_row(notice, utcnow(), "organization", "org-property", "email")
        fanout.insert_deliveries(session, [row])
    dispatcher = Dispatcher(Session, transaction, channels={}, pii_key=PII_KEY)

    acknowledging = Session()  # the acknowledgement holds its lock, not yet committed
    notices.acknowledge(acknowledging, PROPERTY, notice_id, {})
    recording = threading.Thread(target=lambda: dispatcher_record(dispatcher, Session, row["id"]))
    recording.start()
    wait_for(lambda: lock_waiters(engine) == 1, message="the dispatcher's write to wait on the acknowledgement")
    acknowledging.commit()
    acknowledging.close()
    recording.join(10)
    with transaction(Session) as session:
        delivery = session.get(Delivery, row["id"])
        assert (delivery.status, delivery.acknowledged_by, delivery.lease_until) == ("acknowledged", "property", None)
        assert delivery.attempts == 0  # the send is not counted against an acknowledged delivery
        # Past the deadline, the acknowledged organisation is not chased.
        assert notices.escalate_overdue(session, now=utcnow() + timedelta(hours=2)) == []


def dispatcher_record(dispatcher, Session, delivery_id):
    with transaction(Session) as session:
        dispatcher._record(session, [delivery_id], {delivery_id: Outcome(delivery_id, SENT)}, utcnow())
