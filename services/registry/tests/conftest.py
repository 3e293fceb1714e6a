"""Registry test fixtures: a small world in a fresh PostgreSQL database and a running service."""
import pytest

from heyun.testing.callers import STAFF
from heyun.testing.clients import RpcClient
from registry.service import RegistryService
from registry.tests.support import PII_KEY, build_world


@pytest.fixture
def world(migrated_database):
    """Two grids of one building each (3 floors, 2 units), a grid worker for each (``build_world``)."""
    return build_world(migrated_database("registry"))


@pytest.fixture
def registry(container_factory, service_config, world):
    """``registry.call("method", *args, caller=STAFF)`` against a running registry container."""
    config = service_config(DATABASE_URL=world["url"], PII_KEY=PII_KEY)
    container = container_factory(RegistryService, config)
    container.start()
    return RpcClient("registry", config, caller=STAFF)
