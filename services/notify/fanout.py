"""Fan-out: turning a notice's audience into one delivery per recipient, resumably.

Recipients are fixed when the notice is published, in segments: the organisations named, any
accounts or roles (rule notices, escalations), then the residents the audience selects from the
projection. Residents are walked in ``resident_id`` order a batch at a time (keyset pagination,
so memory does not grow with the audience); each batch's deliveries and the cursor commit
together. A process killed mid-way resumes from the cursor, and a redone batch writes the same
deterministic delivery ids (``insert … on conflict do nothing``): none lost, none doubled.
"""
import functools
import logging
from dataclasses import dataclass
from datetime import time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, false, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from heyun.config import service_config
from heyun.db import UtcDateTime

from notify.contract import Channel, DeliveryStatus, NoticeStatus, RecipientType, Severity
from notify.models import (
    Delivery,
    GridWorkerRecipient,
    Notice,
    OrganizationRecipient,
    ResidentRecipient,
    delivery_id,
    utcnow,
)
from registry.contract import Tag

log = logging.getLogger(__name__)
URGENT_SEVERITIES = (Severity.EXTREME, Severity.SEVERE)
SEGMENTS = ("organizations", "accounts", "copy", "residents")
LEASE = timedelta(seconds=60)


# -- who gets which channel ---------------------------------------------------------------------

def has_tag(resident, tag):
    return f",{tag}," in (resident.tags or "")


def resident_channels(resident):
    """The channels to try for a resident, in order. No smartphone: door to door, by the grid worker."""
    if has_tag(resident, Tag.NO_SMARTPHONE):
        return [Channel.DOOR_TO_DOOR]
    order = [Channel.IN_APP] + ([Channel.SMS] if resident.phone_token else []) + [Channel.DOOR_TO_DOOR]
    if resident.preferred_channel in order:
        order.remove(resident.preferred_channel)
        order.insert(0, resident.preferred_channel)
    return order


def organization_channels(org):
    """An organisation's own system first, then its contacts' e-mail, then its accounts' inbox."""
    return ([Channel.WEBHOOK] if org.webhook_url else []) + ([Channel.EMAIL] if org.emails else []) + [Channel.IN_APP]


# The community's time zone, unless the running config says otherwise (config.yml's TIME_ZONE,
# set by HEYUN_TIME_ZONE).
TIME_ZONE = ZoneInfo(service_config("notify")["TIME_ZONE"])


@dataclass(frozen=True)
class QuietHours:
    """The night window in which non-urgent notices to residents wait for morning."""

    start: time = time(22, 0)
    end: time = time(7, 0)
    zone: ZoneInfo = TIME_ZONE

    @classmethod
    def parse(cls, text, zone=None):
        """``"22:00-07:00"``; ``off`` (or empty) for none: a community that wants night notices."""
        zone = ZoneInfo(zone) if zone else TIME_ZONE
        if text in (None, False, "", "off"):
            return None
        try:
            start, end = (time.fromisoformat(part.strip()) for part in str(text).split("-"))
        except ValueError:
            raise ValueError(f"QUIET_HOURS must look like 22:00-07:00 or be off, not {text!r}") from None
        return cls(start, end, zone)

    def contains(self, moment):
        local = moment.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # the window spans midnight

    def ends_after(self, moment):
        """The first end of the window after ``moment`` (which is inside it)."""
        local = moment.astimezone(self.zone)
        wake = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if wake <= local:
            wake += timedelta(days=1)
        return wake.astimezone(timezone.utc)


# The process's quiet hours: the engine sets them from QUIET_HOURS when notify starts. One
# setting per process, like the time zone, because every delivery row is written under it.
quiet_hours = QuietHours()


def configure_quiet_hours(setting, zone=None):
    global quiet_hours
    quiet_hours = QuietHours.parse(setting, zone)


def quiet_until(now, notice, channel, recipient_type, hours=None):
    """When quiet hours end, if ``now`` is in them and this delivery should wait; else ``None``."""
    hours = hours or quiet_hours
    if recipient_type != RecipientType.RESIDENT or channel not in (Channel.SMS, Channel.DOOR_TO_DOOR):
        return None  # the in-app inbox makes no noise; organisations work to their own hours
    if notice.severity in URGENT_SEVERITIES or hours is None or not hours.contains(now):
        return None
    return hours.ends_after(now)


# -- the audience as a query over the projection ------------------------------------------------

# What choosing a resident's channel and writing the delivery read (``resident_channels``, ``resident_row``).
ROUTING_COLUMNS = (ResidentRecipient.resident_id, ResidentRecipient.building_id, ResidentRecipient.grid_id,
                   ResidentRecipient.tags, ResidentRecipient.preferred_channel, ResidentRecipient.phone_token)


def resident_query(audience):
    """Residents the audience selects; the filters intersect. No resident filter: no residents."""
    keys = ("building_ids", "floor_min", "floor_max", "tags", "resident_ids", "grid_ids")
    if not any(audience.get(k) for k in keys):
        return select(ResidentRecipient).where(false())
    query = select(ResidentRecipient)
    if audience.get("building_ids"):
        query = query.where(ResidentRecipient.building_id.in_(audience["building_ids"]))
    if audience.get("grid_ids"):
        query = query.where(ResidentRecipient.grid_id.in_(audience["grid_ids"]))
    if audience.get("floor_min"):
        query = query.where(ResidentRecipient.floor >= audience["floor_min"])
    if audience.get("floor_max"):
        query = query.where(ResidentRecipient.floor <= audience["floor_max"])
    for tag in audience.get("tags") or []:
        query = query.where(ResidentRecipient.tags.like(f"%,{tag},%"))
    if audience.get("resident_ids"):
        query = query.where(ResidentRecipient.resident_id.in_(audience["resident_ids"]))
    return query


def grid_worker_accounts(session):
    """grid_id → the account of its (first) grid worker, who carries door-to-door notices."""
    accounts = {}
    for worker in session.execute(select(GridWorkerRecipient).order_by(GridWorkerRecipient.name)).scalars():
        accounts.setdefault(worker.grid_id, worker.account)
    return accounts


def preview(session, audience, now=None):
    """Who a notice would reach, without sending: counts per building and per channel."""
    now = now or utcnow()
    per_building, per_channel, total = {}, {}, 0
    for resident in session.execute(resident_query(audience)).scalars():
        total += 1
        label = str(resident.building_number) if resident.building_number is not None else "?"
        per_building[label] = per_building.get(label, 0) + 1
        channel = resident_channels(resident)[0]
        per_channel[channel] = per_channel.get(channel, 0) + 1
    orgs = session.execute(select(OrganizationRecipient).where(
        OrganizationRecipient.organization_id.in_(audience.get("organization_ids") or []))).scalars().all()
    for org in orgs:
        channel = organization_channels(org)[0]
        per_channel[channel] = per_channel.get(channel, 0) + 1
    unknown = sorted(set(audience.get("organization_ids") or []) - {o.organization_id for o in orgs})
    return {"residents": total, "organizations": len(orgs), "recipients": total + len(orgs),
            "per_building": dict(sorted(per_building.items(), key=lambda kv: (len(kv[0]), kv[0]))),
            "per_channel": per_channel, "unknown_organization_ids": unknown}


# -- building delivery rows ---------------------------------------------------------------------

def delivery_row(notice, now, recipient_type, recipient_id, channel, assignee=None, building_id=None,
                 fallback_of=None):
    held_until = quiet_until(now, notice, channel, recipient_type)
    if channel == Channel.IN_APP:
        status = DeliveryStatus.DELIVERED  # the row is the inbox entry
    elif held_until:
        status = DeliveryStatus.HELD
    else:
        status = DeliveryStatus.PENDING
    return {
        "id": delivery_id(notice.id, recipient_type, recipient_id, channel), "notice_id": notice.id,
        "recipient_type": recipient_type, "recipient_id": recipient_id, "channel": channel,
        "status": status, "assignee": assignee, "building_id": building_id, "attempts": 0,
        "next_attempt_at": held_until or now, "sent_at": now if status == DeliveryStatus.DELIVERED else None,
        "delivered_at": now if status == DeliveryStatus.DELIVERED else None, "fallback_of": fallback_of,
        "lease_until": None, "last_error": None, "acknowledged_at": None, "acknowledged_by": None,
    }


def resident_row(notice, now, resident, workers, channel=None, fallback_of=None):
    channel = channel or resident_channels(resident)[0]
    assignee = workers.get(resident.grid_id) if channel == Channel.DOOR_TO_DOOR else None
    return delivery_row(notice, now, RecipientType.RESIDENT, resident.resident_id, channel, assignee,
                        resident.building_id, fallback_of)


def insert_deliveries(session, rows):
    """Insert, skipping rows that exist (a redone batch, a repeated fallback)."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sqlite.insert(Delivery.__table__).on_conflict_do_nothing(), rows)
        return
    params, constant = {}, []
    for column in rows[0]:
        values = [row[column] for row in rows]
        if values.count(values[0]) == len(values):  # the notice, the time, every None: sent once
            params[column] = values[0]
            constant.append(column)
        else:
            if isinstance(Delivery.__table__.c[column].type, UtcDateTime):
                # A batch has a time or two; psycopg2 adapts a datetime far slower than a string.
                text_of = {value: value.isoformat() for value in set(values) if value is not None}
                values = [text_of.get(value) for value in values]
            params[column] = values
    session.execute(_unnest_insert(tuple(rows[0]), tuple(constant)), params)


@functools.lru_cache(maxsize=64)
def _unnest_insert(columns, constant):
    """``INSERT … SELECT <constants>, <arrays> FROM unnest(<one array per varying column>) ON CONFLICT DO
    NOTHING``: a batch is one statement with one parameter per column. (An ``ON CONFLICT`` executemany
    goes row by row, one round trip per delivery; multi-row VALUES adapt and parse a parameter per cell.)"""
    table = Delivery.__table__

    def cast(column, suffix=""):
        return f"CAST(:{column} AS {_PG_TYPES.get(type(table.c[column].type), 'text')}{suffix})"

    varying = [c for c in columns if c not in constant]
    select_list = ", ".join(cast(c) if c in constant else f"u.{c}" for c in columns)
    arrays = ", ".join(cast(c, "[]") for c in varying)
    source = f" FROM unnest({arrays}) AS u({', '.join(varying)})" if varying else ""  # one row: no arrays
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {select_list}{source} "
                "ON CONFLICT DO NOTHING")


_PG_TYPES = {UtcDateTime: "timestamptz", Integer: "integer"}


# -- the resumable walk -------------------------------------------------------------------------

def lock_notice(session, notice_id):
    """The notice, its row locked until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return session.execute(select(Notice).where(Notice.id == notice_id)
                           .with_for_update().execution_options(populate_existing=True)).scalar_one()


def source_still_publishing(session, notice_id):
    """True for an Update or Cancel whose original is still being fanned out."""
    notice = session.get(Notice, notice_id)
    source = (notice.audience or {}).get("copy_of") if notice else None
    return bool(source) and session.execute(
        select(Notice.status).where(Notice.id == source)).scalar() == NoticeStatus.PUBLISHING


def claim(session, notice_id, now, lease=LEASE):
    """Take the fan-out lease on a notice; False if another process holds it. A process that
    dies holding it delays its notice by at most ``lease`` (renewed at every batch while alive)."""
    result = session.execute(
        update(Notice).where(Notice.id == notice_id, Notice.status == NoticeStatus.PUBLISHING,
                             or_(Notice.fanout_lease_until.is_(None), Notice.fanout_lease_until < now))
        .values(fanout_lease_until=now + lease))
    return result.rowcount == 1


def next_batch(session, notice, batch_size, now, lease=LEASE):
    """Write the next batch of the notice's deliveries and move its cursor; returns rows written,
    or ``None`` when every segment is done."""
    segment = notice.fanout_segment or SEGMENTS[0]
    after = notice.fanout_after or ""
    audience = notice.audience or {}
    rows, last = [], None
    if segment == "organizations":
        ids = sorted(i for i in audience.get("organization_ids") or [] if i > after)[:batch_size]
        for org in session.execute(select(OrganizationRecipient).where(
                OrganizationRecipient.organization_id.in_(ids))).scalars():
            rows.append(delivery_row(notice, now, RecipientType.ORGANIZATION, org.organization_id,
                                     organization_channels(org)[0]))
        last = ids[-1] if ids else None
    elif segment == "accounts":
        keys = sorted([f"account:{a}" for a in audience.get("accounts") or []]
                      + [f"role:{r}" for r in audience.get("roles") or []])
        keys = [k for k in keys if k > after][:batch_size]
        for key in keys:
            kind, name = key.split(":", 1)
            rows.append(delivery_row(notice, now, kind, name, Channel.IN_APP))
        last = keys[-1] if keys else None
    elif segment == "copy":
        rows, last = _copy_batch(session, notice, audience, after, batch_size, now)
    else:
        if not after:
            refresh_statistics(session)
        # Plain rows of the columns routing needs, not ORM objects: no identity map to fill per batch.
        residents = session.execute(resident_query(audience).with_only_columns(*ROUTING_COLUMNS)
                                    .where(ResidentRecipient.resident_id > after)
                                    .order_by(ResidentRecipient.resident_id).limit(batch_size)).all()
        workers = grid_worker_accounts(session) if residents else {}
        rows = [resident_row(notice, now, r, workers) for r in residents]
        last = residents[-1].resident_id if residents else None

    if last is None:  # this segment is done: on to the next, or finished
        position = SEGMENTS.index(segment)
        if position + 1 == len(SEGMENTS):
            return None
        notice.fanout_segment, notice.fanout_after = SEGMENTS[position + 1], ""
        return 0
    insert_deliveries(session, rows)
    notice.fanout_segment, notice.fanout_after = segment, last
    notice.recipient_count = (notice.recipient_count or 0) + len({(r["recipient_type"], r["recipient_id"]) for r in rows})
    notice.fanout_lease_until = now + lease
    return len(rows)


def refresh_statistics(session):
    """Analyse the projection if it changed a lot since it was last analysed (PostgreSQL).

    Just after a bulk fill (a registry snapshot at start, a big import) the planner has no statistics
    and takes a grid or building filter to match a handful of rows; each batch's keyset query then
    sorts every resident after the cursor, O(audience) per batch and O(audience²) per notice (0.2-0.4 s
    a batch at 1,000,000 residents, 2 ms once analysed). Autovacuum would get there about a minute later.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    stale = session.execute(text(
        "SELECT n_mod_since_analyze > 1000 + n_live_tup / 10 FROM pg_stat_user_tables "
        "WHERE relid = CAST(:table AS regclass)"), {"table": ResidentRecipient.__tablename__}).scalar()
    if stale:
        try:
            with session.begin_nested():
                session.execute(text(f"ANALYZE {ResidentRecipient.__tablename__}"))
        except DBAPIError as error:  # not the table's owner, say: the plan is slower, never wrong
            log.warning("could not analyse %s: %s", ResidentRecipient.__tablename__, error.orig)


def _copy_batch(session, notice, audience, after, batch_size, now):
    """An Update or Cancel goes to the recipients of the notice it refers to (Cancel: those reached)."""
    source = audience.get("copy_of")
    if not source:
        return [], None
    key = Delivery.recipient_type + ":" + Delivery.recipient_id
    query = select(key).distinct().where(Delivery.notice_id == source, key > after)
    if audience.get("reached_only"):
        query = query.where(Delivery.status.in_((DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED)))
    keys = session.execute(query.order_by(key).limit(batch_size)).scalars().all()
    if not keys:
        return [], None
    resident_ids = [k.split(":", 1)[1] for k in keys if k.startswith("resident:")]
    residents = {r.resident_id: r for r in session.execute(select(ResidentRecipient).where(
        ResidentRecipient.resident_id.in_(resident_ids))).scalars()}
    org_ids = [k.split(":", 1)[1] for k in keys if k.startswith("organization:")]
    orgs = {o.organization_id: o for o in session.execute(select(OrganizationRecipient).where(
        OrganizationRecipient.organization_id.in_(org_ids))).scalars()}
    workers = grid_worker_accounts(session) if residents else {}
    rows = []
    for k in keys:
        kind, rid = k.split(":", 1)
        if kind == RecipientType.RESIDENT and rid in residents:
            rows.append(resident_row(notice, now, residents[rid], workers))
        elif kind == RecipientType.ORGANIZATION and rid in orgs:
            rows.append(delivery_row(notice, now, kind, rid, organization_channels(orgs[rid])[0]))
        elif kind in (RecipientType.ACCOUNT, RecipientType.ROLE):
            rows.append(delivery_row(notice, now, kind, rid, Channel.IN_APP))
    return rows, keys[-1]

