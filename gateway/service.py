"""gateway: the HTTP API of API.md. Each route declares its roles and schemas (checked by
``gateway.http`` before the worker runs), calls a service and returns what it answers; the
caller rides along in context data, so the registry applies scope and masking itself.

Who may do what (the services check object-level permission again):
- residents and households: the access policy (``community.policy``, ``docs/access-policy.md``) says
  which roles reach whom and which fields they see, default deny; a resident reads only their own
  record (``GET /residents/{id}``);
- reads of places and organisations: every role but ``resident``;
- registry writes (buildings, grids and grid workers too): admin and staff; grid workers also
  register, update and move residents and import spreadsheets (the registry holds them to their grid);
- help-and-proxy requests: admin, staff, grid workers, and residents for their own requests
  (submit, withdraw, rate);
- notices: publishing, previewing, correcting and cancelling for the roles that speak to the
  community (admin, staff, property management, the water plant, police, mediators; notify
  lets only the issuer or staff correct or cancel one); reading and acknowledging for everyone
  signed in, because notify shows each caller only what concerns them (staff everything, an
  organisation what it issued or was sent, a resident their own notices, a grid worker the
  door-to-door notices they carry); door-to-door task lists for grid workers (and staff);
- accounts: created and changed by admins only (an account is a key to everything its roles
  open); listed and read by admins and staff too, who answer "who can sign in as what"; the
  password hash is never shown.
"""
import time

from marshmallow import ValidationError
from nameko.dependency_providers import Config
from werkzeug.wrappers import Response

from gateway import accounts, links, openapi, schemas, spreadsheets, throttle
from gateway.dependencies import Readiness, RouteInContext, ServiceRpc
from gateway.http import BASE, api
from gateway.models import Account
from gateway.problems import JSON_TYPE, dumps
from heyun.db import Database
from heyun.errors import Forbidden, NotFound
from community import policy, roles
from community.policy import SYSTEM
from community.roles import Role
from heyun.identity import CallerIdentity
from registry.contract import ProxyAction

ADMIN = roles.COMMUNITY_OFFICE
READERS = roles.WORKERS
RESIDENT_WRITERS = policy.RESIDENT_WRITERS
PROXY_USERS = roles.PROXY_USERS
EVERYONE = ()
PUBLISHERS = roles.PUBLISHERS  # notify checks again
DOOR_TO_DOOR = roles.DOOR_TO_DOOR
# Residents and households: the access policy (community.policy) says who reaches them; the registry
# narrows each answer to the caller's scope and fields again.
RESIDENT_READERS = policy.roles_reaching_residents()
HOUSEHOLD_READERS = policy.roles_reaching_households()
CAP_TYPE = "application/cap+xml; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ACCOUNT_MANAGERS = roles.ACCOUNT_MANAGERS
ACCOUNT_READERS = ADMIN


def only_resident(caller):
    """A resident account and nothing more: limited to its own record and requests."""
    return caller.has_role(Role.RESIDENT) and not caller.has_role(*READERS)


class GatewayService:
    name = "gateway"

    db = Database(relay_outbox=False)  # the gateway publishes no events
    context = CallerIdentity()
    config = Config()
    registry = ServiceRpc("registry")
    notify = ServiceRpc("notify")
    readiness = Readiness()
    route = RouteInContext()

    # -- auth, health, documentation -------------------------------------------------------
    @api("POST", BASE + "/auth/token", public=True, body=schemas.TokenRequest, response=schemas.TokenResponse,
         tag="auth", summary="Sign in: a bearer token for the other paths. Repeated failures are throttled (429).",
         problems={401: "Wrong username or password, or the account is inactive",
                   429: "Too many failed sign-ins; try again later"})
    def issue_token(self, request, body):
        self.context.act_as(SYSTEM)  # the link lookups are the gateway's own, not the user's
        # Issued as of now, before the account is read: an admin's change committed while this
        # sign-in waits on the registry then revokes the token (a later iat would slip past it).
        issued_at = time.time()
        account = throttle.sign_in(self.db.Session, body["username"], body["password"],
                                   request.client_address, throttle.rules_from(self.config))
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
                                     self.config["TOKEN_SECRET"], ttl, now=issued_at)
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    # -- accounts (the gateway's own) ------------------------------------------------------
    @api("GET", BASE + "/accounts", roles=ACCOUNT_READERS, query=schemas.AccountQuery,
         response=schemas.AccountList, tag="auth", summary="Accounts by username; `role` narrows them.")
    def list_accounts(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        with self.db.transaction() as session:
            return accounts.list_accounts(session, filters.get("role"), limit, offset)

    @api("GET", BASE + "/accounts/<username>", roles=ACCOUNT_READERS, response=schemas.Account, tag="auth")
    def get_account(self, request, username):
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.find_account(session, username))

    @api("POST", BASE + "/accounts", roles=ACCOUNT_MANAGERS, body=schemas.AccountCreate, status=201,
         response=schemas.Account, tag="auth",
         summary="Create an account; a username taken is a 409. Links are checked with the registry.")
    def create_account(self, request, body):
        self._check_links(body)
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.create_account(session, body))

    @api("PATCH", BASE + "/accounts/<username>", roles=ACCOUNT_MANAGERS, body=schemas.AccountUpdate,
         response=schemas.Account, tag="auth",
         summary="Change roles, links or the password, or deactivate; the tokens issued before stop working.")
    def update_account(self, request, username, body):
        self._check_links(body)
        with self.db.transaction() as session:
            return accounts.account_dict(accounts.update_account(session, username, body))

    @api("POST", BASE + "/accounts/<username>/unlock", roles=ACCOUNT_MANAGERS, response=schemas.Unlocked,
         tag="auth", summary="Let a username locked by failed sign-ins (429) sign in again at once.")
    def unlock_account(self, request, username):
        with self.db.transaction() as session:
            accounts.find_account(session, username)
            throttle.unlock(session, username)
        return {"username": username, "unlocked": True}

    @api("GET", BASE + "/sign-in-failures", roles=ACCOUNT_MANAGERS, query=schemas.SignInFailureQuery,
         response=schemas.SignInFailureList, tag="auth",
         summary="Wrong usernames or passwords, newest first: username, client address, time.")
    def list_sign_in_failures(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        with self.db.transaction() as session:
            return throttle.failures(session, filters.get("username"), limit, offset)

    def _check_links(self, body):
        """An account linked to an organisation or resident the registry does not know would
        sign in speaking for no one: a 422 naming the field instead."""
        lookups = {"organization_id": self.registry.get_organization, "resident_id": self.registry.get_resident}
        for field, look_up in lookups.items():
            if body.get(field):
                try:
                    look_up(body[field])
                except NotFound:
                    raise ValidationError({field: ["The registry has nothing with this id."]}) from None

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

    @api("GET", BASE + "/events/catalogue", tag="events",
         summary="One AsyncAPI document of every service's events (registry, notify); "
                 "`x-services` names the services merged.")
    def event_catalogue(self, request):
        return merge_catalogues({"registry": self.registry.catalogue(), "notify": self.notify.catalogue()})

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

    # -- notices (notify) -------------------------------------------------------------------
    @api("POST", BASE + "/notices", roles=PUBLISHERS, body=schemas.NoticeCreate, status=201,
         response=schemas.NoticeRef, tag="notify",
         summary="Publish a notice; its recipients are fixed now and it fans out at once (or at send_at).")
    def publish_notice(self, request, body):
        return self.notify.publish_notice(body)

    @api("POST", BASE + "/notices/preview", roles=PUBLISHERS, body=schemas.PreviewRequest,
         response=schemas.Preview, tag="notify",
         summary="Dry run: whom an audience reaches, per building and per first channel; sends nothing.")
    def preview_notice(self, request, body):
        return self.notify.preview_notice(body["audience"])

    @api("GET", BASE + "/notices", roles=EVERYONE, query=schemas.NoticeQuery, response=schemas.NoticeList,
         tag="notify", summary="Notices the caller may see (staff: all; others: issued by or sent to them).")
    def list_notices(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.list_notices(filters=filters, limit=limit, offset=offset)

    @api("GET", BASE + "/notices/<notice_id>", roles=EVERYONE, response=schemas.Notice, tag="notify",
         summary="A notice with its delivery statistics; 404 if it is not the caller's to see.")
    def get_notice(self, request, notice_id):
        return self.notify.get_notice(notice_id)

    @api("GET", BASE + "/notices/<notice_id>/deliveries", roles=EVERYONE, query=schemas.DeliveryQuery,
         response=schemas.DeliveryList, tag="notify",
         summary="Deliveries of a notice (the issuer and staff: all; a recipient: their own).")
    def list_deliveries(self, request, notice_id, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.list_deliveries(notice_id, filters=filters, limit=limit, offset=offset)

    @api("POST", BASE + "/notices/<notice_id>/acknowledgements", roles=EVERYONE,
         body=schemas.AcknowledgementCreate, optional_body=True, status=201,
         also={200: "A repeat: the acknowledgement already recorded, unchanged."},
         response=schemas.AcknowledgementResult, tag="notify",
         summary="A recipient acknowledges; a grid worker sends {resident_id} to record a door-to-door hand-over. "
                 "A repeat answers 200 with the acknowledgement already recorded (its time), and records nothing.")
    def acknowledge_notice(self, request, notice_id, body):
        result = self.notify.acknowledge(notice_id, body)
        if result.pop("created", True):
            return result
        return Response(dumps(result), status=200, content_type=JSON_TYPE)  # nothing new was created

    @api("POST", BASE + "/notices/<notice_id>/updates", roles=PUBLISHERS, body=schemas.NoticeUpdate, status=201,
         response=schemas.NoticeRef, tag="notify",
         summary="Correct a notice (CAP Update): a new notice to the same recipients, referencing it.")
    def update_notice(self, request, notice_id, body):
        return self.notify.update_notice(notice_id, body)

    @api("POST", BASE + "/notices/<notice_id>/cancellation", roles=PUBLISHERS, body=schemas.NoticeCancel,
         status=201, response=schemas.NoticeRef, tag="notify",
         summary="Cancel a notice (CAP Cancel): pending deliveries stop, those already reached are told.")
    def cancel_notice(self, request, notice_id, body):
        return self.notify.cancel_notice(notice_id, body)

    @api("GET", BASE + "/notices/<notice_id>/cap", roles=EVERYONE, produces="application/cap+xml", tag="notify",
         summary="The notice as a CAP 1.2 alert (XML).")
    def notice_cap(self, request, notice_id):
        return Response(self.notify.export_cap(notice_id).encode("utf-8"), content_type=CAP_TYPE)

    @api("GET", BASE + "/me/notices", roles=EVERYONE, query=schemas.Paging, response=schemas.InboxNoticeList,
         tag="notify", summary="The caller's inbox: notices addressed to them, their organisation or role.")
    def my_notices(self, request, query):
        return self.notify.inbox(limit=query["limit"], offset=query["offset"])

    @api("GET", BASE + "/me/door-to-door-tasks", roles=DOOR_TO_DOOR, query=schemas.TaskQuery,
         response=schemas.DoorToDoorTaskList, tag="notify",
         summary="A grid worker's notices to hand over in person, in walking order (building, unit, floor).")
    def my_door_to_door_tasks(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.notify.door_to_door_tasks(filters=filters, limit=limit, offset=offset)

    # The SMS gateway is a machine with no account: its HMAC signature (checked by notify, which
    # holds SMS_RECEIPT_SECRET) is what authenticates it, so the route is public.
    @api("POST", BASE + "/notify/sms-receipts", public=True, signed=schemas.SmsReceipts,
         response=schemas.ReceiptCounts, tag="notify",
         summary="The SMS gateway's delivery receipts, signed (X-Heyun-Signature); repeats change nothing.")
    def sms_receipts(self, request, signed_body):
        return self.notify.record_sms_receipts(*signed_body)

    # -- the personal-data audit log -------------------------------------------------------
    # Admins only (the registry checks again): the log maps staff to the people they looked at.
    @api("GET", BASE + "/audit/pii-access", roles=(Role.ADMIN,), query=schemas.PiiAccessQuery,
         response=schemas.PiiAccessList, tag="audit",
         summary="Who saw ID or phone numbers unmasked (account, resident, fields, route, time), newest "
                 "first; `from`/`to` bound the time. Kept PII_AUDIT_RETENTION_DAYS (three years).")
    def list_pii_access(self, request, query):
        filters, limit, offset = schemas.split_query(query)
        return self.registry.list_pii_access(filters=filters, limit=limit, offset=offset)


def merge_catalogues(documents):
    """Several services' AsyncAPI documents as one: each service publishes on its own exchange,
    so channels never clash; a message name two services share is kept apart by its service."""
    merged, seen = None, {}
    for service, document in documents.items():
        if merged is None:
            merged = {key: value for key, value in document.items() if key not in ("channels", "components")}
            merged["info"] = dict(document.get("info") or {}, title="Heyun events")
            merged.update(channels={}, components={"messages": {}, "schemas": {}}, **{"x-services": []})
        merged["x-services"].append(service)
        renames = {}
        for name, message in (document.get("components", {}).get("messages") or {}).items():
            key = name if name not in seen else f"{service}.{name}"
            renames[name] = key
            seen[key] = service
            merged["components"]["messages"][key] = message
        merged["components"]["schemas"].update(document.get("components", {}).get("schemas") or {})
        for channel, item in (document.get("channels") or {}).items():
            ref = item.get("subscribe", {}).get("message", {}).get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            if name in renames and renames[name] != name:
                item = dict(item, subscribe=dict(item["subscribe"], message={"$ref": f"#/components/messages/{renames[name]}"}))
            merged["channels"][channel] = item
    return merged
