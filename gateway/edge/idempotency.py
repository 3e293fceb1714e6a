"""``Idempotency-Key`` on POST: the first response to (account, key) is kept and replayed.

A POST with a key first *claims* it (an insert guarded by a unique constraint), so two copies
racing each other cannot both reach the service: the loser sees the claim and gets a 409 while
the first is still running, or the stored response once it is done. The same key with another
method, path or body is refused (422) rather than silently answered with an unrelated response.
A 5xx is not kept: the request did not happen as far as the client can tell, so a retry with the
same key must be free to try again.

Keys do not live for ever. A claim whose request died with its gateway (killed, out of memory)
is never completed nor released; after ``IDEMPOTENCY_CLAIM_SECONDS`` (by default twice the RPC
timeout, longer than any live request can run) the next request with that key takes it over
instead of getting a 409 for good. A kept response is replayed for ``IDEMPOTENCY_RETENTION_HOURS``
(24 by default, as clients retry within minutes, not days); then the key is free again and an
hourly sweep deletes the row, so the table holds about a day of POSTs. The same sweep forgets
old sign-in counts and failures (``gateway.throttle.forget_old``): the gateway's housekeeping,
once an hour in each process.
"""
import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta

import eventlet
from nameko.extensions import SharedExtension
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from gateway import throttle
from gateway.exceptions import IdempotencyKeyReused, IdempotentRequestInProgress, InvalidIdempotencyKey
from gateway.models import IdempotentRequest
from heyun.db import make_engine, transaction, utcnow
from heyun.schemas import UNSTORABLE

log = logging.getLogger(__name__)

# The columns' sizes: a longer key or path would fail the claim's insert.
MAX_KEY_LENGTH = IdempotentRequest.key.type.length     # 200
MAX_PATH_LENGTH = IdempotentRequest.path.type.length   # 500
RETENTION = timedelta(hours=24)
SWEEP_SECONDS = 3600


def body_hash(raw):
    return hashlib.sha256(raw).hexdigest()


@dataclass
class StoredResponse:
    status: int
    content_type: str
    body: str


class IdempotencyLedger:
    """The claims and stored responses, in the gateway's database."""

    def __init__(self, Session, claim_timeout, retention=RETENTION):
        self.Session = Session
        self.claim_timeout = claim_timeout
        self.retention = retention

    def claim(self, account, key, method, path, digest):
        """``None`` if this request now owns the key, else the stored first response."""
        # Checked before the insert, which would otherwise fail with a database error (a 500)
        # on a value its columns cannot hold (too long, or a NUL PostgreSQL refuses in text).
        if not key or len(key) > MAX_KEY_LENGTH or UNSTORABLE.search(key):
            raise InvalidIdempotencyKey(
                f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                {"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} printable characters."]})
        if len(path) > MAX_PATH_LENGTH:
            raise InvalidIdempotencyKey(
                f"An Idempotency-Key can be used on paths of at most {MAX_PATH_LENGTH} characters.",
                {"path": [f"At most {MAX_PATH_LENGTH} characters with an Idempotency-Key."]})
        try:
            with transaction(self.Session) as session:
                session.add(IdempotentRequest(account=account, key=key, method=method, path=path,
                                              body_hash=digest))
            return None
        except IntegrityError:
            pass
        if self._forget_expired(account, key):
            return self.claim(account, key, method, path, digest)
        with transaction(self.Session) as session:
            row = session.execute(select(IdempotentRequest).where(
                IdempotentRequest.account == account, IdempotentRequest.key == key)).scalar_one_or_none()
        if row is None:  # released between our insert and this read: claim again
            return self.claim(account, key, method, path, digest)
        if (row.method, row.path, row.body_hash) != (method, path, digest):
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for a different request.",
                {"Idempotency-Key": ["Already used with another method, path or body."]})
        if row.status is None:
            raise IdempotentRequestInProgress("A request with this Idempotency-Key is still running.")
        return StoredResponse(row.status, row.content_type, row.response_body)

    def _forget_expired(self, account, key):
        """Delete the key's row if its claim was abandoned or its response is past retention.
        One conditional DELETE, so of two requests racing for a stale key only one removes it
        and the other then sees the winner's fresh claim."""
        with transaction(self.Session) as session:
            return session.execute(delete(IdempotentRequest).where(
                IdempotentRequest.account == account, IdempotentRequest.key == key, self._expired(),
            )).rowcount > 0

    def prune(self):
        """Delete every row past retention and every abandoned claim; returns how many."""
        with transaction(self.Session) as session:
            return session.execute(delete(IdempotentRequest).where(self._expired())).rowcount

    def _expired(self):
        now = utcnow()
        return or_(IdempotentRequest.created_at < now - self.retention,
                   and_(IdempotentRequest.status.is_(None), IdempotentRequest.created_at < now - self.claim_timeout))

    def complete(self, account, key, response):
        with transaction(self.Session) as session:
            session.execute(update(IdempotentRequest).where(
                IdempotentRequest.account == account, IdempotentRequest.key == key,
            ).values(status=response.status_code, content_type=response.content_type,
                     response_body=response.get_data(as_text=True)))

    def release(self, account, key):
        with transaction(self.Session) as session:
            session.execute(delete(IdempotentRequest).where(
                IdempotentRequest.account == account, IdempotentRequest.key == key))


class IdempotencyStore(SharedExtension):
    """The ledger for the HTTP entrypoints, which run outside any worker (before one is spawned)."""

    ledger = None

    def setup(self):
        config = self.container.config
        self.engine = make_engine(config["DATABASE_URL"], pool_size=4)
        claim_timeout = float(config.get("IDEMPOTENCY_CLAIM_SECONDS")
                              or 2 * float(config.get("RPC_TIMEOUT_SECONDS", 30)))
        retention = float(config.get("IDEMPOTENCY_RETENTION_HOURS", 24))
        self.ledger = IdempotencyLedger(sessionmaker(bind=self.engine, expire_on_commit=False),
                                        timedelta(seconds=claim_timeout), timedelta(hours=retention))
        self.sign_in_rules = throttle.rules_from(config)
        self.sign_in_failure_retention = throttle.failure_retention_from(config)  # checked at start

    def start(self):
        self.container.spawn_managed_thread(self._sweep, identifier="idempotency-sweep")

    def _sweep(self):
        while True:
            eventlet.sleep(SWEEP_SECONDS)
            try:
                removed = self.ledger.prune()
                if removed:
                    log.info("idempotency: forgot %d expired keys", removed)
            except Exception:  # the database may be restarting; the next sweep catches up
                log.exception("idempotency: sweeping expired keys failed")
            try:
                counts, failures = throttle.forget_old(self.ledger.Session, self.sign_in_rules,
                                                       self.sign_in_failure_retention)
                if counts or failures:
                    log.info("sign-in: forgot %d old counts and %d old failures", counts, failures)
            except Exception:
                log.exception("sign-in: forgetting old counts and failures failed")

    def stop(self):
        self.engine.dispose()

    def kill(self):
        self.engine.dispose()
