"""The caller's identity, carried from the gateway to every service in Nameko context data.

The gateway authenticates a request and sets the caller; Nameko copies a worker's context data
into the headers of every RPC it makes, so the service that answers knows who asked and checks
object-level permission itself instead of trusting the gateway to have filtered.
It travels as one JSON string because AMQP header tables do not round-trip nested lists reliably.
"""
import json
from dataclasses import asdict, dataclass, field

from nameko.extensions import DependencyProvider

CONTEXT_KEY = "heyun.caller"

# Caller.extra key: the way a request came in ("GET /api/v1/residents/{resident_id}"), set by the
# gateway for every HTTP request, so a service's audit log can say which route read what.
ROUTE = "route"


@dataclass(frozen=True)
class Caller:
    account: str
    roles: tuple = ()
    grid_ids: tuple = ()          # the grids a grid worker covers
    organization_id: str = None   # property management, the water plant…
    resident_id: str = None       # set for a resident's own account
    extra: dict = field(default_factory=dict)

    def has_role(self, *roles):
        return any(role in self.roles for role in roles)

    def to_json(self):
        data = asdict(self)
        data["roles"] = list(self.roles)
        data["grid_ids"] = list(self.grid_ids)
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text):
        data = json.loads(text)
        data["roles"] = tuple(data.get("roles") or ())
        data["grid_ids"] = tuple(data.get("grid_ids") or ())
        return cls(**data)


# What a caller's roles let it do is the access policy's (``community.policy``, which also
# holds ``SYSTEM``, the caller of internal work); the kernel only carries them.

# A message with no caller in its context data: no roles, so it may see nothing scoped.
ANONYMOUS = Caller(account="anonymous")


class CallerContext:
    """What a worker sees: read the caller, or (in the gateway) set it before making RPC calls."""

    def __init__(self, worker_ctx):
        self._worker_ctx = worker_ctx

    @property
    def caller(self):
        raw = self._worker_ctx.data.get(CONTEXT_KEY)
        return Caller.from_json(raw) if raw else ANONYMOUS

    @property
    def route(self):
        """How this call came in: the gateway's HTTP route, else this service's RPC."""
        return self.caller.extra.get(ROUTE) or (
            f"rpc {self._worker_ctx.service_name}.{self._worker_ctx.entrypoint.method_name}")

    def act_as(self, caller):
        self._worker_ctx.data[CONTEXT_KEY] = caller.to_json()


class CallerIdentity(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return CallerContext(worker_ctx)
