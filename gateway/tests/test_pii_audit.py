"""The personal-data audit trail through the gateway: a staff member's unmasked read of a
resident's phone is in `GET /api/v1/audit/pii-access` for admins (who, whose, which fields,
which route, when), and nobody else may read it."""
from datetime import datetime, timedelta, timezone

from heyun.testing.clients import assert_problem


def test_an_admin_sees_who_revealed_a_residents_phone(platform):
    started = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat()
    resident = platform.get("/api/v1/residents?limit=1&tag=elderly", as_user="staff").json()["items"][0]
    seen = platform.get(f"/api/v1/residents/{resident['id']}", as_user="staff").json()
    assert "*" not in (seen["phone"] or "*")  # staff sees it unmasked: that is what gets audited

    response = platform.get("/api/v1/audit/pii-access", as_user="admin",
                            params={"account": "staff", "resident_id": resident["id"], "from": started})
    assert response.status_code == 200, response.text
    body = response.json()
    reads = [item for item in body["items"] if item["route"] == "GET /api/v1/residents/{resident_id}"]
    assert len(reads) == 1, body
    (read,) = reads
    assert read["account"] == "staff" and read["subject_type"] == "resident"
    assert read["subject_id"] == resident["id"]
    assert "phone" in read["fields"]
    at = datetime.fromisoformat(read["at"])
    assert abs(datetime.now(timezone.utc) - at) < timedelta(minutes=1)
    # The list read that found the resident is audited under its own route.
    listed = platform.get("/api/v1/audit/pii-access", as_user="admin",
                          params={"account": "staff", "from": started, "limit": 500}).json()["items"]
    assert any(item["route"] == "GET /api/v1/residents" for item in listed)
    # The log names people by id; it holds no ID or phone numbers.
    assert seen["phone"] not in response.text and seen["id_number"] not in response.text

    later = platform.get("/api/v1/audit/pii-access", as_user="admin",
                         params={"resident_id": resident["id"],
                                 "from": (datetime.now(timezone.utc) + timedelta(minutes=5)).isoformat()}).json()
    assert (later["items"], later["total"], later["total_estimated"]) == ([], 0, False)


def test_only_admins_read_the_audit_log(platform):
    for user in ("staff", "gridworker1", "resident"):
        assert_problem(platform.get("/api/v1/audit/pii-access", as_user=user), 403)
    assert_problem(platform.get("/api/v1/audit/pii-access"), 401)


def test_bad_filters_name_the_field(platform):
    body = assert_problem(platform.get("/api/v1/audit/pii-access?from=yesterday", as_user="admin"), 422)
    assert "from" in str(body)
