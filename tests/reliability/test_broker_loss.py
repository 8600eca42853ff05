"""A worker survives Redis dying while a message is in hand (a Celery 5.7 / kombu race).

Seen in CI: Redis was killed while a BRPOP was outstanding; the channel's first close
failed on the dead socket, the transport was detached, the second close raised
AttributeError and the worker exited with "Unrecoverable error". Here the same kombu
state is built for real (a private Redis, a delivered unacknowledged message, Redis
killed with BRPOPs outstanding) and handed to the consumer's connection-loss handler.
"""
from __future__ import annotations

from unittest import mock

import pytest
from celery.worker.consumer import Consumer
from kombu import Connection, Exchange, Queue
from redis.exceptions import ConnectionError as RedisConnectionError

from helpdesk.celery import BrokerLossConsumer, app


def broken_connection(redis_server) -> Connection:
    """A connection holding one unacked message, with BRPOPs outstanding on two channels
    (the worker's task and control channels), whose Redis has just died.

    Closing it, the first channel's close fails on the dead socket before it is marked
    closed; the transport's close of its channels stops at the second failure, and the
    transport is detached with the first channel still open.
    """
    queue = Queue("broker-loss", Exchange("broker-loss"), "broker-loss")
    conn = Connection(redis_server.url)
    conn.Producer().publish({"n": 1}, exchange=queue.exchange, routing_key=queue.routing_key,
                            declare=[queue])
    delivered = []
    conn.Consumer([queue], callbacks=[lambda body, message: delivered.append(message)]).consume()
    conn.drain_events(timeout=5)
    assert len(delivered) == 1 and conn.default_channel.qos._delivered
    other = conn.channel()
    conn.Consumer([queue], channel=other).consume()
    for channel in (conn.default_channel, other):
        conn.transport.cycle._register_BRPOP(channel)  # as the worker's event loop does
    redis_server.kill()
    return conn


def consumer(cls: type[Consumer], conn: Connection) -> Consumer:
    c = cls(lambda *args: None, app=app, pool=mock.Mock(), timer=mock.Mock(),
            controller=mock.Mock(), hub=None)
    c.connection = conn
    return c


def test_the_worker_uses_the_broker_loss_consumer():
    assert app.conf.worker_consumer == "helpdesk.celery:BrokerLossConsumer"


def test_celerys_own_consumer_stops_the_worker_in_this_state(redis_server):
    """The upstream bug this works around; when it is fixed, this fails: drop the class."""
    c = consumer(Consumer, broken_connection(redis_server))
    with pytest.raises(AttributeError, match="hostname"):  # kombu's _connparams
        c.on_connection_error_after_connected(RedisConnectionError("Connection closed"))


def test_broker_loss_consumer_discards_the_connection_and_goes_on(redis_server, caplog):
    c = consumer(BrokerLossConsumer, broken_connection(redis_server))
    c.on_connection_error_after_connected(RedisConnectionError("Connection closed"))
    assert c.connection is None  # Consumer.start() reconnects from here
    assert "reconnecting" in caplog.text


def test_other_attribute_errors_are_not_hidden(monkeypatch):
    def broken(self, exc):
        raise AttributeError("a bug before the connection was discarded")

    monkeypatch.setattr(Consumer, "on_connection_error_after_connected", broken)
    c = consumer(BrokerLossConsumer, mock.Mock())
    with pytest.raises(AttributeError, match="a bug"):
        c.on_connection_error_after_connected(RedisConnectionError("Connection closed"))
