"""The platform's services, in start order: the one list that the launcher (``deploy/run.py``),
the gateway's readiness probe and its event catalogue go over. A new service is one line here.

``database`` is the service's PostgreSQL database (``deploy/compose.yml``, the Kubernetes
manifests); without ``<NAME>_DATABASE_URL`` the launcher gives each service a SQLite file named
after the service instead (``data/<name>.db``).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    database: str


# Behind the gateway, each answering ``ping`` (readiness) and ``catalogue`` (its AsyncAPI
# document). The registry comes first: the others refer to its residents and organisations.
SERVICES = (
    Service("registry", database="heyun_registry"),
    Service("notify", database="heyun_notify"),
)
# Started last, once what it calls exists; it publishes no events.
GATEWAY = Service("gateway", database="heyun_gateway")
# Everything the launcher migrates and starts, in order.
ALL = SERVICES + (GATEWAY,)


def names(services=SERVICES):
    return [service.name for service in services]
