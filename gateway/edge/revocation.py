"""Which tokens still speak for someone: revoked by a change to their account (a deactivation, a
new password, other roles), and refused when their account does not exist or is inactive.

A token carries the whole caller so that a request needs no database read; the price would be that
a deactivated account keeps working until its token expires, and that a token signed for an
account that never existed (with a leaked or default secret) is believed. Instead, each gateway
process keeps in memory the usernames of the active accounts (tens to thousands of short rows)
and the accounts changed within the last token lifetime (a handful: older changes outlive every
token), and refreshes both every ``TOKEN_REVOCATION_REFRESH_SECONDS`` (5). A request then checks
its token against memory, and every replica refuses a revoked token within seconds.

An account unknown here in a token issued after the last refresh may be new (created and signed
in on another replica): the lists are read again at once, so its token works at once. A token
issued before the last refresh for an unknown account is refused without a database read. (Only a
holder of the token secret can make a token, so no one else can make the gateway read often.)
"""
import logging
import time
from datetime import timedelta

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import SharedExtension
from sqlalchemy import select

from gateway.models import Account
from heyun.db import make_engine, utcnow

log = logging.getLogger(__name__)
# How far apart the gateway processes' clocks may be: a token issued by another process up to this
# long before our last refresh may still name an account that refresh did not see.
CLOCK_SKEW_SECONDS = 2.0


class TokenRevocations(SharedExtension):
    """``revoked(account, issued_at)`` and ``active(account)`` for the HTTP entrypoints (they run
    before any worker)."""

    def setup(self):
        config = self.container.config
        self.engine = make_engine(config["DATABASE_URL"], pool_size=1)
        self.refresh_seconds = float(config.get("TOKEN_REVOCATION_REFRESH_SECONDS", 5))
        self.token_lifetime = timedelta(seconds=float(config.get("TOKEN_TTL_SECONDS", 3600)))
        self.valid_after = {}  # username -> unix time before which its tokens are refused
        self.active_accounts = frozenset()
        self.refreshed_at = float("-inf")  # unix time when the last refresh began
        self._refreshing = Semaphore()

    def start(self):
        self.refresh()  # before the first request: a restart must not forget a revocation
        self.container.spawn_managed_thread(self._keep_fresh, identifier="token-revocations")

    def revoked(self, account, issued_at):
        return issued_at < self.valid_after.get(account, float("-inf"))

    def active(self, account, issued_at):
        """Whether ``account`` names an active account. An account unknown here, in a token issued
        after the last refresh (give or take clock skew), may be new: the lists are read again."""
        if account in self.active_accounts:
            return True
        with self._refreshing:  # concurrent misses share the database's one connection
            if account not in self.active_accounts and issued_at > self.refreshed_at - CLOCK_SKEW_SECONDS:
                self._refresh()
        return account in self.active_accounts

    def refresh(self):
        with self._refreshing:
            self._refresh()

    def _refresh(self):
        began = time.time()
        since = utcnow() - self.token_lifetime
        with self.engine.connect() as connection:
            rows = connection.execute(select(Account.username, Account.tokens_valid_after).where(
                Account.tokens_valid_after > since)).all()
            active = connection.execute(select(Account.username).where(Account.active.is_(True))).scalars().all()
        self.valid_after = {username: moment.timestamp() for username, moment in rows}
        self.active_accounts = frozenset(active)
        self.refreshed_at = began

    def _keep_fresh(self):
        while True:
            eventlet.sleep(self.refresh_seconds)
            try:
                self.refresh()
            except Exception:  # the database may be restarting: keep the last lists, try again
                log.exception("token revocations: refreshing the lists failed")

    def stop(self):
        self.engine.dispose()

    def kill(self):
        self.engine.dispose()
