"""gateway: the HTTP API of API.md. Each route declares its roles and schemas (checked by
``gateway.http`` before the worker runs), calls a service and returns what it answers; the
caller rides along in context data, so the registry applies scope and masking itself.

Who may do what (the services check object-level permission again):
- reads of places, households, residents, organisations: every role but ``resident``; a
  resident reads only their own record (``GET /residents/{id}``);
- registry writes: admin and staff; grid workers also register, update and move residents and
  import spreadsheets (the registry holds them to their grid);
- help-and-proxy requests: admin, staff, grid workers, and residents for their own requests
  (submit, withdraw, rate).
"""
from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from gateway import accounts, links, openapi, schemas, spreadsheets
from gateway.dependencies import Readiness, ServiceRpc
from gateway.http import BASE, api
from gateway.models import Account
from gateway.problems import JSON_TYPE, dumps
from heyun.db import Database
from heyun.errors import Forbidden, NotFound
from heyun.identity import SYSTEM, CallerIdentity

ADMIN = ("admin", "staff")
READERS = ("admin", "staff", "grid_worker", "property_manager", "water_utility_staff", "canteen_staff",
           "mediator", "police", "patrol_member", "volunteer")
RESIDENT_WRITERS = ADMIN + ("grid_worker",)
PROXY_USERS = ADMIN + ("grid_worker", "resident")
EVERYONE = ()


def only_resident(caller):
    """A resident account and nothing more: limited to its own record and requests."""
    return caller.has_role("resident") and not caller.has_role(*READERS)


class GatewayService:
    name = "gateway"

    db = Database(relay_outbox=False)  # the gateway publishes no events
    context = CallerIdentity()
    config = Config()
    registry = ServiceRpc("registry")
    readiness = Readiness()

    # -- auth, health, documentation -------------------------------------------------------
    @api("POST", BASE + "/auth/token", public=True, body=schemas.TokenRequest, response=schemas.TokenResponse,
         tag="auth", summary="Sign in: a bearer token for the other paths.")
    def issue_token(self, request, body):
        self.context.act_as(SYSTEM)  # the link lookups are the gateway's own, not the user's
        with self.db.transaction() as session:
            account = accounts.authenticate(session, body["username"], body["password"])
            wanted = links.missing_links(account)
        found = links.resolve(self.registry, account, wanted) if wanted else {"grid_ids": []}
        if found.keys() - {"grid_ids"}:
            with self.db.transaction() as session:
                stored = session.get(Account, account.id)
                for key in found.keys() - {"grid_ids"}:
                    setattr(stored, key, found[key])
                account = stored
        ttl = int(self.config["TOKEN_TTL_SECONDS"])
        token = accounts.issue_token(accounts.caller_for(account, found["grid_ids"]),
                                     self.config["TOKEN_SECRET"], ttl)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    @api("GET", "/readyz", public=True, response=schemas.Health, tag="operations",
         summary="Ready: the broker and every service answer.")
    def readyz(self, request):
        down = self.readiness()
        if down:
            return Response(dumps({"type": "about:blank", "title": "Service unavailable", "status": 503,
                                   "detail": "Not reachable: " + ", ".join(down) + ".", "down": down}),
                            status=503, content_type="application/problem+json")
        return {"status": "ready", "down": []}

    @api("GET", BASE + "/openapi.json", tag="operations", summary="This document.")
    def openapi_document(self, request):
        return Response(dumps(openapi.document(type(self))), content_type=JSON_TYPE)

    @api("GET", BASE + "/events/catalogue", tag="events", summary="AsyncAPI document of the registry's events.")
    def event_catalogue(self, request):
        return self.registry.catalogue()

    # -- places and the grid -----------------------------------------------------------------
    @api("GET", BASE + "/buildings", roles=READERS, query=schemas.BuildingQuery, response=schemas.BuildingList)
    def list_buildings(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_buildings(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/buildings/<building_id>", roles=READERS, response=schemas.Building)
    def get_building(self, request, building_id):
        return self.registry.get_building(building_id)

    @api("GET", BASE + "/dwellings", roles=READERS, query=schemas.DwellingQuery, response=schemas.DwellingList)
    def list_dwellings(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_dwellings(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/grids", roles=READERS, query=schemas.Paging, response=schemas.GridList)
    def list_grids(self, request, query):
        return self.registry.list_grids(limit=query["limit"], offset=query["offset"])

    @api("GET", BASE + "/grids/<grid_id>", roles=READERS, response=schemas.Grid)
    def get_grid(self, request, grid_id):
        return self.registry.get_grid(grid_id)

    @api("GET", BASE + "/grid-workers", roles=READERS, query=schemas.GridWorkerQuery, response=schemas.GridWorkerList)
    def list_grid_workers(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_grid_workers(filters=filters, limit=limit, offset=offset)

    @api("POST", BASE + "/grid-workers", roles=ADMIN, body=schemas.GridWorkerCreate, status=201,
         response=schemas.GridWorker)
    def create_grid_worker(self, request, body):
        return self.registry.create_grid_worker(body)

    # -- households and residents ----------------------------------------------------------
    @api("GET", BASE + "/households", roles=READERS, query=schemas.HouseholdQuery, response=schemas.HouseholdList)
    def list_households(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_households(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/households/<household_id>", roles=READERS, response=schemas.Household)
    def get_household(self, request, household_id):
        return self.registry.get_household(household_id)

    @api("POST", BASE + "/households", roles=ADMIN, body=schemas.HouseholdCreate, status=201,
         response=schemas.Household)
    def register_household(self, request, body):
        return self.registry.register_household(body)

    @api("GET", BASE + "/residents", roles=READERS, query=schemas.ResidentQuery, response=schemas.ResidentList)
    def list_residents(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_residents(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/residents/<resident_id>", roles=READERS + ("resident",), response=schemas.Resident)
    def get_resident(self, request, resident_id):
        caller = self.context.caller
        if only_resident(caller) and resident_id != caller.resident_id:
            raise NotFound(f"No resident with id {resident_id}.")  # others' existence is not revealed
        return self.registry.get_resident(resident_id)

    @api("POST", BASE + "/residents", roles=RESIDENT_WRITERS, body=schemas.ResidentCreate, status=201,
         response=schemas.Resident)
    def register_resident(self, request, body):
        return self.registry.register_resident(body)

    @api("PATCH", BASE + "/residents/<resident_id>", roles=RESIDENT_WRITERS, body=schemas.ResidentUpdate,
         response=schemas.Resident)
    def update_resident(self, request, resident_id, body):
        return self.registry.update_resident(resident_id, body)

    @api("POST", BASE + "/residents/<resident_id>/moves", roles=RESIDENT_WRITERS, body=schemas.Move,
         response=schemas.Resident, summary="Move a resident; the old dwelling stays in the history.")
    def move_resident(self, request, resident_id, body):
        return self.registry.move_resident(resident_id, body)

    @api("GET", BASE + "/residents/<resident_id>/history", roles=READERS, response=schemas.ResidenceList)
    def residence_history(self, request, resident_id):
        return self.registry.residence_history(resident_id)

    @api("POST", BASE + "/residents/import", roles=RESIDENT_WRITERS, upload=True, response=schemas.ImportResult,
         summary="Import residents from a CSV or XLSX spreadsheet, keyed by ID number.")
    def import_residents(self, request, upload):
        kind, data = upload
        header, rows = spreadsheets.read(kind, data)
        total = {"created": 0, "updated": 0, "unchanged": 0, "errors": []}
        for first_row_number, chunk in spreadsheets.chunks(rows):
            spreadsheets.add_results(total, self.registry.import_residents(header, chunk, first_row_number))
        return total

    # -- organisations and service items ---------------------------------------------------
    @api("GET", BASE + "/organizations", roles=READERS, query=schemas.OrganizationQuery,
         response=schemas.OrganizationList)
    def list_organizations(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_organizations(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/organizations/<organization_id>", roles=READERS, response=schemas.Organization)
    def get_organization(self, request, organization_id):
        return self.registry.get_organization(organization_id)

    @api("POST", BASE + "/organizations", roles=ADMIN, body=schemas.OrganizationCreate, status=201,
         response=schemas.Organization)
    def create_organization(self, request, body):
        return self.registry.create_organization(body)

    @api("GET", BASE + "/service-items", roles=EVERYONE, query=schemas.Paging, response=schemas.ServiceItemList)
    def list_service_items(self, request, query):
        return self.registry.list_service_items(limit=query["limit"], offset=query["offset"])

    @api("GET", BASE + "/service-items/<item_id>", roles=EVERYONE, response=schemas.ServiceItem)
    def get_service_item(self, request, item_id):
        return self.registry.get_service_item(item_id)

    # -- help-and-proxy requests -----------------------------------------------------------
    @api("GET", BASE + "/proxy-requests", roles=PROXY_USERS, query=schemas.ProxyRequestQuery,
         response=schemas.ProxyRequestList)
    def list_proxy_requests(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_proxy_requests(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/proxy-requests/<request_id>", roles=PROXY_USERS, response=schemas.ProxyRequest)
    def get_proxy_request(self, request, request_id):
        return self.registry.get_proxy_request(request_id)

    @api("POST", BASE + "/proxy-requests", roles=PROXY_USERS, body=schemas.ProxyRequestCreate, status=201,
         response=schemas.ProxyRequest, summary="Ask the grid worker to handle a service item (帮办代办).")
    def submit_proxy_request(self, request, body):
        caller = self.context.caller
        if only_resident(caller) and body["resident_id"] != caller.resident_id:
            raise Forbidden("Residents may only ask for help for themselves.")
        return self.registry.submit_proxy_request(body)

    @api("POST", BASE + "/proxy-requests/<request_id>/transitions", roles=PROXY_USERS, body=schemas.Transition,
         response=schemas.ProxyRequest, summary="accept, start, complete, reject or withdraw; illegal → 409.")
    def transition_proxy_request(self, request, request_id, body):
        if only_resident(self.context.caller) and body["action"] != "withdraw":
            raise Forbidden("Residents may only withdraw their requests.")
        return self.registry.transition_proxy_request(request_id, body)

    @api("POST", BASE + "/proxy-requests/<request_id>/rating", roles=ADMIN + ("resident",), body=schemas.Rating,
         response=schemas.ProxyRequest, summary="The resident rates completed help (1–5).")
    def rate_proxy_request(self, request, request_id, body):
        return self.registry.rate_proxy_request(request_id, body)
