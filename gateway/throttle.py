"""Sign-in throttling: failed sign-ins slow down further tries, per username and per client address.

Each username and each client address has a count of failures (``sign_in_throttles``, in the
gateway's database so every gateway process sees the same count). Below a few failures nothing
happens; from then on each failure locks that username or address for a delay that doubles with
every further failure, up to a cap:

- a username: 5 failures free, then 1 s, 2 s, 4 s … capped at ``SIGN_IN_ACCOUNT_MAX_DELAY_SECONDS``
  (300: five minutes); a right password resets it. A try during the delay is refused (429 with
  ``Retry-After``) without looking at the password, a right one included, and is not counted.
- a client address: ``SIGN_IN_ADDRESS_FREE_FAILURES`` (20) failures free (an office behind one
  NAT makes honest mistakes), then the same doubling up to ``SIGN_IN_ADDRESS_MAX_DELAY_SECONDS``
  (3600). A right password does not reset it (an attacker with an account of their own would
  reset it between guesses); it is forgotten after a day without failures. An IPv6 client is
  counted by its /64 network (``address_key``): one subscriber gets a whole /64, and would
  otherwise have a fresh allowance for each of its addresses.

The first delay is ``SIGN_IN_FIRST_DELAY_SECONDS`` (1) for both. A 429 says which is locked: only
a username's lock is one an admin can lift.

The trade-off: anyone can lock a username by guessing wrong, since the delay is per username and
not per person. The cap keeps that to five minutes after the last wrong guess, and an attacker who
wants to keep the lock needs a wrong guess every five minutes, which their own address's growing
delay soon refuses: keeping a user locked for good takes many addresses. An admin unlocks a
username at once (``POST /api/v1/accounts/{username}/unlock``), and ``sign_in_failures`` shows
which addresses were guessing. Unknown usernames are throttled exactly like real ones, so a 429
does not tell that an account exists.

A try is counted as a failure before its password is checked, and uncounted if it was right: so
concurrent guesses (several workers, several processes) cannot all slip in under the limit.

Neither table grows for ever: the gateway's hourly sweep (``gateway.edge.idempotency``) calls
``forget_old``, which deletes the counts past their forget window (one is kept per username
tried, unknown ones too) and the failures older than ``SIGN_IN_FAILURE_RETENTION_DAYS`` (90).
"""
import math
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import ip_address, ip_network

from sqlalchemy import delete, func, select

from gateway import accounts
from gateway.exceptions import TooManyRequests, Unauthorized
from gateway.models import SignInFailure, SignInThrottle
from heyun.config import days_setting
from heyun.db import conflict_insert, transaction, utcnow

ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class Rule:
    free_failures: int
    max_delay_seconds: float
    forget_after: timedelta
    first_delay_seconds: float = 1.0

    def delay(self, failures):
        """Seconds locked after ``failures`` failures: none for the free ones, then doubling."""
        if failures < self.free_failures:
            return 0
        return min(self.first_delay_seconds * 2.0 ** (failures - self.free_failures), self.max_delay_seconds)

    @property
    def kept_for(self):
        """How long a count matters: until it is forgotten, or its longest lock is over."""
        return max(self.forget_after, timedelta(seconds=self.max_delay_seconds))


def rules_from(config):
    first = float(config.get("SIGN_IN_FIRST_DELAY_SECONDS") or 1)
    return {
        ACCOUNT: Rule(5, float(config.get("SIGN_IN_ACCOUNT_MAX_DELAY_SECONDS", 300)), timedelta(hours=1), first),
        ADDRESS: Rule(int(config.get("SIGN_IN_ADDRESS_FREE_FAILURES") or 20),
                      float(config.get("SIGN_IN_ADDRESS_MAX_DELAY_SECONDS", 3600)), timedelta(days=1), first),
    }


def address_key(address):
    """What a client address is counted as: an IPv4 address as it is (also written as IPv6,
    ``::ffff:192.0.2.1``), an IPv6 address as its /64 network; anything else as given."""
    try:
        ip = ip_address(address.split("%", 1)[0])  # a zone id (fe80::1%eth0) says nothing about who
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.version == 6:
        return str(ip_network(f"{ip}/64", strict=False))
    return str(ip)


def sign_in(Session, username, password, address, rules):
    """The active account with these credentials; ``TooManyRequests`` while the username or the
    address is locked; ``Unauthorized`` (recorded in ``sign_in_failures``) when they are wrong."""
    _count_attempt(Session, {ACCOUNT: username, ADDRESS: address_key(address)}, rules)
    try:
        with transaction(Session) as session:
            account = accounts.authenticate(session, username, password)
    except Unauthorized:
        with transaction(Session) as session:
            session.add(SignInFailure(username=username, client_address=address, failed_at=utcnow()))
        raise
    with transaction(Session) as session:  # it was no failure: the username starts afresh
        session.execute(delete(SignInThrottle).where(SignInThrottle.kind == ACCOUNT,
                                                     SignInThrottle.key == username))
        row = _locked_row(session, ADDRESS, address_key(address))
        row.failures = max(row.failures - 1, 0)
    return account


def unlock(session, username):
    """Forget the failures counted for a username (an admin's decision; the audit stays)."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.kind == ACCOUNT, SignInThrottle.key == username))


def _count_attempt(Session, keys, rules):
    now = utcnow()
    with transaction(Session) as session:
        rows = {kind: _locked_row(session, kind, key) for kind, key in keys.items()}  # always in this order
        waits = {}
        for kind, row in rows.items():
            if row.last_failure_at < now - rules[kind].forget_after:
                row.failures = 0
            delay = rules[kind].delay(row.failures)
            if delay:
                waits[kind] = (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds()
        wait = max(waits.values(), default=0)
        if wait > 0:
            retry_after = math.ceil(wait)
            if waits.get(ADDRESS, 0) > 0:  # an admin's unlock lifts a username's lock, not this
                detail = f"Too many failed sign-ins from your address; try again in {retry_after} s."
            else:
                detail = (f"Too many failed sign-ins for this username; try again in {retry_after} s, "
                          "or ask an admin to unlock the account.")
            raise TooManyRequests(detail, retry_after=retry_after)
        for row in rows.values():
            row.failures += 1
            row.last_failure_at = now


def _locked_row(session, kind, key):
    """The count for ``(kind, key)``, created if missing, locked until the transaction ends."""
    session.execute(conflict_insert(session, SignInThrottle.__table__).values(
        kind=kind, key=key, failures=0, last_failure_at=utcnow()).on_conflict_do_nothing())
    return session.execute(select(SignInThrottle).where(SignInThrottle.kind == kind, SignInThrottle.key == key)
                           .with_for_update()).scalar_one()


def forget_old(Session, rules, failure_retention, now=None):
    """Delete the counts whose lock is over and that are past their forget window (a later try
    would start from zero anyway), and the failures older than ``failure_retention``: the
    usernames tried (often a password typed into the wrong field) and addresses are personal
    data, kept only as long as the audit needs them. Returns ``(counts, failures)`` deleted."""
    now = now or utcnow()
    with transaction(Session) as session:
        counts = sum(session.execute(delete(SignInThrottle).where(
            SignInThrottle.kind == kind, SignInThrottle.last_failure_at < now - rule.kept_for)).rowcount
            for kind, rule in rules.items())
        failures = session.execute(delete(SignInFailure).where(
            SignInFailure.failed_at < now - failure_retention)).rowcount
    return counts, failures


def failure_retention_from(config):
    """``SIGN_IN_FAILURE_RETENTION_DAYS`` (90) as a timedelta, checked at the gateway's start."""
    return timedelta(days=days_setting(config, "SIGN_IN_FAILURE_RETENTION_DAYS", 90))


def failures(session, username=None, limit=50, offset=0):
    """``{items, total}`` of recorded wrong sign-ins, newest first."""
    where = [SignInFailure.username == username] if username else []
    total = session.execute(select(func.count()).select_from(SignInFailure).where(*where)).scalar_one()
    rows = session.execute(select(SignInFailure).where(*where)
                           .order_by(SignInFailure.failed_at.desc(), SignInFailure.id.desc())
                           .limit(limit).offset(offset)).scalars()
    return {"items": [{"username": row.username, "client_address": row.client_address,
                       "failed_at": row.failed_at.isoformat()} for row in rows], "total": total}
