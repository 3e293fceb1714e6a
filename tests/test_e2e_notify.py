"""The notify issue's "Done when": the water outage story, through the gateway, with every service a
real process on the Wanghe demo data (see ``conftest.py``; notify sends to local SMS and SMTP
receivers and checks for missed acknowledgements every second).

July 2021: the water plant cut the supply to some buildings and forgot to tell property
management; nobody told the residents; above the 4th floor the pressure stayed too weak. Here the
water plant announces it, property management must acknowledge (30 minutes in the story, seconds
here) and is escalated when it does not, the residents of floors 4 and up get one delivery each on
the channel they can receive, and the grid workers carry it to those without a smartphone.
"""
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from notify.cap import validate_cap
from heyun.testing import wait_for
from heyun.testing.clients import all_items

pytestmark = pytest.mark.e2e

ACK_SECONDS = 8  # the acknowledgement deadline, from the POST
# A recipient counts once, by its best delivery; held (quiet hours) is apart from pending (sent now).
STANDINGS = ("cancelled", "failed", "held", "pending", "sent", "delivered", "acknowledged")
RANK = {status: rank for rank, status in enumerate(STANDINGS, start=1)}


def ok(response, status=200):
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.text}"
    return response.json()


@pytest.fixture(scope="module")
def story(platform):
    """The outage announced by the water plant, once notify's projection knows the community."""
    staff, waterplant = platform.client("staff"), platform.client("waterplant")
    buildings = all_items(staff, "/buildings")
    grids = {g["id"]: g for g in all_items(staff, "/grids")}
    property_org = ok(staff.get("/organizations", params={"kind": "property_management"}))["items"][0]

    # Floors 4 and up of one building per grid (the one with the most residents without a
    # smartphone up there), so every grid worker has a part in the story.
    upstairs = {b["id"]: all_items(staff, "/residents", building_id=b["id"], floor_min=4) for b in buildings}
    chosen = {}
    for building in buildings:
        best = chosen.get(building["grid_id"])
        count = sum("no_smartphone" in r["tags"] for r in upstairs[building["id"]])
        if best is None or count > best[1]:
            chosen[building["grid_id"]] = (building["id"], count)
    building_ids = sorted(b for b, _ in chosen.values())
    affected = {r["id"]: r for b in building_ids for r in upstairs[b]}
    assert len(chosen) == len(grids) == 4 and all(count > 0 for _, count in chosen.values())

    audience = {"building_ids": building_ids, "floor_min": 4, "organization_ids": [property_org["id"]]}

    # notify learns the community from registry events or its snapshot of the registry at start:
    # the preview shows when it knows everyone this notice concerns.
    def knows_everyone():
        preview = ok(waterplant.post("/notices/preview", json={"audience": audience}))
        return preview["residents"] == len(affected) and preview["organizations"] == 1 and preview
    preview = wait_for(knows_everyone, 120, interval=0.25, message="notify's projection to hold the affected residents")

    deadline = datetime.now(timezone.utc) + timedelta(seconds=ACK_SECONDS)
    created = ok(waterplant.post("/notices", json={
        "title": "停水通知：管网检修",
        "body": "因供水管网检修，今日9:00–17:00停水；恢复供水后4层及以上水压偏低，请提前储水。",
        "title_en": "Water outage: mains repair",
        "body_en": "Water is off 9:00–17:00 today; afterwards the pressure stays low on floors 4 and up.",
        # A supply cut for whole buildings is severe, which also keeps the door-to-door tasks from
        # waiting for 07:00 when this runs in the quiet hours.
        "category": "water_outage", "severity": "Severe", "urgency": "Immediate", "certainty": "Observed",
        "audience": audience, "requires_ack": True, "ack_deadline": deadline.isoformat(),
    }), 201)
    assert created["id"] and created["status"] in ("publishing", "published")
    notice_id = created["id"]

    def published():
        notice = ok(staff.get(f"/notices/{notice_id}"))
        return notice["status"] == "published" and notice
    wait_for(published, 60, interval=0.25, message="the fan-out to finish")
    return {"platform": platform, "id": notice_id, "affected": affected, "preview": preview,
            "property_org": property_org, "building_ids": building_ids, "grids": grids}


def deliveries(client, notice_id, **filters):
    return all_items(client, f"/notices/{notice_id}/deliveries", **filters)


def test_the_preview_showed_who_would_be_reached(story):
    preview, affected = story["preview"], story["affected"]
    assert preview["recipients"] == len(affected) + 1
    assert sum(preview["per_building"].values()) == len(affected)
    no_phone = sum("no_smartphone" in r["tags"] for r in affected.values())
    assert preview["per_channel"]["door_to_door"] == no_phone
    assert preview["per_channel"]["in_app"] == len(affected) - no_phone


def test_exactly_the_affected_residents_get_one_delivery_each_on_the_right_channel(story):
    waterplant = story["platform"].client("waterplant")
    items = deliveries(waterplant, story["id"], recipient_type="resident")
    by_resident = defaultdict(list)
    for d in items:
        by_resident[d["recipient_id"]].append(d)
    assert set(by_resident) == set(story["affected"])
    assert all(len(ds) == 1 for ds in by_resident.values()), "a resident got more than one delivery"
    for resident_id, (d,) in by_resident.items():
        resident = story["affected"][resident_id]
        expected = "door_to_door" if "no_smartphone" in resident["tags"] else "in_app"
        assert d["channel"] == expected, (resident, d)
        assert d["building_id"] == resident["building_id"]
        assert d["status"] != "failed", d
    # The filters agree with the whole listing.
    door = deliveries(waterplant, story["id"], channel="door_to_door")
    assert {d["recipient_id"] for d in door} == {
        r for r, res in story["affected"].items() if "no_smartphone" in res["tags"]}
    for building_id in story["building_ids"]:
        assert len(deliveries(waterplant, story["id"], building_id=building_id)) == sum(
            r["building_id"] == building_id for r in story["affected"].values())


def test_grid_workers_see_their_door_to_door_tasks_and_record_the_hand_over(story):
    platform, notice_id = story["platform"], story["id"]
    door = deliveries(platform.client("staff"), notice_id, channel="door_to_door")
    by_worker = defaultdict(set)
    for d in door:
        by_worker[d["assignee"]].add(d["recipient_id"])
    # Each grid's own worker carries its residents' notices.
    workers = {w["account"] for g in story["grids"].values() for w in g["workers"]}
    assert set(by_worker) == {f"gridworker{n}" for n in range(1, 5)} and set(by_worker) <= workers
    for account, residents in sorted(by_worker.items()):
        worker = platform.client(account)
        tasks = [t for t in all_items(worker, "/me/door-to-door-tasks") if t["notice_id"] == notice_id]
        assert {t["recipient_id"] for t in tasks} == residents
        assert all(t["recipient"]["floor"] >= 4 and t["notice_title"] for t in tasks)
        for task in tasks:
            ok(worker.post(f"/notices/{notice_id}/acknowledgements", json={"resident_id": task["recipient_id"]}), 201)
        left = [t for t in all_items(worker, "/me/door-to-door-tasks") if t["notice_id"] == notice_id]
        assert left == []
    assert {d["status"] for d in deliveries(platform.client("staff"), notice_id, channel="door_to_door")} == {
        "acknowledged"}


def test_property_management_misses_the_deadline_and_is_escalated(story, channel_receivers):
    platform, notice_id = story["platform"], story["id"]
    staff, property_ = platform.client("staff"), platform.client("property")
    # Property management was told (its inbox has it) but does not acknowledge.
    inbox = all_items(property_, "/me/notices")
    assert notice_id in {n["id"] for n in inbox}

    def escalated():
        notice = ok(staff.get(f"/notices/{notice_id}"))
        return notice["escalated_at"] and notice
    notice = wait_for(escalated, ACK_SECONDS + 30, interval=0.25, message="the missed acknowledgement to escalate")
    assert datetime.fromisoformat(notice["escalated_at"]) >= datetime.fromisoformat(notice["ack_deadline"])

    # Staff are told…
    warnings = [n for n in all_items(staff, "/me/notices") if n.get("references_id") == notice_id]
    assert len(warnings) == 1 and warnings[0]["title"].startswith("【未确认】")
    # …and property management is sent the notice again on its next channel.
    org_id = story["property_org"]["id"]
    to_property = deliveries(staff, notice_id, recipient_type="organization")
    assert {d["recipient_id"] for d in to_property} == {org_id}
    channels = [d["channel"] for d in to_property]
    assert len(channels) == 2 and len(set(channels)) == 2 and "in_app" in channels, channels
    # The first channel was real e-mail to its contacts, through the SMTP server.
    _, smtp = channel_receivers
    emails = story["property_org"].get("contacts") and [c["email"] for c in story["property_org"]["contacts"] if c.get("email")]
    assert emails and any(set(emails) & set(m.rcpt_tos) for m in smtp.messages)


def test_the_stats_add_up_and_match_the_deliveries(story):
    staff, notice_id = story["platform"].client("staff"), story["id"]

    def settled():
        notice = ok(staff.get(f"/notices/{notice_id}"))
        return notice["stats"]["pending"] == 0 and notice
    stats = wait_for(settled, 30, interval=0.25, message="every delivery to leave pending")["stats"]
    parts = STANDINGS
    assert stats["recipients"] == sum(stats[p] for p in parts)
    assert stats["recipients"] == len(story["affected"]) + 1

    best = {}
    for d in deliveries(staff, notice_id):
        key = (d["recipient_type"], d["recipient_id"])
        best[key] = max(best.get(key, 0), RANK[d["status"]])
    counted = {name: 0 for name in parts}
    for rank in best.values():
        counted[STANDINGS[rank - 1]] += 1
    assert {p: stats[p] for p in parts} == counted
    assert len(best) == stats["recipients"]


def test_the_cap_export_validates(story):
    response = story["platform"].client("waterplant").get(f"/notices/{story['id']}/cap")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] in ("application/cap+xml", "application/xml")
    assert validate_cap(response.content) == []
    assert "停水通知" in response.content.decode("utf-8")
