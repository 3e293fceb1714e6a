"""gateway: the HTTP API of docs/api.md, one Nameko service made of one route mixin per domain
(``gateway/routes/``), with the dependencies every route shares. A service's routes are a module
in ``gateway/routes/`` and one line below; what a route does and who may call it is there."""
from nameko.dependency_providers import Config

from gateway.dependencies import RouteInContext
# The modules, not their classes: ``nameko run gateway.service`` takes every class in this module
# that has entrypoints for a service, and a mixin is not one.
from gateway.routes import auth, notify, operations, registry
from heyun.db import Database
from heyun.identity import CallerIdentity


class GatewayService(
    auth.AuthRoutes,
    operations.OperationsRoutes,
    registry.RegistryRoutes,
    notify.NotifyRoutes,
):
    name = "gateway"

    db = Database(relay_outbox=False)  # the gateway publishes no events
    context = CallerIdentity()  # the caller, from the token (gateway.edge.http), to every RPC
    config = Config()
    route = RouteInContext()
