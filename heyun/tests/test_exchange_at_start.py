"""A service's events exchange exists from the moment the service starts (issue 8 §1b).

An integrator binds a queue to ``<service>.events`` (or checks it with a passive declare, which
creates nothing) before the service has published anything; the exchange used to appear only
with the first event, so that failed with 404 NOT_FOUND on a fresh broker.
"""
import pytest
from amqp.exceptions import NotFound
from kombu import Connection, Exchange

from heyun.db import make_engine
from heyun.events import exchange_name
from heyun.outbox import kernel_metadata
from heyun.tests.reliability_services import Announcer, Tally


def test_a_service_declares_its_events_exchange_when_it_starts(container_factory, service_config,
                                                                 database_factory, rabbit_config):
    url = database_factory.create("kernel")
    engine = make_engine(url)
    kernel_metadata.create_all(engine)
    engine.dispose()
    # A fresh vhost (rabbit_config's own), an empty outbox: nothing is ever published here.
    container_factory(Announcer, service_config(DATABASE_URL=url)).start()
    with Connection(rabbit_config["AMQP_URI"], connect_timeout=10) as connection:
        Exchange(exchange_name("announcer"), "topic", durable=True, passive=True)(connection.channel()).declare()


def test_a_service_without_an_outbox_declares_no_exchange(container_factory, service_config,
                                                          database_factory, rabbit_config):
    # Tally only consumes (no outbox relay), like the gateway: no exchange of its name appears.
    url = database_factory.create("kernel")
    container_factory(Tally, service_config(DATABASE_URL=url)).start()
    with Connection(rabbit_config["AMQP_URI"], connect_timeout=10) as connection:
        with pytest.raises(NotFound):
            Exchange(exchange_name("tally"), "topic", passive=True)(connection.channel()).declare()
