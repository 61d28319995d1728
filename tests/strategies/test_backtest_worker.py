"""Backtests on a real Celery worker over Redis: one runs to its report; one whose worker is
killed mid-run is not run twice and ends failed, never running forever."""

from __future__ import annotations

import time
import warnings
from datetime import UTC, datetime, timedelta

import pytest
import redis
from celery.exceptions import AlwaysEagerIgnored
from django.db import connection, transaction

from gamification.models import Award
from strategies import backtests, services
from strategies.models import Backtest, BacktestStatus
from strategies.tasks import BACKTEST_RUN_TASK
from tests.factories import GameFactory, PlayerFactory, RealmFactory, TaskFactory, award_history
from tests.observability.conftest import wait_for
from tests.strategies.backtest_programs import HISTORY_PROGRAM

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _queued() -> Backtest:
    """A queued backtest of a draft over 30 awards, as ``backtest_request`` leaves it."""
    realm = RealmFactory()
    draft = services.strategy_create(
        realm=realm, name="pace", type="DSL_FULL", ast_json=HISTORY_PROGRAM
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    for index in range(3):
        award_history(
            task=task,
            player=PlayerFactory(realm=realm),
            timestamps=[T0 + timedelta(minutes=step, seconds=index) for step in range(10)],
            data={"score": index + 1},
        )
    return Backtest.objects.create(
        realm=realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=T0,
        until=T0 + timedelta(days=1),
        max_events=1000,
    )


def _send(url: str, backtest: Backtest) -> None:
    """Publish the task to the real broker, as a web process with one does."""
    from gamification.celery import app

    with warnings.catch_warnings(), app.connection_for_write(url=url) as conn:
        warnings.simplefilter("ignore", AlwaysEagerIgnored)  # this process stays eager
        app.send_task(BACKTEST_RUN_TASK, args=[str(backtest.pk)], connection=conn)


def _settled(url: str) -> bool:
    """Every message was processed: none queued, none unacknowledged (acks are late)."""
    client = redis.Redis.from_url(url)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def _status(backtest: Backtest) -> str:
    return Backtest.objects.values_list("status", flat=True).get(pk=backtest.pk)


def test_a_worker_runs_a_queued_backtest_to_its_report(start_worker, fresh_redis):
    start_worker()
    backtest = _queued()
    _send(fresh_redis, backtest)
    assert wait_for(lambda: _status(backtest) == BacktestStatus.DONE, timeout=60)
    backtest.refresh_from_db()
    assert (backtest.result["events"], backtest.events_total, backtest.progress) == (30, 30, 1.0)
    assert backtest.result["errors"] == {}
    assert sum(backtest.result["case_names"]["after"].values()) == 30


def test_a_worker_killed_mid_run_leaves_a_backtest_that_is_not_run_twice_and_fails(
    start_worker, fresh_redis, settings
):
    worker = start_worker()
    backtest = _queued()
    table = Award._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # The worker's read of the awards waits behind this lock: it has claimed the
        # backtest and not finished it when it dies.
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        _send(fresh_redis, backtest)

        def blocked() -> bool:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                [table],
            )
            return cursor.fetchone()[0] >= 1

        assert wait_for(blocked, timeout=30)
        worker.kill()
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.RUNNING
    claimed = backtest.started_at

    start_worker()
    # The dead worker's message comes back after the visibility timeout (3 s here) and
    # finds the backtest claimed: the new worker runs nothing.
    time.sleep(4)
    assert wait_for(lambda: _settled(fresh_redis), timeout=60)
    backtest.refresh_from_db()
    assert (backtest.status, backtest.started_at, backtest.result) == ("running", claimed, None)

    settings.BACKTEST_STALE_SECONDS = 1
    read = backtests.backtest_get(realm=backtest.realm, backtest_id=backtest.pk)
    assert (read.status, read.error_code) == (BacktestStatus.FAILED, "BACKTEST_WORKER_LOST")
