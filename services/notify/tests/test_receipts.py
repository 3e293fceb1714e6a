"""SMS delivery receipts: signed by the SMS gateway, idempotent, a failed one falls back."""
import json
import time

import pytest

from heyun.errors import BadSignature, InvalidInput
from heyun.testing import wait_for
from notify.channels.webhook import sign
from notify.tests.support import OUTAGE, WATER_PLANT, deliveries, settled

SECRET = "receipt-secret-for-tests"


def post_receipts(notify, receipts, secret=SECRET, timestamp=None):
    body = json.dumps({"receipts": receipts})
    return notify.call("record_sms_receipts", body, sign(secret, body, timestamp), caller=None)


def sms_delivery(notify):
    created = notify.call("publish_notice", OUTAGE, caller=WATER_PLANT)
    wait_for(lambda: settled(notify, created["id"]), message="the notice to be sent")
    [sms] = [d for d in deliveries(notify, created["id"]) if d["channel"] == "sms"]
    assert sms["status"] == "sent"  # the SMS gateway took it; the handset has not said so yet
    return created["id"], sms


def test_a_delivered_receipt_marks_the_sms_delivered_once(start_notify):
    notify = start_notify(SMS_RECEIPT_SECRET=SECRET)
    notice_id, sms = sms_delivery(notify)
    receipt = {"reference": sms["id"], "status": "delivered", "at": "2026-11-28T09:00:05+08:00"}
    assert post_receipts(notify, [receipt, {"reference": "no-such-delivery", "status": "delivered"}]) == {
        "delivered": 1, "failed": 0, "unchanged": 0, "unknown": 1}
    [after] = [d for d in deliveries(notify, notice_id) if d["id"] == sms["id"]]
    assert after["status"] == "delivered" and after["delivered_at"].startswith("2026-11-28T01:00:05")
    # The gateway retries a receipt it is unsure we got: nothing changes.
    assert post_receipts(notify, [receipt])["unchanged"] == 1
    stats = notify.call("get_notice", notice_id)["stats"]
    assert stats["delivered"] >= 1 and sum(stats[k] for k in (
        "pending", "held", "sent", "delivered", "acknowledged", "failed", "cancelled")) == stats["recipients"]


def test_a_failed_receipt_falls_back_to_the_residents_next_channel(start_notify):
    notify = start_notify(SMS_RECEIPT_SECRET=SECRET)
    notice_id, sms = sms_delivery(notify)
    post_receipts(notify, [{"reference": sms["id"], "status": "failed", "detail": "handset unreachable"}])
    mine = [d for d in deliveries(notify, notice_id) if d["recipient_id"] == sms["recipient_id"]]
    failed = next(d for d in mine if d["id"] == sms["id"])
    assert failed["status"] == "failed" and "handset unreachable" in failed["last_error"]
    [fallback] = [d for d in mine if d["fallback_of"] == sms["id"]]
    assert fallback["channel"] != "sms"


def test_unsigned_stale_or_malformed_receipts_are_refused_and_change_nothing(start_notify):
    notify = start_notify(SMS_RECEIPT_SECRET=SECRET)
    notice_id, sms = sms_delivery(notify)
    receipt = [{"reference": sms["id"], "status": "delivered"}]
    with pytest.raises(BadSignature):
        post_receipts(notify, receipt, secret="someone-else")
    with pytest.raises(BadSignature):  # a captured request replayed an hour later
        post_receipts(notify, receipt, timestamp=time.time() - 3600)
    body = json.dumps({"receipts": receipt})
    for header in (f"t=²,v1={'a' * 64}", f"t={int(time.time())},v1=é", "v1=", "t=1", "", "t=,v1=,,=="):
        with pytest.raises(BadSignature):  # garbage from the sender is refused, not a crash
            notify.call("record_sms_receipts", body, header, caller=None)
    with pytest.raises(InvalidInput) as error:
        post_receipts(notify, [{"reference": sms["id"], "status": "read"}])
    assert set(error.value.errors) == {"receipts.0.status"}
    [after] = [d for d in deliveries(notify, notice_id) if d["id"] == sms["id"]]
    assert after["status"] == "sent"
