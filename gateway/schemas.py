"""What the HTTP API accepts and returns, as marshmallow schemas.

Request schemas check types, required and unknown fields at the edge, so a malformed request is
a 422 naming the field and never reaches a service; the services apply the domain rules (an ID
check digit, a floor above the roof). Response schemas describe the answers in the OpenAPI
document; responses are passed on as the services made them (masked by the registry for the
caller), never re-filled by the gateway.
"""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from gateway.accounts import ROLES
from heyun.schemas import KeysetPaging, Paging

# Kept in step with registry/schemas.py; the registry re-checks them, so a drift is still a 422.
TAGS = (
    "elderly", "living_alone", "mobility_impaired", "disabled", "veteran", "low_income",
    "no_smartphone", "party_member", "building_head", "resident_representative", "empty_nester",
)
GENDERS = ("male", "female")
LANGUAGES = ("zh", "en")
RESIDENT_CHANNELS = ("in_app", "sms", "door_to_door")
ORGANIZATION_KINDS = (
    "property_management", "water_utility", "police_station", "legal_advisor", "street_office",
    "social_organization", "power_utility", "gas_utility",
)
PROXY_ACTIONS = ("accept", "start", "complete", "reject", "withdraw")
PROXY_STATUSES = ("submitted", "accepted", "in_progress", "completed", "rejected", "withdrawn")
# A dwelling's floor and unit, and so a building's floors and units (as registry/schemas.py).
FLOORS = validate.Range(1, 60)
UNITS = validate.Range(1, 20)


def Text(maximum, **kwargs):
    return fields.String(validate=validate.Length(1, maximum), **kwargs)


# -- auth -------------------------------------------------------------------------------------
class TokenRequest(Schema):
    username = Text(100, required=True)
    password = Text(200, required=True)


# What a username may be: it appears in paths (/accounts/{username}) and in the audit of who did
# what, so letters, digits and . _ @ - only.
USERNAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
                           error="Use letters, digits and . _ @ - only, starting with a letter or digit.")
# At least 8 characters (NIST SP 800-63B's minimum); the demo's own password is 11.
NEW_PASSWORD = validate.Length(8, 200)


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds until the token expires."})


# -- paging and filters (query strings) ----------------------------------------------------
# Paging is the kernel's (heyun.schemas), the one the services check too; KeysetPaging adds the
# cursor for the lists that page by it (the registry's), and Paging refuses one as unknown.


class BuildingQuery(KeysetPaging):
    grid_id = fields.String()


class DwellingQuery(KeysetPaging):
    building_id = fields.String()
    unit = fields.Integer(validate=validate.Range(1, 20))
    floor = fields.Integer(validate=validate.Range(1, 60))


class GridWorkerQuery(KeysetPaging):
    grid_id = fields.String()


class HouseholdQuery(KeysetPaging):
    building_id = fields.String()
    origin_village = fields.String()


class ResidentQuery(KeysetPaging):
    building_id = fields.String()
    floor_min = fields.Integer(validate=validate.Range(1, 60))
    floor_max = fields.Integer(validate=validate.Range(1, 60))
    tag = fields.String(validate=validate.OneOf(TAGS))
    grid_id = fields.String()
    min_age = fields.Integer(validate=validate.Range(0, 150))
    max_age = fields.Integer(validate=validate.Range(0, 150))
    household_id = fields.String()
    q = fields.String(validate=validate.Length(1, 50), metadata={
        "description": "Name, or the last digits of the phone or ID number; a whole ID or mobile number "
                       "finds that person for the roles that see numbers unmasked (audited)."})

    @validates_schema
    def ranges_are_ordered(self, data, **kwargs):
        if "floor_min" in data and "floor_max" in data and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")
        if "min_age" in data and "max_age" in data and data["min_age"] > data["max_age"]:
            raise ValidationError("min_age is above max_age.", "min_age")


class OrganizationQuery(KeysetPaging):
    kind = fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))


class AccountQuery(Paging):
    role = fields.String(validate=validate.OneOf(ROLES))


class ProxyRequestQuery(Paging):
    status = fields.String(validate=validate.OneOf(PROXY_STATUSES))
    resident_id = fields.String()
    grid_id = fields.String()
    grid_worker_id = fields.String()
    overdue = fields.Boolean()


def split_query(query):
    """``{limit, offset, **filters}`` → ``(filters, limit, offset)`` for a list RPC. A ``cursor``
    stays among the filters: the service's ``heyun.schemas.listing`` takes it from there."""
    filters = dict(query)
    return filters, filters.pop("limit", 50), filters.pop("offset", 0)


# -- request bodies ----------------------------------------------------------------------
class DwellingRef(Schema):
    building_id = Text(36, required=True)
    unit = fields.Integer(required=True, validate=UNITS)
    floor = fields.Integer(required=True, validate=FLOORS)
    room = Text(10, required=True)


class ResidentCreate(Schema):
    name = Text(100, required=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    # Dates stay strings (checked for form here) so the RPC carries primitives only.
    birth_date = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="Not a YYYY-MM-DD date."))
    id_number = fields.String(required=True, validate=validate.Length(1, 30))
    phone = fields.String(allow_none=True, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)))
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True)
    language = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Default zh."})
    preferred_channel = fields.String(allow_none=True, validate=validate.OneOf(RESIDENT_CHANNELS), metadata={
        "description": "How notices reach them first; null: in-app, or door to door without a smartphone."})
    dwelling = fields.Nested(DwellingRef, required=True)


class ResidentUpdate(Schema):
    name = Text(100)
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    preferred_channel = fields.String(allow_none=True, validate=validate.OneOf(RESIDENT_CHANNELS))
    phone = fields.String(allow_none=True, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)))
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True)


DATE = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="Not a YYYY-MM-DD date.")


class Move(Schema):
    dwelling = fields.Nested(DwellingRef, required=True)
    moved_on = fields.String(allow_none=True, validate=DATE)
    household_id = fields.String(allow_none=True, metadata={
        "description": "A household at the new address to join; without it the resident leaves their household."})
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))


class HouseholdCreate(Schema):
    origin_village = fields.String(allow_none=True, validate=validate.Length(0, 50))
    resettled_on = fields.String(allow_none=True, validate=DATE)
    dwelling = fields.Nested(DwellingRef, required=True)


class GridWorkerUpdate(Schema):
    """What changes: a new grid is announced (grid_worker_assigned); the worker's own account
    covers it from its next sign-in."""

    name = Text(100)
    phone = fields.String(allow_none=True)
    account = fields.String(allow_none=True, validate=validate.Length(1, 100))
    grid_id = Text(36)


class GridWorkerCreate(GridWorkerUpdate):
    name = Text(100, required=True)
    grid_id = Text(36, required=True)


class BuildingCreate(Schema):
    number = fields.Integer(required=True, validate=validate.Range(1, 9999))
    name = Text(100, required=True)
    floors = fields.Integer(required=True, validate=FLOORS)
    units = fields.Integer(required=True, validate=UNITS)
    grid_id = Text(36, allow_none=True)


class BuildingMove(Schema):
    grid_id = Text(36, required=True, metadata={"description": "The grid the building (and its residents) moves to."})


class GridCreate(Schema):
    name = Text(100, required=True)
    building_ids = fields.List(Text(36), metadata={"description": "Buildings the new grid takes over."})


class Contact(Schema):
    name = Text(100, required=True)
    role = fields.String(validate=validate.Length(0, 100))
    phone = fields.String(allow_none=True, validate=validate.Length(0, 30))
    email = fields.Email(allow_none=True)


def WebhookUrl(**kwargs):
    return fields.Url(allow_none=True, require_tld=False, schemes={"http", "https"},
                      validate=validate.Length(max=500), metadata={  # the registry's column
        "description": "Where notify posts the organisation's notices (signed, X-Heyun-Signature)."}, **kwargs)


class OrganizationCreate(Schema):
    name = Text(200, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    contacts = fields.List(fields.Nested(Contact))
    webhook_url = WebhookUrl()


class OrganizationUpdate(Schema):
    """The kind is fixed (accounts and notices find organisations by it); the rest may change."""

    name = Text(200)
    contacts = fields.List(fields.Nested(Contact))
    webhook_url = WebhookUrl()


class AccountCreate(Schema):
    username = fields.String(required=True, validate=[validate.Length(1, 100), USERNAME])
    password = fields.String(required=True, load_only=True, validate=NEW_PASSWORD)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True, validate=validate.Length(1))
    organization_id = fields.String(allow_none=True, validate=validate.Length(1, 36), metadata={
        "description": "The organisation a property manager or the water plant's staff speak for."})
    resident_id = fields.String(allow_none=True, validate=validate.Length(1, 36), metadata={
        "description": "The resident a resident account is."})


class AccountUpdate(Schema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(1))
    active = fields.Boolean(metadata={"description": "false: the account can no longer sign in."})
    password = fields.String(load_only=True, validate=NEW_PASSWORD, metadata={"description": "A new password."})
    organization_id = fields.String(allow_none=True, validate=validate.Length(1, 36))
    resident_id = fields.String(allow_none=True, validate=validate.Length(1, 36))


class Authorization(Schema):
    scope = Text(500, required=True)
    valid_until = fields.String(required=True, validate=DATE)


class ProxyRequestCreate(Schema):
    resident_id = Text(36, required=True)
    service_item_id = Text(36, required=True)
    description = fields.String(validate=validate.Length(0, 2000))
    authorization = fields.Nested(Authorization, required=True)


class Transition(Schema):
    action = fields.String(required=True, validate=validate.OneOf(PROXY_ACTIONS))
    note = fields.String(allow_none=True, validate=validate.Length(0, 2000))
    evidence = fields.String(allow_none=True, validate=validate.Length(0, 2000))


class Rating(Schema):
    rating = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(allow_none=True, validate=validate.Length(0, 1000))


# -- notices (notify) ------------------------------------------------------------------------
# Kept in step with notify/schemas.py; notify re-checks everything, so a drift is still a 422.
NOTICE_CATEGORIES = ("water_outage", "power_outage", "gas", "safety", "weather", "activity", "policy", "other")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")  # CAP 1.2
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
CHANNELS = ("in_app", "sms", "email", "webhook", "door_to_door")
DELIVERY_STATUSES = ("pending", "held", "sent", "delivered", "acknowledged", "failed", "cancelled")
NOTICE_STATUSES = ("scheduled", "publishing", "published", "cancelled")
MSG_TYPES = ("Alert", "Update", "Cancel")
RECIPIENT_TYPES = ("resident", "organization", "account", "role")


class CapWord(fields.String):
    """One of CAP's capitalised words, in any case (``severe`` → ``Severe``), as notify accepts it."""

    def __init__(self, choices, **kwargs):
        self.choices = choices
        super().__init__(metadata={"enum": list(choices), "description": "Case-insensitive."}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        for choice in self.choices:
            if choice.lower() == text.lower():
                return choice
        raise ValidationError(f"Must be one of: {', '.join(self.choices)}.")


class Timestamp(fields.AwareDateTime):
    """An ISO 8601 time with its offset, checked here and passed on as the same text, so the RPC
    carries primitives only."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).isoformat()


class Audience(Schema):
    building_ids = fields.List(Text(36))
    floor_min = fields.Integer(allow_none=True, validate=validate.Range(1, 60))
    floor_max = fields.Integer(allow_none=True, validate=validate.Range(1, 60))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)))
    resident_ids = fields.List(Text(36))
    organization_ids = fields.List(Text(36))
    grid_ids = fields.List(Text(36))

    @validates_schema
    def floors_are_ordered(self, data, **kwargs):
        if data.get("floor_min") and data.get("floor_max") and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")


class NoticeCreate(Schema):
    title = Text(200, required=True)
    body = Text(5000, required=True)
    title_en = fields.String(allow_none=True, validate=validate.Length(1, 200))
    body_en = fields.String(allow_none=True, validate=validate.Length(1, 5000))
    category = fields.String(required=True, validate=validate.OneOf(NOTICE_CATEGORIES))
    severity = CapWord(SEVERITIES)
    urgency = CapWord(URGENCIES)
    certainty = CapWord(CERTAINTIES)
    audience = fields.Nested(Audience, required=True)
    requires_ack = fields.Boolean()
    ack_deadline = Timestamp(allow_none=True)
    onset = Timestamp(allow_none=True, metadata={"description": "When the event announced begins."})
    ends = Timestamp(allow_none=True, metadata={
        "description": "When the event announced ends (water back on); the notice expires then unless `expires` says otherwise."})
    expires = Timestamp(allow_none=True)
    send_at = Timestamp(allow_none=True, metadata={"description": "Send later; the recipients are fixed then."})

    @validates_schema
    def consistent(self, data, **kwargs):
        if data.get("requires_ack") and not data.get("ack_deadline"):
            raise ValidationError("A notice that requires acknowledgement needs an ack_deadline.", "ack_deadline")


class PreviewRequest(Schema):
    """The audience to count. The rest of a notice draft may come along and is ignored, so a client
    can preview exactly the body it is about to POST to /notices."""

    class Meta:
        unknown = EXCLUDE

    audience = fields.Nested(Audience, required=True)


class NoticeUpdate(Schema):
    title = Text(200, required=True)
    body = Text(5000, required=True)
    title_en = fields.String(allow_none=True, validate=validate.Length(1, 200))
    body_en = fields.String(allow_none=True, validate=validate.Length(1, 5000))
    severity = CapWord(SEVERITIES, allow_none=True)
    ends = Timestamp(allow_none=True, metadata={"description": "A new end of the event (the repair takes longer)."})
    expires = Timestamp(allow_none=True)


class NoticeCancel(Schema):
    reason = Text(1000, required=True)


class AcknowledgementCreate(Schema):
    resident_id = fields.String(allow_none=True, validate=validate.Length(1, 36), metadata={
        "description": "A grid worker recording a door-to-door hand-over names the resident; "
                       "a recipient acknowledging for themselves sends no body (or {})."})
    note = fields.String(allow_none=True, validate=validate.Length(0, 1000))


class SmsReceipt(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 36),
                              metadata={"description": "The delivery id notify sent the SMS under."})
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "failed")))
    detail = fields.String(validate=validate.Length(max=200), metadata={"description": "The carrier's reason."})
    at = fields.AwareDateTime()


class SmsReceipts(Schema):
    """Documentation only: the body reaches notify as sent, which checks its signature, then this."""
    receipts = fields.List(fields.Nested(SmsReceipt), required=True, validate=validate.Length(1, 1000))


class NoticeQuery(Paging):
    status = fields.String(validate=validate.OneOf(NOTICE_STATUSES))
    category = fields.String(validate=validate.OneOf(NOTICE_CATEGORIES))
    msg_type = fields.String(validate=validate.OneOf(MSG_TYPES))


class DeliveryQuery(Paging):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    recipient_type = fields.String(validate=validate.OneOf(RECIPIENT_TYPES))
    building_id = fields.String()


class TaskQuery(Paging):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES), metadata={
        "description": "Default: the tasks still to do (pending, held, sent)."})


# -- responses (for the OpenAPI document) --------------------------------------------------
class Building(Schema):
    id = fields.String()
    number = fields.Integer()
    name = fields.String()
    floors = fields.Integer()
    units = fields.Integer()
    grid_id = fields.String(allow_none=True, metadata={"description": "null until the building is put in a grid."})


class Dwelling(Schema):
    id = fields.String()
    building_id = fields.String()
    unit = fields.Integer()
    floor = fields.Integer()
    room = fields.String()


class GridWorkerRef(Schema):
    id = fields.String()
    name = fields.String()
    account = fields.String(allow_none=True)


class Grid(Schema):
    id = fields.String()
    name = fields.String()
    building_ids = fields.List(fields.String())
    workers = fields.List(fields.Nested(GridWorkerRef))


class GridWorker(Schema):
    id = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "Masked unless the role may see it."})
    account = fields.String(allow_none=True)
    grid_id = fields.String()


class Resident(Schema):
    id = fields.String()
    name = fields.String()
    gender = fields.String()
    birth_date = fields.String(metadata={"format": "date"})
    age = fields.Integer()
    id_number = fields.String(metadata={"description": "Masked (370***********123X) unless the role may see it."})
    phone = fields.String(allow_none=True, metadata={"description": "Masked (138****5678) unless the role may see it."})
    household_id = fields.String(allow_none=True)
    building_id = fields.String()
    unit = fields.Integer()
    floor = fields.Integer()
    room = fields.String()
    building_number = fields.Integer(allow_none=True)
    grid_id = fields.String()
    relation_to_head = fields.String(allow_none=True)
    tags = fields.List(fields.String())
    language = fields.String(metadata={"enum": list(LANGUAGES)})
    preferred_channel = fields.String(allow_none=True, metadata={"enum": list(RESIDENT_CHANNELS)})


class DwellingAddress(Schema):
    building_id = fields.String()
    unit = fields.Integer()
    floor = fields.Integer()
    room = fields.String()


class Household(Schema):
    id = fields.String()
    origin_village = fields.String(allow_none=True)
    resettled_on = fields.String(allow_none=True)
    dwelling = fields.Nested(DwellingAddress)
    head_resident_id = fields.String(allow_none=True)
    member_count = fields.Integer()
    member_ids = fields.List(fields.String(), metadata={"description": "The residents of the household."})


class Residence(Schema):
    building_id = fields.String()
    unit = fields.Integer()
    floor = fields.Integer()
    room = fields.String()
    moved_in = fields.String()
    moved_out = fields.String(allow_none=True)


class ImportError_(Schema):
    row = fields.Integer()
    field = fields.String()
    message = fields.String()


class ImportChange(Schema):
    """What one good row did: field names only, never values."""

    row = fields.Integer()
    resident_id = fields.String()
    action = fields.String(metadata={"description": "created, updated or unchanged"})
    fields_ = fields.List(fields.String(), data_key="fields")


class ImportResult(Schema):
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Nested(ImportError_))
    changes = fields.List(fields.Nested(ImportChange))


class Organization(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    contacts = fields.List(fields.Nested(Contact))
    webhook_url = fields.String(allow_none=True)


class Account(Schema):
    """An account as admins see it; the password (hash) is never shown."""

    id = fields.String()
    username = fields.String()
    roles = fields.List(fields.String(metadata={"enum": list(ROLES)}))
    organization_id = fields.String(allow_none=True)
    resident_id = fields.String(allow_none=True)
    organization_kind = fields.String(allow_none=True, metadata={
        "description": "The demo's link by kind, resolved to organization_id at the first sign-in."})
    resident_name = fields.String(allow_none=True, metadata={
        "description": "The demo's link by name, resolved to resident_id at the first sign-in."})
    active = fields.Boolean()
    created_at = fields.String()


class ServiceItem(Schema):
    id = fields.String()
    code = fields.String()
    name = fields.String()
    category = fields.String()
    materials = fields.List(fields.String())
    time_limit_days = fields.Integer()


class ProxyStep(Schema):
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    note = fields.String(allow_none=True)
    actor = fields.String()
    at = fields.String()


class ProxyRequest(Schema):
    id = fields.String()
    resident_id = fields.String()
    service_item_id = fields.String()
    grid_worker_id = fields.String(allow_none=True)
    grid_id = fields.String()
    status = fields.String()
    description = fields.String()
    authorization = fields.Nested(Authorization)
    evidence = fields.String(allow_none=True)
    rating = fields.Integer(allow_none=True)
    rating_comment = fields.String(allow_none=True)
    submitted_at = fields.String()
    due_on = fields.String()
    overdue = fields.Boolean()
    history = fields.List(fields.Nested(ProxyStep))


class NoticeStats(Schema):
    recipients = fields.Integer(metadata={"description": "pending + held + sent + delivered + acknowledged + failed "
                                                         "+ cancelled: each recipient counted once, by its best delivery."})
    pending = fields.Integer(metadata={"description": "Recipients whose delivery waits to be sent now (or retried)."})
    held = fields.Integer(metadata={"description": "Recipients whose delivery waits for quiet hours to end."})
    sent = fields.Integer(metadata={"description": "Handed to the SMS gateway, mail relay or grid worker."})
    delivered = fields.Integer(metadata={"description": "In the inbox, received by the handset or webhook."})
    acknowledged = fields.Integer()
    failed = fields.Integer(metadata={"description": "Every channel tried failed (a failure falls back first)."})
    cancelled = fields.Integer(metadata={"description": "Not sent: the notice was cancelled or expired first."})


class NoticeAudience(Audience):
    """Whom a notice addresses: what its publisher named, or, for a notice raised by one of
    notify's rules (rules.yml), the accounts and roles the rule names (e.g. the grid worker)."""
    accounts = fields.List(fields.String(), metadata={"description": "Set by rules only."})
    roles = fields.List(fields.String(), metadata={"description": "Set by rules only."})


class Notice(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    title_en = fields.String(allow_none=True)
    body_en = fields.String(allow_none=True)
    category = fields.String()
    severity = fields.String()
    urgency = fields.String()
    certainty = fields.String()
    status = fields.String(metadata={"enum": list(NOTICE_STATUSES)})
    msg_type = fields.String(metadata={"enum": list(MSG_TYPES)})
    references_id = fields.String(allow_none=True)
    issuer_account = fields.String()
    issuer_organization_id = fields.String(allow_none=True)
    audience = fields.Nested(NoticeAudience)
    requires_ack = fields.Boolean()
    ack_deadline = fields.String(allow_none=True)
    onset = fields.String(allow_none=True)
    ends = fields.String(allow_none=True)
    expires = fields.String(allow_none=True)
    send_at = fields.String(allow_none=True)
    created_at = fields.String()
    published_at = fields.String(allow_none=True)
    fanned_out_at = fields.String(allow_none=True)
    escalated_at = fields.String(allow_none=True, metadata={"description": "When a missed acknowledgement escalated."})
    stats = fields.Nested(NoticeStats, metadata={"description": "Only on GET /notices/{id}."})


class InboxNotice(Notice):
    acknowledged = fields.Boolean(metadata={"description": "The caller has acknowledged it."})


class NoticeRef(Schema):
    id = fields.String()
    status = fields.String()
    references_id = fields.String(allow_none=True)


class Preview(Schema):
    residents = fields.Integer()
    organizations = fields.Integer()
    recipients = fields.Integer()
    per_building = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Residents per building number."})
    per_channel = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Recipients per first channel."})
    unknown_organization_ids = fields.List(fields.String())


class RecipientPlace(Schema):
    name = fields.String()
    building_number = fields.Integer(allow_none=True)
    unit = fields.Integer(allow_none=True)
    floor = fields.Integer(allow_none=True)
    room = fields.String(allow_none=True)


class Delivery(Schema):
    id = fields.String()
    notice_id = fields.String()
    recipient_type = fields.String(metadata={"enum": list(RECIPIENT_TYPES)})
    recipient_id = fields.String()
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    status = fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    assignee = fields.String(allow_none=True, metadata={"description": "The grid worker carrying a door-to-door notice."})
    building_id = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    fallback_of = fields.String(allow_none=True)
    sent_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    acknowledged_at = fields.String(allow_none=True)
    held_until = fields.String(allow_none=True, metadata={
        "description": "When a held delivery goes out: the end of the quiet hours."})


class DoorToDoorTask(Delivery):
    recipient = fields.Nested(RecipientPlace)
    notice_title = fields.String()
    severity = fields.String()


class AcknowledgementResult(Schema):
    notice_id = fields.String()
    recipient_type = fields.String()
    recipient_id = fields.String()
    acknowledged_at = fields.String()
    acknowledged_by = fields.String()


class ReceiptCounts(Schema):
    delivered = fields.Integer()
    failed = fields.Integer(metadata={"description": "Each failed SMS falls back to the resident's next channel."})
    unchanged = fields.Integer(metadata={"description": "Repeated or late receipts: nothing changed."})
    unknown = fields.Integer(metadata={"description": "References that are no SMS delivery."})


class Problem(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Health(Schema):
    status = fields.String()
    down = fields.List(fields.String())


def list_of(item_schema):
    """``{"items": [...], "total": N, "total_estimated", "next_cursor"}`` for ``item_schema``,
    named for the OpenAPI document."""
    return type(f"{item_schema.__name__}List", (Schema,), {
        "items": fields.List(fields.Nested(item_schema)), "total": fields.Integer(),
        "total_estimated": fields.Boolean(metadata={
            "description": "True when total is the database's estimate (past 10,000 rows a list is not "
                           "counted); absent or false when it is exact."}),
        "next_cursor": fields.String(allow_none=True, metadata={
            "description": "Pass as cursor for the page after this one; null on the last page. Only on "
                           "the lists that take a cursor."}),
    })


BuildingList = list_of(Building)
DwellingList = list_of(Dwelling)
GridList = list_of(Grid)
GridWorkerList = list_of(GridWorker)
HouseholdList = list_of(Household)
ResidentList = list_of(Resident)
ResidenceList = list_of(Residence)
OrganizationList = list_of(Organization)
AccountList = list_of(Account)
ServiceItemList = list_of(ServiceItem)
ProxyRequestList = list_of(ProxyRequest)
NoticeList = list_of(Notice)
InboxNoticeList = list_of(InboxNotice)
DeliveryList = list_of(Delivery)
DoorToDoorTaskList = list_of(DoorToDoorTask)


# -- sign-in throttling (gateway.throttle) ---------------------------------------------------
class SignInFailureQuery(Paging):
    username = fields.String(validate=validate.Length(max=100))


class SignInFailure(Schema):
    """A wrong username or password: which username, from which client address, when."""

    username = fields.String()
    client_address = fields.String()
    failed_at = fields.String()


SignInFailureList = list_of(SignInFailure)


class Unlocked(Schema):
    username = fields.String()
    unlocked = fields.Boolean(metadata={"description": "The username's failed sign-ins are forgotten."})


# -- the personal-data audit log ---------------------------------------------------------------
class PiiAccessQuery(Paging):
    account = Text(100, metadata={"description": "Who read (a username)."})
    resident_id = Text(36, metadata={"description": "Whose numbers were read."})
    since = Timestamp(data_key="from", metadata={"description": "From this time (inclusive), ISO 8601 with offset."})
    until = Timestamp(data_key="to", metadata={"description": "Up to this time (exclusive)."})


class PiiAccess(Schema):
    id = fields.String()
    account = fields.String(metadata={"description": "The account that saw the numbers unmasked."})
    subject_type = fields.String(metadata={"description": "resident or grid_worker"})
    subject_id = fields.String(metadata={"description": "The resident's (or grid worker's) id."})
    fields_ = fields.List(fields.String(), data_key="fields",
                          metadata={"description": "What was shown unmasked: id_number, phone."})
    route = fields.String(allow_none=True, metadata={
        "description": "How: the HTTP route (\"GET /api/v1/residents/{resident_id}\"), or \"rpc registry.<method>\"."})
    at = fields.AwareDateTime()


PiiAccessList = list_of(PiiAccess)
