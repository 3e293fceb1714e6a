"""The service chassis: what every Heyun service has, written once. A service inherits it::

    from heyun import chassis

    class CanteenService(chassis.Service):
        name = "canteen"
        published_events = contract.EVENTS

(import the module, not the class: ``nameko run canteen.service`` runs every class in the module
that has entrypoints, and would try to run ``Service`` itself too)

and gets its database (with the outbox relay), its configuration, the caller of each call,
and the entrypoints the platform expects of every service: ``ping`` (the gateway's readiness
probe) and ``catalogue`` (the AsyncAPI document of its events). Nameko finds inherited
dependencies and entrypoints; each service container binds its own copies.
"""
from dataclasses import replace

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from sqlalchemy import select

from heyun.db import Database
from heyun.events import asyncapi_document
from heyun.identity import ROUTE, CallerIdentity


class Service:
    name = None  # each service names itself
    published_events = ()  # its EventType declarations, for ``catalogue``

    db = Database()
    context = CallerIdentity()
    config = Config()

    @property
    def caller(self):
        """Who asks, with how the request came in (``heyun.identity.ROUTE``: the gateway's route or
        this service's RPC), for the audit of what they read."""
        caller = self.context.caller
        return replace(caller, extra={**caller.extra, ROUTE: self.context.route})

    @rpc
    def ping(self):
        """Alive and reaching its database (the gateway's ``/readyz`` asks every service)."""
        with self.db.transaction() as session:
            session.execute(select(1))
        return {"service": self.name, "ok": True}

    @rpc
    def catalogue(self):
        """The AsyncAPI document of every event this service publishes."""
        return asyncapi_document(self.name, self.published_events)
