"""The registry's tables: places, the grid, households, residents, organisations, service items
and help-and-proxy requests. Only the registry reads or writes them."""

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.orm import DeclarativeBase

from heyun.db import UtcDateTime, new_id, utcnow  # noqa: F401 (used by this service's modules)
from registry.contract import Language


class Base(DeclarativeBase):
    pass


class Grid(Base):
    __tablename__ = "grids"
    id = Column(String(36), primary_key=True, default=new_id)
    name = Column(String(100), nullable=False, unique=True)


class GridWorker(Base):
    __tablename__ = "grid_workers"
    id = Column(String(36), primary_key=True, default=new_id)
    name = Column(String(100), nullable=False)
    account = Column(String(100), unique=True)  # the gateway account that acts as this worker
    phone_cipher = Column(Text)
    phone_masked = Column(String(20))
    grid_id = Column(String(36), ForeignKey("grids.id"), nullable=False, index=True)
    __table_args__ = (Index("ix_grid_workers_name_order", "name", "id"),)  # the list's order


class Building(Base):
    __tablename__ = "buildings"
    id = Column(String(36), primary_key=True, default=new_id)
    number = Column(Integer, nullable=False, unique=True)
    name = Column(String(100), nullable=False)
    floors = Column(Integer, nullable=False)
    units = Column(Integer, nullable=False)
    grid_id = Column(String(36), ForeignKey("grids.id"), index=True)


class Dwelling(Base):
    __tablename__ = "dwellings"
    id = Column(String(36), primary_key=True, default=new_id)
    building_id = Column(String(36), ForeignKey("buildings.id"), nullable=False)
    unit = Column(Integer, nullable=False)
    floor = Column(Integer, nullable=False)
    room = Column(String(10), nullable=False)
    __table_args__ = (
        UniqueConstraint("building_id", "unit", "floor", "room", name="uq_dwelling_address"),
        Index("ix_dwellings_building_floor", "building_id", "floor"),
    )


class Household(Base):
    __tablename__ = "households"
    id = Column(String(36), primary_key=True, default=new_id)
    origin_village = Column(String(50))  # 东辛村 or 花二村 for the resettled families
    resettled_on = Column(Date)
    dwelling_id = Column(String(36), ForeignKey("dwellings.id"))
    head_resident_id = Column(String(36))
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    # The household list's order within a dwelling (migration 0005); it serves the key's lookups too.
    __table_args__ = (Index("ix_households_dwelling_order", "dwelling_id", "id"),)


class Resident(Base):
    __tablename__ = "residents"
    id = Column(String(36), primary_key=True, default=new_id)
    name = Column(String(100), nullable=False)
    gender = Column(String(10), nullable=False)
    birth_date = Column(Date, nullable=False, index=True)
    id_number_digest = Column(String(64), nullable=False, unique=True)
    id_number_cipher = Column(Text, nullable=False)
    id_number_masked = Column(String(20), nullable=False)
    phone_cipher = Column(Text)
    phone_masked = Column(String(20))
    household_id = Column(String(36), ForeignKey("households.id"), index=True)
    relation_to_head = Column(String(30))
    dwelling_id = Column(String(36), ForeignKey("dwellings.id"))
    # Tags as ",elderly,living_alone,": a LIKE finds a tag on SQLite, an indexed array containment
    # on PostgreSQL (``residents.has_tag``).
    tags = Column(Text, nullable=False, default=",")
    language = Column(String(5), nullable=False, default=Language.ZH, server_default=Language.ZH.value)  # notices in zh or en
    preferred_channel = Column(String(20))  # in_app | sms | door_to_door; None: notify decides
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)
    updated_at = Column(UtcDateTime, nullable=False, default=utcnow)
    __table_args__ = (
        # The list's order within a dwelling (by name, then id); it serves the key's lookups too.
        Index("ix_residents_dwelling_order", "dwelling_id", "name", "id"),
        # The tag filter on PostgreSQL (``residents.has_tag``); SQLite scans with LIKE.
        Index("ix_residents_tag_set", func.string_to_array(tags, literal_column("','")),
              postgresql_using="gin").ddl_if(dialect="postgresql"),
    )


class Residence(Base):
    """Where a resident lived when: moving keeps the old rows (the history)."""

    __tablename__ = "residences"
    id = Column(String(36), primary_key=True, default=new_id)
    resident_id = Column(String(36), ForeignKey("residents.id"), nullable=False, index=True)
    dwelling_id = Column(String(36), ForeignKey("dwellings.id"), nullable=False)
    moved_in = Column(Date, nullable=False)
    moved_out = Column(Date)


class Organization(Base):
    __tablename__ = "organizations"
    id = Column(String(36), primary_key=True, default=new_id)
    name = Column(String(200), nullable=False, unique=True)
    kind = Column(String(50), nullable=False, index=True)
    contacts = Column(JSON, nullable=False, default=list)
    webhook_url = Column(String(500))  # where the organisation's own system takes notices


class ServiceItem(Base):
    """One of the service centre's resident service items (医保, 养老保险, …)."""

    __tablename__ = "service_items"
    id = Column(String(36), primary_key=True, default=new_id)
    code = Column(String(20), nullable=False, unique=True)
    name = Column(String(200), nullable=False)
    category = Column(String(50), nullable=False)
    materials = Column(JSON, nullable=False, default=list)
    time_limit_days = Column(Integer, nullable=False)  # working days


class ProxyRequest(Base):
    """帮办代办: a grid worker handles a service item for a resident, with the resident's authorisation."""

    __tablename__ = "proxy_requests"
    id = Column(String(36), primary_key=True, default=new_id)
    resident_id = Column(String(36), ForeignKey("residents.id"), nullable=False, index=True)
    service_item_id = Column(String(36), ForeignKey("service_items.id"), nullable=False)
    grid_worker_id = Column(String(36), ForeignKey("grid_workers.id"), index=True)
    grid_id = Column(String(36), index=True)
    status = Column(String(20), nullable=False, index=True)
    description = Column(Text, nullable=False, default="")
    authorization_scope = Column(Text, nullable=False)
    authorization_valid_until = Column(Date, nullable=False)
    evidence = Column(Text)
    rating = Column(Integer)
    rating_comment = Column(Text)
    submitted_at = Column(UtcDateTime, nullable=False, default=utcnow)
    due_on = Column(Date, nullable=False)
    overdue_flagged_at = Column(UtcDateTime)


class ProxyRequestStep(Base):
    __tablename__ = "proxy_request_steps"
    id = Column(String(36), primary_key=True, default=new_id)
    request_id = Column(String(36), ForeignKey("proxy_requests.id"), nullable=False, index=True)
    action = Column(String(20), nullable=False)
    from_status = Column(String(20))
    to_status = Column(String(20), nullable=False)
    note = Column(Text)
    actor = Column(String(100), nullable=False)
    at = Column(UtcDateTime, nullable=False, default=utcnow)


class PiiAccess(Base):
    """Audit of every unmasked read of an ID or phone number (PIPL)."""

    __tablename__ = "pii_access_log"
    id = Column(String(36), primary_key=True, default=new_id)
    account = Column(String(100), nullable=False, index=True)
    subject_type = Column(String(20), nullable=False)  # resident | grid_worker
    subject_id = Column(String(36), nullable=False, index=True)
    fields = Column(String(100), nullable=False)
    # How it was read: the gateway's route ("GET /api/v1/residents/{resident_id}"), or the RPC
    # ("rpc registry.get_resident") when no HTTP request was behind it.
    route = Column(String(200))
    at = Column(UtcDateTime, nullable=False, default=utcnow, index=True)  # queried and expired by time
