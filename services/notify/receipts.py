"""Delivery receipts from the SMS gateway: the handset has the message (``sent`` → ``delivered``)
or the carrier gave up (``sent`` → ``failed``, and the resident's next channel takes over, as for
a refused send).

The SMS gateway POSTs ``{"receipts": [{"reference": <delivery id>, "status": "delivered" |
"failed", "detail": "…", "at": "<ISO 8601>"}, …]}`` (up to 1,000 at a time), signed like our
own webhooks: ``X-Heyun-Signature: t=<unix seconds>,v1=HMAC-SHA256(SMS_RECEIPT_SECRET,
"<t>.<raw body>")``. Receipts are idempotent: a repeated or late one (the delivery already
delivered, acknowledged, failed or cancelled) changes nothing, so the gateway may retry freely.
"""
import json

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from heyun.errors import BadSignature, InvalidInput
from heyun.schemas import load
from notify import fanout
from notify.channels.webhook import verify_signature
from notify.contract import DeliveryStatus
from notify.dispatch import fallback_rows
from notify.models import Delivery

MAX_RECEIPTS = 1000


class Receipt(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 36))
    status = fields.String(required=True, validate=validate.OneOf((DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)))
    detail = fields.String(load_default="", validate=validate.Length(max=200))
    at = fields.AwareDateTime(load_default=None)


class Receipts(Schema):
    receipts = fields.List(fields.Nested(Receipt), required=True, validate=validate.Length(1, MAX_RECEIPTS))


def parse(secret, raw_body, signature):
    """The receipts in a signed body; ``BadSignature`` unless ``secret`` signed exactly these bytes."""
    if not secret:
        raise BadSignature("SMS receipts are not accepted: SMS_RECEIPT_SECRET is not set.")
    if not verify_signature(secret, signature, raw_body.encode("utf-8")):
        raise BadSignature("The X-Heyun-Signature header does not sign this body (or is too old).")
    try:
        data = json.loads(raw_body)
    except (ValueError, RecursionError):
        raise InvalidInput("The body is not JSON.", {"receipts": ["Send a JSON object."]}) from None
    return load(Receipts(), data)["receipts"]


def record(session, channel, receipts, now):
    """Apply receipts for ``channel``'s deliveries; counts of what happened."""
    ids = {r["reference"] for r in receipts}
    # Locked in id order, like the dispatcher's outcomes and a cancel: two writers of one
    # delivery wait for each other instead of the later overwriting the earlier.
    deliveries = {d.id: d for d in session.execute(select(Delivery).where(
        Delivery.id.in_(ids), Delivery.channel == channel).order_by(Delivery.id).with_for_update()).scalars()}
    counts = {"delivered": 0, "failed": 0, "unchanged": 0, "unknown": 0}
    failed = []
    for receipt in receipts:
        d = deliveries.get(receipt["reference"])
        if d is None:
            counts["unknown"] += 1
            continue
        # ``pending`` under a lease: the gateway's receipt overtook the dispatcher recording the send.
        if not (d.status == DeliveryStatus.SENT or (d.status == DeliveryStatus.PENDING and d.lease_until is not None)):
            counts["unchanged"] += 1
            continue
        d.sent_at = d.sent_at or now
        if receipt["status"] == DeliveryStatus.DELIVERED:
            d.status, d.delivered_at = DeliveryStatus.DELIVERED, receipt["at"] or now
        else:
            d.status, d.last_error = DeliveryStatus.FAILED, f"carrier receipt: {receipt['detail'] or 'not delivered'}"
            failed.append(d)
        counts[d.status] += 1
    if failed:
        fanout.insert_deliveries(session, fallback_rows(session, failed, now))
    return counts
