"""What the registry accepts over RPC. Every entrypoint loads its input through one of these, so
wrong types, missing and unknown fields come back as ``InvalidInput`` naming the field."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from heyun.schemas import Paging, listing, load  # noqa: F401 (re-exported for the service)

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

Text = lambda maximum, **kw: fields.String(validate=validate.Length(1, maximum), **kw)  # noqa: E731


# A dwelling's address can only be as high and as wide as these, so a building is no taller or
# wider either (a 61st floor could hold nobody).
FLOORS = validate.Range(1, 60)
UNITS = validate.Range(1, 20)


class DwellingRef(Schema):
    building_id = Text(36, required=True)
    unit = fields.Integer(required=True, validate=UNITS)
    floor = fields.Integer(required=True, validate=FLOORS)
    room = Text(10, required=True)


class ResidentCreate(Schema):
    name = Text(100, required=True)
    gender = fields.String(required=True, validate=validate.OneOf(GENDERS))
    birth_date = fields.Date(required=True)
    id_number = fields.String(required=True, validate=validate.Length(1, 30))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)), load_default=list)
    relation_to_head = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True, load_default=None)
    language = fields.String(load_default="zh", validate=validate.OneOf(LANGUAGES))
    preferred_channel = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(RESIDENT_CHANNELS))
    dwelling = fields.Nested(DwellingRef, required=True)


class ResidentUpdate(Schema):
    name = Text(100)
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    preferred_channel = fields.String(allow_none=True, validate=validate.OneOf(RESIDENT_CHANNELS))
    phone = fields.String(allow_none=True, validate=validate.Length(0, 20))
    tags = fields.List(fields.String(validate=validate.OneOf(TAGS)))
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))
    household_id = fields.String(allow_none=True)


class Move(Schema):
    dwelling = fields.Nested(DwellingRef, required=True)
    moved_on = fields.Date(load_default=None)
    # The household at the new address the resident joins; without it they leave their household.
    household_id = fields.String(allow_none=True)
    relation_to_head = fields.String(allow_none=True, validate=validate.Length(0, 30))


class ResidentFilters(Schema):
    building_id = fields.String()
    floor_min = fields.Integer(validate=validate.Range(1, 60))
    floor_max = fields.Integer(validate=validate.Range(1, 60))
    tag = fields.String(validate=validate.OneOf(TAGS))
    grid_id = fields.String()
    min_age = fields.Integer(validate=validate.Range(0, 150))
    max_age = fields.Integer(validate=validate.Range(0, 150))
    household_id = fields.String()
    q = fields.String(validate=validate.Length(1, 50))

    @validates_schema
    def ranges_are_ordered(self, data, **kwargs):
        if data.get("floor_min") and data.get("floor_max") and data["floor_min"] > data["floor_max"]:
            raise ValidationError("floor_min is above floor_max.", "floor_min")
        if data.get("min_age") is not None and data.get("max_age") is not None \
                and data["min_age"] > data["max_age"]:
            raise ValidationError("min_age is above max_age.", "min_age")


class BuildingFilters(Schema):
    grid_id = fields.String()


class BuildingCreate(Schema):
    number = fields.Integer(required=True, validate=validate.Range(1, 9999))
    name = Text(100, required=True)
    floors = fields.Integer(required=True, validate=FLOORS)
    units = fields.Integer(required=True, validate=UNITS)
    grid_id = Text(36, allow_none=True, load_default=None)


class BuildingMove(Schema):
    grid_id = Text(36, required=True)


class GridCreate(Schema):
    name = Text(100, required=True)
    building_ids = fields.List(Text(36), load_default=list)


class DwellingFilters(Schema):
    building_id = fields.String()
    unit = fields.Integer()
    floor = fields.Integer()


class GridWorkerFilters(Schema):
    grid_id = fields.String()


class GridWorkerCreate(Schema):
    name = Text(100, required=True)
    phone = fields.String(allow_none=True, load_default=None)
    account = fields.String(allow_none=True, load_default=None, validate=validate.Length(1, 100))
    grid_id = Text(36, required=True)


class HouseholdFilters(Schema):
    building_id = fields.String()
    origin_village = fields.String()


class HouseholdCreate(Schema):
    origin_village = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 50))
    resettled_on = fields.Date(allow_none=True, load_default=None)
    dwelling = fields.Nested(DwellingRef, required=True)


class Contact(Schema):
    name = Text(100, required=True)
    role = fields.String(load_default="", validate=validate.Length(0, 100))
    phone = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 30))
    email = fields.Email(allow_none=True, load_default=None)


class OrganizationFilters(Schema):
    kind = fields.String(validate=validate.OneOf(ORGANIZATION_KINDS))


class OrganizationCreate(Schema):
    name = Text(200, required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORGANIZATION_KINDS))
    contacts = fields.List(fields.Nested(Contact), load_default=list)
    webhook_url = fields.Url(allow_none=True, load_default=None, require_tld=False, schemes={"http", "https"},
                             validate=validate.Length(max=500))  # the column's size, here and in notify


class Authorization(Schema):
    scope = Text(500, required=True)
    valid_until = fields.Date(required=True)


class ProxyRequestCreate(Schema):
    resident_id = Text(36, required=True)
    service_item_id = Text(36, required=True)
    description = fields.String(load_default="", validate=validate.Length(0, 2000))
    authorization = fields.Nested(Authorization, required=True)


class ProxyRequestFilters(Schema):
    status = fields.String(validate=validate.OneOf(PROXY_STATUSES))
    resident_id = fields.String()
    grid_id = fields.String()
    grid_worker_id = fields.String()
    overdue = fields.Boolean()


class Transition(Schema):
    action = fields.String(required=True, validate=validate.OneOf(PROXY_ACTIONS))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 2000))
    evidence = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 2000))


class Rating(Schema):
    rating = fields.Integer(required=True, validate=validate.Range(1, 5))
    comment = fields.String(allow_none=True, load_default=None, validate=validate.Length(0, 1000))


class Snapshot(Schema):
    after_id = fields.String(load_default="")
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 5000))


class PiiAccessFilters(Schema):
    """The audit log's filters: who read, whose numbers, from (inclusive) and to (exclusive)."""
    account = Text(100)
    resident_id = Text(36)
    since = fields.AwareDateTime(data_key="from")
    until = fields.AwareDateTime(data_key="to")
