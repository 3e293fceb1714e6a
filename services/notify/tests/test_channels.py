"""The channels against real receivers: an HTTP server standing in for the SMS gateway and the
organisations' webhook endpoints, and an SMTP server. What is checked is what the other end sees."""
import logging
import socket
import time
import uuid

import pytest

from notify.channels import (DELIVERY_HEADER, SIGNATURE_HEADER, DoorToDoorChannel, EmailChannel,
                             InAppChannel, Outcome, SmsChannel, WebhookChannel, build_channels,
                             sign, verify_signature)

from heyun.netguard import OutboundGuard

from heyun.testing.receivers import HttpReceiver, SmtpReceiver

SECRET = "test-webhook-secret"
# The receivers listen on loopback, which webhooks may reach only when the configuration says so.
LOOPBACK_ALLOWED = OutboundGuard("127.0.0.1/32")
TITLE = "停水通知"
BODY = "因施工，7月5日8:00至18:00 3号楼、5号楼停水，4层及以上水压不足，请提前储水。"


def delivery(channel, address, **fields):
    return {"id": str(uuid.uuid4()), "notice_id": str(uuid.uuid4()), "recipient_type": "resident",
            "recipient_id": str(uuid.uuid4()), "channel": channel, "address": address,
            "title": TITLE, "body": BODY, "language": "zh-CN", "severity": "Moderate",
            "category": "water_outage", **fields}


@pytest.fixture
def receiver():
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def smtp_server():
    with SmtpReceiver() as server:
        yield server


@pytest.fixture
def sms(receiver):
    channel = SmsChannel(receiver.url + "/sms", token="gw-token", timeout=2, concurrency=16)
    yield channel
    channel.close()


@pytest.fixture
def webhook():
    channel = WebhookChannel(SECRET, timeout=2, guard=LOOPBACK_ALLOWED)
    yield channel
    channel.close()


# -- in-app and door to door ------------------------------------------------------------------

def test_in_app_is_delivered_at_once():
    batch = [delivery("in_app", None), delivery("in_app", None)]
    outcomes = InAppChannel().send(batch)
    assert [(o.delivery_id, o.status) for o in outcomes] == [(d["id"], "delivered") for d in batch]


def test_door_to_door_is_sent_when_a_grid_worker_is_assigned_and_fails_without_one():
    assigned, orphan = delivery("door_to_door", "gw-lina"), delivery("door_to_door", None)
    first, second = DoorToDoorChannel().send([assigned, orphan])
    assert first.status == "sent"
    assert second == Outcome(orphan["id"], "failed", "no grid worker for this dwelling", False)


# -- SMS ------------------------------------------------------------------------------------

def test_sms_reaches_the_gateway_with_the_phone_and_chinese_text(receiver, sms):
    item = delivery("sms", "13812345678")
    [outcome] = sms.send([item])

    assert outcome.status == "sent" and outcome.delivery_id == item["id"]
    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/sms"
    assert request.headers["Authorization"] == "Bearer gw-token"
    assert request.json() == {"to": "13812345678", "text": f"{TITLE}\n{BODY}",
                              "reference": item["id"]}
    # The Chinese travels as UTF-8 text, not \u escapes.
    assert TITLE.encode("utf-8") in request.body


def test_sms_never_logs_the_phone_number_unmasked(receiver, sms, caplog):
    receiver.status = 500
    with caplog.at_level(logging.DEBUG, logger="notify"):
        [outcome] = sms.send([delivery("sms", "13812345678")])
    assert outcome.status == "failed"
    assert "138****5678" in caplog.text
    assert "13812345678" not in caplog.text and "13812345678" not in outcome.detail


def test_sms_server_error_is_a_retryable_failure_and_a_client_error_is_not(receiver, sms):
    receiver.answer_first(1, 500)
    receiver.answer_first(1, 400)
    first, second, third = sms.send([delivery("sms", "13812345678")]) + \
        sms.send([delivery("sms", "13812345678")]) + sms.send([delivery("sms", "13812345678")])

    assert (first.status, first.retryable, first.detail) == ("failed", True, "HTTP 500 Internal Server Error")
    assert (second.status, second.retryable) == ("failed", False)
    assert second.detail.startswith("HTTP 400")
    assert third.status == "sent"  # the gateway recovered: the same channel works again


def test_sms_invalid_number_fails_without_a_request(receiver, sms):
    outcomes = sms.send([delivery("sms", None), delivery("sms", "not-a-phone")])
    assert [(o.status, o.retryable) for o in outcomes] == [("failed", False), ("failed", False)]
    assert receiver.requests == []


def test_sms_gateway_that_hangs_gives_a_retryable_timeout_within_the_timeout(receiver):
    receiver.hang = True
    channel = SmsChannel(receiver.url, timeout=0.5)
    started = time.monotonic()
    [outcome] = channel.send([delivery("sms", "13812345678")])
    elapsed = time.monotonic() - started
    channel.close()

    assert (outcome.status, outcome.retryable, outcome.detail) == ("failed", True, "timeout after 0.5s")
    assert elapsed < 0.5 + 1.0


def test_sms_gateway_down_is_a_retryable_connection_error(receiver):
    url = receiver.url
    receiver.stop()
    channel = SmsChannel(url, timeout=1)
    [outcome] = channel.send([delivery("sms", "13812345678")])
    receiver.start()  # for the fixture's teardown
    assert outcome.status == "failed" and outcome.retryable
    assert outcome.detail.startswith("connection error")


def test_a_batch_of_200_sms_is_sent_concurrently_over_kept_alive_connections(receiver):
    receiver.latency = 0.05
    channel = SmsChannel(receiver.url, concurrency=16, timeout=5)
    batch = [delivery("sms", f"138{n:08d}") for n in range(200)]
    outcomes = channel.send(batch)
    channel.close()

    assert [o.delivery_id for o in outcomes] == [d["id"] for d in batch]  # one each, in order
    assert all(o.status == "sent" for o in outcomes)
    assert sorted(r.json()["to"] for r in receiver.requests) == sorted(d["address"] for d in batch)
    # Concurrency shown by counts: the gateway saw many requests at once, never more than the
    # bound; serially this batch would take 200 × 50 ms = 10 s.
    assert 8 <= receiver.peak_in_flight <= 16
    # Keep-alive: the pool reused its connections instead of opening one per message.
    assert len(receiver.connections) <= 16


# -- webhooks -------------------------------------------------------------------------------

def test_webhook_body_is_signed_and_the_signature_verifies(receiver, webhook):
    item = delivery("webhook", receiver.url + "/hooks/heyun?token=abc", recipient_type="organization")
    [outcome] = webhook.send([item])

    assert outcome.status == "delivered"
    [request] = receiver.requests
    assert request.path == "/hooks/heyun?token=abc"
    assert request.headers[DELIVERY_HEADER] == item["id"]
    assert request.json() == {"delivery_id": item["id"], "notice_id": item["notice_id"],
                              "title": TITLE, "body": BODY, "category": "water_outage",
                              "severity": "Moderate", "language": "zh-CN"}
    header = request.headers[SIGNATURE_HEADER]
    assert verify_signature(SECRET, header, request.body)
    # What an integrator must reject: a changed body, the wrong secret, a stale replay.
    tampered = request.body.replace("停水".encode(), "供水".encode())
    assert not verify_signature(SECRET, header, tampered)
    assert not verify_signature("another-secret", header, request.body)
    assert not verify_signature(SECRET, header, request.body, now=time.time() + 301)


def test_verify_signature_accepts_any_listed_signature_and_rejects_malformed_headers():
    body = b'{"title":"x"}'
    good = sign(SECRET, body, timestamp=1_700_000_000)
    rotated = sign("old-secret", body, timestamp=1_700_000_000) + "," + good.split(",")[1]
    assert verify_signature(SECRET, rotated, body, now=1_700_000_100)
    for header in ("", "garbage", "t=1700000000", "v1=abc", "t=soon,v1=abc"):
        assert not verify_signature(SECRET, header, body, now=1_700_000_000)


def test_webhook_answers_map_to_retryable_or_not(receiver, webhook):
    receiver.answer_first(1, 503)
    receiver.answer_first(1, 404)
    receiver.answer_first(1, 429)
    outcomes = [webhook.send([delivery("webhook", receiver.url)])[0] for _ in range(3)]
    assert [(o.detail.split()[1], o.retryable) for o in outcomes] == [
        ("503", True), ("404", False), ("429", True)]


def test_webhook_invalid_url_fails_without_retry(webhook):
    outcomes = webhook.send([delivery("webhook", None), delivery("webhook", "ftp://example.org/x")])
    assert [(o.status, o.retryable, o.detail) for o in outcomes] == [
        ("failed", False, "invalid webhook url")] * 2


def test_webhook_failure_detail_does_not_reveal_the_url(receiver, webhook):
    receiver.hang = True
    channel = WebhookChannel(SECRET, timeout=0.3, guard=LOOPBACK_ALLOWED)
    [outcome] = channel.send([delivery("webhook", receiver.url + "/hook?token=s3cret")])
    channel.close()
    assert outcome.retryable and "s3cret" not in outcome.detail


def test_a_webhook_aimed_inside_fails_without_a_request(receiver):
    """Loopback (as a name, an address, IPv4-mapped IPv6), private, metadata and unspecified
    addresses: each refused before connecting, not retried (the next channel takes over)."""
    channel = WebhookChannel(SECRET, timeout=2)  # the default: public addresses only
    port = receiver.url.rsplit(":", 1)[1]
    urls = [receiver.url + "/hook", f"http://localhost:{port}/hook", f"http://[::ffff:127.0.0.1]:{port}/hook",
            "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/",
            "https://0.0.0.0/hook"]
    outcomes = channel.send([delivery("webhook", url, recipient_type="organization") for url in urls])
    channel.close()
    assert receiver.requests == []
    assert [(o.status, o.retryable) for o in outcomes] == [("failed", False)] * len(urls)
    assert [o.detail.split(" is ")[1].split(";")[0] for o in outcomes] == [
        "a loopback address", "a loopback address (127.0.0.1)", "a loopback address", "a private address",
        "a cloud metadata address", "a cloud metadata address", "an unspecified address"]
    assert outcomes[0].detail.startswith("refused: 127.0.0.1 is a loopback address")


def test_a_webhook_to_an_allowed_network_is_sent_but_metadata_never(receiver):
    channel = WebhookChannel(SECRET, timeout=2, guard=OutboundGuard("127.0.0.0/8, 169.254.0.0/16"))
    sent, metadata = channel.send([delivery("webhook", receiver.url + "/hook"),
                                   delivery("webhook", "http://169.254.169.254/latest/meta-data/")])
    channel.close()
    assert sent.status == "delivered" and len(receiver.requests) == 1
    assert (metadata.status, metadata.retryable) == ("failed", False) and "metadata" in metadata.detail


def test_a_webhook_host_allowed_by_name_is_sent(receiver):
    port = receiver.url.rsplit(":", 1)[1]
    channel = WebhookChannel(SECRET, timeout=2, guard=OutboundGuard("LocalHost"))
    [outcome] = channel.send([delivery("webhook", f"http://localhost:{port}/hook")])
    channel.close()
    assert outcome.status == "delivered" and len(receiver.requests) == 1


def test_the_connection_goes_to_the_address_checked_and_a_name_now_inside_is_refused(receiver):
    """A name checked when it was given (public then) that DNS now answers with 127.0.0.1 is
    refused on sending; allowed, the request goes to the very address checked, with no second
    lookup (hooks.water.example resolves nowhere but in this resolver)."""
    port = int(receiver.url.rsplit(":", 1)[1])

    def dns(host, port, family=0, kind=0):  # what a DNS server under someone else's control may answer
        assert host == "hooks.water.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    url = f"http://hooks.water.example:{port}/hook"
    refusing = WebhookChannel(SECRET, timeout=2, guard=OutboundGuard(resolver=dns))
    allowing = WebhookChannel(SECRET, timeout=2, guard=OutboundGuard("127.0.0.1/32", resolver=dns))
    [refused] = refusing.send([delivery("webhook", url)])
    assert receiver.requests == []
    assert (refused.status, refused.retryable) == ("failed", False)
    assert refused.detail.startswith("refused: hooks.water.example is a loopback address (127.0.0.1)")
    [sent] = allowing.send([delivery("webhook", url)])
    assert sent.status == "delivered" and receiver.requests[0].headers["Host"] == f"hooks.water.example:{port}"
    refusing.close()
    allowing.close()


# -- email ----------------------------------------------------------------------------------

def test_email_arrives_with_utf8_subject_and_body_for_every_contact(smtp_server):
    channel = EmailChannel("127.0.0.1", smtp_server.port, sender="notices@wanghe.heyun")
    item = delivery("email", ["ops@water-plant.example", "duty@property.example"],
                    recipient_type="organization")
    [outcome] = channel.send([item])

    assert outcome.status == "sent"
    [mail] = smtp_server.messages
    assert mail.mail_from == "notices@wanghe.heyun"
    assert mail.rcpt_tos == ["ops@water-plant.example", "duty@property.example"]
    assert mail.message["Subject"] == TITLE
    assert mail.message["X-Heyun-Delivery"] == item["id"]
    assert mail.message.get_content().strip() == BODY


def test_email_batch_uses_one_message_per_delivery(smtp_server):
    channel = EmailChannel("127.0.0.1", smtp_server.port)
    batch = [delivery("email", [f"org{n}@example.org"], title=f"通知 {n}") for n in range(5)]
    outcomes = channel.send(batch)
    assert [o.status for o in outcomes] == ["sent"] * 5
    assert sorted(m.message["Subject"] for m in smtp_server.messages) == [f"通知 {n}" for n in range(5)]
    assert all(m.mail_from == "notices@heyun.local" for m in smtp_server.messages)


def test_email_refusals_permanent_temporary_and_invalid_addresses(smtp_server):
    smtp_server.refuse = {"gone@example.org"}
    channel = EmailChannel("127.0.0.1", smtp_server.port)
    permanent, invalid, fine = channel.send([
        delivery("email", ["gone@example.org"]),
        delivery("email", ["not an address"]),
        delivery("email", ["ok@example.org"]),
    ])
    assert (permanent.status, permanent.retryable) == ("failed", False)
    assert permanent.detail.startswith("SMTP 550")
    assert (invalid.status, invalid.retryable) == ("failed", False)
    assert fine.status == "sent"  # the session survived the refusal

    smtp_server.refuse_code = 450
    [temporary] = channel.send([delivery("email", ["gone@example.org"])])
    assert (temporary.status, temporary.retryable) == ("failed", True)


def test_email_with_some_contacts_refused_is_sent_to_the_others(smtp_server):
    smtp_server.refuse = {"gone@example.org"}
    channel = EmailChannel("127.0.0.1", smtp_server.port)
    [outcome] = channel.send([delivery("email", ["gone@example.org", "ok@example.org"])])
    assert outcome.status == "sent" and "refused by 1 of 2" in outcome.detail
    assert smtp_server.messages[0].rcpt_tos == ["ok@example.org"]


def test_email_relay_down_fails_the_batch_retryably(smtp_server):
    port = smtp_server.port
    smtp_server.stop()
    channel = EmailChannel("127.0.0.1", port, timeout=1)
    outcomes = channel.send([delivery("email", ["a@example.org"]), delivery("email", ["b@example.org"])])
    smtp_server.start()
    assert [(o.status, o.retryable) for o in outcomes] == [("failed", True)] * 2


# -- configuration --------------------------------------------------------------------------

def test_build_channels_from_config(receiver, smtp_server):
    channels = build_channels({
        "SMS_GATEWAY_URL": receiver.url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port),
        "WEBHOOK_SECRET": SECRET, "CHANNEL_TIMEOUT_SECONDS": "3", "CHANNEL_CONCURRENCY": "4",
    })
    assert set(channels) == {"in_app", "sms", "email", "webhook", "door_to_door"}
    assert (channels["sms"].timeout, channels["sms"].concurrency) == (3.0, 4)
    assert channels["email"].sender == "notices@heyun.local"
    assert channels["sms"].send([delivery("sms", "13812345678")])[0].status == "sent"
    assert channels["email"].send([delivery("email", ["a@example.org"])])[0].status == "sent"
    for channel in channels.values():
        channel.close()


def test_unconfigured_channels_fail_over_instead_of_refusing_to_start():
    channels = build_channels({})
    assert set(channels) == {"in_app", "sms", "email", "webhook", "door_to_door"}
    [outcome] = channels["sms"].send([delivery("sms", "13812345678")])
    assert (outcome.status, outcome.retryable) == ("failed", False)
    assert "SMS_GATEWAY_URL" in outcome.detail
