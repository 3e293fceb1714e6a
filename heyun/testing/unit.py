"""The unit tier's way into a service: Nameko's ``worker_factory`` gives a service instance whose
dependencies are mocks; ``service_worker`` hands it a real database (SQLite, migrated like
production's) and a caller, so an entrypoint runs its whole domain path with no broker and no
database server. A worker's other dependencies stay ``MagicMock``s, or are passed in."""
from nameko.testing.services import worker_factory

from heyun.db import DatabaseAccess, make_engine, make_sessionmaker


class CallerStub:
    """Stands in for ``heyun.identity.CallerIdentity``'s ``CallerContext``: who is asking, and how
    the request came in. Change ``caller`` between calls to act as someone else."""

    def __init__(self, caller, route="rpc unit-test"):
        self.caller, self.route = caller, route


def service_worker(service_cls, database_url, caller=None, **dependencies):
    """A worker of ``service_cls`` whose ``db`` is the database at ``database_url`` and whose
    ``context`` says ``caller`` asks; ``dependencies`` replace others by name (e.g. ``pii=``)."""
    engine = make_engine(database_url)
    dependencies.setdefault("db", DatabaseAccess(make_sessionmaker(engine, service_cls.name)))
    dependencies.setdefault("context", CallerStub(caller))
    worker = worker_factory(service_cls, **dependencies)
    worker.sql_engine = engine  # for a test's own reads, and to dispose of
    return worker
