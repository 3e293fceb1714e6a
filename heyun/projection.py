"""Projections: a service's own copy of another service's data, kept from the owner's events and,
when the consumer starts, filled from the owner's snapshot RPCs (events published before the
consumer's queues existed, or while it was away, would otherwise be missing).

The owner's snapshot RPC answers pages ``{"items": [...], "next_after_id": <last id or None>}``
in id order (keyset paging: memory does not grow with the data); ``snapshot_items`` walks them.
``SnapshotSync`` takes the snapshot once per process start, from a timer, retrying a call the
owner did not answer.
"""
import logging

from nameko.extensions import DependencyProvider

from heyun.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# Each attempt's deadline for one snapshot call, in seconds. The first is short because the
# usual loss is a reply sent before this service's reply queue existed (asking again is the cure);
# the later ones are long because an owner busy starting up, or a loaded machine, answers late
# rather than never, and giving up on it would leave the projection empty until the next tick.
SNAPSHOT_DEADLINES = (5, 15, 45)


def snapshot_pages(fetch, page_size):
    """Each page's items of a keyset-paged snapshot RPC, ``fetch(after_id, limit)``, until the last."""
    after = ""
    while after is not None:
        page = fetch(after, page_size)
        yield page["items"]
        after = page["next_after_id"]


class SnapshotSync(DependencyProvider):
    """``self.<name>.take(fill)`` runs ``fill(deadline)`` (which calls the owner's snapshot RPCs,
    each within ``deadline`` seconds, and applies what they answer, returning how many items it
    applied) until it has succeeded once in this process; called again afterwards, it does nothing. Call it from an eager timer: the first tick
    is at start, and a tick that finds the owner away leaves the work to the next.

    A call the owner did not answer (``ServiceUnavailable`` from a ``heyun.rpc.ServiceRpc``: the
    reply was lost, say because the eager timer asked before this service's reply queue existed)
    is tried again at once with the next, longer deadline of ``deadlines``. Applying must be idempotent and never let a
    snapshot overwrite a newer state an event already brought (upserts by ``as_of``)."""

    def __init__(self, owner, deadlines=SNAPSHOT_DEADLINES):
        self.owner = owner
        self.deadlines = deadlines

    def setup(self):
        self.synced = False

    def get_dependency(self, worker_ctx):
        return self

    def take(self, fill):
        if self.synced:
            return None
        for attempt, deadline in enumerate(self.deadlines, start=1):
            try:
                count = fill(deadline)
            except ServiceUnavailable as exc:
                log.warning("%s snapshot: %s (attempt %d of %d)", self.owner, exc, attempt, len(self.deadlines))
                continue
            except Exception as exc:  # the owner is not ready yet: the next tick tries again
                log.warning("%s snapshot unavailable (%s); will retry", self.owner, exc)
                return None
            self.synced = True
            log.info("projection synchronised with the %s snapshot: %d items", self.owner, count)
            return count
        return None
