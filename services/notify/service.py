"""notify: the Nameko entrypoints. Each loads its input, calls the domain, returns primitives;
the rules live in notices, fanout, dispatch, projection and rules; the engine runs the loops."""
import logging

import eventlet
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from sqlalchemy import func, select

from community.policy import SYSTEM
from heyun.db import Database, transaction
from heyun.events import asyncapi_document
from heyun.handlers import claim, event_handler, multi_event_handler
from heyun.identity import CallerIdentity
from heyun.pii import PiiProtection
from heyun.rpc import user_rpc
from heyun.schemas import listing, load
from notify import cap, contract, fanout, notices, projection, receipts, rules
from notify.contract import Channel
from notify.engine import NotifyEngine
from notify.models import Notice, ResidentRecipient, utcnow

log = logging.getLogger(__name__)
RULES = rules.load_rules()
SNAPSHOT_CALL_SECONDS = 5  # one snapshot RPC (a page of 2000 residents) answers well within this
SNAPSHOT_ATTEMPTS = 3


class TimedProxy:
    """An RPC proxy whose calls give up after ``seconds`` (``eventlet.Timeout``). Nameko's own waits
    for a reply forever, and a reply can be lost: the eager timer below may ask before this
    service's reply queue exists, and a hung worker stops that timer for good."""

    def __init__(self, proxy, seconds):
        self._proxy, self._seconds = proxy, seconds

    def __getattr__(self, name):
        method = getattr(self._proxy, name)

        def call(*args, **kwargs):
            with eventlet.Timeout(self._seconds):
                return method(*args, **kwargs)
        return call



class NotifyService:
    name = "notify"

    db = Database()
    context = CallerIdentity()
    config = Config()
    engine = NotifyEngine()
    pii = PiiProtection()  # decrypts the health tags in registry events for the projection
    registry = RpcProxy("registry")

    @property
    def caller(self):
        return self.context.caller

    @rpc
    def ping(self):
        with self.db.transaction() as session:
            session.execute(Notice.__table__.select().limit(1))
        return {"service": self.name, "ok": True}

    @rpc
    def catalogue(self):
        return asyncapi_document(self.name, contract.EVENTS)

    # -- notices ----------------------------------------------------------------------------
    @user_rpc
    def publish_notice(self, data):
        data = load(contract.NoticeCreate(), data)
        with self.db.transaction() as session:
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
        with self.db.transaction() as session:
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
        with self.db.transaction() as session:
            notice = notices.update_notice(session, self.caller, notice_id, data)
            result = {"id": notice.id, "status": notice.status, "references_id": notice.references_id}
        self.engine.wake("fanout")
        return result

    @user_rpc
    def cancel_notice(self, notice_id, data):
        data = load(contract.NoticeCancel(), data)
        with self.db.transaction() as session:
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
        with self.db.transaction() as session:
            counts = receipts.record(session, Channel.SMS, parsed, utcnow())
        if counts["failed"]:
            self.engine.wake("dispatch")  # the fall-backs are due now
        return counts

    @rpc
    def escalate_overdue(self):
        """Run the acknowledgement check now (the engine also runs it on a timer)."""
        with self.db.transaction() as session:
            escalated = notices.escalate_overdue(session)
        self.engine.wake("fanout")
        return {"escalated": escalated}

    # -- the projection, from registry events ---------------------------------------------------
    def _apply(self, consumer, event, apply):
        with self.db.transaction() as session:
            if claim(session, f"notify.{consumer}", event):
                apply(session, event["data"], event)

    def _apply_resident(self, session, data, event):
        projection.apply_resident(session, self.pii, data, event)

    @event_handler("registry", "resident_registered")
    def on_resident_registered(self, event):
        self._apply("on_resident_registered", event, self._apply_resident)

    @event_handler("registry", "resident_updated")
    def on_resident_updated(self, event):
        self._apply("on_resident_updated", event, self._apply_resident)

    @event_handler("registry", "resident_moved")
    def on_resident_moved(self, event):
        self._apply("on_resident_moved", event, projection.apply_move)

    @event_handler("registry", "building_moved")
    def on_building_moved(self, event):
        self._apply("on_building_moved", event, projection.apply_building_move)

    @event_handler("registry", "organization_registered")
    def on_organization_registered(self, event):
        self._apply("on_organization_registered", event, projection.apply_organization)

    @event_handler("registry", "organization_updated")
    def on_organization_updated(self, event):
        # The payload is the whole organisation, so the same upsert applies: a new webhook URL or
        # e-mail address is used from the next delivery on.
        self._apply("on_organization_updated", event, projection.apply_organization)

    @event_handler("registry", "grid_worker_assigned")
    def on_grid_worker_assigned(self, event):
        self._apply("on_grid_worker_assigned", event, projection.apply_grid_worker)

    @multi_event_handler(rules.bindings(RULES), "on_rule_event")
    def on_rule_event(self, event):
        with self.db.transaction() as session:
            for rule in rules.matching(RULES, event):
                if claim(session, f"notify.rule.{rule['name']}", event):
                    rules.raise_notice(session, rule, event)
        self.engine.wake("fanout")

    @timer(interval=30, eager=True)
    def fill_projection_from_snapshot(self):
        """Once per process start, take the registry's snapshot: events published before notify's
        queues existed (or while it was away) would otherwise be missing. Upserts never let the
        snapshot overwrite a newer state an event already brought."""
        if self.engine.projection_synced:
            return
        self.context.act_as(SYSTEM)
        registry = TimedProxy(self.registry, SNAPSHOT_CALL_SECONDS)
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            try:
                count = projection.fill_from_snapshot(self.db.Session, registry, transaction, self.pii)
            except eventlet.Timeout:
                log.warning("registry snapshot call unanswered (attempt %d of %d)", attempt, SNAPSHOT_ATTEMPTS)
                continue
            except Exception as exc:  # registry not running yet: the next tick tries again
                log.warning("registry snapshot unavailable (%s); will retry", exc)
                return
            self.engine.projection_synced = True
            log.info("projection synchronised with the registry snapshot: %d residents", count)
            return

    @rpc
    def projection_size(self):
        with self.db.transaction() as session:
            return {"residents": session.execute(select(func.count()).select_from(ResidentRecipient)).scalar()}
