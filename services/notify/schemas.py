"""What notify accepts over RPC; every entrypoint loads its input through one of these."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from heyun.schemas import UNSTORABLE, UNSTORABLE_MESSAGE, Paging, listing, load  # noqa: F401 (re-exported)

CATEGORIES = ("water_outage", "power_outage", "gas", "safety", "weather", "activity", "policy", "other")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")  # CAP 1.2
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
CHANNELS = ("in_app", "sms", "email", "webhook", "door_to_door")
STATUSES = ("pending", "held", "sent", "delivered", "acknowledged", "failed", "cancelled")
TAGS = (
    "elderly", "living_alone", "mobility_impaired", "disabled", "veteran", "low_income",
    "no_smartphone", "party_member", "building_head", "resident_representative", "empty_nester",
)


def printable(value):
    if UNSTORABLE.search(value):  # a notice's text goes into XML too (its CAP export)
        raise ValidationError(UNSTORABLE_MESSAGE)


class Text(fields.String):
    """Free text people write (titles, bodies, reasons, notes): refuses control characters."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(printable)


class Severity(fields.String):
    """Accepts CAP's capitalised words in any case (``severe`` → ``Severe``)."""

    def __init__(self, choices, **kwargs):
        self.choices = choices
        super().__init__(validate=validate.OneOf(choices), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return next((c for c in self.choices if c.lower() == text.lower()), text)


class Audience(Schema):
    building_ids = fields.List(fields.String(validate=validate.Length(1, 36)), load_default=list)
    floor_min = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(1, 60))
    floor_max = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(1, 60))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)), load_default=list)
    resident_ids = fields.List(fields.String(validate=validate.Length(1, 36)), load_default=list)
    organization_ids = fields.List(fields.String(validate=validate.Length(1, 36)), load_default=list)
    grid_ids = fields.List(fields.String(validate=validate.Length(1, 36)), load_default=list)

    @validates_schema
    def names_someone(self, data, **kwargs):
        if data.get("floor_min") and data.get("floor_max") and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")


class NoticeCreate(Schema):
    title = Text(required=True, validate=validate.Length(1, 200))
    body = Text(required=True, validate=validate.Length(1, 5000))
    title_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 200))
    body_en = Text(allow_none=True, load_default=None, validate=validate.Length(1, 5000))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    severity = Severity(SEVERITIES, load_default="Moderate")
    urgency = Severity(URGENCIES, load_default="Expected")
    certainty = Severity(CERTAINTIES, load_default="Likely")
    audience = fields.Nested(Audience, required=True)
    requires_ack = fields.Boolean(load_default=False)
    ack_deadline = fields.AwareDateTime(allow_none=True, load_default=None)
    onset = fields.AwareDateTime(allow_none=True, load_default=None)
    ends = fields.AwareDateTime(allow_none=True, load_default=None)
    expires = fields.AwareDateTime(allow_none=True, load_default=None)
    send_at = fields.AwareDateTime(allow_none=True, load_default=None)

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
    severity = Severity(SEVERITIES, load_default=None, allow_none=True)
    ends = fields.AwareDateTime(allow_none=True, load_default=None)  # "water back at 20:00, not 17:00"
    expires = fields.AwareDateTime(allow_none=True, load_default=None)


class NoticeCancel(Schema):
    reason = Text(required=True, validate=validate.Length(1, 1000))


class NoticeFilters(Schema):
    status = fields.String(validate=validate.OneOf(("scheduled", "publishing", "published", "cancelled")))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    msg_type = fields.String(validate=validate.OneOf(("Alert", "Update", "Cancel")))


class DeliveryFilters(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    recipient_type = fields.String(validate=validate.OneOf(("resident", "organization", "account", "role")))
    building_id = fields.String()


class Acknowledgement(Schema):
    resident_id = fields.String(allow_none=True, load_default=None)  # a grid worker's hand-over
    note = Text(allow_none=True, load_default=None, validate=validate.Length(0, 1000))


