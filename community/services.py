"""The platform's services in start order, each with its own database.

``make service NAME=<name>`` appends a line here (deploy/new_service.py). The PostgreSQL database
of a service is ``heyun_<name>`` in compose and Kubernetes (deploy/compose.yml, deploy/k8s/); where
``<NAME>_DATABASE_URL`` is unset, ``make run`` keeps it in a SQLite file ``data/<name>.db``.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    database: str  # the PostgreSQL database's name in the deployment files

    @property
    def database_url_variable(self):
        """The environment variable its ``config.yml`` reads its database URL from."""
        return f"{self.name.upper()}_DATABASE_URL"


SERVICES = [
    Service("registry", database="heyun_registry"),
    Service("notify", database="heyun_notify"),
]
