"""A background loop: a service's own work that no message starts (an outbox relay, a fan-out,
a dispatcher). It runs a step again at once while there is work, sleeps until woken or for an
idle interval when there is none, and outlives failures: a step that raises (the database or
the broker is away) is logged and tried again after a back-off of 0.5 s doubling to 30 s."""
import logging
import threading
import time

log = logging.getLogger(__name__)


class Loop:
    """Run ``step`` until stopped; ``step`` returns True when it did work (run again at once).
    ``wake()`` ends an idle wait early, from any thread. ``traceback=False`` logs a failure in
    one line, for failures that are expected to pass (a broker restarting)."""

    def __init__(self, name, step, idle_seconds, traceback=True):
        self.name, self.step, self.idle_seconds = name, step, idle_seconds
        self.traceback = traceback
        self.wakeup = threading.Event()
        self.running = True

    def run(self):
        backoff = 0.5
        while self.running:
            try:
                busy = self.step()
                backoff = 0.5
            except Exception as exc:  # the database, the broker or a channel is down: wait, keep going
                log.warning("%s failed (%s); retrying in %.1fs", self.name, exc, backoff, exc_info=self.traceback)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if not busy:
                self.wakeup.wait(self.idle_seconds)
                self.wakeup.clear()

    def wake(self):
        self.wakeup.set()

    def stop(self):
        self.running = False
        self.wakeup.set()
