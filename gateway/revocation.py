"""Tokens revoked by a change to their account: a deactivation, a new password, other roles.

A token carries the whole caller so that a request needs no database read; the price would be that
a deactivated account keeps working until its token expires. Instead, each gateway process keeps
the accounts changed within the last token lifetime (a handful of rows: older changes outlive
every token) and refreshes that list every ``TOKEN_REVOCATION_REFRESH_SECONDS`` (5). A request
then checks its token against memory, and every replica refuses a revoked token within seconds.
"""
import logging
from datetime import timedelta

import eventlet
from nameko.extensions import SharedExtension
from sqlalchemy import select

from gateway.models import Account
from heyun.db import make_engine, utcnow

log = logging.getLogger(__name__)


class TokenRevocations(SharedExtension):
    """``revoked(account, issued_at)`` for the HTTP entrypoints (they run before any worker)."""

    def setup(self):
        config = self.container.config
        self.engine = make_engine(config["DATABASE_URL"], pool_size=1)
        self.refresh_seconds = float(config.get("TOKEN_REVOCATION_REFRESH_SECONDS", 5))
        self.token_lifetime = timedelta(seconds=float(config.get("TOKEN_TTL_SECONDS", 3600)))
        self.valid_after = {}  # username -> unix time before which its tokens are refused

    def start(self):
        self.refresh()  # before the first request: a restart must not forget a revocation
        self.container.spawn_managed_thread(self._keep_fresh, identifier="token-revocations")

    def revoked(self, account, issued_at):
        return issued_at < self.valid_after.get(account, float("-inf"))

    def refresh(self):
        since = utcnow() - self.token_lifetime
        with self.engine.connect() as connection:
            rows = connection.execute(select(Account.username, Account.tokens_valid_after).where(
                Account.tokens_valid_after > since)).all()
        self.valid_after = {username: moment.timestamp() for username, moment in rows}

    def _keep_fresh(self):
        while True:
            eventlet.sleep(self.refresh_seconds)
            try:
                self.refresh()
            except Exception:  # the database may be restarting: keep the last list, try again
                log.exception("token revocations: refreshing the list failed")

    def stop(self):
        self.engine.dispose()

    def kill(self):
        self.engine.dispose()
