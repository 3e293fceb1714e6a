"""Failed sign-ins slow down further tries, per username and per client address, in every gateway
process sharing the database; an admin unlocks a username; the failures are kept for the audit."""
import time

from gateway.tests.conftest import PASSWORD
from gateway.tests.test_http import assert_problem

TOKEN = "/api/v1/auth/token"


def sign_in(client, username, password, **kwargs):
    return client.post(TOKEN, json={"username": username, "password": password}, **kwargs)


def test_wrong_passwords_lock_the_username_until_an_admin_unlocks_it(gateway):
    gateway.token("admin"), gateway.token("volunteer")  # signed in before the attack
    statuses = [sign_in(gateway, "staff", f"guess{n}").status_code for n in range(12)]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}, statuses
    locked = sign_in(gateway, "staff", PASSWORD)  # the right password, during the lock
    body = assert_problem(locked, 429)
    assert int(locked.headers["Retry-After"]) >= 1 and "admin" in body["detail"]

    assert_problem(gateway.post("/api/v1/accounts/staff/unlock", as_user="volunteer"), 403)
    assert_problem(gateway.post("/api/v1/accounts/nobody/unlock", as_user="admin"), 404)
    unlocked = gateway.post("/api/v1/accounts/staff/unlock", as_user="admin")
    assert unlocked.status_code == 200 and unlocked.json() == {"username": "staff", "unlocked": True}
    assert sign_in(gateway, "staff", PASSWORD).status_code == 200

    audit = gateway.get("/api/v1/sign-in-failures?username=staff", as_user="admin")
    assert audit.status_code == 200
    assert audit.json()["total"] == 5  # the wrong passwords checked; the refused tries were not
    assert audit.json()["items"][0].keys() == {"username", "client_address", "failed_at"}
    assert audit.json()["items"][0]["client_address"] == "127.0.0.1"
    assert "guess" not in audit.text
    assert_problem(gateway.get("/api/v1/sign-in-failures", as_user="volunteer"), 403)


def test_the_delay_grows_with_each_further_failure(gateway):
    for n in range(5):
        assert sign_in(gateway, "staff", "wrong").status_code == 401
    first = sign_in(gateway, "staff", "wrong")
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert sign_in(gateway, "staff", "wrong").status_code == 401  # the sixth guess, after the wait
    second = sign_in(gateway, "staff", "wrong")
    assert second.status_code == 429 and second.headers["Retry-After"] == "2"


def test_a_right_password_starts_the_username_afresh(gateway):
    for n in range(4):
        assert sign_in(gateway, "staff", "wrong").status_code == 401
    assert sign_in(gateway, "staff", PASSWORD).status_code == 200
    for n in range(4):
        assert sign_in(gateway, "staff", "wrong").status_code == 401


def test_unknown_usernames_are_throttled_like_real_ones(gateway):
    statuses = [sign_in(gateway, "nobody-here", "wrong").status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2


def test_one_address_trying_many_usernames_is_throttled(gateway):
    statuses = [sign_in(gateway, f"user{n}", "wrong").status_code for n in range(22)]
    assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 2
    assert sign_in(gateway, "staff", PASSWORD).status_code == 429  # that address, any username


def test_the_count_is_shared_by_every_gateway_process(start_gateway):
    first, second = start_gateway(), start_gateway()  # two processes, one database
    for client in (first, second, first, second, first):
        assert sign_in(client, "staff", "wrong").status_code == 401
    assert sign_in(second, "staff", "wrong").status_code == 429


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(start_gateway):
    direct = start_gateway()
    admin = {"Authorization": f"Bearer {direct.token('admin')}"}
    # Anyone can send the header: a new address in it each time does not escape the address count.
    statuses = [sign_in(direct, f"user{n}", "wrong", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(21)]
    assert statuses[-1] == 429
    behind_proxy = start_gateway(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")  # nginx here, a balancer in 10/8
    forwarded = {"X-Forwarded-For": "198.51.100.9, 10.1.2.3"}
    assert sign_in(behind_proxy, "admin", "wrong", headers=forwarded).status_code == 401
    assert sign_in(behind_proxy, "admin", PASSWORD, headers=forwarded).status_code == 200
    audit = behind_proxy.get("/api/v1/sign-in-failures?username=admin", headers=admin).json()
    assert [item["client_address"] for item in audit["items"]] == ["198.51.100.9"]
    audit = behind_proxy.get("/api/v1/sign-in-failures?username=user0", headers=admin).json()
    assert [item["client_address"] for item in audit["items"]] == ["127.0.0.1"]


def test_openapi_documents_throttling_and_unlock(gateway):
    paths = gateway.get("/api/v1/openapi.json", as_user="admin").json()["paths"]
    assert {"401", "429"} <= set(paths["/api/v1/auth/token"]["post"]["responses"])
    assert "/api/v1/accounts/{username}/unlock" in paths and "/api/v1/sign-in-failures" in paths
