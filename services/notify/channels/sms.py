"""SMS through the operator's HTTP gateway: ``POST SMS_GATEWAY_URL`` with
``{"to": phone, "text": "<title>\\n<body>", "reference": delivery_id}`` as UTF-8 JSON.

The gateway's 2xx means it accepted the message (``sent``); the handset's receipt arrives later,
signed, through ``POST /api/v1/notify/sms-receipts`` (``notify.receipts``): ``delivered``, or
``failed`` and the resident's next channel takes over. Phone numbers are personal data: they appear in logs and stored
details only masked (138****5678).
"""
import re
from notify import contract

from .base import SENT, InvalidAddress, mask_phone
from .http import HttpChannel, json_body

# E.164-ish after removing spaces and dashes; the gateway does the carrier-specific checking.
_PHONE = re.compile(r"\+?\d{7,15}")


def normalize_phone(address):
    phone = re.sub(r"[\s-]", "", str(address or ""))
    if not _PHONE.fullmatch(phone):
        raise InvalidAddress(f"invalid phone number {mask_phone(phone)}")
    return phone


class SmsChannel(HttpChannel):
    name = contract.Channel.SMS
    success_status = SENT

    def __init__(self, gateway_url, token=None, timeout=5.0, concurrency=16):
        super().__init__(timeout=timeout, concurrency=concurrency)
        self.gateway_url = gateway_url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request_for(self, delivery):
        payload = {
            "to": normalize_phone(delivery.get("address")),
            "text": f"{delivery['title']}\n{delivery['body']}",
            "reference": str(delivery["id"]),
        }
        return self.gateway_url, json_body(payload), self.headers

    def describe(self, delivery):
        return mask_phone(delivery.get("address"))
