"""The gateway's routes, one mixin class per domain, combined into the one HTTP service by
``gateway/service.py`` (Nameko finds entrypoints a service class inherits, and two ``@http``
services cannot share a process, so one class it is).

A mixin declares the RPC dependency of each service it calls (``registry = ServiceRpc("registry")``)
and uses what every route shares from ``GatewayService``: ``db``, ``context`` (the caller),
``config``. Each route declares its roles and schemas with ``gateway.edge.http.api``; who may
do what, and why, is said in the docstring of each route module, once.

The role groups below name who a route is opened to; the services check object-level permission
again.
"""
from community import policy, roles

ADMIN = roles.COMMUNITY_OFFICE
READERS = roles.WORKERS
RESIDENT_WRITERS = policy.RESIDENT_WRITERS
PROXY_USERS = roles.PROXY_USERS
EVERYONE = ()
PUBLISHERS = roles.PUBLISHERS  # notify checks again
DOOR_TO_DOOR = roles.DOOR_TO_DOOR
# Residents and households: the access policy (community.policy) says who reaches them; the
# registry narrows each answer to the caller's scope and fields again.
RESIDENT_READERS = policy.roles_reaching_residents()
HOUSEHOLD_READERS = policy.roles_reaching_households()
ACCOUNT_MANAGERS = roles.ACCOUNT_MANAGERS
ACCOUNT_READERS = ADMIN
