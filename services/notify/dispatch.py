"""Dispatch: handing due deliveries to their channels, recording what happened, falling back.

A dispatcher takes a batch of due deliveries under a short lease (so replicas share the work and
a crashed one's batch is taken again after the lease), renders each notice for its recipient,
sends per channel, and records the outcome. A retryable failure is tried again with back-off;
a final one falls back to the recipient's next channel, so a notice never stalls on one bad
recipient and nobody is left unreached.
"""
import logging
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import bindparam, or_, select, text, update

from heyun.pii import Protector
from notify import fanout
from notify.contract import Channel, DeliveryStatus, NoticeStatus, RecipientType
from notify.models import Delivery, Notice, OrganizationRecipient, ResidentRecipient, utcnow
from notify.templates import personalise

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
LEASE = timedelta(seconds=60)


# A send's outcome, written only while the delivery still waits (see Dispatcher._record).
_deliveries = Delivery.__table__
RECORD_OUTCOME = (
    update(_deliveries)
    .where(_deliveries.c.id == bindparam("b_id"),
           or_(_deliveries.c.status == DeliveryStatus.PENDING, _deliveries.c.status == DeliveryStatus.HELD))
    .values({column: bindparam(column) for column in
             ("status", "attempts", "sent_at", "delivered_at", "last_error", "next_attempt_at")})
)


def backoff(attempts):
    return timedelta(seconds=min(2 ** attempts, 300))


def claim_due(session, limit, now):
    """Lease up to ``limit`` due deliveries (pending, or held past quiet hours); returns their ids.

    One query per status, each walking ``ix_deliveries_due`` in ``next_attempt_at`` order and stopping
    at ``limit``. Left to itself, PostgreSQL (its statistics a fan-out behind) takes a bitmap scan:
    it visits the page of every due delivery and of every one sent since the last vacuum, then sorts
    them, for each claim (60-110 ms and growing during a million-recipient fan-out, the dispatcher
    falling behind). An index scan stops after ``limit`` rows and marks the dead entries it passes,
    so the next claim skips them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_bitmapscan = off"))  # this claim's transaction only
    ids = []
    for status in (DeliveryStatus.PENDING, DeliveryStatus.HELD):
        for when in (Delivery.next_attempt_at <= now, Delivery.next_attempt_at.is_(None)):
            if len(ids) < limit:
                ids += _due(session, status, when, limit - len(ids), now)
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(lease_until=now + LEASE))
    return ids


def _due(session, status, when, limit, now):
    due = (select(Delivery.id)
           .where(Delivery.status == status, when, Delivery.channel != Channel.IN_APP,
                  or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
           .order_by(Delivery.next_attempt_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return list(session.execute(due).scalars())


class Dispatcher:
    def __init__(self, Session, transaction, channels, pii_key, batch_size=500):
        self.Session = Session
        self.transaction = transaction
        self.channels = channels
        self.protector = Protector(pii_key)
        self.batch_size = batch_size

    def run_once(self, now=None):
        """Send one batch; returns how many deliveries were handled."""
        now = now or utcnow()
        with self.transaction(self.Session) as session:
            ids = claim_due(session, self.batch_size, now)
        if not ids:
            return 0
        with self.transaction(self.Session) as session:
            work = self._prepare(session, ids)
        outcomes = {}
        for channel, items in work.items():
            sender = self.channels.get(channel)
            for outcome in sender.send(items):
                outcomes[outcome.delivery_id] = outcome
        # SMS deliveries are recorded apart, their rows locked: the SMS gateway's receipt for one
        # may arrive while it is being recorded, and neither may overwrite the other. Locking every
        # row of every batch instead cost 13 % at a million recipients (bench_notify); an
        # acknowledgement or a cancel during the send is kept by _record's conditional write.
        receipted = {item["id"] for item in work.get("sms", ())}
        with self.transaction(self.Session) as session:
            self._record(session, [i for i in ids if i not in receipted], outcomes, utcnow())
        if receipted:
            with self.transaction(self.Session) as session:
                self._record(session, receipted, outcomes, utcnow(), lock=True)
        return len(ids)

    def _prepare(self, session, ids):
        deliveries = session.execute(select(Delivery).where(Delivery.id.in_(ids))).scalars().all()
        notices = {n.id: n for n in session.execute(select(Notice).where(
            Notice.id.in_({d.notice_id for d in deliveries}))).scalars()}
        residents = {r.resident_id: r for r in session.execute(select(ResidentRecipient).where(
            ResidentRecipient.resident_id.in_(
                [d.recipient_id for d in deliveries if d.recipient_type == RecipientType.RESIDENT]))).scalars()}
        orgs = {o.organization_id: o for o in session.execute(select(OrganizationRecipient).where(
            OrganizationRecipient.organization_id.in_(
                [d.recipient_id for d in deliveries if d.recipient_type == RecipientType.ORGANIZATION]))).scalars()}
        work, now = {}, utcnow()
        for d in deliveries:
            notice = notices[d.notice_id]
            if notice.status == NoticeStatus.CANCELLED:  # claimed just before the cancel reached it
                d.status, d.last_error, d.lease_until = DeliveryStatus.CANCELLED, "the notice was cancelled", None
                continue
            if notice.expires and notice.expires <= now:  # UtcDateTime: aware on every database
                d.status, d.last_error, d.lease_until = (DeliveryStatus.CANCELLED,
                                                         "the notice expired before it could be sent", None)
                continue  # news of a past outage helps nobody at 07:00
            resident = residents.get(d.recipient_id) if d.recipient_type == RecipientType.RESIDENT else None
            org = orgs.get(d.recipient_id) if d.recipient_type == RecipientType.ORGANIZATION else None
            title, body, language = personalise(notice, resident, org, d.recipient_id)
            work.setdefault(d.channel, []).append({
                "id": d.id, "notice_id": d.notice_id, "recipient_type": d.recipient_type,
                "recipient_id": d.recipient_id, "channel": d.channel,
                "address": self._address(d, resident, org),
                "title": title, "body": body, "language": language,
                "severity": notice.severity, "category": notice.category,
            })
        return work

    def _address(self, delivery, resident, org):
        if delivery.channel == Channel.SMS:
            return self.protector.decrypt(resident.phone_token) if resident and resident.phone_token else None
        if delivery.channel == Channel.DOOR_TO_DOOR:
            return delivery.assignee
        if delivery.channel == Channel.EMAIL:
            return list(org.emails) if org else []
        if delivery.channel == Channel.WEBHOOK:
            return org.webhook_url if org else None
        return None

    def _record(self, session, ids, outcomes, now, lock=False):
        """Write each delivery's outcome, on the condition that it is still pending or held: an
        acknowledgement or a cancel committed while it was being sent stands (an UPDATE of one
        row blocks on the other's lock and then finds the status changed), so "sent" never
        overwrites "acknowledged" and the escalation never re-sends what was acknowledged."""
        query = select(*Delivery.__table__.columns).where(Delivery.id.in_(ids))
        if lock:  # in id order, as a cancel and a receipt lock them: no deadlock between them
            query = query.order_by(Delivery.id).with_for_update()
        deliveries = session.execute(query).all()
        session.execute(update(Delivery.__table__).where(Delivery.id.in_(ids)).values(lease_until=None))
        written, failed = [], []
        for d in deliveries:
            if d.status not in (DeliveryStatus.PENDING, DeliveryStatus.HELD):
                continue  # cancelled or acknowledged while it was being sent
            outcome = outcomes.get(d.id)
            row = {"b_id": d.id, "status": d.status, "attempts": d.attempts + 1, "sent_at": d.sent_at,
                   "delivered_at": d.delivered_at, "last_error": None, "next_attempt_at": d.next_attempt_at}
            if outcome is not None and outcome.ok:
                row.update(status=outcome.status, sent_at=d.sent_at or now)
                if outcome.status == DeliveryStatus.DELIVERED:
                    row["delivered_at"] = now
            else:
                row["last_error"] = outcome.detail if outcome else "no outcome from the channel"
                if outcome is not None and outcome.retryable and row["attempts"] < MAX_ATTEMPTS:
                    row.update(status=DeliveryStatus.PENDING, next_attempt_at=now + backoff(row["attempts"]))
                else:
                    row["status"] = DeliveryStatus.FAILED
                    failed.append((d, row))
                    continue
            written.append(row)
        if written:  # one statement, executed for every row (as the ORM's flush did)
            session.execute(RECORD_OUTCOME, written)
        # A failure falls back to the next channel only if it was written: each on its own.
        fallbacks = [SimpleNamespace(**dict(d._mapping, **row)) for d, row in failed
                     if session.execute(RECORD_OUTCOME, row).rowcount]
        if fallbacks:
            fanout.insert_deliveries(session, fallback_rows(session, fallbacks, now))

def fallback_rows(session, failed, now):
    """The next delivery for each finally failed one: the recipient's next channel, door to door
    for a resident with none left, nothing for an organisation with none left."""
    notices = {n.id: n for n in session.execute(select(Notice).where(
        Notice.id.in_({d.notice_id for d in failed}))).scalars()}
    workers = fanout.grid_worker_accounts(session)
    rows = []
    for d in failed:
        notice = notices[d.notice_id]
        if d.recipient_type == RecipientType.RESIDENT:
            resident = session.get(ResidentRecipient, d.recipient_id)
            order = fanout.resident_channels(resident) if resident else []
            following = order[order.index(d.channel) + 1:] if d.channel in order else []
            if not following and resident is not None and d.channel != Channel.DOOR_TO_DOOR:
                following = [Channel.DOOR_TO_DOOR]  # a recipient with no channel left gets a visit
            if following:
                rows.append(fanout.resident_row(notice, now, resident, workers, following[0], d.id))
        elif d.recipient_type == RecipientType.ORGANIZATION:
            org = session.get(OrganizationRecipient, d.recipient_id)
            order = fanout.organization_channels(org) if org else []
            following = order[order.index(d.channel) + 1:] if d.channel in order else []
            if following:
                rows.append(fanout.delivery_row(notice, now, RecipientType.ORGANIZATION, d.recipient_id, following[0],
                                                fallback_of=d.id))
        log.warning("delivery %s of notice %s on %s failed (%s); fell back to %s", d.id, d.notice_id,
                    d.channel, d.last_error, rows[-1]["channel"] if rows and rows[-1]["fallback_of"] == d.id else "nothing")
    return rows
