"""The test kit's receivers (real servers on loopback, so this tier may use them): each SMTP
receiver gets its own mail, also while another is up, as the end-to-end tests' session-long one
and the gateway's are (one asyncio loop per OS thread under eventlet used to fail the second)."""
import smtplib
from email.message import EmailMessage

import requests

from heyun.testing.receivers import HttpReceiver, SmtpReceiver


def send(port, to):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "notify@heyun.example", to, "停水通知"
    message.set_content("今日9:00–17:00停水。")
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        client.send_message(message)


def test_two_smtp_receivers_at_once_each_get_their_own_mail():
    with SmtpReceiver() as first:
        with SmtpReceiver() as second:
            send(first.port, "a@wanghe.example")
            send(second.port, "b@wanghe.example")
        send(first.port, "c@wanghe.example")  # the first outlives the second
    assert [m.rcpt_tos for m in first.messages] == [["a@wanghe.example"], ["c@wanghe.example"]]
    assert [m.rcpt_tos for m in second.messages] == [["b@wanghe.example"]]
    assert first.messages[0].message["Subject"] == "停水通知"
    with SmtpReceiver() as third:  # and one started after both stopped
        send(third.port, "d@wanghe.example")
    assert len(third.messages) == 1


def test_a_refused_recipient_gets_the_code_it_was_told():
    with SmtpReceiver() as smtp:
        smtp.refuse, smtp.refuse_code = {"gone@wanghe.example"}, 550
        try:
            send(smtp.port, "gone@wanghe.example")
            raise AssertionError("the recipient was accepted")
        except smtplib.SMTPRecipientsRefused as refused:
            assert refused.recipients["gone@wanghe.example"][0] == 550
    assert smtp.messages == []


def test_the_http_receiver_records_requests_and_answers_as_scripted():
    with HttpReceiver() as http:
        http.answer_first(1, 503)
        first = requests.post(http.url + "/sms", json={"to": "13800000000"}, timeout=5)
        second = requests.post(http.url + "/sms", json={"to": "13800000001"}, timeout=5)
    assert (first.status_code, second.status_code) == (503, 200)
    assert [r.json()["to"] for r in http.requests] == ["13800000000", "13800000001"]
