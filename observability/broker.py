"""kombu's Redis transport, with acknowledgements that cannot wedge the consumer.

kombu's Redis QoS removes a message from the ``unacked`` hash and only then frees its
prefetch slot. When that round trip fails (a frozen or restarting Redis answers the
``ZREM``/``HDEL`` pipeline with a timeout) the slot is never freed: with
``worker_prefetch_multiplier = 1`` one failed acknowledgement per pool process stops the
worker from consuming for good, while ``celery inspect ping`` still answers. Measured here:
Redis stopped for 20 s under 40 messages/s, then the queue stayed at 187 messages for
minutes, the worker log ending on ``Couldn't ack ..., reason: TimeoutError``.

This QoS frees the slot whatever the outcome. A message whose acknowledgement did not reach
Redis is still in ``unacked`` and is delivered again after the visibility timeout, which
is the transport's documented at-least-once behaviour; the execution-log task is
idempotent, so the second delivery inserts nothing.

Selected with ``CELERY_BROKER_TRANSPORT`` (the URL's ``redis://`` scheme stays as it is).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual


class QoS(kombu_redis.QoS):
    def ack(self, delivery_tag: Any) -> None:
        try:
            self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            else:
                self._remove_from_indices(delivery_tag).execute()
        finally:
            virtual.QoS.ack(self, delivery_tag)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
