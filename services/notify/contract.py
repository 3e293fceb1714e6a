"""Notify's published contract: its vocabularies (CAP 1.2's among them), what its RPC entrypoints
accept, and the events it publishes on ``notify.events``. Importable without Nameko, SQLAlchemy or
a database: notify loads its input through these schemas, the gateway checks a request with the
same ones before passing it on, and the OpenAPI and AsyncAPI documents are generated from them.
"""
from enum import StrEnum

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from heyun.contract import one_of
from heyun.events import EventType
from heyun.schemas import UNSTORABLE, UNSTORABLE_MESSAGE
from registry.contract import FLOORS, ResidentChannel, Tag


# -- vocabularies ---------------------------------------------------------------------------
class Category(StrEnum):
    WATER_OUTAGE = "water_outage"
    POWER_OUTAGE = "power_outage"
    GAS = "gas"
    SAFETY = "safety"
    WEATHER = "weather"
    ACTIVITY = "activity"
    POLICY = "policy"
    OTHER = "other"


class Severity(StrEnum):
    """CAP 1.2's severity (capitalised as CAP writes it; accepted in any case)."""

    EXTREME = "Extreme"
    SEVERE = "Severe"
    MODERATE = "Moderate"
    MINOR = "Minor"
    UNKNOWN = "Unknown"


class Urgency(StrEnum):
    IMMEDIATE = "Immediate"
    EXPECTED = "Expected"
    FUTURE = "Future"
    PAST = "Past"
    UNKNOWN = "Unknown"


class Certainty(StrEnum):
    OBSERVED = "Observed"
    LIKELY = "Likely"
    POSSIBLE = "Possible"
    UNLIKELY = "Unlikely"
    UNKNOWN = "Unknown"


class MsgType(StrEnum):
    """CAP's msgType: a notice, a correction of one, or its cancellation."""

    ALERT = "Alert"
    UPDATE = "Update"
    CANCEL = "Cancel"


class Channel(StrEnum):
    """How a delivery travels: the channels a resident may prefer (the registry's), and those of
    organisations (e-mail to their contacts, a signed webhook)."""

    IN_APP = ResidentChannel.IN_APP.value
    SMS = ResidentChannel.SMS.value
    EMAIL = "email"
    WEBHOOK = "webhook"
    DOOR_TO_DOOR = ResidentChannel.DOOR_TO_DOOR.value


class NoticeStatus(StrEnum):
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    HELD = "held"
    SENT = "sent"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RecipientType(StrEnum):
    """Who a delivery is for: a resident (the registry's), an organisation, an account, or every
    account with a role (a notice raised by one of notify's rules)."""

    RESIDENT = "resident"
    ORGANIZATION = "organization"
    ACCOUNT = "account"
    ROLE = "role"


# What an SMS gateway's receipt may say of a delivery it was handed.
RECEIPT_STATUSES = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
MAX_RECEIPTS = 1000


# -- fields -----------------------------------------------------------------------------------
def printable(value):
    if UNSTORABLE.search(value):  # a notice's text goes into XML too (its CAP export)
        raise ValidationError(UNSTORABLE_MESSAGE)


class Text(fields.String):
    """Free text people write (titles, bodies, reasons, notes): refuses control characters."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(printable)


class CapWord(fields.String):
    """One of CAP's capitalised words, accepted in any case (``severe`` → ``Severe``)."""

    def __init__(self, vocabulary, **kwargs):
        self.choices = [str(word) for word in vocabulary]
        super().__init__(validate=one_of(vocabulary), metadata={"description": "Case-insensitive."}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return next((c for c in self.choices if c.lower() == text.lower()), text)


def Id(**kwargs):
    return fields.String(validate=validate.Length(1, 36), **kwargs)


# -- RPC inputs ---------------------------------------------------------------------------------
class Audience(Schema):
    building_ids = fields.List(Id(), load_default=list)
    floor_min = fields.Integer(allow_none=True, load_default=None, validate=FLOORS)
    floor_max = fields.Integer(allow_none=True, load_default=None, validate=FLOORS)
    tags = fields.List(fields.String(validate=one_of(Tag)), load_default=list)
    resident_ids = fields.List(Id(), load_default=list)
    organization_ids = fields.List(Id(), load_default=list)
    grid_ids = fields.List(Id(), load_default=list)

    @validates_schema
    def floors_are_ordered(self, data, **kwargs):
        if data.get("floor_min") and data.get("floor_max") and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")


class NoticeCreate(Schema):
    title = Text(required=True, validate=validate.Length(1, 200))
    body = Text(required=True, validate=validate.Length(1, 5000))
    title_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 200))
    body_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 5000))
    category = fields.String(required=True, validate=one_of(Category))
    severity = CapWord(Severity, load_default=Severity.MODERATE.value)
    urgency = CapWord(Urgency, load_default=Urgency.EXPECTED.value)
    certainty = CapWord(Certainty, load_default=Certainty.LIKELY.value)
    audience = fields.Nested(Audience, required=True)
    requires_ack = fields.Boolean(load_default=False)
    ack_deadline = fields.AwareDateTime(allow_none=True, load_default=None)
    onset = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "When the event announced begins."})
    ends = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "When the event announced ends (water back on); the notice expires then unless "
                       "`expires` says otherwise."})
    expires = fields.AwareDateTime(allow_none=True, load_default=None)
    send_at = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "Send later; the recipients are fixed then."})

    @validates_schema
    def consistent(self, data, **kwargs):
        if data.get("requires_ack") and not data.get("ack_deadline"):
            raise ValidationError("A notice that requires acknowledgement needs an ack_deadline.", "ack_deadline")
        if data.get("onset") and data.get("expires") and data["expires"] <= data["onset"]:
            raise ValidationError("expires must be after onset.", "expires")
        if data.get("onset") and data.get("ends") and data["ends"] <= data["onset"]:
            raise ValidationError("ends must be after onset.", "ends")


class NoticeUpdate(Schema):
    """A correction (CAP msgType Update): new text for the same recipients."""

    title = Text(required=True, validate=validate.Length(1, 200))
    body = Text(required=True, validate=validate.Length(1, 5000))
    title_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 200))
    body_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 5000))
    severity = CapWord(Severity, load_default=None, allow_none=True)
    ends = fields.AwareDateTime(allow_none=True, load_default=None, metadata={
        "description": "A new end of the event (the repair takes longer)."})
    expires = fields.AwareDateTime(allow_none=True, load_default=None)


class NoticeCancel(Schema):
    reason = Text(required=True, validate=validate.Length(1, 1000))


class NoticeFilters(Schema):
    status = fields.String(validate=one_of(NoticeStatus))
    category = fields.String(validate=one_of(Category))
    msg_type = fields.String(validate=one_of(MsgType))


class DeliveryFilters(Schema):
    status = fields.String(validate=one_of(DeliveryStatus))
    channel = fields.String(validate=one_of(Channel))
    recipient_type = fields.String(validate=one_of(RecipientType))
    building_id = fields.String()


class TaskFilters(Schema):
    """A grid worker's door-to-door tasks."""

    status = fields.String(validate=one_of(DeliveryStatus), metadata={
        "description": "Default: the tasks still to do (pending, held, sent)."})
    building_id = fields.String()


class Acknowledgement(Schema):
    resident_id = Id(allow_none=True, load_default=None, metadata={
        "description": "A grid worker recording a door-to-door hand-over names the resident; "
                       "a recipient acknowledging for themselves sends no body (or {})."})
    note = Text(allow_none=True, load_default=None, validate=validate.Length(0, 1000))


class Receipt(Schema):
    reference = Id(required=True, metadata={"description": "The delivery id notify sent the SMS under."})
    status = fields.String(required=True, validate=one_of(RECEIPT_STATUSES))
    detail = fields.String(load_default="", validate=validate.Length(max=200),
                           metadata={"description": "The carrier's reason."})
    at = fields.AwareDateTime(load_default=None)


class Receipts(Schema):
    """An SMS gateway's delivery receipts, as signed (X-Heyun-Signature)."""

    receipts = fields.List(fields.Nested(Receipt), required=True, validate=validate.Length(1, MAX_RECEIPTS))


# -- events -----------------------------------------------------------------------------------
class NoticePayload(Schema):
    notice_id = fields.String(required=True)
    title = fields.String(required=True)
    category = fields.String(required=True, validate=one_of(Category))
    severity = fields.String(required=True, validate=one_of(Severity))
    urgency = fields.String(required=True, validate=one_of(Urgency))
    msg_type = fields.String(required=True, validate=one_of(MsgType))
    references_id = fields.String(allow_none=True)
    issuer_account = fields.String(required=True)
    issuer_organization_id = fields.String(allow_none=True)
    requires_ack = fields.Boolean(required=True)
    ack_deadline = fields.DateTime(allow_none=True)


class FannedOutPayload(NoticePayload):
    recipients = fields.Integer(required=True)


class EscalationPayload(NoticePayload):
    organization_ids = fields.List(fields.String(), required=True)
    # organisation id → the channel its notice was re-sent on
    resent_channels = fields.Dict(keys=fields.String(), values=fields.String(validate=one_of(Channel)),
                                  required=True)


class AcknowledgedPayload(Schema):
    notice_id = fields.String(required=True)
    recipient_type = fields.String(required=True, validate=one_of(RecipientType))
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

EVENTS = (NOTICE_PUBLISHED, NOTICE_FANNED_OUT, NOTICE_ACKNOWLEDGED, NOTICE_ESCALATED, NOTICE_CANCELLED)
