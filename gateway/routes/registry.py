"""The registry's routes: places and the grid, households and residents (with the spreadsheet
import), organisations and service items, help-and-proxy requests, and the audit of unmasked
personal data. Each calls the registry, which applies the caller's scope and masking again.

Who may do what:
- residents and households: the access policy (``community.policy``, ``docs/access-policy.md``) says
  which roles reach whom and which fields they see, default deny; a resident account reads only
  its own record (``GET /residents/{id}``) and its own help-and-proxy requests;
- reads of places and organisations: every role but ``resident``; the service items (what help
  can be asked for): every account;
- registry writes (buildings, grids and grid workers, organisations): admin and staff; grid
  workers also register, update and move residents and import spreadsheets, and the registry holds
  them to their grids (by import too); a search by a whole ID or mobile number (``q``) finds that
  person for those same roles, audited, and no one for the others;
- help-and-proxy requests: admin, staff, grid workers, and residents for their own requests
  (submit, withdraw, rate);
- the audit of unmasked personal data: admins only, since it maps staff to the people they looked
  at (the registry checks again).
"""
from werkzeug.wrappers import Response

from gateway import schemas, spreadsheets
from heyun.rpc import ServiceRpc
from gateway.edge.http import BASE, api
from gateway.routes import (ADMIN, EVERYONE, HOUSEHOLD_READERS, PROXY_USERS, READERS, RESIDENT_READERS,
                            RESIDENT_WRITERS)
from heyun.errors import Forbidden, NotFound
from community.roles import Role
from registry.contract import ProxyAction

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def only_resident(caller):
    """A resident account and nothing more: limited to its own record and requests."""
    return caller.has_role(Role.RESIDENT) and not caller.has_role(*READERS)


class RegistryRoutes:
    registry = ServiceRpc("registry")

    # -- places and the grid -----------------------------------------------------------------
    @api("GET", BASE + "/buildings", roles=READERS, query=schemas.BuildingQuery, response=schemas.BuildingList)
    def list_buildings(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_buildings(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/buildings/<building_id>", roles=READERS, response=schemas.Building)
    def get_building(self, request, building_id):
        return self.registry.get_building(building_id)

    @api("POST", BASE + "/buildings", roles=ADMIN, body=schemas.BuildingCreate, status=201,
         response=schemas.Building, summary="Add a building; its dwellings appear as residents are registered.")
    def create_building(self, request, body):
        return self.registry.create_building(body)

    @api("PATCH", BASE + "/buildings/<building_id>", roles=ADMIN, body=schemas.BuildingMove,
         response=schemas.Building,
         summary="Move a building to another grid: its residents now belong to that grid (building_moved).")
    def move_building(self, request, building_id, body):
        return self.registry.move_building(building_id, body)

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

    @api("POST", BASE + "/grids", roles=ADMIN, body=schemas.GridCreate, status=201, response=schemas.Grid,
         summary="Create a grid; the buildings listed move to it.")
    def create_grid(self, request, body):
        return self.registry.create_grid(body)

    @api("GET", BASE + "/grid-workers", roles=READERS, query=schemas.GridWorkerQuery, response=schemas.GridWorkerList)
    def list_grid_workers(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_grid_workers(filters=filters, limit=limit, offset=offset)

    @api("POST", BASE + "/grid-workers", roles=ADMIN, body=schemas.GridWorkerCreate, status=201,
         response=schemas.GridWorker)
    def create_grid_worker(self, request, body):
        return self.registry.create_grid_worker(body)

    @api("PATCH", BASE + "/grid-workers/<grid_worker_id>", roles=ADMIN, body=schemas.GridWorkerUpdate,
         response=schemas.GridWorker,
         summary="Move a grid worker to another grid, or change their name, phone or account.")
    def update_grid_worker(self, request, grid_worker_id, body):
        return self.registry.update_grid_worker(grid_worker_id, body)

    # -- households and residents ----------------------------------------------------------
    @api("GET", BASE + "/households", roles=HOUSEHOLD_READERS, query=schemas.HouseholdQuery, response=schemas.HouseholdList)
    def list_households(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_households(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/households/<household_id>", roles=HOUSEHOLD_READERS, response=schemas.Household)
    def get_household(self, request, household_id):
        return self.registry.get_household(household_id)

    @api("POST", BASE + "/households", roles=ADMIN, body=schemas.HouseholdCreate, status=201,
         response=schemas.Household)
    def register_household(self, request, body):
        return self.registry.register_household(body)

    @api("GET", BASE + "/residents", roles=RESIDENT_READERS, query=schemas.ResidentQuery, response=schemas.ResidentList)
    def list_residents(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_residents(filters=filters, limit=limit, offset=offset)

    # Declared before the routes with a resident id; werkzeug also ranks a static segment above
    # <resident_id>, so "import" is never taken for an id.
    @api("GET", BASE + "/residents/import/template", roles=RESIDENT_WRITERS, produces=XLSX_TYPE,
         summary="The import's template (XLSX): every column the import reads and one made-up example row "
                 "(docs/import.md describes the columns).")
    def import_template(self, request):
        columns = self.registry.import_template()
        return Response(spreadsheets.template(columns["header"], columns["example"]), content_type=XLSX_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="residents-import-template.xlsx"'})

    @api("GET", BASE + "/residents/<resident_id>", roles=RESIDENT_READERS + (Role.RESIDENT,), response=schemas.Resident)
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

    @api("GET", BASE + "/residents/<resident_id>/history", roles=RESIDENT_READERS + (Role.RESIDENT,),
         response=schemas.ResidenceList)
    def residence_history(self, request, resident_id):
        return self.registry.residence_history(resident_id)

    @api("POST", BASE + "/residents/import", roles=RESIDENT_WRITERS, upload=True, response=schemas.ImportResult,
         summary="Import residents from a CSV or XLSX spreadsheet, keyed by ID number; only the columns present "
                 "change a resident; `changes` says per row what was done (docs/import.md).")
    def import_residents(self, request, upload):
        kind, data = upload
        header, rows = spreadsheets.read(kind, data)
        total = spreadsheets.empty_result()
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

    @api("PATCH", BASE + "/organizations/<organization_id>", roles=ADMIN, body=schemas.OrganizationUpdate,
         response=schemas.Organization, summary="Change the name, contacts or webhook URL (notify learns it).")
    def update_organization(self, request, organization_id, body):
        return self.registry.update_organization(organization_id, body)

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
        if only_resident(self.context.caller) and body["action"] != ProxyAction.WITHDRAW:
            raise Forbidden("Residents may only withdraw their requests.")
        return self.registry.transition_proxy_request(request_id, body)

    @api("POST", BASE + "/proxy-requests/<request_id>/rating", roles=ADMIN + (Role.RESIDENT,), body=schemas.Rating,
         response=schemas.ProxyRequest, summary="The resident rates completed help (1–5).")
    def rate_proxy_request(self, request, request_id, body):
        return self.registry.rate_proxy_request(request_id, body)

    # -- the personal-data audit log -------------------------------------------------------
    @api("GET", BASE + "/audit/pii-access", roles=(Role.ADMIN,), query=schemas.PiiAccessQuery,
         response=schemas.PiiAccessList, tag="audit",
         summary="Who saw ID or phone numbers unmasked (account, resident, fields, route, time), newest "
                 "first; `from`/`to` bound the time. Kept PII_AUDIT_RETENTION_DAYS (three years).")
    def list_pii_access(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_pii_access(filters=filters, limit=limit, offset=offset)

