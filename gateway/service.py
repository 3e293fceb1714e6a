"""gateway: the HTTP API of docs/api.md, one Nameko service made of one route mixin per domain
(``gateway/routes/``), with the dependencies every route shares. A service's routes are a module
in ``gateway/routes/`` and one line below; what a route does and who may call it is there."""
from nameko.dependency_providers import Config

from gateway.dependencies import RouteInContext
from gateway.routes.auth import AuthRoutes
from gateway.routes.notify import NotifyRoutes
from gateway.routes.operations import OperationsRoutes
from gateway.routes.registry import RegistryRoutes
from heyun.db import Database
from heyun.identity import CallerIdentity


class GatewayService(
    AuthRoutes,
    OperationsRoutes,
    RegistryRoutes,
    NotifyRoutes,
):
    name = "gateway"

    db = Database(relay_outbox=False)  # the gateway publishes no events
    context = CallerIdentity()  # the caller, from the token (gateway.edge.http), to every RPC
    config = Config()
    route = RouteInContext()
