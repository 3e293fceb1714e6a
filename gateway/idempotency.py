"""``Idempotency-Key`` on POST: the first response to (account, key) is kept and replayed.

A POST with a key first *claims* it (an insert guarded by a unique constraint), so two copies
racing each other cannot both reach the service: the loser sees the claim and gets a 409 while
the first is still running, or the stored response once it is done. The same key with another
method, path or body is refused (422) rather than silently answered with an unrelated response.
A 5xx is not kept: the request did not happen as far as the client can tell, so a retry with the
same key must be free to try again.
"""
import hashlib
from dataclasses import dataclass

from nameko.extensions import SharedExtension
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from gateway.exceptions import IdempotencyKeyReused, IdempotentRequestInProgress
from gateway.models import IdempotentRequest
from heyun.db import make_engine, transaction
from sqlalchemy.orm import sessionmaker

MAX_KEY_LENGTH = 200


def body_hash(raw):
    return hashlib.sha256(raw).hexdigest()


@dataclass
class StoredResponse:
    status: int
    content_type: str
    body: str


class IdempotencyLedger:
    """The claims and stored responses, in the gateway's database."""

    def __init__(self, Session):
        self.Session = Session

    def claim(self, account, key, method, path, digest):
        """``None`` if this request now owns the key, else the stored first response."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyReused(
                "The Idempotency-Key must be 1 to 200 characters.",
                {"Idempotency-Key": ["Must be 1 to 200 characters."]})
        try:
            with transaction(self.Session) as session:
                session.add(IdempotentRequest(account=account, key=key, method=method, path=path,
                                              body_hash=digest))
            return None
        except IntegrityError:
            pass
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
        self.engine = make_engine(self.container.config["DATABASE_URL"], pool_size=4)
        self.ledger = IdempotencyLedger(sessionmaker(bind=self.engine, expire_on_commit=False))

    def stop(self):
        self.engine.dispose()

    def kill(self):
        self.engine.dispose()
