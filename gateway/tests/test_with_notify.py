"""The notice routes over real HTTP: the gateway in front of a running registry (the Wanghe demo
community) and notify (its projection filled from the registry's snapshot at start), with local
SMS and SMTP receivers. Input errors at the edge, roles, notify's scope, paging filters, CAP."""
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gateway.tests.support import SMS_RECEIPT_SECRET
from heyun.testing import wait_for
from heyun.testing.clients import all_items, assert_problem
from notify.cap import validate_cap
from notify.channels.webhook import sign

PUBLISHING_ROLES_DENIED = ("canteen", "volunteer", "patrol", "resident", "gridworker1")


def later(seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()


def every(client, path, as_user, **params):
    """Every item of a list route, as ``as_user`` sees it, filtered by ``params``."""
    return all_items(client, path, as_user=as_user, **params)


@pytest.fixture
def outage(notify_platform):
    """An outage draft for the building with the most residents on floors 4 and up that have no
    smartphone, once notify's projection holds what the registry holds (checked by a preview)."""
    client = notify_platform
    buildings = every(client, "/api/v1/buildings", "staff")
    property_org = client.get("/api/v1/organizations?kind=property_management", as_user="staff").json()["items"][0]
    upstairs = {b["id"]: every(client, "/api/v1/residents", "staff", building_id=b["id"], floor_min=4)
                for b in buildings}
    building_id = max(upstairs, key=lambda b: sum("no_smartphone" in r["tags"] for r in upstairs[b]))
    # The door-to-door checks below mean something only if someone upstairs has no smartphone.
    assert any("no_smartphone" in r["tags"] for r in upstairs[building_id]), "no building to test door to door with"
    audience = {"building_ids": [building_id], "floor_min": 4, "organization_ids": [property_org["id"]]}

    def counted():
        response = client.post("/api/v1/notices/preview", as_user="waterplant", json={"audience": audience})
        return response.status_code == 200 and response.json()["residents"] == len(upstairs[building_id]) \
            and response.json()["organizations"] == 1 and response.json()
    preview = wait_for(counted, timeout=30, interval=0.3, message="notify's projection to match the registry")
    return {
        "client": client, "residents": upstairs[building_id], "building_id": building_id,
        "property_org": property_org, "preview": preview,
        "draft": {"title": "停水通知", "body": "因管网检修，今日9:00–17:00停水；4层以上水压偏低。",
                  "category": "water_outage", "severity": "Severe", "urgency": "Expected",
                  "audience": audience, "requires_ack": True, "ack_deadline": later(600)},
    }


def published(client, notice_id):
    notice = client.get(f"/api/v1/notices/{notice_id}", as_user="staff").json()
    return notice["status"] == "published" and notice["stats"]["pending"] == 0 and notice


def test_ready_when_registry_and_notify_answer(notify_platform):
    assert notify_platform.get("/readyz").json() == {"status": "ready", "down": []}


def test_ready_names_notify_when_it_is_down(registry_service, start_gateway):
    client = start_gateway(READY_SERVICES=["registry", "notify"])  # notify never started
    body = assert_problem(client.get("/readyz"), 503)
    assert body["down"] == ["notify"]


def test_the_preview_counts_per_building_and_channel(outage):
    preview, residents = outage["preview"], outage["residents"]
    assert preview["recipients"] == len(residents) + 1
    assert sum(preview["per_building"].values()) == len(residents)
    assert sum(preview["per_channel"].values()) == len(residents) + 1
    without_smartphone = sum("no_smartphone" in r["tags"] for r in residents)
    assert preview["per_channel"].get("door_to_door", 0) >= without_smartphone > 0
    # The whole draft may be previewed as is; a bad audience is a 422 naming the field.
    assert outage["client"].post("/api/v1/notices/preview", as_user="waterplant", json=outage["draft"]).json() \
        == preview
    body = assert_problem(outage["client"].post("/api/v1/notices/preview", as_user="waterplant",
                                                json={"audience": {"floor_min": 5, "floor_max": 2}}), 422)
    assert "audience.floor_min" in body["errors"]
    assert_problem(outage["client"].post("/api/v1/notices/preview", as_user="resident", json={"audience": {}}), 403)


def test_publishing_checks_input_roles_and_ids(outage):
    client, draft = outage["client"], outage["draft"]
    body = assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=dict(draft, severity="Awful")), 422)
    assert set(body["errors"]) == {"severity"}
    missing = {k: v for k, v in draft.items() if k != "ack_deadline"}
    body = assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=missing), 422)
    assert set(body["errors"]) == {"ack_deadline"}
    naive = dict(draft, ack_deadline="2030-01-01T10:00:00")  # a time without its offset is ambiguous
    assert "ack_deadline" in assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=naive), 422)["errors"]
    no_title = {k: v for k, v in draft.items() if k != "title"}
    assert "title" in assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=no_title), 422)["errors"]
    # notify's own rules come back as 422s too.
    unknown_org = dict(draft, audience=dict(draft["audience"], organization_ids=[str(uuid.uuid4())]))
    body = assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=unknown_org), 422)
    assert "audience.organization_ids" in body["errors"]
    past = dict(draft, ack_deadline="2020-01-01T10:00:00+08:00")
    assert "ack_deadline" in assert_problem(client.post("/api/v1/notices", as_user="waterplant", json=past), 422)["errors"]
    for username in PUBLISHING_ROLES_DENIED:
        assert_problem(client.post("/api/v1/notices", as_user=username, json=draft), 403)
    unknown = str(uuid.uuid4())
    assert_problem(client.get(f"/api/v1/notices/{unknown}", as_user="staff"), 404)
    assert_problem(client.get(f"/api/v1/notices/{unknown}/deliveries", as_user="staff"), 404)
    assert_problem(client.get(f"/api/v1/notices/{unknown}/cap", as_user="staff"), 404)
    assert_problem(client.post(f"/api/v1/notices/{unknown}/acknowledgements", as_user="property"), 404)
    assert_problem(client.get("/api/v1/notices?status=lost", as_user="staff"), 422)
    assert_problem(client.get("/api/v1/notices/x/deliveries?channel=pigeon", as_user="staff"), 422)


def test_a_notice_reaches_the_affected_residents_and_its_recipients_see_it(outage):
    client, draft, residents = outage["client"], outage["draft"], outage["residents"]
    key = {"Idempotency-Key": str(uuid.uuid4())}
    created = client.post("/api/v1/notices", as_user="waterplant", json=draft, headers=key)
    assert created.status_code == 201, created.text
    assert set(created.json()) >= {"id", "status"}
    again = client.post("/api/v1/notices", as_user="waterplant", json=draft, headers=dict(key))
    assert again.status_code == 201 and again.json() == created.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    notice_id = created.json()["id"]
    notice = wait_for(lambda: published(client, notice_id), timeout=30, interval=0.2, message="the fan-out")
    assert notice["title"] == draft["title"] and notice["severity"] == "Severe"
    assert notice["stats"]["recipients"] == len(residents) + 1

    # Deliveries, filtered: one per resident, door to door for those without a smartphone.
    path = f"/api/v1/notices/{notice_id}/deliveries"
    to_residents = every(client, path, "waterplant", recipient_type="resident")
    assert sorted(d["recipient_id"] for d in to_residents) == sorted(r["id"] for r in residents)
    door = every(client, path, "waterplant", channel="door_to_door")
    no_phone = {r["id"] for r in residents if "no_smartphone" in r["tags"]}
    assert no_phone and no_phone <= {d["recipient_id"] for d in door}
    assert {d["channel"] for d in door} == {"door_to_door"} and all(d["assignee"] for d in door)
    in_building = every(client, path, "waterplant", building_id=outage["building_id"])
    assert len(in_building) == len(residents)
    orgs = every(client, path, "waterplant", recipient_type="organization")
    assert [(d["recipient_id"], d["channel"]) for d in orgs] == [(outage["property_org"]["id"], "email")]
    assert every(client, path, "waterplant", status="failed") == []
    assert len(every(client, "/api/v1/notices", "staff", category="water_outage")) >= 1
    assert every(client, "/api/v1/notices", "staff", msg_type="Cancel", category="water_outage") == []

    # Property management finds it in its inbox and acknowledges it (an empty body is enough).
    inbox = client.get("/api/v1/me/notices", as_user="property").json()
    assert notice_id in {n["id"] for n in inbox["items"]}
    assert not next(n for n in inbox["items"] if n["id"] == notice_id)["acknowledged"]
    assert [d["recipient_type"] for d in every(client, path, "property")] == ["organization"]  # its own only
    ack = client.post(f"/api/v1/notices/{notice_id}/acknowledgements", as_user="property")
    assert ack.status_code == 201, ack.text
    # A repeat (a second tap, a retry without an Idempotency-Key) answers the acknowledgement that
    # stands, with its time, and is no new one.
    again = client.post(f"/api/v1/notices/{notice_id}/acknowledgements", as_user="property")
    assert again.status_code == 200, again.text
    assert again.json() == ack.json()
    inbox = client.get("/api/v1/me/notices", as_user="property").json()
    assert next(n for n in inbox["items"] if n["id"] == notice_id)["acknowledged"]

    # A grid worker sees the door-to-door tasks and records a hand-over.
    task = door[0]
    tasks = every(client, "/api/v1/me/door-to-door-tasks", task["assignee"])
    mine = [t for t in tasks if t["notice_id"] == notice_id]
    assert {t["recipient_id"] for t in mine} == {d["recipient_id"] for d in door if d["assignee"] == task["assignee"]}
    assert mine[0]["recipient"]["floor"] >= 4 and mine[0]["notice_title"] == draft["title"]
    handed = client.post(f"/api/v1/notices/{notice_id}/acknowledgements", as_user=task["assignee"],
                         json={"resident_id": task["recipient_id"]})
    assert handed.status_code == 201, handed.text
    handed_again = client.post(f"/api/v1/notices/{notice_id}/acknowledgements", as_user=task["assignee"],
                               json={"resident_id": task["recipient_id"]})
    assert (handed_again.status_code, handed_again.json()) == (200, handed.json())
    assert task["recipient_id"] not in {t["recipient_id"] for t in every(
        client, "/api/v1/me/door-to-door-tasks", task["assignee"]) if t["notice_id"] == notice_id}
    assert_problem(client.get("/api/v1/me/door-to-door-tasks", as_user="property"), 403)
    stats = client.get(f"/api/v1/notices/{notice_id}", as_user="staff").json()["stats"]
    assert stats["acknowledged"] == 2
    assert stats["recipients"] == sum(stats[k] for k in ("pending", "held", "sent", "delivered", "acknowledged",
                                                          "failed", "cancelled"))

    # Someone it does not concern does not learn it exists.
    assert_problem(client.get(f"/api/v1/notices/{notice_id}", as_user="canteen"), 404)

    # The CAP export.
    cap = client.get(f"/api/v1/notices/{notice_id}/cap", as_user="waterplant")
    assert cap.status_code == 200, cap.text
    assert cap.headers["Content-Type"].startswith("application/cap+xml")
    assert validate_cap(cap.content) == []


def test_update_and_cancel_reference_the_notice(outage):
    client, draft = outage["client"], dict(outage["draft"], requires_ack=False, ack_deadline=None)
    notice_id = client.post("/api/v1/notices", as_user="waterplant", json=draft).json()["id"]
    wait_for(lambda: published(client, notice_id), timeout=30, interval=0.2, message="the fan-out")
    update = client.post(f"/api/v1/notices/{notice_id}/updates", as_user="waterplant",
                         json={"title": "停水时间调整", "body": "改为10:00–16:00。"})
    assert update.status_code == 201, update.text
    assert update.json()["references_id"] == notice_id
    assert_problem(client.post(f"/api/v1/notices/{notice_id}/updates", as_user="waterplant", json={"title": "x"}), 422)
    # Property management received it but did not issue it; the police were not even told of it.
    assert_problem(client.post(f"/api/v1/notices/{notice_id}/cancellation", as_user="property",
                               json={"reason": "不是你的通知"}), 403)
    assert_problem(client.post(f"/api/v1/notices/{notice_id}/cancellation", as_user="police",
                               json={"reason": "不是你的通知"}), 404)
    cancel = client.post(f"/api/v1/notices/{notice_id}/cancellation", as_user="waterplant", json={"reason": "检修取消"})
    assert cancel.status_code == 201, cancel.text
    assert cancel.json()["references_id"] == notice_id
    assert client.get(f"/api/v1/notices/{notice_id}", as_user="staff").json()["status"] == "cancelled"
    assert_problem(client.post(f"/api/v1/notices/{notice_id}/cancellation", as_user="waterplant",
                               json={"reason": "again"}), 409)
    kinds = {n["msg_type"] for n in every(client, "/api/v1/notices", "waterplant")}
    assert {"Alert", "Update", "Cancel"} <= kinds


def test_the_event_catalogue_holds_registry_and_notify_events(notify_platform):
    document = notify_platform.get("/api/v1/events/catalogue", as_user="staff").json()
    assert document["asyncapi"].startswith("3.") and document["x-services"] == ["registry", "notify"]
    messages = document["components"]["messages"]
    assert {"resident_registered", "notice_published", "notice_escalated"} <= set(messages)
    assert {"registry.resident_registered", "notify.notice_published"} <= set(document["channels"])
    for channel in document["channels"].values():
        (ref,) = [message["$ref"] for message in channel["messages"].values()]
        assert ref.rsplit("/", 1)[-1] in messages
    for operation in document["operations"].values():
        assert operation["channel"]["$ref"].rsplit("/", 1)[-1] in document["channels"]


def test_the_openapi_document_describes_the_notice_routes(gateway):
    document = gateway.get("/api/v1/openapi.json", as_user="staff").json()
    paths = document["paths"]
    assert {"/api/v1/notices", "/api/v1/notices/preview", "/api/v1/notices/{notice_id}",
            "/api/v1/notices/{notice_id}/deliveries", "/api/v1/notices/{notice_id}/acknowledgements",
            "/api/v1/notices/{notice_id}/updates", "/api/v1/notices/{notice_id}/cancellation",
            "/api/v1/notices/{notice_id}/cap", "/api/v1/me/notices", "/api/v1/me/door-to-door-tasks"} <= set(paths)
    assert {"NoticeCreate", "Notice", "NoticeStats", "Delivery", "Preview"} <= set(document["components"]["schemas"])
    assert "application/cap+xml" in paths["/api/v1/notices/{notice_id}/cap"]["get"]["responses"]["200"]["content"]
    assert {p["name"] for p in paths["/api/v1/notices/{notice_id}/deliveries"]["get"]["parameters"]} >= {
        "notice_id", "status", "channel", "recipient_type", "building_id", "limit", "offset"}
    assert paths["/api/v1/notices/{notice_id}/acknowledgements"]["post"]["requestBody"]["required"] is False


def test_a_correction_reaches_the_recipients_of_the_notice(outage):
    client, draft = outage["client"], dict(outage["draft"], requires_ack=False, ack_deadline=None)
    notice_id = client.post("/api/v1/notices", as_user="waterplant", json=draft).json()["id"]
    original = wait_for(lambda: published(client, notice_id), timeout=30, interval=0.2, message="the fan-out")
    update = client.post(f"/api/v1/notices/{notice_id}/updates", as_user="waterplant",
                         json={"title": "停水时间调整", "body": "改为10:00–16:00。"}).json()
    corrected = wait_for(lambda: published(client, update["id"]), timeout=10, interval=0.2,
                         message="the correction's fan-out")
    assert corrected["stats"]["recipients"] == original["stats"]["recipients"]


def test_the_sms_gateway_reports_delivery_through_a_signed_receipt(outage):
    client = outage["client"]
    resident = next(r for r in outage["residents"] if r.get("phone") and "no_smartphone" not in r["tags"])
    changed = client.patch(f"/api/v1/residents/{resident['id']}", as_user="staff", json={"preferred_channel": "sms"})
    assert changed.status_code == 200, changed.text
    audience = {"resident_ids": [resident["id"]]}
    wait_for(lambda: client.post("/api/v1/notices/preview", as_user="staff", json={"audience": audience})
             .json()["per_channel"] == {"sms": 1}, timeout=30, message="notify to learn the resident prefers SMS")
    draft = {key: value for key, value in outage["draft"].items() if key not in ("requires_ack", "ack_deadline")}
    notice = client.post("/api/v1/notices", as_user="staff", json=dict(draft, audience=audience)).json()
    wait_for(lambda: published(client, notice["id"]), timeout=30, message="the SMS to be sent")
    [sms] = client.get(f"/api/v1/notices/{notice['id']}/deliveries?channel=sms", as_user="staff").json()["items"]
    assert sms["status"] == "sent"

    def post(body, secret=SMS_RECEIPT_SECRET, content_type="application/json"):
        return client.post("/api/v1/notify/sms-receipts", data=body.encode("utf-8"), headers={
            "Content-Type": content_type, "X-Heyun-Signature": sign(secret, body)})

    body = json.dumps({"receipts": [{"reference": sms["id"], "status": "delivered"}]})
    assert_problem(post(body, secret="not-the-secret"), 401)
    assert_problem(post(body, content_type="text/plain"), 415)
    assert_problem(post('{"receipts": ['), 400)
    assert "receipts.0.status" in json.dumps(assert_problem(
        post(json.dumps({"receipts": [{"reference": sms["id"], "status": "lost"}]})), 422)["errors"])
    assert client.get(f"/api/v1/notices/{notice['id']}/deliveries?channel=sms", as_user="staff") \
        .json()["items"][0]["status"] == "sent"  # nothing refused changed anything

    answer = post(body)  # no bearer token: the signature is the SMS gateway's credential
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"delivered": 1, "failed": 0, "unchanged": 0, "unknown": 0}
    assert post(body).json()["unchanged"] == 1  # its retry changes nothing
    [after] = client.get(f"/api/v1/notices/{notice['id']}/deliveries?channel=sms", as_user="staff").json()["items"]
    assert after["status"] == "delivered"
