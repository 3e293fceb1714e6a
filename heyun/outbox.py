"""Transactional outbox: events are rows written with the state change, published after commit.

``record(session, event_type, data)`` adds the event to the caller's transaction, so the event
exists if and only if the change does. The ``OutboxRelay`` (run by the service's ``Database``
dependency) wakes after each commit that recorded events, and also polls, so rows left behind by
a process that died between commit and publish go out when any replica next runs. Publishing is
at-least-once (a crash after the broker confirmed but before the row was marked sends it again);
consumers make that exactly-once in effect by recording event ids (see ``heyun.handlers``).
"""
import json
import logging
import time
from datetime import timedelta

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    select,
    update,
)

from heyun.db import UtcDateTime
from heyun.clock import utcnow
from heyun.events import exchange_name, make_envelope
from heyun.loops import Loop
from heyun.publisher import ConfirmingPublisher

log = logging.getLogger(__name__)

# The kernel's own tables live in every service's database; each service's first migration
# creates them with ``heyun.migrations.create_kernel_tables``.
kernel_metadata = MetaData()

outbox_events = Table(
    "outbox_events",
    kernel_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", String(50), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("published_at", UtcDateTime),
    Index("ix_outbox_events_unpublished", "published_at", "id"),
)

processed_events = Table(
    "processed_events",
    kernel_metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)

PENDING_FLAG = "heyun.outbox_pending"


def _outbox_row(source, event_type, data):
    envelope = make_envelope(event_type.name, event_type.payload(data), source, event_type.version)
    row = dict(
        event_id=envelope["event_id"],
        event_type=envelope["event_type"],
        version=envelope["version"],
        source=source,
        occurred_at=utcnow(),
        payload=json.dumps(envelope, ensure_ascii=False),
    )
    return row, envelope


def record(session, event_type, data):
    """Add ``event_type`` with payload ``data`` to the session's transaction; returns the envelope."""
    row, envelope = _outbox_row(session.info["service"], event_type, data)
    session.execute(outbox_events.insert().values(**row))
    session.info[PENDING_FLAG] = True
    return envelope


def record_many(session, event_type, items):
    """``record`` for a batch (a bulk import), in one multi-row insert; returns the count."""
    rows = [_outbox_row(session.info["service"], event_type, data)[0] for data in items]
    if rows:
        session.execute(outbox_events.insert(), rows)
        session.info[PENDING_FLAG] = True
    return len(rows)


class OutboxRelay:
    """Publishes committed outbox rows in order, with publisher confirms, until stopped."""

    def __init__(self, engine, config):
        self.engine = engine
        self.publisher = ConfirmingPublisher(config["AMQP_URI"])
        self.batch_size = int(config.get("OUTBOX_BATCH_SIZE", 500))
        self.poll_seconds = float(config.get("OUTBOX_POLL_SECONDS", 2.0))
        self.retention = timedelta(days=float(config.get("OUTBOX_RETENTION_DAYS", 7)))
        self._next_prune = 0.0
        # A broker or database away is expected to pass: the rows wait, one line is logged.
        self.loop = Loop("outbox relay", self._step, self.poll_seconds, traceback=False)

    def watch(self, Session):
        """Wake the relay as soon as a session that recorded events commits."""

        @event.listens_for(Session, "after_commit")
        def _after_commit(session):
            if session.info.pop(PENDING_FLAG, False):
                self.loop.wake()

    def stop(self):
        self.loop.stop()
        self.publisher.close()

    def run(self):
        self.loop.run()

    def _step(self):
        if self.publish_pending() == self.batch_size:
            return True  # a full batch means more may be waiting
        self.prune()
        return False

    def publish_pending(self):
        """Publish one batch of unpublished rows; returns how many were published."""
        with self.engine.begin() as conn:
            query = (
                select(outbox_events.c.id, outbox_events.c.source, outbox_events.c.event_type,
                       outbox_events.c.event_id, outbox_events.c.payload)
                .where(outbox_events.c.published_at.is_(None))
                .order_by(outbox_events.c.id)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                # Replicas of one service share the table: each takes rows no other one holds.
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if not rows:
                return 0
            self.publisher.publish_batch(
                [
                    {
                        "exchange": exchange_name(row.source),
                        "routing_key": row.event_type,
                        # The envelope as recorded (JSON text): published as it is, not parsed
                        # and encoded again for every event.
                        "body": row.payload.encode("utf-8"),
                        "message_id": row.event_id,
                    }
                    for row in rows
                ]
            )
            conn.execute(
                update(outbox_events)
                .where(outbox_events.c.id.in_([row.id for row in rows]))
                .values(published_at=utcnow())
            )
            return len(rows)

    def prune(self):
        """Forget rows published longer ago than the retention period (hourly)."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + 3600
        with self.engine.begin() as conn:
            conn.execute(
                delete(outbox_events).where(outbox_events.c.published_at < utcnow() - self.retention)
            )
