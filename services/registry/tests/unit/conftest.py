"""The registry's unit tier: the service's own entrypoints through Nameko's ``worker_factory``, on a
SQLite copy of its schema, with no broker and no database server."""
import pytest

from heyun.pii import Protector
from heyun.testing.callers import STAFF
from heyun.testing.unit import service_worker
from registry.service import RegistryService
from registry.tests.support import PII_KEY, build_world


@pytest.fixture
def world(sqlite_database):
    """The service tests' small world (``build_world``), on SQLite."""
    return build_world(sqlite_database("registry"))


@pytest.fixture
def registry(world):
    """A ``RegistryService`` worker on ``world``'s database, asked by staff unless
    ``registry.context.caller`` is set to someone else."""
    worker = service_worker(RegistryService, world["url"], STAFF, pii=Protector(PII_KEY))
    yield worker
    worker.sql_engine.dispose()
