"""Callers for the tests, as the gateway would put them in an RPC's context. ``as_role(role, …)``
makes one; the demo's office accounts every service's tests act as are here once. Callers scoped to
a test's own data (a grid, an organisation) are made where that data is."""
from heyun.identity import Caller


def as_role(role, account=None, grid_ids=(), organization_id=None, resident_id=None):
    """A caller with one role; the account is named after the role unless told."""
    return Caller(account=account or role, roles=(role,), grid_ids=tuple(grid_ids),
                  organization_id=organization_id, resident_id=resident_id)


STAFF = as_role("staff")
ADMIN = as_role("admin")
