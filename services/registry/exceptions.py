"""The registry raises the platform's typed errors (``heyun.errors``); nothing registry-specific
needs its own class, so this module only re-exports them for the service's readers."""
from heyun.errors import USER_ERRORS, Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound  # noqa: F401
