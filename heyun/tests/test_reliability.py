"""The kernel's promises, shown against the real broker and PostgreSQL."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select

from heyun import dlq
from heyun.db import make_engine
from heyun.events import exchange_name, make_envelope
from heyun.handlers import dead_queue_name
from heyun.outbox import kernel_metadata, outbox_events
from heyun.publisher import ConfirmingPublisher
from heyun.testing import wait_for
from heyun.tests.reliability_services import Announcer, Tally, count_of, cures, metadata

HANDLER_QUEUE = "evt-announcer-key_announced--tally.on_key_announced"


@pytest.fixture
def database(database_factory):
    url = database_factory.create("kernel")
    engine = make_engine(url)
    metadata.create_all(engine)
    kernel_metadata.create_all(engine)
    yield url, engine
    engine.dispose()


@pytest.fixture
def start(container_factory, service_config, database):
    url, _ = database

    def start_service(cls):
        container = container_factory(cls, service_config(DATABASE_URL=url))
        container.start()
        return container

    return start_service


def tally(engine, key):
    with engine.connect() as conn:
        return count_of(conn, key)


def test_event_recorded_with_a_change_reaches_its_consumer_once(start, database, service_config):
    _, engine = database
    start(Tally)
    start(Announcer)
    with ServiceRpcProxy("announcer", service_config()) as announcer:
        announcer.announce("water")
    wait_for(lambda: tally(engine, "water") == 1, message="the tally to count the event")
    with engine.connect() as conn:
        assert conn.execute(select(outbox_events.c.published_at)).scalar() is not None


def test_process_killed_between_commit_and_publish_loses_nothing(start, database):
    url, engine = database
    # A process commits a change with its event, then dies before any relay could publish it.
    script = textwrap.dedent(f"""
        import os, signal
        from heyun.db import make_engine, make_sessionmaker, transaction
        from heyun.outbox import record
        from heyun.tests.reliability_services import KEY_ANNOUNCED
        Session = make_sessionmaker(make_engine({url!r}), "announcer")
        with transaction(Session) as session:
            record(session, KEY_ANNOUNCED, {{"key": "outage"}})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    died = subprocess.run([sys.executable, "-c", script], env=dict(os.environ))
    assert died.returncode == -signal.SIGKILL
    with engine.connect() as conn:
        assert conn.execute(select(outbox_events.c.published_at)).scalar() is None

    start(Tally)
    start(Announcer)  # its relay finds the orphaned row and publishes it
    wait_for(lambda: tally(engine, "outage") == 1, message="the orphaned event to arrive")
    with engine.connect() as conn:
        assert conn.execute(select(outbox_events.c.published_at)).scalar() is not None
    assert tally(engine, "outage") == 1


def test_the_same_event_delivered_twice_takes_effect_once(start, database, service_config):
    _, engine = database
    start(Tally)
    envelope = make_envelope("key_announced", {"key": "twice"}, "announcer")
    sentinel = make_envelope("key_announced", {"key": "sentinel"}, "announcer")
    publisher = ConfirmingPublisher(service_config()["AMQP_URI"])
    messages = [envelope, envelope, sentinel]
    publisher.publish_batch([
        {"exchange": exchange_name("announcer"), "routing_key": "key_announced", "body": m}
        for m in messages
    ])
    publisher.close()
    # The queue is handled in order, so once the sentinel counts, both copies have been seen.
    wait_for(lambda: tally(engine, "sentinel") == 1, message="the sentinel")
    wait_for(lambda: tally(engine, "twice") == 1, message="the duplicated event")
    assert tally(engine, "twice") == 1


def test_a_handler_that_keeps_failing_is_parked_then_replayed(start, database, service_config):
    _, engine = database
    amqp_uri = service_config()["AMQP_URI"]
    start(Tally)
    start(Announcer)
    with ServiceRpcProxy("announcer", service_config()) as announcer:
        announcer.announce("poison-pill")

    dead = dead_queue_name(HANDLER_QUEUE)
    parked = wait_for(lambda: dlq.peek(amqp_uri, dead), message="the event to be parked")
    assert len(parked) == 1
    assert parked[0]["body"]["data"] == {"key": "poison-pill"}
    # the first try and both retries (EVENT_RETRY_DELAYS has two) all failed
    assert parked[0]["headers"]["x-heyun-attempt"] == 3
    assert "cannot handle poison-pill" in parked[0]["headers"]["x-heyun-error"]
    assert tally(engine, "poison-pill") == 0  # each failed attempt rolled back its effect
    # the management API's counts lag the queue by a few seconds
    api_uri = os.environ.get("RABBIT_API_URI", dlq.DEFAULT_API_URI)
    wait_for(lambda: (dead, 1) in dlq.list_dead_queues(amqp_uri, api_uri), timeout=20,
             message="the operator's listing to show the parked event")

    with engine.begin() as conn:  # the operator fixes the cause…
        conn.execute(cures.insert().values(key="poison-pill"))
    assert dlq.replay(amqp_uri, dead) == 1  # …and replays
    wait_for(lambda: tally(engine, "poison-pill") == 1, message="the replayed event")
    assert dlq.peek(amqp_uri, dead) == []


def test_a_message_that_is_not_an_event_is_parked_at_once(start, service_config):
    amqp_uri = service_config()["AMQP_URI"]
    start(Tally)
    publisher = ConfirmingPublisher(amqp_uri)
    publisher.publish_batch([{"exchange": exchange_name("announcer"),
                              "routing_key": "key_announced", "body": {"key": "no envelope"}}])
    publisher.close()
    parked = wait_for(lambda: dlq.peek(amqp_uri, HANDLER_QUEUE + ".dead"), message="parking")
    assert parked[0]["headers"]["x-heyun-attempt"] == 1
    assert "not a Heyun event envelope" in parked[0]["headers"]["x-heyun-error"]


def test_services_reconnect_after_the_broker_drops_every_connection(start, database, service_config):
    """What a broker restart looks like to a service: every connection closed under it."""
    import requests

    _, engine = database
    config = service_config()
    start(Tally)
    start(Announcer)
    with ServiceRpcProxy("announcer", config) as announcer:
        announcer.announce("before")
    wait_for(lambda: tally(engine, "before") == 1, message="the first event")

    api = os.environ.get("RABBIT_API_URI", dlq.DEFAULT_API_URI)
    base, auth = api.split("@")[-1], ("guest", "guest")
    vhost = config["AMQP_URI"].rsplit("/", 1)[-1]
    connections = wait_for(  # the management API sees new connections after a moment
        lambda: requests.get(f"http://{base}/api/vhosts/{vhost}/connections", auth=auth, timeout=10).json(),
        timeout=20, interval=0.5, message="the broker to list the services' connections")
    for conn in connections:
        requests.delete(f"http://{base}/api/connections/{conn['name']}", auth=auth, timeout=10)

    def announce_after_reconnect():
        try:
            with ServiceRpcProxy("announcer", config, timeout=5) as announcer:
                announcer.announce("after")
            return True
        except Exception:  # the service's RPC consumer may still be reconnecting
            return False

    wait_for(announce_after_reconnect, timeout=30, interval=1, message="the RPC consumer to reconnect")
    wait_for(lambda: tally(engine, "after") >= 1, timeout=30, message="the event after reconnecting")


def test_the_relay_publishes_the_bytes_it_stored(database, service_config):
    """The relay sends each outbox row's payload as stored (no parse and re-encode per event):
    what a consumer receives is byte for byte the envelope recorded with the change."""
    import json

    from kombu import Connection, Exchange, Queue

    from heyun.db import make_sessionmaker, transaction
    from heyun.outbox import OutboxRelay, record
    from heyun.tests.reliability_services import KEY_ANNOUNCED

    url, engine = database
    config = service_config(DATABASE_URL=url)
    with transaction(make_sessionmaker(engine, "announcer")) as session:
        envelope = record(session, KEY_ANNOUNCED, {"key": "水压不足 — floor 5"})
    # Stored in a spelling json.dumps would not write again (no spaces): a relay that parsed and
    # re-encoded the payload would send other bytes.
    stored = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    with engine.begin() as conn:
        conn.execute(outbox_events.update().values(payload=stored))
    relay = OutboxRelay(engine, config)
    with Connection(config["AMQP_URI"]) as connection:
        exchange = Exchange(exchange_name("announcer"), "topic", durable=True)
        queue = Queue("relay-bytes", exchange, routing_key=KEY_ANNOUNCED.name, channel=connection)
        queue.declare()
        try:
            assert relay.publish_pending() == 1
            message = wait_for(lambda: queue.get(no_ack=True), message="the event on the exchange")
        finally:
            relay.stop()
            queue.delete()
    # kombu hands over the body decoded with the message's content encoding (UTF-8).
    assert message.content_type == "application/json" and message.content_encoding == "utf-8"
    assert message.body == stored
