"""The hand-off never makes scoring wait: healthy, refusing and hung Redis alike."""

from __future__ import annotations

import statistics
import time

import pytest
import redis
from prometheus_client import REGISTRY

from observability.observer import ExecutionObserver
from observability.sink import ExecutionLogSink
from tests.factories import RealmFactory
from tests.observability.conftest import make_event, make_run, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.services]

CALLS = 2000
#: The award endpoint's budget for the sink, at p99.
P99_BUDGET_MS = 2.0


def dropped(reason: str, realm: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "dsl_execution_log_dropped_total",
            {"reason": reason, "realm": realm, "strategy_type": "DSL_FULL"},
        )
        or 0.0
    )


def observe_many(observer: ExecutionObserver, realm, calls: int = CALLS) -> list[float]:
    """Observe ``calls`` kept runs at 100 % sampling; return each call's latency in ms."""
    trace = [{"nodeId": f"n{i}", "type": "literal", "value": i} for i in range(50)]
    run = make_run(trace=trace)
    event = make_event()
    latencies = []
    for i in range(calls):
        started = time.perf_counter()
        observer.run_observe(
            run=run, traced=True, realm=realm, event=event, api_key=None, correlation_id=str(i)
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if i % 10 == 0:
            time.sleep(0.002)  # spread the calls over seconds, across breaker cycles
    return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def test_healthy_redis_receives_every_row_in_batches(fresh_redis, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    realm = RealmFactory(slug="healthy")
    sink = ExecutionLogSink(broker_url=fresh_redis, batch_size=50, maxsize=10_000)
    observer = ExecutionObserver(sink=sink)

    latencies = observe_many(observer, realm)
    assert sink.flush(10)
    sink.shutdown(2)

    client = redis.Redis.from_url(fresh_redis)
    messages = client.llen("celery")
    assert messages >= CALLS // 50
    assert dropped("queue_full", "healthy") == 0
    assert dropped("broker_unavailable", "healthy") == 0
    assert p99(latencies) < P99_BUDGET_MS, f"p99 {p99(latencies):.3f} ms"


@pytest.mark.parametrize("broker", ["refused_url", "hung_url"])
def test_unreachable_redis_leaves_scoring_unaffected_and_counts_drops(broker, request, settings):
    url = request.getfixturevalue(broker)
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    slug = f"down-{broker}"
    realm = RealmFactory(slug=slug)
    sink = ExecutionLogSink(broker_url=url, batch_size=50, circuit_seconds=1)
    observer = ExecutionObserver(sink=sink)
    before = {
        reason: dropped(reason, slug)
        for reason in (
            "broker_unavailable",
            "publish_unknown",
            "circuit_open",
            "queue_full",
            "shutdown",
        )
    }

    latencies = observe_many(observer, realm)
    sink.shutdown(2)

    lost = {reason: dropped(reason, slug) - before[reason] for reason in before}
    # A refused connection stored nothing; a server that took the bytes and never answered
    # may have stored them: that outcome is unknown and counted as such.
    first_failure = "broker_unavailable" if broker == "refused_url" else "publish_unknown"
    assert lost[first_failure] >= 1
    # Nothing reached a broker, and every row is accounted for by a reason.
    assert sum(lost.values()) == CALLS, lost
    assert p99(latencies) < P99_BUDGET_MS, f"p99 {p99(latencies):.3f} ms"
    assert max(latencies) < 50, f"max {max(latencies):.1f} ms"


def test_hung_redis_publish_is_bounded_and_opens_the_breaker(hung_url):
    sink = ExecutionLogSink(broker_url=hung_url, circuit_seconds=30)
    started = time.perf_counter()
    with pytest.raises(Exception):  # noqa: B017 - kombu raises OperationalError
        sink._send([{"id": "x"}])
    assert time.perf_counter() - started < 3
    sink._close_connection()


def test_shutdown_flushes_the_buffer(fresh_redis, settings):
    realm = RealmFactory(slug="flushed")
    sink = ExecutionLogSink(broker_url=fresh_redis, batch_size=10)
    observer = ExecutionObserver(sink=sink)
    for i in range(95):
        observer.run_observe(
            run=make_run(status="error"),
            traced=False,
            realm=realm,
            event=make_event(f"u{i}"),
            api_key=None,
            correlation_id=None,
        )
    sink.shutdown(5)

    client = redis.Redis.from_url(fresh_redis)
    assert wait_for(lambda: client.llen("celery") == 10, timeout=5)
    assert dropped("shutdown", "flushed") == 0
