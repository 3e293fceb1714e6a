"""notify's tables: its projection of the people and organisations it reaches, the notices, and
one delivery per recipient and channel. Only notify reads or writes them."""
import uuid

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase

from heyun.db import UtcDateTime, new_id, utcnow  # noqa: F401 (used by this service's modules)
from notify.contract import MsgType
from registry.contract import Language

DELIVERY_NAMESPACE = uuid.UUID("6f1d3c1e-5b0a-4a57-9a3e-6865797e6e21")


def delivery_id(notice_id, recipient_type, recipient_id, channel):
    """Deterministic: a fan-out batch redone after a crash writes the very same rows."""
    return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{notice_id}|{recipient_type}|{recipient_id}|{channel}"))


class Base(DeclarativeBase):
    pass


# -- projection (fed by registry events) ------------------------------------------------------

class ResidentRecipient(Base):
    __tablename__ = "recipient_residents"
    resident_id = Column(String(36), primary_key=True)
    name = Column(String(100), nullable=False)
    building_id = Column(String(36), index=True)
    building_number = Column(Integer)
    unit = Column(Integer)
    floor = Column(Integer)
    room = Column(String(10))
    grid_id = Column(String(36), index=True)
    tags = Column(Text, nullable=False, default=",")  # ",elderly,no_smartphone,"
    language = Column(String(5), nullable=False, default=Language.ZH)
    preferred_channel = Column(String(20))
    phone_token = Column(Text)  # ciphertext under the PII key
    as_of = Column(UtcDateTime, nullable=False)  # occurred_at of the event applied last


class BuildingGrid(Base):
    """The grid each building is in, as the last ``building_moved`` said. Events of different
    kinds are handled concurrently: a resident event older than a move, handled after it, would
    otherwise put its residents back in the old grid."""

    __tablename__ = "recipient_buildings"
    building_id = Column(String(36), primary_key=True)
    grid_id = Column(String(36), nullable=False)
    as_of = Column(UtcDateTime, nullable=False)


class OrganizationRecipient(Base):
    __tablename__ = "recipient_organizations"
    organization_id = Column(String(36), primary_key=True)
    name = Column(String(200), nullable=False)
    kind = Column(String(50), nullable=False)
    emails = Column(JSON, nullable=False, default=list)
    webhook_url = Column(String(500))
    as_of = Column(UtcDateTime, nullable=False)


class GridWorkerRecipient(Base):
    __tablename__ = "recipient_grid_workers"
    grid_worker_id = Column(String(36), primary_key=True)
    account = Column(String(100))
    grid_id = Column(String(36), index=True)
    name = Column(String(100), nullable=False)
    as_of = Column(UtcDateTime, nullable=False)


# -- notices and deliveries ---------------------------------------------------------------------

class Notice(Base):
    __tablename__ = "notices"
    id = Column(String(36), primary_key=True, default=new_id)
    title = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    title_en = Column(String(200))
    body_en = Column(Text)
    category = Column(String(30), nullable=False, index=True)
    severity = Column(String(20), nullable=False)
    urgency = Column(String(20), nullable=False)
    certainty = Column(String(20), nullable=False)
    issuer_account = Column(String(100), nullable=False)
    issuer_organization_id = Column(String(36))
    onset = Column(UtcDateTime)  # when the event it announces begins (CAP onset)
    ends = Column(UtcDateTime)  # and ends (CAP has no element for it: a parameter)
    expires = Column(UtcDateTime)
    send_at = Column(UtcDateTime)
    audience = Column(JSON, nullable=False)
    requires_ack = Column(Boolean, nullable=False, default=False)
    ack_deadline = Column(UtcDateTime)
    msg_type = Column(String(10), nullable=False, default=MsgType.ALERT)  # CAP: Alert | Update | Cancel
    references_id = Column(String(36))  # the notice an Update or Cancel refers to
    status = Column(String(20), nullable=False, index=True)  # scheduled | publishing | published | cancelled
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    published_at = Column(UtcDateTime)
    fanned_out_at = Column(UtcDateTime)
    escalated_at = Column(UtcDateTime)
    recipient_count = Column(Integer, nullable=False, default=0)
    # The fan-out's resumable cursor: which segment, and the last recipient key done in it.
    fanout_segment = Column(String(20))
    fanout_after = Column(String(200))  # a resident id, or "resident:<id>" when copying recipients
    fanout_lease_until = Column(UtcDateTime)


class Delivery(Base):
    __tablename__ = "deliveries"
    id = Column(String(36), primary_key=True)
    notice_id = Column(String(36), nullable=False)
    recipient_type = Column(String(20), nullable=False)  # resident | organization | account | role
    recipient_id = Column(String(100), nullable=False)
    channel = Column(String(20), nullable=False)
    status = Column(String(20), nullable=False)
    assignee = Column(String(100))  # the grid worker account for door_to_door
    building_id = Column(String(36))  # for listings and previews without a join
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UtcDateTime)
    lease_until = Column(UtcDateTime)
    last_error = Column(Text)
    fallback_of = Column(String(36))
    sent_at = Column(UtcDateTime)
    delivered_at = Column(UtcDateTime)
    acknowledged_at = Column(UtcDateTime)
    acknowledged_by = Column(String(100))
    __table_args__ = (
        UniqueConstraint("notice_id", "recipient_type", "recipient_id", "channel", name="uq_delivery"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_notice_status", "notice_id", "status"),
        Index("ix_deliveries_recipient", "recipient_type", "recipient_id"),
        Index("ix_deliveries_assignee", "assignee", "status"),
    )
