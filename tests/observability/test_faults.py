"""The execution-log pipeline under the faults of production, with a real Redis, worker and
PostgreSQL: a poison payload, a frozen broker, ``kill -9`` of the worker, a database that
goes away. For each: rows produced = rows persisted + rows counted as dropped, none twice."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest
from prometheus_client import REGISTRY

from observability.models import StrategyExecutionLog
from observability.observer import ExecutionObserver, observer_get, observer_set
from observability.sink import ExecutionLogSink, sink_set
from tests.factories import RealmFactory, TaskFactory
from tests.observability.conftest import (
    ROOT,
    TcpProxy,
    make_event,
    make_run,
    test_database_url,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.services]

DROP_REASONS = (
    "queue_full",
    "circuit_open",
    "broker_unavailable",
    "publish_unknown",
    "publish_error",
    "shutdown",
)


def dropped(realm_slug: str) -> dict[str, float]:
    return {
        reason: REGISTRY.get_sample_value(
            "dsl_execution_log_dropped_total",
            {"reason": reason, "realm": realm_slug, "strategy_type": "DSL_FULL"},
        )
        or 0.0
        for reason in DROP_REASONS
    }


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.fixture
def sink_on():
    """Install a sink publishing to ``url`` as the process's sink and observer."""
    installed: list[tuple[ExecutionLogSink, object, object]] = []

    def install(url: str, **options) -> ExecutionLogSink:
        sink = ExecutionLogSink(broker_url=url, circuit_seconds=1, **options)
        previous_sink = sink_set(sink)
        previous_observer = observer_set(ExecutionObserver(sink=sink))
        installed.append((sink, previous_sink, previous_observer))
        return sink

    yield install
    for sink, previous_sink, previous_observer in installed:
        sink.shutdown(5)
        observer_set(previous_observer)
        sink_set(previous_sink)


class Stream:
    """Observe failed runs (always kept) from a thread at a steady rate."""

    def __init__(self, realm, *, count: int, per_second: float, prefix: str = "s") -> None:
        self.realm = realm
        self.prefix = prefix
        self.count = count
        self.interval = 1.0 / per_second
        self.produced: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        observer = observer_get()
        started = time.monotonic()
        for i in range(self.count):
            user = f"{self.prefix}{i}"
            observer.run_observe(
                run=make_run(status="error"),
                traced=False,
                realm=self.realm,
                event=make_event(user),
                api_key=None,
                correlation_id=None,
            )
            self.produced.append(user)
            delay = started + (i + 1) * self.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def start(self) -> Stream:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive()


def persisted_users(realm) -> list[str]:
    return list(
        StrategyExecutionLog.objects.filter(realm=realm).values_list("external_user_id", flat=True)
    )


def assert_accounted(realm, produced: list[str], *, timeout: float = 60) -> dict[str, float]:
    """Every produced row is persisted once or counted as dropped; return the drops."""

    def settled() -> bool:
        return len(persisted_users(realm)) + sum(dropped(realm.slug).values()) >= len(produced)

    wait_for(settled, timeout=timeout, interval=0.5)
    time.sleep(1)  # a late duplicate would land now
    users = persisted_users(realm)
    drops = dropped(realm.slug)
    assert len(users) == len(set(users)), "a row was persisted twice"
    assert set(users) <= set(produced)
    assert len(users) + sum(drops.values()) == len(produced), (len(users), drops)
    return drops


def test_deep_event_data_neither_kills_the_worker_nor_blocks_the_rows_behind_it(
    start_worker, sink_on, fresh_redis, api, realm, settings
):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    sink = sink_on(fresh_redis)
    worker = start_worker()
    task = TaskFactory(game__realm=realm)
    url = f"/api/v1/games/{task.game.external_game_id}/tasks/{task.external_task_id}/points"

    deep = api.post(url, {"externalUserId": "deep", "data": {"a": nested(750)}}, format="json")
    deeper = api.post(url, {"externalUserId": "deeper", "data": {"a": nested(990)}}, format="json")
    assert deep.status_code == 201
    # Either scored (201) or refused as too deep (400); never a row that kills the worker.
    assert deeper.status_code in (201, 400), deeper.content
    for i in range(100):
        assert api.post(url, {"externalUserId": f"u{i}"}, format="json").status_code == 201
    assert sink.flush(15)

    expected = 101 + (deeper.status_code == 201)
    assert wait_for(lambda: StrategyExecutionLog.objects.count() == expected, timeout=60), (
        StrategyExecutionLog.objects.count(),
        worker.log.read_text()[-3000:],
    )
    assert worker.process.poll() is None
    log = worker.log.read_text(errors="replace")
    assert "Unrecoverable error" not in log
    assert "RecursionError" not in log
    row = StrategyExecutionLog.objects.get(external_user_id="deep")
    assert "data truncated" in row.notes
    assert "$truncated" in json.dumps(row.data)
    assert json.dumps(row.data).count("[") <= settings.DSL_EXECUTION_LOG_VALUE_MAX_DEPTH + 2


def test_three_kill_9_of_the_worker_during_a_stream_lose_and_duplicate_nothing(
    start_worker, sink_on, fresh_redis
):
    realm = RealmFactory(slug="killed")
    sink = sink_on(fresh_redis)
    worker = start_worker()
    stream = Stream(realm, count=3000, per_second=250).start()
    for _ in range(3):
        time.sleep(2.5)
        # Only kill a worker that is in the middle of the stream's batches.
        assert wait_for(lambda: StrategyExecutionLog.objects.filter(realm=realm).exists(), 30)
        worker.kill()
        worker = start_worker()
    stream.join()
    assert sink.flush(15)

    drops = assert_accounted(realm, stream.produced, timeout=90)
    assert sum(drops.values()) == 0, drops  # Redis was healthy throughout
    assert len(persisted_users(realm)) == 3000


def test_redis_frozen_for_20_s_under_load_accounts_for_every_row_and_consuming_resumes(
    start_worker, sink_on, private_redis
):
    realm = RealmFactory(slug="frozen")
    sink = sink_on(private_redis.url)
    start_worker(broker_url=private_redis.url)
    stream = Stream(realm, count=40 * 32, per_second=40).start()
    time.sleep(4)
    private_redis.freeze()
    time.sleep(20)
    private_redis.thaw()
    thawed_at = time.time()

    from django.utils import timezone

    def consumed_after_thaw() -> bool:
        since = timezone.datetime.fromtimestamp(thawed_at + 1, tz=timezone.UTC)
        return StrategyExecutionLog.objects.filter(realm=realm, created_at__gte=since).exists()

    assert wait_for(consumed_after_thaw, timeout=30, interval=0.25), "not consuming 30 s on"
    resumed_in = time.time() - thawed_at
    stream.join()
    assert sink.flush(40)

    drops = assert_accounted(realm, stream.produced, timeout=90)
    assert drops["publish_unknown"] == 0, drops
    assert resumed_in < 30


def test_database_gone_for_30_s_loses_nothing_that_was_queued(start_worker, sink_on, fresh_redis):
    port = int(urlsplit(test_database_url()).port or 5432)
    proxy = TcpProxy(target_port=port)
    proxy.up()
    realm = RealmFactory(slug="db-gone")
    sink = sink_on(fresh_redis)
    start_worker(database_url=test_database_url(port=proxy.port))
    first = Stream(realm, count=50, per_second=100).start()
    first.join()
    assert wait_for(lambda: len(persisted_users(realm)) == 50, timeout=30)

    proxy.down()
    during = Stream(realm, count=600, per_second=40, prefix="during-").start()
    during.join()
    time.sleep(max(0, 30 - 15))
    assert len(persisted_users(realm)) == 50
    proxy.up()
    assert sink.flush(10)

    drops = assert_accounted(realm, first.produced + during.produced, timeout=60)
    assert sum(drops.values()) == 0, drops
    proxy.down()


def run_liveness(heartbeat_file, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "healthcheck.py"), "worker"],
        env={**os.environ, "WORKER_HEARTBEAT_FILE": str(heartbeat_file), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def celery_cli(broker_url: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``celery -A gamification ARGS`` the way an operator would."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "gamification", *args],
        cwd=ROOT,
        env={**os.environ, "CELERY_BROKER_URL": broker_url, "SECRET_KEY": "test-only"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def announce(broker_url: str, count: int) -> None:
    from gamification.celery import app
    from observability.sink import TASK_NAME

    with app.connection_for_write(url=broker_url) as connection:
        for _ in range(count):
            app.send_task(TASK_NAME, args=[str(uuid.uuid4())], connection=connection)


def test_liveness_fails_when_the_worker_stops_consuming_although_ping_answers(
    start_worker, fresh_redis
):
    worker = start_worker(WORKER_STALL_SECONDS="2")
    assert wait_for(worker.heartbeat_file.exists, timeout=10)
    assert run_liveness(worker.heartbeat_file).returncode == 0

    assert celery_cli(fresh_redis, "control", "cancel_consumer", "celery").returncode == 0
    announce(fresh_redis, 3)
    assert wait_for(lambda: run_liveness(worker.heartbeat_file).returncode == 1, timeout=20)
    ping = celery_cli(fresh_redis, "inspect", "ping", "--timeout", "5")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "pong" in ping.stdout, ping.stdout + ping.stderr

    assert celery_cli(fresh_redis, "control", "add_consumer", "celery").returncode == 0
    assert wait_for(lambda: run_liveness(worker.heartbeat_file).returncode == 0, timeout=20)


def test_a_stalled_worker_exits_for_its_supervisor_when_told_to(start_worker, fresh_redis):
    worker = start_worker(WORKER_STALL_SECONDS="1", WORKER_STALL_EXIT_SECONDS="2")
    assert celery_cli(fresh_redis, "control", "cancel_consumer", "celery").returncode == 0
    announce(fresh_redis, 1)
    assert wait_for(lambda: worker.process.poll() is not None, timeout=40)
    assert "exiting so that a fresh worker takes over" in worker.log.read_text()


def test_liveness_fails_on_a_missing_or_stale_heartbeat(tmp_path):
    missing = tmp_path / "none.json"
    assert run_liveness(missing).returncode == 1
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({"at": time.time() - 600, "stalled": False}))
    assert run_liveness(stale).returncode == 1
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps({"at": time.time(), "stalled": False, "backlog": 0}))
    assert run_liveness(fresh).returncode == 0
