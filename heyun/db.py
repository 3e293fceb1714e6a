"""One database per service: engines, sessions, and the Nameko dependency that hands them out.

A service's URL comes from its config (``DATABASE_URL``): a SQLite file for the embedded default,
PostgreSQL in production and CI. Under eventlet a blocking driver would freeze every worker in
the process while it waits, so psycopg2 is made cooperative with psycogreen before the first
connection, and pools are sized to the worker count.
"""
import logging
import uuid
from contextlib import contextmanager
from datetime import timezone

from nameko.extensions import DependencyProvider
from sqlalchemy import DateTime, TypeDecorator, create_engine, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from heyun.clock import utcnow  # noqa: F401 (re-exported for the services' models)
from heyun.config import refuse_unsafe_production
from heyun.errors import Conflict

log = logging.getLogger(__name__)

_psycopg_patched = False


def _make_psycopg_green():
    global _psycopg_patched
    if _psycopg_patched:
        return
    from eventlet import patcher

    if patcher.is_monkey_patched("socket"):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        _psycopg_patched = True


def new_id():
    """Ids are UUID strings: unique across replicas without asking the database."""
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator):
    """An instant: stored in UTC, always read back as an aware UTC datetime. Use it for every
    timestamp column.

    ``DateTime(timezone=True)`` alone is only right on PostgreSQL (timestamptz). SQLite, the
    embedded default, has no time zones: SQLAlchemy stores the wall-clock time and drops the offset,
    so 10:00+08:00 would be kept as 10:00 and read back naive, then taken for 10:00 UTC, eight
    hours late. Converting to UTC on the way in and attaching UTC on the way out makes both
    databases hold, compare and return the same instant. The schema is unchanged.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            # The platform makes aware times (``utcnow``) and the API refuses times without an
            # offset, so a naive one is a UTC time that lost its zone (say, read by raw SQL from
            # SQLite). Taking it for local time would shift it by the server's offset.
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: what we stored was UTC
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)  # PostgreSQL: in the session's time zone


def normalize_url(url):
    """``postgresql://`` means psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def make_engine(url, pool_size=10, echo=False):
    """An engine for ``url`` set up for this platform's use: cooperative, pooled, SQLite in WAL.
    A failed statement's error names no parameters (``hide_parameters``): they are what people
    typed, and the error is logged."""
    url = normalize_url(url)
    if url.startswith("postgresql"):
        _make_psycopg_green()
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo,
            hide_parameters=True,
        )
    elif url.startswith("sqlite"):
        # Green threads look like OS threads to sqlite3, so its same-thread check must go. SQLite
        # has one writer at a time, and its busy-wait blocks the whole eventlet hub: two green
        # threads of one process contending for the file would deadlock until the timeout. One
        # pooled connection makes them queue for it (a green wait) instead. PostgreSQL is for
        # concurrency; this is the embedded default.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, echo=echo,
            pool_size=1, max_overflow=0, pool_timeout=120, hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
    else:
        engine = create_engine(url, echo=echo)
    return engine


def conflict_insert(session, table):
    """An INSERT into ``table`` that can say what a duplicate key does (``.on_conflict_do_nothing()``,
    ``.on_conflict_do_update(...)``): PostgreSQL's or SQLite's, whichever the session uses. One
    statement, so two writers of the same row at once cannot both insert it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def make_sessionmaker(engine, service_name):
    # The service name rides on each session so the outbox can stamp events with their source.
    return sessionmaker(bind=engine, expire_on_commit=False, info={"service": service_name})


@contextmanager
def transaction(Session):
    """A unit of work: commit on success, roll back on any exception, always close."""
    session = Session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def write(Session):
    """``transaction`` for a change: a unique key broken at commit (two requests creating the same
    thing at once, each having checked that it did not exist) is a ``Conflict`` (409) for the
    caller, not a crash. A rule checked beforehand still names its field; this is the last line."""
    try:
        with transaction(Session) as session:
            yield session
    except IntegrityError:
        raise Conflict("The change clashes with existing data (a duplicate).") from None


class DatabaseAccess:
    """What a worker gets: ``with self.db.transaction() as session: …`` to read, and
    ``with self.db.write() as session: …`` to change (see ``write``)."""

    def __init__(self, Session):
        self.Session = Session

    def transaction(self):
        return transaction(self.Session)

    def write(self):
        return write(self.Session)


class Database(DependencyProvider):
    """The service's database, and the outbox relay that publishes the events it stores.

    The relay lives here because the outbox is a table in this database: one provider owns the
    engine, hands sessions to workers, and drains committed events to the broker.
    """

    def __init__(self, relay_outbox=True):
        self.relay_outbox = relay_outbox
        self.engine = None
        self.Session = None
        self.relay = None

    def setup(self):
        config = self.container.config
        # Every service has its database: here no service starts in production on a public secret.
        refuse_unsafe_production(self.container.service_name, config)
        url = config["DATABASE_URL"]
        workers = int(config.get("max_workers", 10))
        self.engine = make_engine(url, pool_size=workers + 2)
        self.Session = make_sessionmaker(self.engine, self.container.service_name)
        if self.relay_outbox:
            from heyun.outbox import OutboxRelay

            self.relay = OutboxRelay(self.engine, config)
            self.relay.watch(self.Session)

    def start(self):
        if self.relay:
            self.container.spawn_managed_thread(self.relay.run, identifier="outbox-relay")

    def stop(self):
        if self.relay:
            self.relay.stop()
        if self.engine is not None:
            self.engine.dispose()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return DatabaseAccess(self.Session)
