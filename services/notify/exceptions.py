"""notify's errors. Over RPC it raises the platform's typed errors (``heyun.errors``), re-exported
here for the service's readers: ``InvalidInput`` (422, naming the field: an audience a role may not
address, an expiry in the past), ``NotFound`` (404: an unknown notice, or one the caller may not
see), ``Forbidden`` (403: publishing, correcting or cancelling without the right), ``Conflict`` and
``IllegalTransition`` (409: correcting a cancelled notice, acknowledging what was cancelled),
``BadSignature`` (401: SMS receipts not signed with ``SMS_RECEIPT_SECRET``).

Its own error stays inside the service: ``InvalidAddress``, raised by a channel for a delivery it
can never send as addressed (a malformed phone number, e-mail address or webhook URL), which the
channel turns into a failed delivery that is not retried and falls back to the next channel."""
from heyun.errors import (  # noqa: F401
    USER_ERRORS,
    BadSignature,
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
)


class InvalidAddress(ValueError):
    """The delivery cannot be sent on this channel as addressed; retrying will not change that."""
