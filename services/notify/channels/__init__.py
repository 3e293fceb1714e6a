"""notify's channels: the ways a notice reaches a recipient, behind one interface.

``Channel.send(deliveries) -> [Outcome]`` handles a batch and never raises for one recipient
(see ``base``). ``build_channels(config)`` makes one of each from the service's config:

=========================  =========================================================  =========
key                        for                                                        default
=========================  =========================================================  =========
SMS_GATEWAY_URL            the SMS gateway's HTTP endpoint                            (none)
SMS_GATEWAY_TOKEN          bearer token for it                                        (none)
SMTP_HOST, SMTP_PORT       the mail relay                                             (none), 25
SMTP_SENDER                the From address                                           notices@heyun.local
WEBHOOK_SECRET             HMAC key signing webhook bodies                            (none)
WEBHOOK_ALLOWED_NETWORKS   non-public networks / host names webhooks may go to        (none)
CHANNEL_TIMEOUT_SECONDS    per request / SMTP operation                               5
CHANNEL_CONCURRENCY        parallel requests per batch (SMS, webhooks)                16
=========================  =========================================================  =========

A channel whose required setting is missing is still built, as one that fails every delivery
(not retryable, saying which setting is unset), so notices fall back to the next channel.
"""
from heyun.netguard import OutboundGuard
from notify import contract

from .base import DELIVERED, FAILED, SENT, Channel, NotConfiguredChannel, Outcome, mask_phone
from .door_to_door import DoorToDoorChannel
from .in_app import InAppChannel
from .mail import DEFAULT_SENDER, EmailChannel
from .sms import SmsChannel
from .webhook import DELIVERY_HEADER, SIGNATURE_HEADER, WebhookChannel, sign, verify_signature

__all__ = [
    "Outcome", "Channel", "SENT", "DELIVERED", "FAILED", "build_channels", "InAppChannel",
    "SmsChannel", "EmailChannel", "WebhookChannel", "DoorToDoorChannel", "verify_signature",
    "sign", "SIGNATURE_HEADER", "DELIVERY_HEADER", "mask_phone",
]


def build_channels(config):
    """``{"in_app": …, "sms": …, "email": …, "webhook": …, "door_to_door": …}``.

    Values may be strings: nameko's config substitutes ``${VAR:default}`` as text."""
    timeout = float(config.get("CHANNEL_TIMEOUT_SECONDS") or 5)
    concurrency = int(config.get("CHANNEL_CONCURRENCY") or 16)

    def configured(name, required, make):
        missing = [key for key in required if not config.get(key)]
        return NotConfiguredChannel(name, ", ".join(missing)) if missing else make()

    channels = [
        InAppChannel(),
        configured(contract.Channel.SMS, ["SMS_GATEWAY_URL"], lambda: SmsChannel(
            config["SMS_GATEWAY_URL"], token=config.get("SMS_GATEWAY_TOKEN") or None,
            timeout=timeout, concurrency=concurrency)),
        configured(contract.Channel.EMAIL, ["SMTP_HOST"], lambda: EmailChannel(
            config["SMTP_HOST"], port=int(config.get("SMTP_PORT") or 25),
            sender=config.get("SMTP_SENDER") or DEFAULT_SENDER, timeout=timeout)),
        configured(contract.Channel.WEBHOOK, ["WEBHOOK_SECRET"], lambda: WebhookChannel(
            config["WEBHOOK_SECRET"], timeout=timeout, concurrency=concurrency,
            guard=OutboundGuard(config.get("WEBHOOK_ALLOWED_NETWORKS") or ""))),
        DoorToDoorChannel(),
    ]
    return {channel.name: channel for channel in channels}
