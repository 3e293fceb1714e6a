"""Resolving an account's links to registry objects at sign-in.

An account may name its organisation by kind (``property`` → the property management company)
and a resident account its resident by name, because their ids belong to the registry. The first
sign-in asks the registry and stores the id on the account, so later sign-ins need no lookup; a
grid worker's grids are asked for at every sign-in, since the registry can reassign them.
"""
from community.roles import Role


def missing_links(account):
    """What to look up for ``account``: a subset of {"organization_id", "resident_id", "grid_ids"}."""
    wanted = set()
    if account.organization_kind and not account.organization_id:
        wanted.add("organization_id")
    if account.resident_name and not account.resident_id:
        wanted.add("resident_id")
    if Role.GRID_WORKER in (account.roles or []):
        wanted.add("grid_ids")
    return wanted


def resolve(registry, account, wanted):
    """``{organization_id?, resident_id?, grid_ids}`` from the registry (acting as the system)."""
    found = {"grid_ids": []}
    if "organization_id" in wanted:
        page = registry.list_organizations(filters={"kind": account.organization_kind}, limit=1, offset=0)
        if page["items"]:
            found["organization_id"] = page["items"][0]["id"]
    if "resident_id" in wanted:
        page = registry.list_residents(filters={"q": account.resident_name}, limit=2, offset=0)
        matches = [r for r in page["items"] if r["name"] == account.resident_name]
        if len(matches) == 1:  # an ambiguous name links nobody rather than the wrong person
            found["resident_id"] = matches[0]["id"]
    if "grid_ids" in wanted:
        found["grid_ids"] = list(registry.grid_scope(account.username)["grid_ids"])
    return found
