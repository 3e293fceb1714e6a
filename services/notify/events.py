"""The facts notify publishes on ``notify.events``."""
from marshmallow import Schema, fields

from heyun.events import EventType


class NoticePayload(Schema):
    notice_id = fields.String(required=True)
    title = fields.String(required=True)
    category = fields.String(required=True)
    severity = fields.String(required=True)
    urgency = fields.String(required=True)
    msg_type = fields.String(required=True)
    references_id = fields.String(allow_none=True)
    issuer_account = fields.String(required=True)
    issuer_organization_id = fields.String(allow_none=True)
    requires_ack = fields.Boolean(required=True)
    ack_deadline = fields.DateTime(allow_none=True)


class FannedOutPayload(NoticePayload):
    recipients = fields.Integer(required=True)


class EscalationPayload(NoticePayload):
    organization_ids = fields.List(fields.String(), required=True)
    resent_channels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class AcknowledgedPayload(Schema):
    notice_id = fields.String(required=True)
    recipient_type = fields.String(required=True)
    recipient_id = fields.String(required=True)
    acknowledged_by = fields.String(required=True)


NOTICE_PUBLISHED = EventType("notice_published", NoticePayload,
                             "A notice was accepted for sending; its recipients are being fixed.")
NOTICE_FANNED_OUT = EventType("notice_fanned_out", FannedOutPayload,
                              "Every recipient of a notice has its deliveries.")
NOTICE_ACKNOWLEDGED = EventType("notice_acknowledged", AcknowledgedPayload,
                                "A recipient (or their grid worker, door to door) acknowledged a notice.")
NOTICE_ESCALATED = EventType("notice_escalated", EscalationPayload,
                             "Organisations missed a notice's acknowledgement deadline: staff told, "
                             "organisations re-sent on their next channel.")
NOTICE_CANCELLED = EventType("notice_cancelled", NoticePayload, "A notice was cancelled.")

ALL = (NOTICE_PUBLISHED, NOTICE_FANNED_OUT, NOTICE_ACKNOWLEDGED, NOTICE_ESCALATED, NOTICE_CANCELLED)
