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

SNAPSHOT_ATTEMPTS = 3


def snapshot_pages(fetch, page_size):
    """Each page's items of a keyset-paged snapshot RPC, ``fetch(after_id, limit)``, until the last."""
    after = ""
    while after is not None:
        page = fetch(after, page_size)
        yield page["items"]
        after = page["next_after_id"]


class SnapshotSync(DependencyProvider):
    """``self.<name>.take(fill)`` runs ``fill()`` (which calls the owner's snapshot RPCs and applies
    what they answer, returning how many items it applied) until it has succeeded once in this
    process; called again afterwards, it does nothing. Call it from an eager timer: the first tick
    is at start, and a tick that finds the owner away leaves the work to the next.

    A call the owner did not answer (``ServiceUnavailable`` from a ``heyun.rpc.ServiceRpc``: the
    reply was lost, say because the eager timer asked before this service's reply queue existed)
    is tried again at once, up to ``attempts`` times. Applying must be idempotent and never let a
    snapshot overwrite a newer state an event already brought (upserts by ``as_of``)."""

    def __init__(self, owner, attempts=SNAPSHOT_ATTEMPTS):
        self.owner = owner
        self.attempts = attempts

    def setup(self):
        self.synced = False

    def get_dependency(self, worker_ctx):
        return self

    def take(self, fill):
        if self.synced:
            return None
        for attempt in range(1, self.attempts + 1):
            try:
                count = fill()
            except ServiceUnavailable as exc:
                log.warning("%s snapshot: %s (attempt %d of %d)", self.owner, exc, attempt, self.attempts)
                continue
            except Exception as exc:  # the owner is not ready yet: the next tick tries again
                log.warning("%s snapshot unavailable (%s); will retry", self.owner, exc)
                return None
            self.synced = True
            log.info("projection synchronised with the %s snapshot: %d items", self.owner, count)
            return count
        return None
