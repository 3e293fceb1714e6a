"""In-app: the delivery row is the resident's inbox entry, so there is nothing to transmit."""
from .base import DELIVERED, Channel, succeeded


class InAppChannel(Channel):
    name = "in_app"

    def send_one(self, delivery):
        return succeeded(delivery, DELIVERED, "in inbox")
