"""The hand-off never makes scoring wait: healthy, refusing and hung Redis alike."""

from __future__ import annotations

import json
import statistics
import time

import pytest
import redis
from prometheus_client import REGISTRY

from observability.observer import ExecutionObserver
from observability.outbox import BATCHES_KEY
from observability.sink import ExecutionLogSink
from tests.factories import RealmFactory
from tests.observability.conftest import make_event, make_run

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
    assert len(latencies) == CALLS


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

    assert len(observe_many(observer, realm)) == CALLS
    sink.shutdown(2)

    lost = {reason: dropped(reason, slug) - before[reason] for reason in before}
    # A refused connection stored nothing; a server that took the bytes and never answered
    # may have stored them: that outcome is unknown and counted as such.
    first_failure = "broker_unavailable" if broker == "refused_url" else "publish_unknown"
    assert lost[first_failure] >= 1
    # Nothing reached a broker, and every row is accounted for by a reason.
    assert sum(lost.values()) == CALLS, lost


@pytest.mark.perf
@pytest.mark.parametrize("broker", ["fresh_redis", "refused_url", "hung_url"])
def test_the_sink_costs_a_scoring_call_under_its_budget_whatever_the_broker(
    broker, request, settings
):
    """Timing, so ``make bench-sink`` runs it rather than ``make test`` on a shared machine."""
    url = request.getfixturevalue(broker)
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    realm = RealmFactory(slug=f"latency-{broker}")
    sink = ExecutionLogSink(broker_url=url, batch_size=50, maxsize=10_000, circuit_seconds=1)
    latencies = observe_many(ExecutionObserver(sink=sink), realm)
    sink.shutdown(2)
    assert p99(latencies) < P99_BUDGET_MS, f"p99 {p99(latencies):.3f} ms"
    assert max(latencies) < 50, f"max {max(latencies):.1f} ms"


def test_hung_redis_publish_is_bounded_and_opens_the_breaker(hung_url):
    sink = ExecutionLogSink(broker_url=hung_url, circuit_seconds=30)
    started = time.perf_counter()
    with pytest.raises(redis.TimeoutError):
        sink._send([{"id": "x"}])
    assert time.perf_counter() - started < 3
    sink._close_connection()


def test_shutdown_flushes_the_buffer(fresh_redis):
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

    # The publisher takes what is buffered when it wakes, so how the 95 rows fall into
    # batches of at most ten depends on timing; that every row was stored and announced
    # does not.
    client = redis.Redis.from_url(fresh_redis)
    batches = [json.loads(payload) for payload in client.hvals(BATCHES_KEY)]
    assert sorted(row["external_user_id"] for batch in batches for row in batch) == sorted(
        f"u{i}" for i in range(95)
    )
    assert max(len(batch) for batch in batches) <= 10
    assert client.llen("celery") == len(batches)
    assert dropped("shutdown", "flushed") == 0


def test_rows_leave_the_process_cut_to_the_byte_and_depth_budget(settings):
    from observability.sink import row_bounded

    settings.DSL_EXECUTION_LOG_VALUE_BYTES = 4096
    settings.DSL_EXECUTION_LOG_VALUE_MAX_DEPTH = 8
    settings.DSL_EXECUTION_LOG_TRACE_BYTES = 2048
    deep: list = []
    for _ in range(989):
        deep = [deep]
    row = {
        "id": "r",
        "data": {"deep": deep, "wide": list(range(100_000))},
        "fields": {"ok": 1},
        "trace": [{"nodeId": f"n{i}", "value": "x" * 100} for i in range(1000)],
        "notes": "earlier note",
    }
    bounded = row_bounded(row)

    def size(value) -> int:  # as the sink encodes it
        return len(json.dumps(value, separators=(",", ":")))

    assert size(bounded["data"]) < 4096 + 512
    assert json.dumps(bounded["data"]).count("[") < 20
    assert size(bounded["trace"]) < 2048 + 512
    assert bounded["fields"] == {"ok": 1}
    assert bounded["notes"].startswith("earlier note; data, trace truncated")
    assert row["data"]["wide"][-1] == 99_999  # the original is left alone


def test_a_batch_is_split_into_messages_under_the_byte_cap(settings):
    settings.DSL_EXECUTION_LOG_BATCH_MAX_BYTES = 8192
    sink = ExecutionLogSink(broker_url="redis://127.0.0.1:1/0")
    items = [({"id": str(i), "data": {"blob": "y" * 1000}}, "r", "DSL_FULL") for i in range(40)]
    chunks = list(sink._chunks(items))
    assert len(chunks) > 4
    assert sum(len(part) for part, _ in chunks) == 40
    for part, payload in chunks:
        assert len(payload) <= 8192
        assert [row["id"] for row in json.loads(payload)] == [row["id"] for row, _, _ in part]
