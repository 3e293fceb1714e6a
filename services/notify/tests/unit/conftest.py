"""notify's unit tier: its entrypoints through Nameko's ``worker_factory`` on a SQLite copy of its
schema holding the small community's projection, with no broker and no database server."""
import pytest

from heyun.pii import Protector
from heyun.testing.callers import STAFF
from heyun.testing.unit import service_worker
from notify.service import NotifyService
from notify.tests.support import PII_KEY, project_small_community


@pytest.fixture
def notify(sqlite_database):
    """A ``NotifyService`` worker on the small community, asked by staff unless
    ``notify.context.caller`` is set to someone else."""
    url = sqlite_database("notify")
    project_small_community(url, webhook_url="https://water.example/heyun")
    worker = service_worker(NotifyService, url, STAFF, pii=Protector(PII_KEY))
    yield worker
    worker.sql_engine.dispose()
