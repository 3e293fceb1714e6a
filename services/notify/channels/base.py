"""The channel interface: what a channel is given, what it answers, and the rules every channel keeps.

A channel receives a batch of delivery dicts (``id, notice_id, recipient_type, recipient_id,
channel, address, title, body, language, severity, category``) and answers one ``Outcome`` per
delivery, in the same order. It never raises because of one recipient: a bad address or a
refusing server becomes a failed Outcome, and ``retryable`` tells the caller whether trying the
same channel again later can help (timeouts, 5xx, dropped connections) or whether it should fall
back to the recipient's next channel at once (4xx, an invalid address, a channel not configured).
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from notify.contract import DeliveryStatus
from notify.exceptions import InvalidAddress  # noqa: F401 (the channels raise it, imported from here)

SENT = DeliveryStatus.SENT
DELIVERED = DeliveryStatus.DELIVERED
FAILED = DeliveryStatus.FAILED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    status: str  # SENT | DELIVERED | FAILED
    detail: str = ""
    retryable: bool = False

    @property
    def ok(self):
        return self.status != FAILED


# The delivery id is passed through as given, so callers can key outcomes by their own ids.
def succeeded(delivery, status, detail=""):
    return Outcome(delivery["id"], status, detail, False)


def failed(delivery, detail, retryable):
    return Outcome(delivery["id"], FAILED, detail, retryable)


class Channel:
    """One way of reaching a recipient. Subclasses set ``name`` and implement ``send_one``
    (or override ``send`` when a batch shares something, like an SMTP connection)."""

    name = None
    # Channels whose sends wait on the network use a bounded pool of (green) threads per batch.
    concurrency = 1

    def send(self, deliveries):
        """One Outcome per delivery, in order."""
        deliveries = list(deliveries)
        if self.concurrency <= 1 or len(deliveries) <= 1:
            return [self._send_guarded(d) for d in deliveries]
        # Services run under eventlet's monkeypatching, where these threads are green threads:
        # cheap, and each blocks only on its own socket.
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(deliveries)),
                                thread_name_prefix=f"notify-{self.name}") as pool:
            return list(pool.map(self._send_guarded, deliveries))

    def send_one(self, delivery):
        raise NotImplementedError

    def close(self):
        """Release pooled connections; the channel is not used afterwards."""

    def _send_guarded(self, delivery):
        try:
            return self.send_one(delivery)
        except InvalidAddress as error:
            return failed(delivery, str(error), retryable=False)
        except Exception as error:  # a bug must cost one delivery, not the batch
            # Retryable: the caller's retries end in a fall-back to the next channel anyway,
            # and a transient fault gets its chance first. The message may hold an address,
            # so only the exception's type goes into the stored detail.
            log.exception("%s channel: unexpected error for delivery %s", self.name, delivery.get("id"))
            return failed(delivery, f"internal error: {type(error).__name__}", retryable=True)


class NotConfiguredChannel(Channel):
    """Stands in for a channel whose settings are missing, so a notice still falls back to the
    recipient's next channel instead of the service refusing to start."""

    def __init__(self, name, missing):
        self.name = name
        self.missing = missing
        log.warning("%s channel is not configured (%s unset): its deliveries will fail over "
                    "to the next channel", name, missing)

    def send_one(self, delivery):
        return failed(delivery, f"{self.name} channel not configured ({self.missing} unset)",
                      retryable=False)


def mask_phone(phone):
    """``138****5678``: enough for an operator to tell numbers apart, never the number itself."""
    if not phone:
        return "<none>"
    phone = str(phone)
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 8 else "****"
