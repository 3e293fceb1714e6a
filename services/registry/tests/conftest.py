"""Registry test fixtures: a small world in a fresh PostgreSQL database and a running service."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from heyun.config import service_config as registry_file_config
from heyun.db import make_engine, make_sessionmaker, transaction
from heyun.identity import CONTEXT_KEY, Caller
from registry.models import Building, Grid
from heyun.pii import Protector
from registry.places import create_grid_worker
from community.policy import SYSTEM
from registry.service import RegistryService

PII_KEY = registry_file_config("registry")["PII_KEY"]
STAFF = Caller(account="staff", roles=("staff",))
PROPERTY = Caller(account="property", roles=("property_manager",))
CANTEEN = Caller(account="canteen", roles=("canteen_staff",))


@pytest.fixture
def world(migrated_database):
    """Two grids of one building each (3 floors, 2 units), a grid worker for each."""
    url = migrated_database("registry")
    engine = make_engine(url)
    Session = make_sessionmaker(engine, "registry")
    with transaction(Session) as session:
        grid_a, grid_b = Grid(name="A"), Grid(name="B")
        session.add_all([grid_a, grid_b])
        session.flush()
        east = Building(number=1, name="1号楼", floors=3, units=2, grid_id=grid_a.id)
        west = Building(number=2, name="2号楼", floors=3, units=2, grid_id=grid_b.id)
        session.add_all([east, west])
        session.flush()
        protector = Protector(PII_KEY)
        create_grid_worker(session, protector, SYSTEM, {"name": "李娜", "account": "gw-a", "grid_id": grid_a.id,
                                                        "phone": "13800000001"})
        create_grid_worker(session, protector, SYSTEM, {"name": "王芳", "account": "gw-b", "grid_id": grid_b.id,
                                                        "phone": "13800000002"})
        ids = {"url": url, "grid_a": grid_a.id, "grid_b": grid_b.id, "east": east.id, "west": west.id}
    engine.dispose()
    ids["gw_a"] = Caller(account="gw-a", roles=("grid_worker",), grid_ids=(ids["grid_a"],))
    ids["gw_b"] = Caller(account="gw-b", roles=("grid_worker",), grid_ids=(ids["grid_b"],))
    return ids


@pytest.fixture
def registry(container_factory, service_config, world):
    """``registry.call("method", *args, caller=STAFF)`` against a running registry container."""
    config = service_config(DATABASE_URL=world["url"], PII_KEY=PII_KEY)
    container = container_factory(RegistryService, config)
    container.start()

    class Client:
        amqp_config = config

        def call(self, method, *args, caller=STAFF, **kwargs):
            context = {CONTEXT_KEY: caller.to_json()} if caller else {}
            with ServiceRpcProxy("registry", config, context_data=context) as proxy:
                return getattr(proxy, method)(*args, **kwargs)

    return Client()
