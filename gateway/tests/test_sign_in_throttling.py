"""Failed sign-ins slow down further tries, per username and per client address, in every gateway
process sharing the database; an admin unlocks a username; the failures are kept for the audit."""
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import sessionmaker

from gateway import throttle
from gateway.models import SignInFailure, SignInThrottle
from gateway.tests.support import PASSWORD
from heyun.testing.clients import assert_problem
from heyun.db import make_engine, utcnow

TOKEN = "/api/v1/auth/token"
# A first lock of a minute, not a second: the try after the last free failure is refused however
# slowly a loaded machine sends it.
SLOW = {"SIGN_IN_FIRST_DELAY_SECONDS": 60}


@pytest.fixture
def gateway(start_gateway):
    return start_gateway(**SLOW)


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


def test_the_delay_grows_with_each_further_failure(gateway, gateway_db):
    for n in range(5):
        assert sign_in(gateway, "staff", "wrong").status_code == 401
    first = sign_in(gateway, "staff", "wrong")
    assert first.status_code == 429 and 50 < int(first.headers["Retry-After"]) <= 60
    engine = make_engine(gateway_db, pool_size=1)  # the minute passes, without waiting for it
    with engine.begin() as connection:
        connection.execute(text("UPDATE sign_in_throttles SET last_failure_at = last_failure_at - interval '61 s'"))
    engine.dispose()
    assert sign_in(gateway, "staff", "wrong").status_code == 401  # the sixth guess, after the wait
    second = sign_in(gateway, "staff", "wrong")
    assert second.status_code == 429 and 110 < int(second.headers["Retry-After"]) <= 120


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
    locked = sign_in(gateway, "staff", PASSWORD)  # that address, any username
    detail = assert_problem(locked, 429)["detail"]
    # An admin's unlock would not help: the answer does not send the user to one.
    assert "your address" in detail and "admin" not in detail and "unlock" not in detail


def test_the_count_is_shared_by_every_gateway_process(start_gateway):
    first, second = start_gateway(**SLOW), start_gateway(**SLOW)  # two processes, one database
    for client in (first, second, first, second, first):
        assert sign_in(client, "staff", "wrong").status_code == 401
    assert sign_in(second, "staff", "wrong").status_code == 429


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(start_gateway):
    direct = start_gateway(**SLOW)
    admin = {"Authorization": f"Bearer {direct.token('admin')}"}
    # Anyone can send the header: a new address in it each time does not escape the address count.
    statuses = [sign_in(direct, f"user{n}", "wrong", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(21)]
    assert statuses[-1] == 429
    behind_proxy = start_gateway(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8", **SLOW)  # nginx here, a balancer in 10/8
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


@pytest.mark.parametrize("address, key", [
    ("2001:db8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::ffff", "2001:db8:1:2::/64"),      # the same /64: the same count
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"), ("192.0.2.7", "192.0.2.7"),  # IPv4, however written
    ("unknown", "unknown"),
])
def test_an_ipv6_client_is_counted_by_its_64_network(address, key):
    assert throttle.address_key(address) == key


def test_an_ipv6_client_cannot_take_a_fresh_allowance_from_each_address(start_gateway):
    behind_proxy = start_gateway(TRUSTED_PROXIES="127.0.0.1", **SLOW)
    statuses = [sign_in(behind_proxy, f"user{n}", "wrong",
                        headers={"X-Forwarded-For": f"2001:db8:7:7::{n + 1:x}"}).status_code for n in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


def test_old_counts_and_failures_are_forgotten(gateway_db):
    engine = make_engine(gateway_db, pool_size=1)
    Session = sessionmaker(bind=engine)
    now = utcnow()
    rules = throttle.rules_from({})  # a username forgotten after 1 h, an address after a day
    with engine.begin() as connection:
        connection.execute(insert(SignInThrottle), [
            {"kind": "account", "key": "forgotten", "failures": 7, "last_failure_at": now - timedelta(hours=2)},
            {"kind": "account", "key": "recent", "failures": 7, "last_failure_at": now - timedelta(minutes=30)},
            {"kind": "address", "key": "192.0.2.1", "failures": 30, "last_failure_at": now - timedelta(hours=2)},
            {"kind": "address", "key": "192.0.2.2", "failures": 30, "last_failure_at": now - timedelta(days=2)},
        ])
        connection.execute(insert(SignInFailure), [
            {"username": "old", "client_address": "192.0.2.1", "failed_at": now - timedelta(days=91)},
            {"username": "kept", "client_address": "192.0.2.1", "failed_at": now - timedelta(days=89)},
        ])
    assert throttle.forget_old(Session, rules, timedelta(days=90)) == (2, 1)
    with engine.connect() as connection:
        counts = connection.execute(select(SignInThrottle.key).order_by(SignInThrottle.key)).scalars().all()
        failures = connection.execute(select(SignInFailure.username)).scalars().all()
    engine.dispose()
    assert counts == ["192.0.2.1", "recent"] and failures == ["kept"]


@pytest.mark.parametrize("value", ["ninety", "0", "-5", "1.5"])
def test_a_bad_failure_retention_stops_the_start(value):
    with pytest.raises(SystemExit, match="SIGN_IN_FAILURE_RETENTION_DAYS"):
        throttle.failure_retention_from({"SIGN_IN_FAILURE_RETENTION_DAYS": value})
    assert throttle.failure_retention_from({}) == timedelta(days=90)
