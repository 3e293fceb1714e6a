"""notify's demo data: nothing of its own to load, by design. The people and organisations it
reaches are the registry's demo community (``registry.demo``), which notify copies into its own
projection from the registry's snapshot when it starts (``NotifyService.fill_projection_from_snapshot``)
and keeps from the registry's events afterwards; its notices are what the demo's users publish
(the water plant's account, ``waterplant``, is the demo's story). A loader that wrote residents
here would be a second source of truth beside the registry's.

``load`` is the launcher's hook (``deploy/run.py`` calls every service's ``demo.load(url)``, the
registry's first) and says so, with what notify's database holds now.

    python -m notify.demo [DATABASE_URL]
"""
import sys

from sqlalchemy import func, select

from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from notify.models import Notice, ResidentRecipient


def load(database_url=None):
    """Nothing to write; returns what the projection and the notices hold (see the module)."""
    engine = make_engine(database_url or service_config("notify")["DATABASE_URL"])
    try:
        with transaction(make_sessionmaker(engine, "notify")) as session:
            return summary(session)
    finally:
        engine.dispose()


def summary(session):
    count = lambda model: session.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
    return {"residents": "from the registry's snapshot at start", "residents_known": count(ResidentRecipient),
            "notices": count(Notice)}


if __name__ == "__main__":
    print(load(sys.argv[1] if len(sys.argv) > 1 else None))
