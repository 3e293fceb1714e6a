"""notify: the Nameko entrypoints. Each loads its input, calls the domain, returns primitives;
the rules live in notices, fanout, dispatch, projection and rules; the engine (``loops``) runs the
background loops."""
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import func, select

from community.policy import SYSTEM
from heyun import chassis
from heyun.db import Database, transaction
from heyun.handlers import claim, idempotent_handler, multi_event_handler
from heyun.pii import PiiProtection
from heyun.projection import SnapshotSync
from heyun.rpc import ServiceRpc, user_rpc
from heyun.schemas import listing, load
from notify import cap, contract, fanout, notices, projection, receipts, rules
from notify.contract import Channel
from notify.loops import NotifyEngine
from notify.models import ResidentRecipient, utcnow

RULES = rules.load_rules()


class Engine(DependencyProvider):
    """notify's background loops (``notify.loops``), started and stopped with the container; a
    worker gets the engine, to wake a loop when it has left work for it."""

    def setup(self):
        self.engine = NotifyEngine(self.container.config)

    def start(self):
        # The Database provider's sessions, so events recorded by the loops wake its outbox relay.
        database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.engine.start(database.Session, self.container.spawn_managed_thread)

    def stop(self):
        self.engine.stop()

    kill = stop

    def get_dependency(self, worker_ctx):
        return self.engine


class NotifyService(chassis.Service):
    name = "notify"
    published_events = contract.EVENTS

    engine = Engine()
    pii = PiiProtection()  # decrypts the health tags in registry events for the projection
    registry = ServiceRpc("registry")  # for its snapshots, each call within SnapshotSync's deadline
    registry_snapshot = SnapshotSync("registry")

    # -- notices ----------------------------------------------------------------------------
    @user_rpc
    def publish_notice(self, data):
        data = load(contract.NoticeCreate(), data)
        with self.db.write() as session:
            notice = notices.publish(session, self.caller, data)
            result = {"id": notice.id, "status": notice.status}
        self.engine.wake("fanout")
        return result

    @user_rpc
    def preview_notice(self, audience):
        audience = load(contract.Audience(), audience)
        notices.check_audience(self.caller, audience)
        with self.db.transaction() as session:
            return fanout.preview(session, audience)

    @user_rpc
    def get_notice(self, notice_id):
        with self.db.transaction() as session:
            return notices.get_notice(session, self.caller, notice_id)

    @user_rpc
    def list_notices(self, filters=None, limit=50, offset=0):
        filters, paging = listing(contract.NoticeFilters, filters, limit, offset)
        with self.db.transaction() as session:
            return notices.list_notices(session, self.caller, filters, paging)

    @user_rpc
    def list_deliveries(self, notice_id, filters=None, limit=50, offset=0):
        filters, paging = listing(contract.DeliveryFilters, filters, limit, offset)
        with self.db.transaction() as session:
            return notices.list_deliveries(session, self.caller, notice_id, filters, paging)

    @user_rpc
    def acknowledge(self, notice_id, data=None):
        data = load(contract.Acknowledgement(), data)
        with self.db.write() as session:
            return notices.acknowledge(session, self.caller, notice_id, data)

    @user_rpc
    def inbox(self, limit=50, offset=0):
        _, paging = listing(None, None, limit, offset)
        with self.db.transaction() as session:
            return notices.inbox(session, self.caller, paging)

    @user_rpc
    def door_to_door_tasks(self, filters=None, limit=50, offset=0):
        filters, paging = listing(contract.TaskFilters, filters, limit, offset)
        with self.db.transaction() as session:
            return notices.door_to_door_tasks(session, self.caller, filters, paging)

    @user_rpc
    def update_notice(self, notice_id, data):
        data = load(contract.NoticeUpdate(), data)
        with self.db.write() as session:
            notice = notices.update_notice(session, self.caller, notice_id, data)
            result = {"id": notice.id, "status": notice.status, "references_id": notice.references_id}
        self.engine.wake("fanout")
        return result

    @user_rpc
    def cancel_notice(self, notice_id, data):
        data = load(contract.NoticeCancel(), data)
        with self.db.write() as session:
            notice = notices.cancel_notice(session, self.caller, notice_id, data)
            result = {"id": notice.id, "status": notice.status, "references_id": notice.references_id}
        self.engine.wake("fanout")
        return result

    @user_rpc
    def export_cap(self, notice_id):
        """The notice as CAP 1.2 XML (text)."""
        with self.db.transaction() as session:
            notice = notices.load_visible(session, self.caller, notice_id)
            return cap.notice_to_cap(notices.cap_fields(session, notice)).decode("utf-8")

    @user_rpc
    def record_sms_receipts(self, raw_body, signature):
        """The SMS gateway's delivery receipts, as it sent them (the signature covers the raw body)."""
        parsed = receipts.parse(self.config.get("SMS_RECEIPT_SECRET"), raw_body, signature)
        with self.db.write() as session:
            counts = receipts.record(session, Channel.SMS, parsed, utcnow())
        if counts["failed"]:
            self.engine.wake("dispatch")  # the fall-backs are due now
        return counts

    @rpc
    def escalate_overdue(self):
        """Run the acknowledgement check now (the engine also runs it on a timer)."""
        with self.db.write() as session:
            escalated = notices.escalate_overdue(session)
        self.engine.wake("fanout")
        return {"escalated": escalated}

    # -- the projection, from registry events ---------------------------------------------------
    @idempotent_handler("registry", "resident_registered")
    def on_resident_registered(self, session, data, event):
        projection.apply_resident(session, self.pii, data, event)

    @idempotent_handler("registry", "resident_updated")
    def on_resident_updated(self, session, data, event):
        projection.apply_resident(session, self.pii, data, event)

    @idempotent_handler("registry", "resident_moved")
    def on_resident_moved(self, session, data, event):
        projection.apply_move(session, data, event)

    @idempotent_handler("registry", "building_moved")
    def on_building_moved(self, session, data, event):
        projection.apply_building_move(session, data, event)

    @idempotent_handler("registry", "organization_registered")
    def on_organization_registered(self, session, data, event):
        projection.apply_organization(session, data, event)

    @idempotent_handler("registry", "organization_updated")
    def on_organization_updated(self, session, data, event):
        # The payload is the whole organisation, so the same upsert applies: a new webhook URL or
        # e-mail address is used from the next delivery on.
        projection.apply_organization(session, data, event)

    @idempotent_handler("registry", "grid_worker_assigned")
    def on_grid_worker_assigned(self, session, data, event):
        projection.apply_grid_worker(session, data, event)

    @multi_event_handler(rules.bindings(RULES), "on_rule_event")
    def on_rule_event(self, event):
        # One event may raise several rules' notices: each rule claims it on its own.
        with self.db.transaction() as session:
            for rule in rules.matching(RULES, event):
                if claim(session, f"{self.name}.rule.{rule['name']}", event):
                    rules.raise_notice(session, rule, event)
        self.engine.wake("fanout")

    @timer(interval=30, eager=True)
    def fill_projection_from_snapshot(self):
        """Once per process start, take the registry's snapshot (``heyun.projection``). Upserts
        never let the snapshot overwrite a newer state an event already brought."""
        self.context.act_as(SYSTEM)
        self.registry_snapshot.take(lambda deadline: projection.fill_from_snapshot(
            self.db.Session, self.registry.within(deadline), transaction, self.pii))

    @rpc
    def projection_size(self):
        with self.db.transaction() as session:
            return {"residents": session.execute(select(func.count()).select_from(ResidentRecipient)).scalar()}
