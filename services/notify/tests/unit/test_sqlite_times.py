"""notify on SQLite (the ``make run`` default): a deadline sent in Beijing time is kept as the instant
it names, so escalation runs at that moment and not eight hours late."""
from datetime import datetime, timedelta, timezone

from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.migrations import upgrade
from heyun.schemas import load
from notify import notices
from notify.models import Notice
from heyun.schemas import load
from notify.contract import NoticeCreate
from heyun.testing.callers import STAFF

BEIJING = timezone(timedelta(hours=8))


def test_an_ack_deadline_in_beijing_time_is_stored_as_that_instant(tmp_path):
    url = f"sqlite:///{tmp_path}/notify.db"
    upgrade("notify", url)
    engine = make_engine(url)
    Session = make_sessionmaker(engine, "notify")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    deadline = now + timedelta(seconds=5)
    data = load(NoticeCreate(), {
        "title": "停水通知", "body": "今日9:00–17:00停水，请确认收到。", "category": "water_outage",
        "audience": {"building_ids": ["b3"]}, "requires_ack": True,
        "ack_deadline": deadline.astimezone(BEIJING).isoformat(),
    })
    with transaction(Session) as session:
        notice_id = notices.publish(session, STAFF, data, now).id
    with transaction(Session) as session:
        notice = session.get(Notice, notice_id)
        assert notice.ack_deadline == deadline
        assert notices.notice_dict(notice)["ack_deadline"] == deadline.isoformat()  # "…+00:00"
        notice.status = "published"
    with transaction(Session) as session:
        notices.escalate_overdue(session, deadline - timedelta(seconds=1))
        assert session.get(Notice, notice_id).escalated_at is None
    with transaction(Session) as session:
        notices.escalate_overdue(session, deadline + timedelta(seconds=1))
        assert session.get(Notice, notice_id).escalated_at == deadline + timedelta(seconds=1)
    engine.dispose()
