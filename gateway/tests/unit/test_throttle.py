"""Sign-in throttling's arithmetic and its counting, with no broker and no database server: the
doubling delays and their caps, what a client address is counted as, and the lock itself on a
SQLite copy of the gateway's schema."""
from datetime import timedelta

import pytest

from gateway import throttle
from gateway.exceptions import TooManyRequests, Unauthorized
from heyun.db import make_engine, make_sessionmaker

RULE = throttle.Rule(free_failures=5, max_delay_seconds=300, forget_after=timedelta(hours=1))


@pytest.mark.parametrize("failures, delay", [(0, 0), (4, 0), (5, 1), (6, 2), (9, 16), (13, 256), (14, 300), (60, 300)])
def test_the_delay_doubles_after_the_free_failures_up_to_its_cap(failures, delay):
    assert RULE.delay(failures) == delay


def test_a_count_is_kept_until_forgotten_or_its_longest_lock_is_over():
    assert RULE.kept_for == timedelta(hours=1)
    assert throttle.Rule(20, 7200, timedelta(hours=1)).kept_for == timedelta(hours=2)


def test_the_rules_come_from_the_configuration_with_their_defaults():
    defaults = throttle.rules_from({})
    assert (defaults["account"].free_failures, defaults["account"].max_delay_seconds) == (5, 300)
    assert (defaults["address"].free_failures, defaults["address"].max_delay_seconds) == (20, 3600)
    tuned = throttle.rules_from({"SIGN_IN_ADDRESS_FREE_FAILURES": "50", "SIGN_IN_FIRST_DELAY_SECONDS": "2"})
    assert tuned["address"].free_failures == 50 and tuned["account"].delay(5) == 2


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),                        # IPv4 written as IPv6: the same client
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),            # an IPv6 subscriber: its whole /64
    ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),                            # a zone id says nothing about who
    ("unix-socket", "unix-socket"),
])
def test_a_client_address_is_counted_as_itself_or_its_ipv6_network(address, key):
    assert throttle.address_key(address) == key


def test_a_username_is_locked_after_its_free_failures_unknown_ones_alike(sqlite_database):
    engine = make_engine(sqlite_database("gateway"))
    Session = make_sessionmaker(engine, "gateway")
    rules = throttle.rules_from({"SIGN_IN_FIRST_DELAY_SECONDS": 60})  # no lock runs out mid-test
    try:
        for attempt in range(5):  # free: each one a plain wrong password
            with pytest.raises(Unauthorized):
                throttle.sign_in(Session, "nobody", "guess", f"192.0.2.{attempt}", rules)
        with pytest.raises(TooManyRequests) as locked:
            throttle.sign_in(Session, "nobody", "guess", "198.51.100.1", rules)
        assert locked.value.retry_after == 60 and "ask an admin" in str(locked.value)
        with pytest.raises(Unauthorized):  # another username from the same addresses is not locked
            throttle.sign_in(Session, "somebody", "guess", "192.0.2.0", rules)
    finally:
        engine.dispose()
