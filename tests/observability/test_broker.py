"""The Redis transport's acknowledgement against a frozen Redis: the consumer's prefetch slot
is freed whatever the outcome, where kombu's own transport keeps it for good."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

pytestmark = pytest.mark.services


def received_and_failed_ack(url: str, transport: str):
    """Consume one message with prefetch 1, then acknowledge it while Redis is frozen."""
    connection = Connection(
        url, transport=transport, transport_options={"socket_timeout": 0.5, "max_retries": 0}
    )
    channel = connection.channel()
    queue = Queue("ack-test", Exchange("ack-test"), routing_key="ack-test")
    Producer(channel).publish(
        {"n": 1}, exchange=queue.exchange, routing_key="ack-test", declare=[queue]
    )
    received = []
    consumer = Consumer(
        channel, [queue], callbacks=[lambda _body, message: received.append(message)]
    )
    consumer.qos(prefetch_count=1)
    consumer.consume()
    connection.drain_events(timeout=5)
    assert len(received) == 1
    return connection, channel, received[0]


@pytest.mark.parametrize(
    ("transport", "frees_the_slot"),
    [("observability.broker:Transport", True), ("redis", False)],
)
def test_an_acknowledgement_that_times_out_frees_the_prefetch_slot(
    private_redis, transport, frees_the_slot
):
    connection, channel, message = received_and_failed_ack(private_redis.url, transport)
    assert not channel.qos.can_consume()  # the one slot is taken by the message
    private_redis.freeze()
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            message.ack()
    finally:
        private_redis.thaw()
    # kombu's transport keeps the slot of the failed ack: with one slot per pool process the
    # worker never consumes again. The message is still in ``unacked`` either way and comes
    # back after the visibility timeout.
    assert channel.qos.can_consume() is frees_the_slot
    connection.release()
