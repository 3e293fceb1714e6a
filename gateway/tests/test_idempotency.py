"""Idempotency-Key over time: a claim whose request died is taken over, a kept response is
forgotten after its retention, and the sweep empties the table of both."""
import json
import uuid
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from gateway.edge.idempotency import IdempotencyLedger, body_hash
from gateway.models import IdempotentRequest, utcnow
from heyun.testing.clients import assert_problem
from heyun.db import make_engine, transaction


def age(url, account, key, by):
    """Move a key's row back in time, as if it had been written ``by`` ago."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(update(IdempotentRequest).where(
            IdempotentRequest.account == account, IdempotentRequest.key == key,
        ).values(created_at=utcnow() - by))
    engine.dispose()


def test_a_key_whose_request_died_is_taken_over_after_the_claim_timeout(platform, gateway_db):
    # A gateway killed mid-request leaves its claim behind: no status, never released.
    key = str(uuid.uuid4())
    engine = make_engine(gateway_db)
    body = {"name": f"测试社会组织 {key[:6]}", "kind": "social_organization"}
    with engine.begin() as connection:
        connection.execute(IdempotentRequest.__table__.insert().values(
            account="staff", key=key, method="POST", path="/api/v1/organizations",
            body_hash=_hash_of(body), created_at=utcnow()))
    engine.dispose()
    headers = {"Idempotency-Key": key}

    # While it may still be running, a retry is told so.
    assert_problem(platform.post("/api/v1/organizations", as_user="staff", json=body, headers=dict(headers)), 409)

    # The test gateway's RPC timeout is 10 s, so no live request holds a claim past 20 s.
    age(gateway_db, "staff", key, timedelta(seconds=21))
    created = platform.post("/api/v1/organizations", as_user="staff", json=body, headers=dict(headers))
    assert created.status_code == 201, created.text
    replayed = platform.post("/api/v1/organizations", as_user="staff", json=body, headers=dict(headers))
    assert replayed.json() == created.json() and replayed.headers["Idempotent-Replayed"] == "true"


def _hash_of(body):
    # The body exactly as requests serialises json=…, so the claim matches the retry.
    return body_hash(json.dumps(body).encode("utf-8"))


def test_kept_responses_are_forgotten_after_retention_and_swept(gateway_db):
    engine = make_engine(gateway_db)
    ledger = IdempotencyLedger(sessionmaker(bind=engine, expire_on_commit=False),
                               claim_timeout=timedelta(seconds=60), retention=timedelta(hours=24))

    class Answer:  # what ledger.complete reads of a werkzeug response
        status_code, content_type = 201, "application/json"

        def get_data(self, as_text):
            return '{"id": "first"}'

    keys = {name: f"{name}-{uuid.uuid4()}" for name in ("old", "fresh", "running", "abandoned")}
    for name, key in keys.items():
        assert ledger.claim("staff", key, "POST", "/api/v1/organizations", "h") is None
        if name in ("old", "fresh"):
            ledger.complete("staff", key, Answer())
    age(gateway_db, "staff", keys["old"], timedelta(hours=25))
    age(gateway_db, "staff", keys["abandoned"], timedelta(minutes=5))

    assert ledger.claim("staff", keys["fresh"], "POST", "/api/v1/organizations", "h").body == '{"id": "first"}'

    assert ledger.prune() >= 2
    with transaction(ledger.Session) as session:
        left = set(session.execute(select(IdempotentRequest.key).where(
            IdempotentRequest.key.in_(keys.values()))).scalars())
    assert left == {keys["fresh"], keys["running"]}

    # A day on, the same key is a new request: the client is not answered from last week.
    age(gateway_db, "staff", keys["fresh"], timedelta(hours=25))
    assert ledger.claim("staff", keys["fresh"], "POST", "/api/v1/organizations", "h") is None
    engine.dispose()
