"""``UtcDateTime`` keeps the instant on both databases: a time given with an offset is stored,
compared and read back as the same moment, in UTC.

SQLite (the ``make run`` default) has no time zones, so a plain ``DateTime(timezone=True)`` keeps
10:00+08:00 as 10:00 and reads it back naive. PostgreSQL keeps the instant but reads it back in the
session's time zone; the test session uses Beijing time, as a server set up in Jinan might.
"""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, event, insert, select

from heyun.db import UtcDateTime, make_engine, utcnow

BEIJING = timezone(timedelta(hours=8))

metadata = MetaData()
deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("due", UtcDateTime),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/times.db")
    else:
        engine = make_engine(request.getfixturevalue("database_factory").create("times"))

        @event.listens_for(engine, "connect")
        def _beijing_session(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("SET TIME ZONE 'Asia/Shanghai'")
            cursor.close()

    metadata.create_all(engine)
    yield engine
    engine.dispose()


def store(engine, **due_by_name):
    with engine.begin() as conn:
        conn.execute(insert(deadlines), [{"name": name, "due": due} for name, due in due_by_name.items()])


def read(engine, name):
    with engine.connect() as conn:
        return conn.execute(select(deadlines.c.due).where(deadlines.c.name == name)).scalar_one()


def test_a_time_with_an_offset_reads_back_as_the_same_instant_in_utc(engine):
    store(engine, beijing=datetime(2026, 11, 28, 10, 0, tzinfo=BEIJING))
    due = read(engine, "beijing")
    assert due == datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)
    assert due.tzinfo == timezone.utc
    assert due.isoformat() == "2026-11-28T02:00:00+00:00"


def test_a_naive_time_is_taken_as_utc(engine):
    store(engine, naive=datetime(2026, 11, 28, 2, 0))
    assert read(engine, "naive") == datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)


def test_comparisons_with_now_use_the_instant(engine):
    """What escalation, scheduled sends and expiry ask: which deadlines have passed?"""
    now = utcnow()
    store(engine, passed=(now - timedelta(minutes=5)).astimezone(BEIJING),
          coming=(now + timedelta(minutes=5)).astimezone(BEIJING),
          passed_utc=now - timedelta(minutes=5))
    with engine.connect() as conn:
        passed = conn.execute(select(deadlines.c.name).where(deadlines.c.due < utcnow())).scalars().all()
    assert sorted(passed) == ["passed", "passed_utc"]
