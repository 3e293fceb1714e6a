"""The registry's published contract: its vocabularies, what its RPC entrypoints accept, and the
events it publishes on ``registry.events``. Importable without Nameko, SQLAlchemy or a database:
the registry loads its input through these schemas, the gateway checks a request with the same
ones before passing it on, and the OpenAPI and AsyncAPI documents are generated from them.

Wrong types, missing and unknown fields come back as ``InvalidInput`` naming the field.
Event payloads carry what a projection needs (ids, dwelling, grid, tags, names). Contact details
travel masked for reading (``phone_masked``) and, for delivery, as ``phone_token``: the registry's
own ciphertext under the platform's PII key, which only a holder of that key opens. notify holds it
and decrypts a number only to hand it to the SMS gateway, never to show it, so that is not an
audited read (the registry audits every number it shows a person: ``registry.pii``); an integrator
without the key learns nothing from it. The health tags travel the same way (``health_tags_token``).
"""
from enum import StrEnum

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from heyun.contract import one_of
from heyun.events import EventType


# -- vocabularies ---------------------------------------------------------------------------
class Tag(StrEnum):
    """What the community notes about a resident. The access policy (``community.policy``)
    groups them by how sensitive they are (health, welfare, civic) and says who sees which."""

    ELDERLY = "elderly"
    LIVING_ALONE = "living_alone"
    MOBILITY_IMPAIRED = "mobility_impaired"
    DISABLED = "disabled"
    VETERAN = "veteran"
    LOW_INCOME = "low_income"
    NO_SMARTPHONE = "no_smartphone"
    PARTY_MEMBER = "party_member"
    BUILDING_HEAD = "building_head"
    RESIDENT_REPRESENTATIVE = "resident_representative"
    EMPTY_NESTER = "empty_nester"


class Gender(StrEnum):
    MALE = "male"
    FEMALE = "female"


class Language(StrEnum):
    ZH = "zh"
    EN = "en"


class ResidentChannel(StrEnum):
    """How a resident prefers notices to reach them first (notify's channels include these)."""

    IN_APP = "in_app"
    SMS = "sms"
    DOOR_TO_DOOR = "door_to_door"


class OrganizationKind(StrEnum):
    PROPERTY_MANAGEMENT = "property_management"
    WATER_UTILITY = "water_utility"
    POLICE_STATION = "police_station"
    LEGAL_ADVISOR = "legal_advisor"
    STREET_OFFICE = "street_office"
    SOCIAL_ORGANIZATION = "social_organization"
    POWER_UTILITY = "power_utility"
    GAS_UTILITY = "gas_utility"


class ProxyAction(StrEnum):
    """What may happen to a help-and-proxy request (帮办代办); ``registry.proxy`` says when."""

    ACCEPT = "accept"
    START = "start"
    COMPLETE = "complete"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class ProxyStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class PiiSubject(StrEnum):
    """Whose numbers an entry of the personal-data audit log says were read."""

    RESIDENT = "resident"
    GRID_WORKER = "grid_worker"


def Text(maximum, **kwargs):
    return fields.String(validate=validate.Length(1, maximum), **kwargs)


# A dwelling's address can only be as high and as wide as these, so a building is no taller or
# wider either (a 61st floor could hold nobody), and no filter asks for more.
FLOORS = validate.Range(1, 60)
UNITS = validate.Range(1, 20)
AGES = validate.Range(0, 150)


# -- RPC inputs: places and the grid ----------------------------------------------------------
class DwellingRef(Schema):
    building_id = Text(36, required=True)
    unit = fields.Integer(required=True, validate=UNITS)
    floor = fields.Integer(required=True, validate=FLOORS)
    room = Text(10, required=True)


class BuildingFilters(Schema):
    grid_id = fields.String()


class BuildingCreate(Schema):
    number = fields.Integer(required=True, validate=validate.Range(1, 9999))
    name = Text(100, required=True)
    floors = fields.Integer(required=True, validate=FLOORS)
    units = fields.Integer(required=True, validate=UNITS)
    grid_id = Text(36, allow_none=True, load_default=None)


class BuildingMove(Schema):
    grid_id = Text(36, required=True, metadata={"description": "The grid the building (and its residents) moves to."})


class GridCreate(Schema):
    name = Text(100, required=True)
    building_ids = fields.List(Text(36), load_default=list,
                               metadata={"description": "Buildings the new grid takes over."})


class DwellingFilters(Schema):
    building_id = fields.String()
    unit = fields.Integer(validate=UNITS)
    floor = fields.Integer(validate=FLOORS)


class GridWorkerFilters(Schema):
    grid_id = fields.String()


class GridWorkerCreate(Schema):
    name = Text(100, required=True)
    phone = fields.String(allow_none=True, load_default=None)
    account = fields.String(allow_none=True, load_default=None, validate=validate.Length(1, 100))
    grid_id = Text(36, required=True)


class GridWorkerUpdate(GridWorkerCreate):
    """What changes (loaded partially: a field not sent stays): a new grid is announced
    (grid_worker_assigned); the worker's own account covers it from its next sign-in."""


# -- RPC inputs: households and residents ---------------------------------------------------
class HouseholdFilters(Schema):
    building_id = fields.String()
    origin_village = fields.String()


class HouseholdCreate(Schema):
    origin_village = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 50))
    resettled_on = fields.Date(allow_none=True, load_default=None)
    dwelling = fields.Nested(DwellingRef, required=True)


class ResidentCreate(Schema):
    name = Text(100, required=True)
    gender = fields.String(required=True, validate=one_of(Gender))
    birth_date = fields.Date(required=True)
    id_number = fields.String(required=True, validate=validate.Length(1, 30))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=one_of(Tag)), load_default=list)
    relation_to_head = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True, load_default=None)
    language = fields.String(load_default=Language.ZH.value, validate=one_of(Language))
    preferred_channel = fields.String(
        allow_none=True, load_default=None, validate=one_of(ResidentChannel), metadata={
            "description": "How notices reach them first; null: in-app, or door to door without a smartphone."})
    dwelling = fields.Nested(DwellingRef, required=True)


class ResidentUpdate(Schema):
    name = Text(100)
    language = fields.String(validate=one_of(Language))
    preferred_channel = fields.String(allow_none=True, validate=one_of(ResidentChannel))
    phone = fields.String(allow_none=True, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=one_of(Tag)))
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True)


class Move(Schema):
    dwelling = fields.Nested(DwellingRef, required=True)
    moved_on = fields.Date(load_default=None)
    household_id = fields.String(allow_none=True, metadata={
        "description": "A household at the new address to join; without it the resident leaves their household."})
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))


class ResidentFilters(Schema):
    building_id = fields.String()
    floor_min = fields.Integer(validate=FLOORS)
    floor_max = fields.Integer(validate=FLOORS)
    tag = fields.String(validate=one_of(Tag))
    grid_id = fields.String()
    min_age = fields.Integer(validate=AGES)
    max_age = fields.Integer(validate=AGES)
    household_id = fields.String()
    q = fields.String(validate=validate.Length(1, 50), metadata={
        "description": "Name, or the last digits of the phone or ID number; a whole ID or mobile number "
                       "finds that person for the roles that see numbers unmasked (audited)."})

    @validates_schema
    def ranges_are_ordered(self, data, **kwargs):
        if data.get("floor_min") and data.get("floor_max") and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")
        if data.get("min_age") is not None and data.get("max_age") is not None \
                and data["min_age"] > data["max_age"]:
            raise ValidationError("min_age is above max_age.", "min_age")


class Snapshot(Schema):
    after_id = fields.String(load_default="")
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 5000))


# -- RPC inputs: organisations --------------------------------------------------------------
class Contact(Schema):
    name = Text(100, required=True)
    role = fields.String(load_default="", validate=validate.Length(0, 100))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 30))
    email = fields.Email(allow_none=True, load_default=None)


class OrganizationFilters(Schema):
    kind = fields.String(validate=one_of(OrganizationKind))


class OrganizationCreate(Schema):
    name = Text(200, required=True)
    kind = fields.String(required=True, validate=one_of(OrganizationKind))
    contacts = fields.List(fields.Nested(Contact), load_default=list)
    webhook_url = fields.Url(allow_none=True, load_default=None, require_tld=False, schemes={"http", "https"},
                             validate=validate.Length(max=500),  # the column's size, here and in notify
                             metadata={"description": "Where notify posts the organisation's notices "
                                                      "(signed, X-Heyun-Signature)."})


class OrganizationUpdate(OrganizationCreate):
    """The kind is fixed (accounts and notices find organisations by it); the rest may change
    (loaded partially: a field not sent stays)."""

    class Meta:
        exclude = ("kind",)


# -- RPC inputs: help-and-proxy requests ------------------------------------------------------
class Authorization(Schema):
    scope = Text(500, required=True)
    valid_until = fields.Date(required=True)


class ProxyRequestCreate(Schema):
    resident_id = Text(36, required=True)
    service_item_id = Text(36, required=True)
    description = fields.String(load_default="", validate=validate.Length(0, 2000))
    authorization = fields.Nested(Authorization, required=True)


class ProxyRequestFilters(Schema):
    status = fields.String(validate=one_of(ProxyStatus))
    resident_id = fields.String()
    grid_id = fields.String()
    grid_worker_id = fields.String()
    overdue = fields.Boolean()


class Transition(Schema):
    action = fields.String(required=True, validate=one_of(ProxyAction))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 2000))
    evidence = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 2000))


class Rating(Schema):
    rating = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 1000))


# -- RPC inputs: the personal-data audit log --------------------------------------------------
class PiiAccessFilters(Schema):
    """The audit log's filters: who read, whose numbers, from (inclusive) and to (exclusive)."""

    account = Text(100, metadata={"description": "Who read (a username)."})
    resident_id = Text(36, metadata={"description": "Whose numbers were read."})
    since = fields.AwareDateTime(data_key="from", metadata={
        "description": "From this time (inclusive), ISO 8601 with offset."})
    until = fields.AwareDateTime(data_key="to", metadata={"description": "Up to this time (exclusive)."})


# -- events -----------------------------------------------------------------------------------
class DwellingPayload(Schema):
    dwelling_id = fields.String(required=True)
    building_id = fields.String(required=True)
    building_number = fields.Integer(required=True)
    unit = fields.Integer(required=True)
    floor = fields.Integer(required=True)
    room = fields.String(required=True)


class ResidentPayload(Schema):
    resident_id = fields.String(required=True)
    name = fields.String(required=True)
    gender = fields.String(required=True, validate=one_of(Gender))
    birth_date = fields.Date(required=True)
    household_id = fields.String(allow_none=True)
    relation_to_head = fields.String(allow_none=True)
    dwelling = fields.Nested(DwellingPayload, allow_none=True)
    grid_id = fields.String(allow_none=True)
    tags = fields.List(fields.String(validate=one_of(Tag)), required=True)  # all but the health tags
    # The health tags (mobility_impaired, disabled) as ciphertext under the PII key, like the
    # phone: notify can address those who cannot walk; an integrator learns nothing.
    health_tags_token = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)
    has_phone = fields.Boolean(required=True)
    # The phone as ciphertext under the platform's PII key: notify (which holds the key) can text
    # the resident; an integrator without the key sees nothing usable.
    phone_token = fields.String(allow_none=True)
    language = fields.String(required=True, validate=one_of(Language))
    preferred_channel = fields.String(allow_none=True, validate=one_of(ResidentChannel))


class ResidentUpdatedPayload(ResidentPayload):
    changed = fields.List(fields.String(), required=True)


class ResidentMovedPayload(Schema):
    resident_id = fields.String(required=True)
    from_dwelling = fields.Nested(DwellingPayload, allow_none=True)
    to_dwelling = fields.Nested(DwellingPayload, required=True)
    grid_id = fields.String(allow_none=True)
    moved_on = fields.Date(required=True)
    # The household the resident is in after the move: none when they left the old one without
    # joining one at the new address.
    household_id = fields.String(allow_none=True)
    relation_to_head = fields.String(allow_none=True)


class HouseholdPayload(Schema):
    household_id = fields.String(required=True)
    origin_village = fields.String(allow_none=True)
    resettled_on = fields.Date(allow_none=True)
    dwelling = fields.Nested(DwellingPayload, allow_none=True)


class GridWorkerPayload(Schema):
    grid_worker_id = fields.String(required=True)
    name = fields.String(required=True)
    account = fields.String(allow_none=True)
    grid_id = fields.String(required=True)
    building_ids = fields.List(fields.String(), required=True)


class BuildingMovedPayload(Schema):
    building_id = fields.String(required=True)
    building_number = fields.Integer(required=True)
    from_grid_id = fields.String(allow_none=True)  # none: the building was in no grid
    to_grid_id = fields.String(required=True)


class OrganizationPayload(Schema):
    organization_id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=one_of(OrganizationKind))
    contact_names = fields.List(fields.String(), required=True)
    emails = fields.List(fields.String(), required=True)  # work addresses notify sends notices to
    webhook_url = fields.String(allow_none=True)


class ProxyRequestPayload(Schema):
    request_id = fields.String(required=True)
    resident_id = fields.String(required=True)
    service_item_id = fields.String(required=True)
    service_item_name = fields.String(required=True)
    grid_worker_id = fields.String(allow_none=True)
    grid_worker_account = fields.String(allow_none=True)
    grid_id = fields.String(allow_none=True)
    status = fields.String(required=True, validate=one_of(ProxyStatus))
    due_on = fields.Date(required=True)


class ProxyRequestTransitionedPayload(ProxyRequestPayload):
    action = fields.String(required=True, validate=one_of(ProxyAction))
    from_status = fields.String(required=True, validate=one_of(ProxyStatus))


class ProxyRequestRatedPayload(ProxyRequestPayload):
    rating = fields.Integer(required=True)


RESIDENT_REGISTERED = EventType("resident_registered", ResidentPayload,
                                "A resident was added to the registry (by hand or by import).")
RESIDENT_UPDATED = EventType("resident_updated", ResidentUpdatedPayload,
                             "A resident's details changed; `changed` names the fields.")
RESIDENT_MOVED = EventType("resident_moved", ResidentMovedPayload,
                           "A resident moved to another dwelling; the old one stays in the history.")
HOUSEHOLD_REGISTERED = EventType("household_registered", HouseholdPayload, "A household was registered.")
GRID_WORKER_ASSIGNED = EventType("grid_worker_assigned", GridWorkerPayload,
                                 "A grid worker was assigned to a grid and its buildings; republished whole "
                                 "when the worker's grid, name or account changes.")
# Everyone living in the building now belongs to the new grid (and its grid worker); the residents
# are not announced one by one, so a projection keeping a grid per resident moves them all.
BUILDING_MOVED = EventType("building_moved", BuildingMovedPayload,
                           "A building passed to another grid, and with it every resident living there.")
ORGANIZATION_REGISTERED = EventType("organization_registered", OrganizationPayload,
                                    "An organisation (property management, water plant…) was registered.")
# The whole organisation as it now is, like ``organization_registered``, so a projection applies
# both the same way (an upsert) and learns a new webhook URL or e-mail address at once.
ORGANIZATION_UPDATED = EventType("organization_updated", OrganizationPayload,
                                 "An organisation's name, contacts or webhook URL changed.")
PROXY_REQUEST_SUBMITTED = EventType("proxy_request_submitted", ProxyRequestPayload,
                                    "A resident asked for help with a service item (帮办代办).")
PROXY_REQUEST_TRANSITIONED = EventType("proxy_request_transitioned", ProxyRequestTransitionedPayload,
                                       "A help-and-proxy request changed state.")
PROXY_REQUEST_RATED = EventType("proxy_request_rated", ProxyRequestRatedPayload,
                                "The resident rated a completed help-and-proxy request.")
PROXY_REQUEST_OVERDUE = EventType("proxy_request_overdue", ProxyRequestPayload,
                                  "A help-and-proxy request passed its due date unfinished.")

EVENTS = (
    RESIDENT_REGISTERED, RESIDENT_UPDATED, RESIDENT_MOVED, HOUSEHOLD_REGISTERED,
    GRID_WORKER_ASSIGNED, BUILDING_MOVED, ORGANIZATION_REGISTERED, ORGANIZATION_UPDATED,
    PROXY_REQUEST_SUBMITTED, PROXY_REQUEST_TRANSITIONED, PROXY_REQUEST_RATED, PROXY_REQUEST_OVERDUE,
)
