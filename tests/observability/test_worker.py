"""Rows travel through a real Redis to a real Celery worker and land exactly once."""

from __future__ import annotations

import random
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from django.db import connection, transaction

from observability.models import StrategyExecutionLog
from observability.observer import observer_get
from observability.outbox import BATCHES_KEY, DEFERRALS_KEY
from tests.factories import RealmFactory
from tests.observability.conftest import (
    TcpProxy,
    log_row,
    make_event,
    make_run,
    test_database_url,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]


def settled(url: str) -> bool:
    """Return whether every message sent was processed: none queued, none unacknowledged
    (tasks acknowledge late, after they ran), no batch left in the outbox."""
    client = redis.Redis.from_url(url)
    return (
        client.llen("celery") == 0 and client.hlen("unacked") == 0 and client.hlen(BATCHES_KEY) == 0
    )


def test_sampled_ok_runs_and_every_failure_arrive(start_worker, broker_sink, fresh_redis, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 0.25
    start_worker()
    observer = observer_get()
    observer.rng = random.Random(99)
    reference = random.Random(99)
    realm = RealmFactory(slug="arrive")

    expected = set()
    for i in range(120):
        traced = observer.trace_wanted()
        if reference.random() < 0.25:
            expected.add(f"ok-{i}")
        observer.run_observe(
            run=make_run(points=i),
            traced=traced,
            realm=realm,
            event=make_event(f"ok-{i}"),
            api_key=None,
            correlation_id=None,
        )
    for i in range(15):
        observer.run_observe(
            run=make_run(status="error"),
            traced=observer.trace_wanted(),
            realm=realm,
            event=make_event(f"err-{i}"),
            api_key=None,
            correlation_id=None,
        )
        expected.add(f"err-{i}")
    assert broker_sink.flush(10)

    assert wait_for(lambda: StrategyExecutionLog.objects.count() >= len(expected), timeout=30)
    assert wait_for(lambda: settled(fresh_redis), timeout=30)
    rows = list(StrategyExecutionLog.objects.all())
    assert {row.external_user_id for row in rows} == expected
    assert len(rows) == len(expected)
    ok_rows = [row for row in rows if row.status == "ok"]
    assert all(row.sampled and row.sample_rate == 0.25 for row in ok_rows)
    errors = [row for row in rows if row.status == "error"]
    assert len(errors) == 15
    assert all(not row.sampled and row.error_code == "DSL_ARITH_DIV_BY_ZERO" for row in errors)
    assert errors[0].fields == {"user.measurements_count": 4, "data.time": 12.5}
    assert errors[0].realm_id == realm.pk


def test_a_redelivered_batch_inserts_nothing_twice(start_worker, fresh_redis):
    from gamification.celery import app
    from observability.sink import TASK_NAME

    realm = RealmFactory()
    rows = [log_row(realm.pk, f"u{i}") for i in range(20)]
    start_worker()
    with app.connection_for_write(url=fresh_redis) as conn:
        for _ in range(3):
            app.send_task(TASK_NAME, args=[rows], connection=conn)

    assert wait_for(lambda: StrategyExecutionLog.objects.count() == 20, timeout=30)
    assert wait_for(lambda: settled(fresh_redis), timeout=30)  # the duplicates too
    assert StrategyExecutionLog.objects.count() == 20
    assert redis.Redis.from_url(fresh_redis).llen("celery") == 0


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(start_worker, fresh_redis):
    from gamification.celery import app
    from observability.sink import TASK_NAME

    realm = RealmFactory()
    batches = [[log_row(realm.pk, f"b{b}-u{i}") for i in range(25)] for b in range(4)]
    table = StrategyExecutionLog._meta.db_table
    worker = start_worker()

    with transaction.atomic(), connection.cursor() as cursor:
        # The worker's first statement on the batch blocks behind this lock: it has
        # received the message and not acknowledged it when it dies.
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        with app.connection_for_write(url=fresh_redis) as conn:
            for batch in batches:
                app.send_task(TASK_NAME, args=[batch], connection=conn)

        def blocked() -> bool:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                [table],
            )
            return cursor.fetchone()[0] >= 1

        assert wait_for(blocked, timeout=30)
        worker.kill()
    # The lock is released; the dead worker's statement may even complete now.

    start_worker()
    assert wait_for(lambda: StrategyExecutionLog.objects.count() == 100, timeout=60), (
        StrategyExecutionLog.objects.count()
    )
    # A message the dead worker took is redelivered after the visibility timeout; once
    # that is processed too, nothing else may arrive.
    assert wait_for(lambda: settled(fresh_redis), timeout=60)
    ids = list(StrategyExecutionLog.objects.values_list("pk", flat=True))
    assert len(ids) == len(set(ids)) == 100
    expected = {uuid.UUID(row["id"]) for batch in batches for row in batch}
    assert set(ids) == expected


def test_database_down_then_back_loses_nothing_the_broker_accepted(
    start_worker, broker_sink, fresh_redis
):
    port = int(urlsplit(test_database_url()).port or 5432)
    proxy = TcpProxy(target_port=port)
    proxy.up()
    start_worker(database_url=test_database_url(port=proxy.port))
    realm = RealmFactory(slug="db-down")
    observer = observer_get()

    def observe(prefix: str, count: int) -> None:
        for i in range(count):
            observer.run_observe(
                run=make_run(status="error"),
                traced=False,
                realm=realm,
                event=make_event(f"{prefix}-{i}"),
                api_key=None,
                correlation_id=None,
            )
        assert broker_sink.flush(10)

    observe("before", 10)
    assert wait_for(lambda: StrategyExecutionLog.objects.count() == 10, timeout=30)

    proxy.down()
    observe("during", 40)
    # The worker fails on the batch and defers it with a backoff.
    assert wait_for(lambda: redis.Redis.from_url(fresh_redis).hlen(DEFERRALS_KEY) >= 1)
    assert StrategyExecutionLog.objects.count() == 10
    proxy.up()

    assert wait_for(lambda: StrategyExecutionLog.objects.count() == 50, timeout=60), (
        StrategyExecutionLog.objects.count()
    )
    users = set(StrategyExecutionLog.objects.values_list("external_user_id", flat=True))
    assert {f"during-{i}" for i in range(40)} <= users
    proxy.down()
