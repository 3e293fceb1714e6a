"""registry: the Nameko entrypoints. Each one loads its input, calls the domain, returns primitives;
the rules live in places, residents, importing, organizations and proxy."""
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import select

from heyun import chassis
from heyun.config import days_setting
from heyun.errors import InvalidInput
from heyun.netguard import OutboundGuard
from heyun.pii import PiiProtection
from heyun.rpc import user_rpc
from heyun.schemas import listing, load, load_changes
from registry import contract, importing, organizations, places, proxy, residents
from registry.models import Building, Grid, GridWorker, Organization
from registry.pii import RETENTION_DAYS, access_log, expire_access_log


class AuditRetention(DependencyProvider):
    """``PII_AUDIT_RETENTION_DAYS`` in days, read once at start: a bad value stops the start
    (naming the variable) instead of failing the hourly expiry ever after."""

    def setup(self):
        self.days = days_setting(self.container.config, "PII_AUDIT_RETENTION_DAYS", RETENTION_DAYS)

    def get_dependency(self, worker_ctx):
        return self.days


class RegistryService(chassis.Service):
    name = "registry"

    published_events = contract.EVENTS

    pii = PiiProtection()
    audit_retention_days = AuditRetention()

    @property
    def webhook_guard(self):
        return OutboundGuard(self.config.get("WEBHOOK_ALLOWED_NETWORKS") or "")

    # -- places and the grid ---------------------------------------------------------------
    @user_rpc
    def list_buildings(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.BuildingFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return places.list_buildings(session, filters, paging)

    @user_rpc
    def get_building(self, building_id):
        with self.db.transaction() as session:
            return places.building_dict(places.get_or_404(session, Building, building_id, "building"))

    @user_rpc
    def create_building(self, data):
        data = load(contract.BuildingCreate(), data)
        with self.db.write() as session:
            return places.create_building(session, self.caller, data)

    @user_rpc
    def move_building(self, building_id, data):
        data = load(contract.BuildingMove(), data)
        with self.db.write() as session:
            return places.move_building(session, self.caller, building_id, data)

    @user_rpc
    def list_dwellings(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.DwellingFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return places.list_dwellings(session, filters, paging)

    @user_rpc
    def list_grids(self, limit=50, offset=0, cursor=None):
        _, paging = listing(None, None, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return places.list_grids(session, paging)

    @user_rpc
    def get_grid(self, grid_id):
        with self.db.transaction() as session:
            return places.grid_dict(places.get_or_404(session, Grid, grid_id, "grid"), session)

    @user_rpc
    def create_grid(self, data):
        data = load(contract.GridCreate(), data)
        with self.db.write() as session:
            return places.create_grid(session, self.caller, data)

    @user_rpc
    def list_grid_workers(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.GridWorkerFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return places.list_grid_workers(session, self.pii, self.caller, filters, paging)

    @user_rpc
    def create_grid_worker(self, data):
        data = load(contract.GridWorkerCreate(), data)
        with self.db.write() as session:
            return places.create_grid_worker(session, self.pii, self.caller, data)

    @user_rpc
    def update_grid_worker(self, grid_worker_id, data):
        changes = load_changes(contract.GridWorkerUpdate(), data)
        with self.db.write() as session:
            return places.update_grid_worker(
                session, self.pii, self.caller, grid_worker_id, changes)

    @rpc
    def grid_scope(self, account):
        with self.db.transaction() as session:
            return places.grid_scope(session, account)

    # -- households and residents ----------------------------------------------------------
    @user_rpc
    def list_households(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.HouseholdFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return residents.list_households(session, self.caller, filters, paging)

    @user_rpc
    def get_household(self, household_id):
        with self.db.transaction() as session:
            return residents.get_household(session, self.caller, household_id)

    @user_rpc
    def register_household(self, data):
        data = load(contract.HouseholdCreate(), data)
        with self.db.write() as session:
            return residents.register_household(session, self.caller, data)

    @user_rpc
    def list_residents(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.ResidentFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:  # commits the audit rows of unmasked reads
            return residents.list_residents(session, self.pii, self.caller, filters, paging)

    @user_rpc
    def get_resident(self, resident_id):
        with self.db.transaction() as session:
            return residents.get_resident(session, self.pii, self.caller, resident_id)

    @user_rpc
    def register_resident(self, data):
        data = load(contract.ResidentCreate(), data)
        with self.db.write() as session:
            return residents.register_resident(session, self.pii, self.caller, data)

    @user_rpc
    def update_resident(self, resident_id, data):
        data = load(contract.ResidentUpdate(), data)
        with self.db.write() as session:
            return residents.update_resident(session, self.pii, self.caller, resident_id, data)

    @user_rpc
    def move_resident(self, resident_id, data):
        data = load(contract.Move(), data)
        with self.db.write() as session:
            return residents.move_resident(session, self.pii, self.caller, resident_id, data)

    @user_rpc
    def residence_history(self, resident_id):
        with self.db.transaction() as session:
            return residents.residence_history(session, self.caller, resident_id)

    @user_rpc
    def import_residents(self, header, rows, first_row_number=2):
        if not isinstance(header, list) or not isinstance(rows, list):
            raise InvalidInput("header and rows are lists.", {"rows": ["Expected a list of rows."]})
        with self.db.write() as session:
            return importing.import_rows(
                session, self.pii, self.caller, header, rows, first_row_number)

    @rpc
    def import_template(self):
        """The import's columns and an example row, for the template sheet (nothing personal)."""
        return importing.template()

    # -- snapshots for projections (what the events carry, all at once) -----------------------
    @user_rpc
    def snapshot_residents(self, after_id="", limit=1000):
        # Every resident at once is for a projection's owner acting for the platform (notify,
        # as SYSTEM), not for any caller that reaches the broker.
        places.require_office(self.caller, "take the snapshot of every resident")
        args = load(contract.Snapshot(), {"after_id": after_id, "limit": limit})
        with self.db.transaction() as session:
            return residents.snapshot(session, self.pii, args["after_id"], args["limit"])

    @rpc
    def snapshot_organizations(self):
        with self.db.transaction() as session:
            return {"items": [organizations.organization_payload(o) for o in
                              session.execute(select(Organization).order_by(Organization.id)).scalars()]}

    @rpc
    def snapshot_grid_workers(self):
        with self.db.transaction() as session:
            return {"items": [places.grid_worker_payload(session, w) for w in
                              session.execute(select(GridWorker).order_by(GridWorker.id)).scalars()]}

    # -- organisations and service items ---------------------------------------------------
    @user_rpc
    def list_organizations(self, filters=None, limit=50, offset=0, cursor=None):
        filters, paging = listing(contract.OrganizationFilters, filters, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return organizations.list_organizations(session, self.caller, filters, paging)

    @user_rpc
    def get_organization(self, organization_id):
        with self.db.transaction() as session:
            return organizations.get_organization(session, self.caller, organization_id)

    @user_rpc
    def create_organization(self, data):
        data = load(contract.OrganizationCreate(), data)
        with self.db.write() as session:
            return organizations.create_organization(
                session, self.caller, data, self.webhook_guard)

    @user_rpc
    def update_organization(self, organization_id, data):
        changes = load_changes(contract.OrganizationUpdate(), data)  # the kind is fixed
        with self.db.write() as session:
            return organizations.update_organization(
                session, self.caller, organization_id, changes, self.webhook_guard)

    @user_rpc
    def list_service_items(self, limit=50, offset=0, cursor=None):
        _, paging = listing(None, None, limit, offset, cursor, keyset=True)
        with self.db.transaction() as session:
            return organizations.list_service_items(session, paging)

    @user_rpc
    def get_service_item(self, item_id):
        with self.db.transaction() as session:
            return organizations.get_service_item(session, item_id)

    # -- help-and-proxy requests -----------------------------------------------------------
    @user_rpc
    def submit_proxy_request(self, data):
        data = load(contract.ProxyRequestCreate(), data)
        with self.db.write() as session:
            return proxy.submit(session, self.caller, data)

    @user_rpc
    def list_proxy_requests(self, filters=None, limit=50, offset=0):
        filters, paging = listing(contract.ProxyRequestFilters, filters, limit, offset)
        with self.db.transaction() as session:
            return proxy.list_requests(session, self.caller, filters, paging)

    @user_rpc
    def get_proxy_request(self, request_id):
        with self.db.transaction() as session:
            return proxy.request_dict(session, proxy.load(session, self.caller, request_id))

    @user_rpc
    def transition_proxy_request(self, request_id, data):
        data = load(contract.Transition(), data)
        with self.db.write() as session:
            return proxy.transition(session, self.caller, request_id, data)

    @user_rpc
    def rate_proxy_request(self, request_id, data):
        data = load(contract.Rating(), data)
        with self.db.write() as session:
            return proxy.rate(session, self.caller, request_id, data)

    @rpc
    def flag_overdue_proxy_requests(self):
        with self.db.write() as session:
            return {"flagged": proxy.flag_overdue(session)}

    @timer(interval=3600)
    def hourly_overdue_check(self):
        # Hourly rather than daily so a restart never skips a day; flagging is once per request.
        with self.db.write() as session:
            proxy.flag_overdue(session)


    # -- the personal-data audit log --------------------------------------------------------
    @user_rpc
    def list_pii_access(self, filters=None, limit=50, offset=0):
        filters, paging = listing(contract.PiiAccessFilters, filters, limit, offset)
        with self.db.transaction() as session:
            return access_log(session, self.caller, filters, paging)

    @timer(interval=3600)
    def hourly_pii_access_expiry(self):
        """Audit rows are kept ``PII_AUDIT_RETENTION_DAYS`` (three years by default), then deleted."""
        with self.db.write() as session:
            expire_access_log(session, self.audit_retention_days)
