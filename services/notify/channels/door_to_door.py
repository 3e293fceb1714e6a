"""Door to door: the notice becomes a task on the dwelling's grid worker's list.

The caller records the assignment (``deliveries.assignee``) in the same transaction as the
Outcome; this channel only decides whether there is someone to assign it to. The grid worker's
hand-over, recorded later, is what acknowledges the delivery.
"""
from notify import contract

from .base import SENT, Channel, failed, succeeded


class DoorToDoorChannel(Channel):
    name = contract.Channel.DOOR_TO_DOOR

    def send_one(self, delivery):
        grid_worker_account = delivery.get("address")
        if not grid_worker_account:
            # Nobody to walk over: the caller falls back, and the gap shows in the notice's record.
            return failed(delivery, "no grid worker for this dwelling", retryable=False)
        return succeeded(delivery, SENT, f"assigned to {grid_worker_account}")
