"""The demo accounts of API.md, sharing ``HEYUN_DEMO_PASSWORD`` (default ``wanghe-demo``).

Loading is idempotent: an account that exists is left exactly as it is (its password too), so a
second call changes nothing. The links to the registry's organisations and to the demo resident
are stored as a kind and a name and resolved through registry RPC at the account's first sign-in
(see ``links.py``), because the registry's demo loader creates those and their ids are its own.

    python -m gateway.demo [DATABASE_URL]
"""
import os
import sys

from sqlalchemy import select

from community.roles import Role
from gateway.accounts import hash_password
from gateway.models import Account
from heyun.config import service_config
from heyun.db import make_engine, make_sessionmaker, transaction
from registry.contract import OrganizationKind

# username → roles, links to resolve at first sign-in
DEMO_ACCOUNTS = {
    "admin": ([Role.ADMIN], {}),
    "staff": ([Role.STAFF], {}),
    **{f"gridworker{n}": ([Role.GRID_WORKER], {}) for n in range(1, 5)},
    "property": ([Role.PROPERTY_MANAGER], {"organization_kind": OrganizationKind.PROPERTY_MANAGEMENT}),
    "waterplant": ([Role.WATER_UTILITY_STAFF], {"organization_kind": OrganizationKind.WATER_UTILITY}),
    "canteen": ([Role.CANTEEN_STAFF], {}),
    "mediator": ([Role.MEDIATOR], {}),
    "police": ([Role.POLICE], {}),
    "patrol": ([Role.PATROL_MEMBER], {}),
    "volunteer": ([Role.VOLUNTEER], {}),
    # 程建国, whose help-and-proxy request is the registry demo's story.
    "resident": ([Role.RESIDENT], {"resident_name": "程建国"}),
}


def demo_password():
    return os.environ.get("HEYUN_DEMO_PASSWORD", "wanghe-demo")


def load(database_url=None, registry_grid_scope=None):
    """Create the missing demo accounts; returns ``{created, existing, accounts[, grid_scope]}``.

    ``registry_grid_scope`` (optional, ``account → {"grid_ids": [...]}``, e.g. a registry RPC)
    is asked for each grid worker's grids so the summary shows the accounts are wired up.
    """
    if os.environ.get("HEYUN_ENV", "development") == "production":
        raise SystemExit("HEYUN_ENV is production: demo accounts are never loaded there. Create the "
                         "first admin with: python -m gateway.accounts create --username admin --role admin")
    database_url = database_url or service_config("gateway")["DATABASE_URL"]
    password = demo_password()
    engine = make_engine(database_url)
    Session = make_sessionmaker(engine, "gateway")
    created = []
    try:
        with transaction(Session) as session:
            existing = set(session.execute(select(Account.username)).scalars())
            for username, (roles, links) in DEMO_ACCOUNTS.items():
                if username in existing:
                    continue
                session.add(Account(username=username, password_hash=hash_password(password),
                                    roles=roles, active=True, **links))
                created.append(username)
    finally:
        engine.dispose()
    summary = {"created": len(created), "existing": len(DEMO_ACCOUNTS) - len(created),
               "accounts": sorted(DEMO_ACCOUNTS)}
    if registry_grid_scope is not None:
        summary["grid_scope"] = {
            username: registry_grid_scope(username)["grid_ids"]
            for username, (roles, _) in DEMO_ACCOUNTS.items() if Role.GRID_WORKER in roles}
    return summary


if __name__ == "__main__":
    print(load(sys.argv[1] if len(sys.argv) > 1 else None))
