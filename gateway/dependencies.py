"""The gateway's dependency providers: RPC to a service with a deadline, and the readiness probe.

Nameko's ``RpcProxy`` waits for a reply forever; a service whose queue exists but whose
processes are gone would hang the HTTP request. Here every call has a deadline
(``RPC_TIMEOUT_SECONDS``) after which the client gets a 503 naming the service.
"""
from dataclasses import replace

import eventlet
from nameko.extensions import DependencyProvider
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy, ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

from community.services import SERVICES, names
from gateway.exceptions import ServiceUnavailable
from gateway.edge.openapi import path_template
from heyun.identity import CONTEXT_KEY, ROUTE, Caller


class TimedServiceProxy:
    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def __getattr__(self, method_name):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            try:
                reply = method.call_async(*args, **kwargs)
            except UnknownService:  # no queue: the service has never run on this broker
                raise ServiceUnavailable(f"The {self._service_name} service is not running.") from None
            try:
                with eventlet.Timeout(self._timeout):
                    return reply.result()
            except eventlet.Timeout:
                raise ServiceUnavailable(
                    f"The {self._service_name} service did not answer within {self._timeout:g} s.") from None

        return call


def rpc_timeout(config):
    return float(config.get("RPC_TIMEOUT_SECONDS", 30))


class ServiceRpc(RpcProxy):
    """``RpcProxy`` whose calls give up after ``RPC_TIMEOUT_SECONDS`` with a 503."""

    def get_dependency(self, worker_ctx):
        timeout = rpc_timeout(self.container.config)
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service, timeout)


class ClusterRpc(RpcProxy):
    """``ServiceRpc`` to services named at run time, ``self.services["notify"].catalogue()``: for
    a route that goes over the service list (``community.services``) rather than naming each.
    Nameko 2 has no such provider; its ``ServiceProxy`` takes any name and shares the reply queue."""

    def __init__(self, **options):
        super().__init__(None, **options)

    def get_dependency(self, worker_ctx):
        return ServicesByName(self, worker_ctx)


class ServicesByName:
    def __init__(self, provider, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    def __getitem__(self, service_name):
        provider = self._provider
        proxy = ServiceProxy(self._worker_ctx, service_name, provider.rpc_reply_listener, **provider.options)
        return TimedServiceProxy(proxy, service_name, rpc_timeout(provider.container.config))


class Readiness(DependencyProvider):
    """``check()`` → the names of what is down: "broker", or services that did not answer ``ping``."""

    def get_dependency(self, worker_ctx):
        config = self.container.config
        services = config.get("READY_SERVICES") or default_services()
        if isinstance(services, str):  # from the environment: "registry,notify"
            services = [name.strip() for name in services.split(",") if name.strip()]
        timeout = float(config.get("READY_TIMEOUT_SECONDS", 2))
        return lambda: check(config, services, timeout)


def default_services():
    return names(SERVICES)


def check(config, services, timeout):
    down = []
    try:
        with eventlet.Timeout(timeout * (len(services) + 1) + 1):
            # A fresh connection per probe: it proves the broker accepts connections now.
            with ClusterRpcProxy(config, timeout=timeout) as cluster:
                for name in services:
                    try:
                        cluster[name].ping()
                    except Exception:  # no queue, no answer in time, or it failed: all "down"
                        down.append(name)
    except (Exception, eventlet.Timeout):
        return ["broker"] + list(services)
    return down


class RouteInContext(DependencyProvider):
    """Adds the HTTP route ("GET /api/v1/residents/{resident_id}") to the caller in the worker's
    context data before the route runs, so it rides with every RPC and the registry's audit of
    unmasked reads says which route read the numbers."""

    def worker_setup(self, worker_ctx):
        raw = worker_ctx.data.get(CONTEXT_KEY)
        endpoint = worker_ctx.entrypoint
        if not raw or not hasattr(endpoint, "url"):
            return  # a public route has no caller; timers and RPC have no route
        caller = Caller.from_json(raw)
        route = f"{endpoint.method} {path_template(endpoint.url)}"
        worker_ctx.data[CONTEXT_KEY] = replace(caller, extra={**caller.extra, ROUTE: route}).to_json()
