"""What the HTTP API accepts and returns, as marshmallow schemas.

A request for a service is checked with that service's own schema, from its published contract
(``registry.contract``, ``notify.contract``), so a malformed request is a 422 naming the field
and never reaches a service, and the gateway and the service cannot disagree on what is valid.
The route then passes on JSON primitives, which the service loads again through the same schema:
a body as the client sent it (a date stays the text "1950-02-01" on the way; the service makes it
a date), a query's filters loaded (numbers, booleans) but a time as its text. The gateway's own is
here too: signing in and accounts, paging, the problem and health documents, and the response
schemas that describe the answers in the OpenAPI document; responses are passed on as the services
made them (masked by the registry for the caller), never re-filled by the gateway.
"""
from marshmallow import EXCLUDE, Schema, fields, post_load, validate

from community.roles import Role
from heyun.contract import one_of
from heyun.schemas import KeysetPaging, Paging
from notify import contract as notify
from registry import contract as registry


JSON_PRIMITIVES = (str, int, float, bool, type(None))


def Text(maximum, **kwargs):
    return fields.String(validate=validate.Length(1, maximum), **kwargs)


def as_sent(owner_schema, name=None):
    """``owner_schema`` (an RPC input of a service's contract) checking a request body exactly as
    its owner will, and loading to the body as sent: JSON primitives for the RPC."""
    class AsSent(owner_schema):
        @post_load(pass_original=True)
        def body_as_sent(self, data, original, **kwargs):
            return original
    AsSent.__name__ = AsSent.__qualname__ = name or owner_schema.__name__
    AsSent.__doc__ = owner_schema.__doc__
    return AsSent


def query_of(owner_filters, name, paging=Paging):
    """``paging`` and ``owner_filters`` (a list RPC's filters, from the service's contract), checked
    as the owner will check them, loaded under the names sent; a value that loads to no JSON
    primitive (a time) is passed on as the text sent, for the owner to load again."""
    class Query(paging, owner_filters):
        @post_load(pass_original=True)
        def primitives(self, data, original, **kwargs):
            sent = {}
            for attribute, value in data.items():
                key = self.fields[attribute].data_key or attribute
                if value is None and key not in original:
                    continue  # a default of nothing (no cursor) carries nothing
                sent[key] = value if isinstance(value, JSON_PRIMITIVES) else original[key]
            return sent
    Query.__name__ = Query.__qualname__ = name
    Query.__doc__ = owner_filters.__doc__
    return Query


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


class AccountQuery(Paging):
    role = fields.String(validate=one_of(Role))


class AccountCreate(Schema):
    username = fields.String(required=True, validate=[validate.Length(1, 100), USERNAME])
    password = fields.String(required=True, load_only=True, validate=NEW_PASSWORD)
    roles = fields.List(fields.String(validate=one_of(Role)), required=True, validate=validate.Length(1))
    organization_id = fields.String(allow_none=True, validate=validate.Length(1, 36), metadata={
        "description": "The organisation a property manager or the water plant's staff speak for."})
    resident_id = fields.String(allow_none=True, validate=validate.Length(1, 36), metadata={
        "description": "The resident a resident account is."})


class AccountUpdate(Schema):
    roles = fields.List(fields.String(validate=one_of(Role)), validate=validate.Length(1))
    active = fields.Boolean(metadata={"description": "false: the account can no longer sign in."})
    password = fields.String(load_only=True, validate=NEW_PASSWORD, metadata={"description": "A new password."})
    organization_id = fields.String(allow_none=True, validate=validate.Length(1, 36))
    resident_id = fields.String(allow_none=True, validate=validate.Length(1, 36))


# -- paging and filters (query strings) ----------------------------------------------------
# Paging is the kernel's (heyun.schemas), the one the services check too; the filters are theirs.
# KeysetPaging adds the cursor for the lists that page by it (the registry's), and Paging refuses
# one as unknown.
BuildingQuery = query_of(registry.BuildingFilters, "BuildingQuery", KeysetPaging)
DwellingQuery = query_of(registry.DwellingFilters, "DwellingQuery", KeysetPaging)
GridWorkerQuery = query_of(registry.GridWorkerFilters, "GridWorkerQuery", KeysetPaging)
HouseholdQuery = query_of(registry.HouseholdFilters, "HouseholdQuery", KeysetPaging)
ResidentQuery = query_of(registry.ResidentFilters, "ResidentQuery", KeysetPaging)
OrganizationQuery = query_of(registry.OrganizationFilters, "OrganizationQuery", KeysetPaging)
ProxyRequestQuery = query_of(registry.ProxyRequestFilters, "ProxyRequestQuery")
PiiAccessQuery = query_of(registry.PiiAccessFilters, "PiiAccessQuery")
NoticeQuery = query_of(notify.NoticeFilters, "NoticeQuery")
DeliveryQuery = query_of(notify.DeliveryFilters, "DeliveryQuery")
TaskQuery = query_of(notify.TaskFilters, "TaskQuery")


def split_query(query):
    """``{limit, offset, **filters}`` → ``(filters, limit, offset)`` for a list RPC. A ``cursor``
    stays among the filters: the service's ``heyun.schemas.listing`` takes it from there."""
    filters = dict(query)
    return filters, filters.pop("limit", 50), filters.pop("offset", 0)


# -- request bodies: the registry's and notify's own schemas ---------------------------------
ResidentCreate = as_sent(registry.ResidentCreate)
ResidentUpdate = as_sent(registry.ResidentUpdate)
Move = as_sent(registry.Move)
HouseholdCreate = as_sent(registry.HouseholdCreate)
GridWorkerCreate = as_sent(registry.GridWorkerCreate)
GridWorkerUpdate = as_sent(registry.GridWorkerUpdate)
BuildingCreate = as_sent(registry.BuildingCreate)
BuildingMove = as_sent(registry.BuildingMove)
GridCreate = as_sent(registry.GridCreate)
OrganizationCreate = as_sent(registry.OrganizationCreate)
OrganizationUpdate = as_sent(registry.OrganizationUpdate)
ProxyRequestCreate = as_sent(registry.ProxyRequestCreate)
Transition = as_sent(registry.Transition)
Rating = as_sent(registry.Rating)
NoticeCreate = as_sent(notify.NoticeCreate)
NoticeUpdate = as_sent(notify.NoticeUpdate)
NoticeCancel = as_sent(notify.NoticeCancel)
AcknowledgementCreate = as_sent(notify.Acknowledgement, "AcknowledgementCreate")
# Documentation only: the body reaches notify as sent, which checks its signature, then this.
SmsReceipts = notify.Receipts
Contact = registry.Contact
Authorization = registry.Authorization
Audience = notify.Audience


class PreviewRequest(Schema):
    """The audience to count. The rest of a notice draft may come along and is ignored, so a client
    can preview exactly the body it is about to POST to /notices."""

    class Meta:
        unknown = EXCLUDE

    audience = fields.Nested(Audience, required=True)


# -- responses (for the OpenAPI document) --------------------------------------------------
def Word(vocabulary, **kwargs):
    """A field of an answer holding one of ``vocabulary``'s words (listed as its enum)."""
    metadata = {"enum": [str(word) for word in vocabulary], **kwargs.pop("metadata", {})}
    return fields.String(metadata=metadata, **kwargs)


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
    gender = Word(registry.Gender)
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
    tags = fields.List(Word(registry.Tag))
    language = Word(registry.Language)
    preferred_channel = Word(registry.ResidentChannel, allow_none=True)


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
    kind = Word(registry.OrganizationKind)
    contacts = fields.List(fields.Nested(Contact))
    webhook_url = fields.String(allow_none=True)


class Account(Schema):
    """An account as admins see it; the password (hash) is never shown."""

    id = fields.String()
    username = fields.String()
    roles = fields.List(Word(Role))
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
    from_status = Word(registry.ProxyStatus, allow_none=True)
    to_status = Word(registry.ProxyStatus)
    note = fields.String(allow_none=True)
    actor = fields.String()
    at = fields.String()


class ProxyRequest(Schema):
    id = fields.String()
    resident_id = fields.String()
    service_item_id = fields.String()
    grid_worker_id = fields.String(allow_none=True)
    grid_id = fields.String()
    status = Word(registry.ProxyStatus)
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
    category = Word(notify.Category)
    severity = Word(notify.Severity)
    urgency = Word(notify.Urgency)
    certainty = Word(notify.Certainty)
    status = Word(notify.NoticeStatus)
    msg_type = Word(notify.MsgType)
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
    status = Word(notify.NoticeStatus)
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
    recipient_type = Word(notify.RecipientType)
    recipient_id = fields.String()
    channel = Word(notify.Channel)
    status = Word(notify.DeliveryStatus)
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
    severity = Word(notify.Severity)


class AcknowledgementResult(Schema):
    notice_id = fields.String()
    recipient_type = Word(notify.RecipientType)
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
class PiiAccess(Schema):
    id = fields.String()
    account = fields.String(metadata={"description": "The account that saw the numbers unmasked."})
    subject_type = Word(registry.PiiSubject, metadata={
        "description": "Whose numbers: a resident's or a grid worker's."})
    subject_id = fields.String(metadata={"description": "The resident's (or grid worker's) id."})
    fields_ = fields.List(fields.String(), data_key="fields",
                          metadata={"description": "What was shown unmasked: id_number, phone."})
    route = fields.String(allow_none=True, metadata={
        "description": "How: the HTTP route (\"GET /api/v1/residents/{resident_id}\"), or \"rpc registry.<method>\"."})
    at = fields.AwareDateTime()


PiiAccessList = list_of(PiiAccess)
