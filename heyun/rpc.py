"""RPC the platform's way: entrypoints whose user errors are expected, and calls with a deadline."""
import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import RpcProxy, ServiceProxy, rpc

from heyun.errors import USER_ERRORS, ServiceUnavailable

DEFAULT_TIMEOUT_SECONDS = 30


def user_rpc(fn):
    """``@rpc`` with the platform's user errors marked as expected, so Nameko does not log a
    wrong ID number or an unknown id as a crash."""
    return rpc(expected_exceptions=USER_ERRORS)(fn)


class TimedServiceProxy:
    """A worker's proxy to one service whose every call gives up after ``timeout`` seconds.

    Nameko's ``RpcProxy`` waits for a reply forever, and a reply can be lost or never come: a
    service whose queue exists but whose processes are gone, a worker that hung, a reply queue
    that did not exist yet when the request went out. Both ways of failing raise
    ``ServiceUnavailable`` naming the service (a 503 at the gateway)."""

    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def within(self, timeout):
        """The same proxy with another deadline, for a call known to be slow or to be retried."""
        return TimedServiceProxy(self._proxy, self._service_name, timeout)

    def __getattr__(self, method_name):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            # The deadline covers sending too: a call made while this service is still starting
            # (an eager timer) can block before the request is out, not only while awaiting a reply.
            try:
                with eventlet.Timeout(self._timeout):
                    return method.call_async(*args, **kwargs).result()
            except UnknownService:  # no queue: the service has never run on this broker
                raise ServiceUnavailable(f"The {self._service_name} service is not running.") from None
            except eventlet.Timeout:
                raise ServiceUnavailable(
                    f"The {self._service_name} service did not answer within {self._timeout:g} s.") from None

        return call


class ServiceRpc(RpcProxy):
    """``RpcProxy`` whose calls give up with ``ServiceUnavailable`` after ``timeout`` seconds, or
    the service's ``RPC_TIMEOUT_SECONDS`` (30 by default) when no timeout is given."""

    def __init__(self, target_service, timeout=None, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service, rpc_timeout(self))


def rpc_timeout(provider):
    return provider.timeout or float(provider.container.config.get("RPC_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


class ClusterRpc(RpcProxy):
    """``ServiceRpc`` to services named at run time, ``self.services["notify"].catalogue()``: for
    code that goes over the service list (``community.services``) rather than naming each.
    Nameko 2 has no such provider; its ``ServiceProxy`` takes any name and shares the reply queue."""

    def __init__(self, timeout=None, **options):
        super().__init__(None, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return ServicesByName(self, worker_ctx)


class ServicesByName:
    def __init__(self, provider, worker_ctx):
        self._provider = provider
        self._worker_ctx = worker_ctx

    def __getitem__(self, service_name):
        provider = self._provider
        proxy = ServiceProxy(self._worker_ctx, service_name, provider.rpc_reply_listener, **provider.options)
        return TimedServiceProxy(proxy, service_name, rpc_timeout(provider))
