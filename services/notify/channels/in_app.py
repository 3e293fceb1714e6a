"""In-app: the delivery row is the resident's inbox entry, so there is nothing to transmit."""
from notify import contract

from .base import DELIVERED, Channel, succeeded


class InAppChannel(Channel):
    name = contract.Channel.IN_APP

    def send_one(self, delivery):
        return succeeded(delivery, DELIVERED, "in inbox")
