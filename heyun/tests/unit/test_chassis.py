"""The service chassis's pieces on their own: no broker, SQLite in memory or no database."""
import eventlet
import pytest
from nameko.exceptions import UnknownService
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from heyun.db import make_engine, make_sessionmaker, write
from heyun.errors import Conflict, ServiceUnavailable
from heyun.handlers import idempotent_handler
from heyun.outbox import kernel_metadata, processed_events
from heyun.projection import SnapshotSync, snapshot_pages
from heyun.rpc import TimedServiceProxy

things = Table("things", MetaData(), Column("name", String(20), primary_key=True))


@pytest.fixture
def Session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'chassis.db'}")
    things.metadata.create_all(engine)
    kernel_metadata.create_all(engine)
    yield make_sessionmaker(engine, "chassis")
    engine.dispose()


def test_a_duplicate_written_is_a_conflict_and_nothing_is_kept(Session):
    with write(Session) as session:
        session.execute(things.insert().values(name="water"))
    with pytest.raises(Conflict) as raised:
        with write(Session) as session:
            session.execute(things.insert().values(name="power"))
            session.execute(things.insert().values(name="water"))
    assert raised.value.status == 409
    with write(Session) as session:
        assert session.execute(select(things.c.name)).scalars().all() == ["water"]


class Remote:
    """Stands in for Nameko's method proxy: ``call_async(...).result()``."""

    def __init__(self, answer=None, delay=0.0, unknown=False):
        self.answer, self.delay, self.unknown = answer, delay, unknown

    def __getattr__(self, name):
        remote = self

        class Method:
            def call_async(self, *args, **kwargs):
                if remote.unknown:
                    raise UnknownService("registry")
                return self

            def result(self):
                eventlet.sleep(remote.delay)
                return remote.answer

        return Method()


def test_a_call_answers_within_its_deadline_or_names_the_service():
    assert TimedServiceProxy(Remote(answer=42), "registry", 1).ping() == 42
    with pytest.raises(ServiceUnavailable, match="registry service did not answer within 0.05 s"):
        TimedServiceProxy(Remote(answer=42, delay=1), "registry", 0.05).ping()
    with pytest.raises(ServiceUnavailable, match="registry service is not running"):
        TimedServiceProxy(Remote(unknown=True), "registry", 1).ping()


def test_snapshot_pages_follow_the_owners_cursor_to_the_last_page():
    pages = {"": {"items": [1, 2], "next_after_id": "2"}, "2": {"items": [3], "next_after_id": None}}
    asked = []

    def fetch(after, limit):
        asked.append((after, limit))
        return pages[after]

    assert list(snapshot_pages(fetch, 2)) == [[1, 2], [3]]
    assert asked == [("", 2), ("2", 2)]


def test_the_snapshot_is_taken_once_retrying_an_unanswered_call_with_a_longer_deadline():
    sync = SnapshotSync("registry", deadlines=(5, 15, 45))
    sync.setup()
    calls = []

    def fill(deadline):
        calls.append(deadline)
        if len(calls) < 3:
            raise ServiceUnavailable(f"The registry service did not answer within {deadline} s.")
        return 7

    assert sync.take(fill) == 7 and calls == [5, 15, 45] and sync.synced
    assert sync.take(fill) is None and len(calls) == 3  # taken: not again in this process


def test_an_owner_not_ready_leaves_the_snapshot_to_the_next_tick():
    sync = SnapshotSync("registry")
    sync.setup()
    calls = []

    def fill(deadline):
        calls.append(deadline)
        raise RuntimeError("registry not migrated yet")

    assert sync.take(fill) is None and len(calls) == 1 and not sync.synced


def test_an_idempotent_handler_applies_an_event_once_under_its_methods_name(Session):
    from heyun.db import DatabaseAccess

    class Consumer:
        name = "canteen"
        db = DatabaseAccess(Session)
        applied = []

        @idempotent_handler("registry", "resident_registered")
        def on_resident_registered(self, session, data, event):
            self.applied.append(data["resident_id"])

    event = {"event_id": "e-1", "data": {"resident_id": "r-1"}}
    consumer = Consumer()
    consumer.on_resident_registered(event)
    consumer.on_resident_registered(event)  # redelivered
    assert Consumer.applied == ["r-1"]
    with write(Session) as session:
        assert session.execute(select(processed_events.c.consumer, processed_events.c.event_id)).all() == [
            ("canteen.on_resident_registered", "e-1")]
