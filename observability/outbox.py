"""The execution-log outbox: batches kept in Redis until the worker has persisted them.

Why not rely on the task message alone: kombu's Redis transport takes a message off the
queue with ``BRPOP`` and records it in its ``unacked`` hash only afterwards, in the
consumer. A worker killed in between (the reply still in its socket buffer, or being
decoded) loses the message, ``acks_late`` notwithstanding; celery/celery#4354 and #7950
describe the window, and a ``kill -9`` test here lost one batch in two runs of three.

So the web process stores each batch under its own id (``HSET``, idempotent: storing it
again after an unknown outcome is harmless) and then sends a task message that names only
that id. The worker reads the batch, persists it and deletes it. A batch whose message was
lost, or whose worker died, or whose database was down, is still here; the worker's
watchdog (:mod:`observability.watchdog`) sends its id again once it is due. Rows carry
observer-made primary keys, so a batch processed twice inserts nothing twice.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import cast

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

BATCHES_KEY = "execution-log:batches"
DUE_KEY = "execution-log:due"
ATTEMPTS_KEY = "execution-log:attempts"
DEFERRALS_KEY = "execution-log:deferrals"
SWEEP_LOCK_KEY = "execution-log:sweep-lock"


def redis_client(url: str, *, socket_timeout: float | None = None) -> redis.Redis:
    """A client whose every operation is bounded and never retried behind the caller's back.

    Replies are not decoded: values and members come back as ``bytes``.
    """
    transport = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout or transport["socket_timeout"],
        socket_connect_timeout=transport["socket_connect_timeout"],
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


_process_clients: dict[tuple[int, str], redis.Redis] = {}


def outbox_for_process(url: str) -> Outbox:
    """This process's outbox on ``url`` (one connection pool per process, made after fork)."""
    key = (os.getpid(), url)
    client = _process_clients.get(key)
    if client is None:
        client = _process_clients[key] = redis_client(url)
    return Outbox(client)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A stored batch taken up by a worker, and how many times it was taken up."""

    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxState:
    batches: int
    oldest_due_seconds: float | None


class Outbox:
    """Batches by id, with the time each is due to be delivered again."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def store(self, *, batch_id: str, payload: str, redeliver_after: float) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(BATCHES_KEY, batch_id, payload)
        pipe.zadd(DUE_KEY, {batch_id: time.time() + redeliver_after})
        pipe.execute()

    def claim(self, *, batch_id: str) -> Claimed | None:
        """Return the batch and count the attempt; None once it has been persisted."""
        payload = self.client.hget(BATCHES_KEY, batch_id)
        if payload is None:
            return None
        attempts = self.client.hincrby(ATTEMPTS_KEY, batch_id, 1)
        return Claimed(payload=cast(bytes, payload), attempts=int(attempts))

    def defer(self, *, batch_id: str, backoff_max: float) -> float:
        """Make the batch due again after a backoff that doubles with each deferral.

        For a failure the worker survived (the database is down): the attempt is not
        counted against the batch. Returns the backoff in seconds.
        """
        pipe = self.client.pipeline(transaction=True)
        pipe.hincrby(ATTEMPTS_KEY, batch_id, -1)
        pipe.hincrby(DEFERRALS_KEY, batch_id, 1)
        _, deferrals = pipe.execute()
        backoff = min(backoff_max, 2.0 ** min(int(deferrals), 30))
        self.client.zadd(DUE_KEY, {batch_id: time.time() + backoff}, xx=True)
        return backoff

    def done(self, *, batch_id: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(BATCHES_KEY, batch_id)
        pipe.hdel(ATTEMPTS_KEY, batch_id)
        pipe.hdel(DEFERRALS_KEY, batch_id)
        pipe.zrem(DUE_KEY, batch_id)
        pipe.execute()

    def take_due(self, *, limit: int, redeliver_after: float) -> list[str]:
        """Return up to ``limit`` due batch ids, each made due again ``redeliver_after`` on.

        One caller at a time (a short lock), so that several workers do not all send the
        same ids.
        """
        if not self.client.set(SWEEP_LOCK_KEY, b"1", nx=True, px=2000):
            return []
        try:
            now = time.time()
            due = self.client.zrangebyscore(DUE_KEY, "-inf", now, start=0, num=limit)
            ids = [item.decode() for item in cast(list[bytes], due)]
            if ids:
                self.client.zadd(DUE_KEY, dict.fromkeys(ids, now + redeliver_after), xx=True)
            return ids
        finally:
            self.client.delete(SWEEP_LOCK_KEY)

    def state(self) -> OutboxState:
        pipe = self.client.pipeline(transaction=False)
        pipe.hlen(BATCHES_KEY)
        pipe.zrange(DUE_KEY, 0, 0, withscores=True)
        batches, oldest = pipe.execute()
        oldest_due = None
        if oldest:
            oldest_due = max(0.0, time.time() - float(oldest[0][1]))
        return OutboxState(batches=int(batches), oldest_due_seconds=oldest_due)
