"""notify over RPC with a real broker, PostgreSQL and loopback SMS/SMTP/webhook receivers."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from heyun.db import make_engine
from heyun.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from heyun.testing import wait_for
from heyun.testing.callers import as_role
from notify.cap import validate_cap
from notify.models import Delivery
from notify.tests.support import (
    GRID_WORKER_1, GRIDS, OUTAGE, PII_KEY, PROPERTY, STAFF, WATER_PLANT, deliveries, fill_projection, later, settled,
)

@pytest.mark.parametrize("call", [("list_notices", {}), ("inbox",), ("door_to_door_tasks", {})])
def test_an_offset_past_the_ceiling_is_invalid_input_naming_it(notify, call):
    # An RPC caller bypassing the gateway: was an OverflowError from the database driver.
    with pytest.raises(InvalidInput) as caught:
        notify.call(*call, limit=10, offset=2 ** 63)
    assert set(caught.value.errors) == {"offset"}


def test_preview_counts_per_building_and_channel(notify):
    preview = notify.call("preview_notice", OUTAGE["audience"])
    assert preview["residents"] == 5 and preview["organizations"] == 1
    assert preview["per_building"] == {"3": 3, "5": 2}
    assert preview["per_channel"] == {"in_app": 2, "door_to_door": 2, "sms": 1, "email": 1}


def test_only_roles_that_may_know_a_tag_address_residents_by_it(notify):
    for tag in ("mobility_impaired", "living_alone", "low_income"):
        audience = dict(OUTAGE["audience"], tags=[tag])
        for caller in (WATER_PLANT, PROPERTY):  # a count of one would say who cannot walk, or lives alone
            with pytest.raises(Forbidden):
                notify.call("preview_notice", audience, caller=caller)
            with pytest.raises(Forbidden):
                notify.call("publish_notice", dict(OUTAGE, audience=audience), caller=caller)
    with pytest.raises(Forbidden):  # and a non-publisher may not count anyone
        notify.call("preview_notice", OUTAGE["audience"], caller=GRID_WORKER_1)
    assert notify.call("preview_notice", OUTAGE["audience"], caller=WATER_PLANT)["residents"] == 5
    staff_may = dict(OUTAGE["audience"], tags=["mobility_impaired"])
    assert notify.call("preview_notice", staff_may, caller=STAFF)["residents"] == 1  # staff may: r003


def test_an_outage_reaches_exactly_the_affected_residents_on_the_right_channel(notify, receivers):
    http, smtp = receivers
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    assert created["status"] == "publishing"
    notice = wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    items = deliveries(notify, created["id"])
    by_recipient = {(d["recipient_type"], d["recipient_id"]): d for d in items}
    assert set(by_recipient) == {("resident", r) for r in ("r002", "r003", "r004", "r005", "r006")} | {
        ("organization", "org-property")}
    assert len(items) == 6  # one delivery each
    assert by_recipient[("resident", "r003")]["channel"] == "door_to_door"
    assert by_recipient[("resident", "r003")]["assignee"] == "gridworker1"
    assert by_recipient[("resident", "r006")]["assignee"] == "gridworker2"
    assert by_recipient[("resident", "r004")]["channel"] == "sms"
    assert by_recipient[("organization", "org-property")]["channel"] == "email"
    stats = notice["stats"]
    assert stats["recipients"] == 6
    assert sum(stats[k] for k in ("pending", "held", "sent", "delivered", "acknowledged", "failed", "cancelled")) == 6
    sms = [r.json() for r in http.requests if r.path.startswith("/sms")]
    assert [m["to"] for m in sms] == ["13900000004"]
    assert "停水通知：3号楼" in sms[0]["text"] and "居民4您好" in sms[0]["text"]
    wait_for(lambda: smtp.messages, message="the e-mail to property management")
    assert smtp.messages[0].rcpt_tos == ["property@wanghe.example"]


def test_grid_worker_sees_and_records_door_to_door_tasks(notify):
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    tasks = notify.call("door_to_door_tasks", {}, caller=GRID_WORKER_1)["items"]
    assert [(t["recipient_id"], t["recipient"]["floor"]) for t in tasks] == [("r003", 5)]
    notify.call("acknowledge", created["id"], {"resident_id": "r003"}, caller=GRID_WORKER_1)
    assert notify.call("door_to_door_tasks", {}, caller=GRID_WORKER_1)["total"] == 0
    with pytest.raises(NotFound):  # not their task
        notify.call("acknowledge", created["id"], {"resident_id": "r006"}, caller=GRID_WORKER_1)
    assert notify.call("get_notice", created["id"])["stats"]["acknowledged"] == 1


def test_unacknowledged_organisation_is_escalated(notify, receivers):
    http, smtp = receivers
    notice = dict(OUTAGE, requires_ack=True, ack_deadline=later(0.05),
                  audience={"organization_ids": ["org-property"], "building_ids": ["b3"]})
    created = notify.call("publish_notice", notice, caller=WATER_PLANT)
    wait_for(lambda: notify.call("get_notice", created["id"])["escalated_at"], timeout=20,
             message="the escalation")
    channels = {d["channel"] for d in deliveries(notify, created["id"], recipient_type="organization")}
    assert channels == {"email", "in_app"}  # re-sent on its next channel
    inbox = notify.call("inbox", caller=STAFF)["items"]
    assert any(n["title"].startswith("【未确认】") and n["references_id"] == created["id"] for n in inbox)
    # property management sees the notice in its inbox and can still acknowledge it
    assert created["id"] in [n["id"] for n in notify.call("inbox", caller=PROPERTY)["items"]]
    notify.call("acknowledge", created["id"], {}, caller=PROPERTY)
    assert all(d["status"] == "acknowledged"
               for d in deliveries(notify, created["id"], recipient_type="organization"))


def test_acknowledged_in_time_is_not_escalated(notify):
    # A deadline with room to spare: on a busy machine the acknowledgement must not come late.
    notice = dict(OUTAGE, requires_ack=True, ack_deadline=later(0.5),
                  audience={"organization_ids": ["org-property"]})
    created = notify.call("publish_notice", notice, caller=WATER_PLANT)
    wait_for(lambda: notify.call("inbox", caller=PROPERTY)["total"], message="the notice in the inbox")
    deadline = datetime.fromisoformat(notice["ack_deadline"])
    acknowledged = notify.call("acknowledge", created["id"], {}, caller=PROPERTY)
    assert datetime.fromisoformat(acknowledged["acknowledged_at"]) < deadline  # in time: what this test is about
    # The escalation check marks the notice once it has looked at it after the deadline (and
    # found it acknowledged): that is what to wait for, not a length of time.
    checked = wait_for(lambda: notify.call("get_notice", created["id"])["escalated_at"],
                       timeout=(deadline - datetime.now(timezone.utc)).total_seconds() + 10, interval=0.5,
                       message="the escalation check after the deadline")
    assert datetime.fromisoformat(checked) >= deadline
    assert notify.call("escalate_overdue") == {"escalated": []}
    assert not any(n["title"].startswith("【未确认】") for n in notify.call("inbox", caller=STAFF)["items"])


def test_webhook_organisations_get_signed_posts(notify, receivers):
    http, _ = receivers
    from notify.channels import verify_signature

    created = notify.call("publish_notice", dict(OUTAGE, audience={"organization_ids": ["org-water"]}),
                          caller=PROPERTY)
    wait_for(lambda: [r for r in http.requests if r.path.startswith("/webhook")], message="the webhook")
    request = [r for r in http.requests if r.path.startswith("/webhook")][0]
    assert verify_signature("test-secret", request.headers["X-Heyun-Signature"], request.body)
    assert request.json()["notice_id"] == created["id"]


def test_a_webhook_aimed_at_loopback_fails_over_without_a_request(start_notify, receivers):
    """The water plant's webhook is on 127.0.0.1 (the test receiver): without an allow-list that
    lets it in (the default), it is refused on sending, and the plant's next channel takes over."""
    http, _ = receivers
    notify = start_notify(WEBHOOK_ALLOWED_NETWORKS="")
    created = notify.call("publish_notice", dict(OUTAGE, audience={"organization_ids": ["org-water"]}),
                          caller=PROPERTY)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to settle")
    items = {d["channel"]: d for d in deliveries(notify, created["id"])}
    assert items["webhook"]["status"] == "failed" and items["webhook"]["attempts"] == 1
    assert items["webhook"]["last_error"].startswith("refused: 127.0.0.1 is a loopback address")
    # The plant has no e-mail contacts: its inbox is next.
    assert items["in_app"]["fallback_of"] == items["webhook"]["id"] and items["in_app"]["status"] == "delivered"
    assert [r for r in http.requests if r.path.startswith("/webhook")] == []


def test_failed_sms_falls_back_to_the_next_channel(notify, receivers):
    http, _ = receivers
    http.answer_first(1, 400)  # the gateway refuses the number: no point retrying
    created = notify.call("publish_notice", dict(OUTAGE, audience={"resident_ids": ["r004"]}), caller=STAFF)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to settle")
    items = {d["channel"]: d for d in deliveries(notify, created["id"])}
    assert items["sms"]["status"] == "failed" and "400" in items["sms"]["last_error"]
    # r004 prefers SMS but has a smartphone: the in-app inbox is the next channel
    assert items["in_app"]["fallback_of"] == items["sms"]["id"] and items["in_app"]["status"] == "delivered"
    assert notify.call("get_notice", created["id"])["stats"]["recipients"] == 1


def test_bad_input_names_the_field(notify):
    with pytest.raises(InvalidInput) as caught:
        notify.call("publish_notice", dict(OUTAGE, severity="apocalyptic", audience={"floor_min": "high"}))
    assert {"severity", "audience.floor_min"} <= set(caught.value.errors)
    with pytest.raises(InvalidInput) as caught:
        notify.call("publish_notice", dict(OUTAGE, requires_ack=True))
    assert "ack_deadline" in caught.value.errors
    with pytest.raises(InvalidInput) as caught:
        notify.call("publish_notice", dict(OUTAGE, audience={"organization_ids": ["nobody"]}))
    assert "audience.organization_ids" in caught.value.errors
    with pytest.raises(Forbidden):
        notify.call("publish_notice", OUTAGE, caller=GRID_WORKER_1)


def test_residents_see_only_what_is_addressed_to_them(notify):

    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice")
    reached = as_role("resident", account="r2", resident_id="r002")
    missed = as_role("resident", account="r1", resident_id="r001")
    assert [n["id"] for n in notify.call("inbox", caller=reached)["items"]] == [created["id"]]
    assert notify.call("inbox", caller=missed)["total"] == 0
    with pytest.raises(NotFound):
        notify.call("get_notice", created["id"], caller=missed)
    assert len(deliveries(notify, created["id"], caller=reached)) == 1


def test_update_reaches_the_same_recipients_and_cancel_stops_what_is_pending(notify, notify_db):
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice")
    update = notify.call("update_notice", created["id"], {"title": "更正：停水延至18:00", "body": "延长一小时。"},
                         caller=WATER_PLANT)
    wait_for(lambda: settled(notify, update["id"]), message="the correction")
    first = {(d["recipient_type"], d["recipient_id"]) for d in deliveries(notify, created["id"])}
    second = {(d["recipient_type"], d["recipient_id"]) for d in deliveries(notify, update["id"])}
    assert first == second
    cancel = notify.call("cancel_notice", created["id"], {"reason": "施工取消，正常供水。"}, caller=WATER_PLANT)
    assert notify.call("get_notice", created["id"])["status"] == "cancelled"
    wait_for(lambda: settled(notify, cancel["id"]), message="the cancel notice")
    with pytest.raises(IllegalTransition):
        notify.call("cancel_notice", created["id"], {"reason": "again"}, caller=WATER_PLANT)
    cap = notify.call("export_cap", cancel["id"])
    assert validate_cap(cap.encode()) == [] and "<msgType>Cancel</msgType>" in cap


def test_cap_export_validates(notify):
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    cap = notify.call("export_cap", created["id"])
    assert validate_cap(cap.encode()) == []
    assert "3号楼、5号楼 4层及以上" in cap and "en-US" in cap


def test_a_redone_fanout_batch_doubles_nothing(notify_db):
    """What a crash between two batches leaves: the cursor rewound, the batch written again."""
    from heyun.db import make_sessionmaker, transaction
    from notify import fanout, notices
    from notify.models import Notice
    from heyun.schemas import load
    from notify.contract import NoticeCreate

    _, engine = notify_db
    Session = make_sessionmaker(engine, "notify")
    now = datetime.now(timezone.utc)
    with transaction(Session) as session:
        notice = notices.publish(session, STAFF, load(NoticeCreate(), OUTAGE), now)
        notice_id = notice.id
    for _ in range(3):
        with transaction(Session) as session:
            fanout.next_batch(session, session.get(Notice, notice_id), 2, now)
    with transaction(Session) as session:  # rewind, as if the last batch never committed
        n = session.get(Notice, notice_id)
        n.fanout_segment, n.fanout_after = "organizations", ""
    while True:
        with transaction(Session) as session:
            if fanout.next_batch(session, session.get(Notice, notice_id), 2, now) is None:
                break
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Delivery).where(Delivery.notice_id == notice_id)).scalar()
    assert count == 6


def test_deliveries_still_waiting_when_the_notice_expires_are_not_sent(notify_db):
    from heyun.db import make_sessionmaker, transaction
    from notify import fanout, notices
    from notify.channels import build_channels
    from notify.dispatch import Dispatcher
    from notify.models import Notice
    from heyun.schemas import load
    from notify.contract import NoticeCreate

    _, engine = notify_db
    Session = make_sessionmaker(engine, "notify")
    now = datetime.now(timezone.utc)
    with transaction(Session) as session:
        notice = notices.publish(session, STAFF, load(NoticeCreate(), dict(OUTAGE, expires=later(60))), now)
        notice_id = notice.id
        while fanout.next_batch(session, session.get(Notice, notice_id), 100, now) is not None:
            pass
    with transaction(Session) as session:  # an hour passes: the outage is over
        session.get(Notice, notice_id).expires = now - timedelta(minutes=1)
    dispatcher = Dispatcher(Session, transaction, build_channels({}), PII_KEY)
    while dispatcher.run_once():
        pass
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(Delivery.channel, Delivery.status).where(
            Delivery.notice_id == notice_id, Delivery.recipient_type == "resident", Delivery.channel != "in_app")).all())
    assert statuses == {"sms": "cancelled", "door_to_door": "cancelled"}


def test_a_notice_names_when_its_event_ends_and_expires_then_unless_told_otherwise(notify):
    onset, ends = later(60), later(8 * 60)
    created = notify.call("publish_notice", dict(OUTAGE, onset=onset, ends=ends), caller=WATER_PLANT)
    notice = notify.call("get_notice", created["id"])
    assert datetime.fromisoformat(notice["ends"]) == datetime.fromisoformat(ends)
    assert notice["expires"] == notice["ends"]  # water back on: the notice has done its work
    assert b"heyun:eventEnds" in notify.call("export_cap", created["id"]).encode()
    # The repair takes longer: the correction moves the end, and the expiry with it.
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    longer = later(11 * 60)
    correction = notify.call("update_notice", created["id"], {"title": "停水延长", "body": "供水延至20:00。",
                                                               "ends": longer}, caller=WATER_PLANT)
    corrected = notify.call("get_notice", correction["id"])
    assert datetime.fromisoformat(corrected["ends"]) == datetime.fromisoformat(longer) == \
        datetime.fromisoformat(corrected["expires"])
    for draft, field in ((dict(OUTAGE, onset=ends, ends=onset), "ends"),
                         (dict(OUTAGE, ends=(datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()), "ends")):
        with pytest.raises(InvalidInput) as refused:
            notify.call("publish_notice", draft, caller=WATER_PLANT)
        assert field in refused.value.errors
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    for change, field in (({"ends": later(30)}, "ends"),  # before the onset
                          ({"ends": yesterday}, "ends"), ({"expires": yesterday}, "expires")):
        with pytest.raises(InvalidInput) as refused:
            notify.call("update_notice", created["id"], dict(change, title="x", body="y"), caller=WATER_PLANT)
        assert field in refused.value.errors


def test_the_inbox_shows_the_notice_as_the_resident_reads_it(notify):

    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice")
    chinese = notify.call("inbox", caller=as_role("resident", account="r2", resident_id="r002"))["items"][0]
    assert (chinese["title"], chinese["language"]) == ("停水通知：3号楼", "zh")
    assert chinese["body"].startswith("居民2您好")
    english = notify.call("inbox", caller=as_role("resident", account="r5", resident_id="r005"))["items"][0]
    assert (english["title"], english["body"], english["language"]) == (
        "Water outage", "Dear 居民5, water is off 9:00–17:00 today.", "en")


def test_quiet_hours_hold_non_urgent_sms_and_visits_until_they_end_but_not_severe_ones(start_notify):
    # A quiet window around this very moment, so the test means the same at any hour it runs.
    local = datetime.now(ZoneInfo("Asia/Shanghai"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    notify = start_notify(QUIET_HOURS=f"{start}-{end}", TIME_ZONE="Asia/Shanghai")

    quiet = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: notify.call("get_notice", quiet["id"])["status"] == "published", message="the fan-out")
    wait_for(lambda: all(d["status"] != "pending" for d in deliveries(notify, quiet["id"])),
             message="dispatch to pass over the held deliveries")
    by_channel = {}
    for d in deliveries(notify, quiet["id"]):
        by_channel.setdefault(d["channel"], set()).add(d["status"])
    # The inbox makes no noise and the property company works nights: those go at once.
    assert by_channel == {"in_app": {"delivered"}, "email": {"sent"}, "sms": {"held"}, "door_to_door": {"held"}}
    held = [d for d in deliveries(notify, quiet["id"]) if d["status"] == "held"]
    wake = datetime.fromisoformat(held[0]["held_until"]).astimezone(ZoneInfo("Asia/Shanghai"))
    assert wake.strftime("%H:%M") == end and wake > local

    severe = notify.call("publish_notice", dict(OUTAGE, severity="severe", urgency="Immediate"), caller=WATER_PLANT)
    wait_for(lambda: settled(notify, severe["id"]), message="the severe notice to be sent")
    statuses = {d["channel"]: d["status"] for d in deliveries(notify, severe["id"])}
    assert statuses["sms"] == "sent" and statuses["door_to_door"] == "sent"


def test_a_cancel_in_the_middle_of_a_fan_out_stops_it_and_sends_nothing_more(start_notify, migrated_database):
    url = migrated_database("notify")
    fill_projection(url, 50_000)
    notify = start_notify(DATABASE_URL=url, FANOUT_BATCH_SIZE=100)  # 500 batches: time to cancel in between
    engine = make_engine(url)

    def written(notice_id, *statuses):
        query = select(func.count()).select_from(Delivery).where(Delivery.notice_id == notice_id)
        if statuses:
            query = query.where(Delivery.status.in_(statuses))
        with engine.connect() as connection:
            return connection.execute(query).scalar()

    created = notify.call("publish_notice", dict(OUTAGE, severity="severe", audience={"grid_ids": list(GRIDS)}),
                          caller=STAFF)
    wait_for(lambda: written(created["id"]) > 0, message="the fan-out to start")
    cancel = notify.call("cancel_notice", created["id"], {"reason": "施工取消，正常供水。"}, caller=STAFF)
    wait_for(lambda: notify.call("get_notice", cancel["id"])["status"] == "published",
             timeout=30, message="the cancellation to go out")

    at_cancel = written(created["id"])
    assert 0 < at_cancel < 50_000  # the fan-out stopped part-way
    wait_for(lambda: written(created["id"], "pending", "held") == 0, message="dispatch to settle")
    assert notify.call("get_notice", created["id"])["status"] == "cancelled"  # not "published" by the fan-out
    # "Nothing more" needs the fan-out to have had its chance: a notice published after the cancel
    # is fanned out and sent in full, by the same loops, before the count is read again.
    later_notice = notify.call("publish_notice", dict(OUTAGE, audience={"organization_ids": ["org-property"]}),
                               caller=STAFF)
    wait_for(lambda: settled(notify, later_notice["id"]), timeout=30, message="a later notice to go out")
    assert written(created["id"]) == at_cancel
    # Only those already reached are told of the cancellation.
    assert written(cancel["id"]) == written(created["id"], "sent", "delivered")
    engine.dispose()
