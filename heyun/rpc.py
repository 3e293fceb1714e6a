"""RPC entrypoints the platform's way."""
from nameko.rpc import rpc

from heyun.errors import USER_ERRORS


def user_rpc(fn):
    """``@rpc`` with the platform's user errors marked as expected, so Nameko does not log a
    wrong ID number or an unknown id as a crash."""
    return rpc(expected_exceptions=USER_ERRORS)(fn)
