"""The facts the registry publishes on ``registry.events``, each with its payload schema.

Payloads carry what a projection needs (ids, dwelling, grid, tags, names). Contact details travel
masked for reading (``phone_masked``) and, for delivery, as ``phone_token``: the registry's own
ciphertext under the platform's PII key, which only a holder of that key opens. notify holds it and
decrypts a number only to hand it to the SMS gateway, never to show it, so that is not an audited
read (the registry audits every number it shows a person: ``registry.pii``); an integrator without
the key learns nothing from it. The health tags travel the same way (``health_tags_token``).
"""
from marshmallow import Schema, fields

from heyun.events import EventType


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
    gender = fields.String(required=True)
    birth_date = fields.Date(required=True)
    household_id = fields.String(allow_none=True)
    relation_to_head = fields.String(allow_none=True)
    dwelling = fields.Nested(DwellingPayload, allow_none=True)
    grid_id = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)  # all but the health tags
    # The health tags (mobility_impaired, disabled) as ciphertext under the PII key, like the
    # phone: notify can address those who cannot walk; an integrator learns nothing.
    health_tags_token = fields.String(allow_none=True)
    phone_masked = fields.String(allow_none=True)
    has_phone = fields.Boolean(required=True)
    # The phone as ciphertext under the platform's PII key: notify (which holds the key) can text
    # the resident; an integrator without the key sees nothing usable.
    phone_token = fields.String(allow_none=True)
    language = fields.String(required=True)
    preferred_channel = fields.String(allow_none=True)


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
    kind = fields.String(required=True)
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
    status = fields.String(required=True)
    due_on = fields.Date(required=True)


class ProxyRequestTransitionedPayload(ProxyRequestPayload):
    action = fields.String(required=True)
    from_status = fields.String(required=True)


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

ALL = (
    RESIDENT_REGISTERED, RESIDENT_UPDATED, RESIDENT_MOVED, HOUSEHOLD_REGISTERED,
    GRID_WORKER_ASSIGNED, BUILDING_MOVED, ORGANIZATION_REGISTERED, ORGANIZATION_UPDATED,
    PROXY_REQUEST_SUBMITTED, PROXY_REQUEST_TRANSITIONED, PROXY_REQUEST_RATED, PROXY_REQUEST_OVERDUE,
)
