"""Consuming events reliably: idempotent effects, retries with back-off, then a dead-letter queue.

Nameko's ``event_handler`` acks a failed message and drops it. Ours does this instead:

* the handler's queue ``Q`` is Nameko's own (``evt-<source>-<type>--<service>.<method>``), so the
  binding is the one integrators and Nameko tooling expect;
* a failed message is re-published, with confirms, to ``Q.retry.<ms>`` — a queue whose TTL
  dead-letters it back into ``Q`` after the delay — and only then acked, so a crash in between
  leaves the original unacked and nothing is lost;
* after the last delay, or at once for input that can never succeed, it is parked in ``Q.dead``
  with the error and attempt count in its headers, where ``python -m heyun.dlq`` lists and replays it.

Redelivery is normal under at-least-once delivery, so effects are made idempotent with
``claim``: the event id is recorded in the consumer's database in the same transaction as the
effect, and a second delivery finds it there and does nothing. ``idempotent_handler`` is the
usual way to write one: the handler, its transaction and its claim in one decorator.
"""
import functools
import logging
import traceback

from eventlet.semaphore import Semaphore
from kombu import Queue, binding
from nameko.events import EventHandler
from nameko.extensions import SharedExtension
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from heyun.errors import InvalidInput
from heyun.clock import utcnow
from heyun.events import is_envelope
from heyun.outbox import processed_events
from heyun.publisher import ConfirmingPublisher

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)  # seconds; five retries over about 13 minutes
ATTEMPT_HEADER = "x-heyun-attempt"
ERROR_HEADER = "x-heyun-error"
QUEUE_HEADER = "x-heyun-queue"
FAILED_AT_HEADER = "x-heyun-failed-at"


def retry_queue_name(queue, delay_ms):
    return f"{queue}.retry.{delay_ms}"


def dead_queue_name(queue):
    return f"{queue}.dead"


class MalformedEvent(InvalidInput):
    """The message is not an event envelope; no retry can fix that."""


# Errors that retrying cannot fix: park them at once.
PERMANENT_ERRORS = (InvalidInput,)


def claim(session, consumer, event):
    """Record that ``consumer`` handled ``event`` in the caller's transaction.

    Returns False if it already had, in which case the caller does nothing. The row commits or
    rolls back together with the effect, so an effect is never half-recorded.
    """
    event_id = event["event_id"]
    seen = session.execute(
        select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer, processed_events.c.event_id == event_id
        )
    ).first()
    if seen:
        return False
    try:
        with session.begin_nested():
            session.execute(
                processed_events.insert().values(
                    consumer=consumer, event_id=event_id, processed_at=utcnow()
                )
            )
    except IntegrityError:  # a concurrent redelivery got there first
        return False
    return True


class FailurePublisher(SharedExtension):
    """One confirming connection per container for retry and dead-letter traffic."""

    def setup(self):
        self.publisher = ConfirmingPublisher(self.container.config["AMQP_URI"])
        self.lock = Semaphore()

    def stop(self):
        self.publisher.close()

    kill = stop

    def declare(self, name, arguments=None):
        with self.lock:
            self.publisher.declare_queue(name, arguments)

    def send(self, queue, body, headers):
        with self.lock:
            self.publisher.publish_batch(
                [{"exchange": "", "routing_key": queue, "body": body, "headers": headers}]
            )


class ReliableEventHandler(EventHandler):
    failure_publisher = FailurePublisher()

    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, event_type, **kwargs)

    def setup(self):
        super().setup()
        self._read_retry_delays()

    def _read_retry_delays(self):
        delays = self.container.config.get("EVENT_RETRY_DELAYS") or DEFAULT_RETRY_DELAYS
        self.retry_delays_ms = [int(float(d) * 1000) for d in delays]

    def start(self):
        queue = self.queue.name
        for delay_ms in self.retry_delays_ms:
            self.failure_publisher.declare(
                retry_queue_name(queue, delay_ms),
                {
                    "x-message-ttl": delay_ms,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                },
            )
        self.failure_publisher.declare(dead_queue_name(queue))
        super().start()

    def handle_message(self, body, message):
        if not is_envelope(body):
            # Answer as if the worker had failed permanently, without running it.
            try:
                raise MalformedEvent("message body is not a Heyun event envelope")
            except MalformedEvent as exc:
                exc_info = (type(exc), exc, exc.__traceback__)
            self.handle_message_processed(message, None, exc_info)
            return
        super().handle_message(body, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        queue = self.queue.name
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1
        exc = exc_info[1]
        headers[ATTEMPT_HEADER] = attempt
        headers[QUEUE_HEADER] = queue
        headers[ERROR_HEADER] = "".join(traceback.format_exception_only(exc_info[0], exc)).strip()[:1000]
        headers[FAILED_AT_HEADER] = utcnow().isoformat()
        if isinstance(exc, PERMANENT_ERRORS) or attempt > len(self.retry_delays_ms):
            target = dead_queue_name(queue)
            log.error("event %s parked in %s after %d attempt(s): %s",
                      _event_id(message), target, attempt, headers[ERROR_HEADER])
        else:
            target = retry_queue_name(queue, self.retry_delays_ms[attempt - 1])
            log.warning("event %s failed (attempt %d), retrying via %s: %s",
                        _event_id(message), attempt, target, headers[ERROR_HEADER])
        try:
            self.failure_publisher.send(target, message.payload, headers)
        except Exception:
            # Could not hand it on: leave it with the broker rather than lose it.
            log.exception("could not re-publish failed event %s; requeueing", _event_id(message))
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)


class MultiEventHandler(ReliableEventHandler):
    """One queue bound to several ``(source, event_type)`` pairs, for handlers driven by data
    (notify's rule table): same retries, dead-lettering and envelope checks as a single binding."""

    def __init__(self, bindings, name, **kwargs):
        bindings = [tuple(b) for b in bindings]
        super().__init__(bindings[0][0] if bindings else "none", name, **kwargs)
        self.bindings = bindings
        self.queue_label = name

    def setup(self):
        self.queue = Queue(
            f"evt-multi--{self.container.service_name}.{self.queue_label}",
            bindings=[binding(get_event_exchange(source, self.container.config), routing_key=event_type)
                      for source, event_type in self.bindings],
            durable=True, auto_delete=False,
        )
        self._read_retry_delays()
        Consumer.setup(self)  # register with the queue consumer, skipping EventHandler's own queue


def _event_id(message):
    payload = message.payload
    return payload.get("event_id") if isinstance(payload, dict) else "?"


event_handler = ReliableEventHandler.decorator
multi_event_handler = MultiEventHandler.decorator


def idempotent_handler(source_service, event_type, **kwargs):
    """A reliable ``event_handler`` whose effect happens once per event, however often the event
    is delivered. The method is ``(self, session, data, event)``: it runs in one transaction of
    the service's database (``self.db``), in which the event is claimed for the consumer
    ``<service>.<method>``, so the consumer is named by the method itself, as its queue is.
    A second delivery finds the claim and does nothing."""

    def decorate(method):
        @functools.wraps(method)
        def handle(self, event):
            with self.db.transaction() as session:
                if claim(session, f"{self.name}.{method.__name__}", event):
                    method(self, session, event["data"], event)

        return event_handler(source_service, event_type, **kwargs)(handle)

    return decorate
