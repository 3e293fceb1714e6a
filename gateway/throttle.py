"""Sign-in throttling: failed sign-ins slow down further tries, per username and per client address.

Each username and each client address has a count of failures (``sign_in_throttles``, in the
gateway's database so every gateway process sees the same count). Below a few failures nothing
happens; from then on each failure locks that username or address for a delay that doubles with
every further failure, up to a cap:

- a username: 5 failures free, then 1 s, 2 s, 4 s … capped at ``SIGN_IN_ACCOUNT_MAX_DELAY_SECONDS``
  (300: five minutes); a right password resets it. A try during the delay is refused (429 with
  ``Retry-After``) without looking at the password, a right one included, and is not counted.
- a client address: 20 failures free (an office behind one NAT makes honest mistakes), then the
  same doubling up to ``SIGN_IN_ADDRESS_MAX_DELAY_SECONDS`` (3600). A right password does not
  reset it (an attacker with an account of their own would reset it between guesses); it is
  forgotten after a day without failures.

The trade-off: anyone can lock a username by guessing wrong, since the delay is per username and
not per person. The cap keeps that to five minutes after the last wrong guess, and an attacker who
wants to keep the lock needs a wrong guess every five minutes, which their own address's growing
delay soon refuses: keeping a user locked for good takes many addresses. An admin unlocks a
username at once (``POST /api/v1/accounts/{username}/unlock``), and ``sign_in_failures`` shows
which addresses were guessing. Unknown usernames are throttled exactly like real ones, so a 429
does not tell that an account exists.

A try is counted as a failure before its password is checked, and uncounted if it was right: so
concurrent guesses (several workers, several processes) cannot all slip in under the limit.
"""
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from gateway import accounts
from gateway.exceptions import TooManyRequests, Unauthorized
from gateway.models import SignInFailure, SignInThrottle
from heyun.db import transaction, utcnow

ACCOUNT, ADDRESS = "account", "address"


@dataclass(frozen=True)
class Rule:
    free_failures: int
    max_delay_seconds: float
    forget_after: timedelta

    def delay(self, failures):
        """Seconds locked after ``failures`` failures: none for the free ones, then doubling."""
        if failures < self.free_failures:
            return 0
        return min(2.0 ** (failures - self.free_failures), self.max_delay_seconds)


def rules_from(config):
    return {
        ACCOUNT: Rule(5, float(config.get("SIGN_IN_ACCOUNT_MAX_DELAY_SECONDS", 300)), timedelta(hours=1)),
        ADDRESS: Rule(20, float(config.get("SIGN_IN_ADDRESS_MAX_DELAY_SECONDS", 3600)), timedelta(days=1)),
    }


def sign_in(Session, username, password, address, rules):
    """The active account with these credentials; ``TooManyRequests`` while the username or the
    address is locked; ``Unauthorized`` (recorded in ``sign_in_failures``) when they are wrong."""
    _count_attempt(Session, {ACCOUNT: username, ADDRESS: address}, rules)
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
        row = _locked_row(session, ADDRESS, address)
        row.failures = max(row.failures - 1, 0)
    return account


def unlock(session, username):
    """Forget the failures counted for a username (an admin's decision; the audit stays)."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.kind == ACCOUNT, SignInThrottle.key == username))


def _count_attempt(Session, keys, rules):
    now = utcnow()
    with transaction(Session) as session:
        rows = {kind: _locked_row(session, kind, key) for kind, key in keys.items()}  # always in this order
        wait = 0.0
        for kind, row in rows.items():
            if row.last_failure_at < now - rules[kind].forget_after:
                row.failures = 0
            delay = rules[kind].delay(row.failures)
            if delay:
                wait = max(wait, (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds())
        if wait > 0:
            retry_after = math.ceil(wait)
            raise TooManyRequests(
                f"Too many failed sign-ins; try again in {retry_after} s, or ask an admin to unlock the account.",
                retry_after=retry_after)
        for row in rows.values():
            row.failures += 1
            row.last_failure_at = now


def _locked_row(session, kind, key):
    """The count for ``(kind, key)``, created if missing, locked until the transaction ends."""
    make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(make(SignInThrottle.__table__).values(
        kind=kind, key=key, failures=0, last_failure_at=utcnow()).on_conflict_do_nothing())
    return session.execute(select(SignInThrottle).where(SignInThrottle.kind == kind, SignInThrottle.key == key)
                           .with_for_update()).scalar_one()


def failures(session, username=None, limit=50, offset=0):
    """``{items, total}`` of recorded wrong sign-ins, newest first."""
    where = [SignInFailure.username == username] if username else []
    total = session.execute(select(func.count()).select_from(SignInFailure).where(*where)).scalar_one()
    rows = session.execute(select(SignInFailure).where(*where)
                           .order_by(SignInFailure.failed_at.desc(), SignInFailure.id.desc())
                           .limit(limit).offset(offset)).scalars()
    return {"items": [{"username": row.username, "client_address": row.client_address,
                       "failed_at": row.failed_at.isoformat()} for row in rows], "total": total}
