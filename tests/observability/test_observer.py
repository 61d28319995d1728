"""The observer: metrics for every run, failures always kept, ok runs kept as sampled."""

from __future__ import annotations

import random

import pytest
from prometheus_client import REGISTRY

from observability.observer import ExecutionObserver, run_observe, trace_wanted
from observability.sink import ExecutionLogSink
from scoring.strategy_types import error_code_label
from tests.factories import RealmFactory
from tests.observability.conftest import DEFINITION_ID, make_event, make_run

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.usefixtures("captured")
def test_run_observe_emits_duration_nodes_and_error_metrics():
    realm = RealmFactory(slug="metrics-realm")
    labels = {"realm": "metrics-realm", "strategy_type": "DSL_FULL"}
    before_count = sample("dsl_execution_duration_seconds_count", **labels, status="ok")
    before_le = sample("dsl_execution_duration_seconds_bucket", **labels, status="ok", le="0.25")
    before_nodes = sample("dsl_execution_nodes_total", **labels, status="ok")
    before_errors = sample(
        "dsl_execution_errors_total", **labels, status="error", code="DSL_ARITH_DIV_BY_ZERO"
    )

    run_observe(
        run=make_run(duration_ms=200, nodes=7),
        traced=False,
        realm=realm,
        event=make_event(),
        api_key=None,
        correlation_id=None,
    )
    run_observe(
        run=make_run(status="error"),
        traced=False,
        realm=realm,
        event=make_event(),
        api_key=None,
        correlation_id=None,
    )

    assert sample("dsl_execution_duration_seconds_count", **labels, status="ok") == before_count + 1
    assert (
        sample("dsl_execution_duration_seconds_bucket", **labels, status="ok", le="0.25")
        == before_le + 1
    )
    assert sample("dsl_execution_nodes_total", **labels, status="ok") == before_nodes + 7
    assert (
        sample("dsl_execution_errors_total", **labels, status="error", code="DSL_ARITH_DIV_BY_ZERO")
        == before_errors + 1
    )


def test_failures_are_always_kept_even_at_zero_sample_rate(captured, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 0.0
    observer, rows = captured
    realm = RealmFactory()

    assert observer.trace_wanted() is False
    for status in ("error", "timeout"):
        observer.run_observe(
            run=make_run(status=status),
            traced=False,
            realm=realm,
            event=make_event(),
            api_key=None,
            correlation_id="idem-1",
        )
    observer.run_observe(
        run=make_run(),
        traced=False,
        realm=realm,
        event=make_event(),
        api_key=None,
        correlation_id=None,
    )
    assert observer.sink.flush(5)

    assert [(r["status"], r["error_code"], r["sampled"]) for r in rows] == [
        ("error", "DSL_ARITH_DIV_BY_ZERO", False),
        ("timeout", "DSL_TIMEOUT", False),
    ]
    error_row = rows[0]
    assert error_row["error_node_id"] == "n7"
    assert error_row["points"] is None
    assert error_row["sample_rate"] == 1.0
    assert error_row["correlation_id"] == "idem-1"
    assert error_row["data"] == {"time": 12.5}
    assert error_row["fields"] == {"user.measurements_count": 4, "data.time": 12.5}
    assert error_row["strategy_id"] == f"custom:{DEFINITION_ID}"
    assert error_row["definition_id"] == DEFINITION_ID
    assert "division by zero" in error_row["notes"]


def test_seeded_generator_keeps_exactly_the_drawn_ok_runs(captured, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 0.3
    observer, rows = captured
    observer.rng = random.Random(1234)
    expected_draws = random.Random(1234)
    realm = RealmFactory()

    expected_users = []
    for i in range(200):
        traced = observer.trace_wanted()
        assert traced == (expected_draws.random() < 0.3)
        if traced:
            expected_users.append(f"u{i}")
        observer.run_observe(
            run=make_run(points=i),
            traced=traced,
            realm=realm,
            event=make_event(f"u{i}"),
            api_key=None,
            correlation_id=None,
        )
    assert observer.sink.flush(5)

    assert [r["external_user_id"] for r in rows] == expected_users
    assert 40 <= len(rows) <= 80
    assert all(r["sampled"] and r["sample_rate"] == 0.3 for r in rows)


def test_module_trace_wanted_uses_the_installed_observer(captured, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 0.5
    observer, _ = captured
    observer.rng = random.Random(7)
    reference = random.Random(7)
    assert [trace_wanted() for _ in range(20)] == [reference.random() < 0.5 for _ in range(20)]


def test_disabled_logging_keeps_nothing_and_counts_the_drop(captured, settings):
    settings.DSL_EXECUTION_LOG_ENABLED = False
    observer, rows = captured
    realm = RealmFactory(slug="off-realm")
    before = sample(
        "dsl_execution_log_dropped_total",
        reason="disabled",
        realm="off-realm",
        strategy_type="DSL_FULL",
    )

    assert observer.trace_wanted() is False
    observer.run_observe(
        run=make_run(status="error"),
        traced=False,
        realm=realm,
        event=make_event(),
        api_key=None,
        correlation_id=None,
    )
    observer.sink.flush(1)

    assert rows == []
    assert (
        sample(
            "dsl_execution_log_dropped_total",
            reason="disabled",
            realm="off-realm",
            strategy_type="DSL_FULL",
        )
        == before + 1
    )


def test_long_traces_keep_their_head_and_say_so(captured, settings):
    settings.DSL_EXECUTION_LOG_TRACE_LIMIT = 5
    observer, rows = captured
    trace = [{"nodeId": f"n{i}", "type": "literal", "value": i} for i in range(12)]

    observer.run_observe(
        run=make_run(trace=trace),
        traced=True,
        realm=RealmFactory(),
        event=make_event(),
        api_key=None,
        correlation_id=None,
    )
    observer.sink.flush(5)

    assert rows[0]["trace"] == trace[:5]
    assert rows[0]["notes"] == "trace truncated: 12 -> 5 entries"


def test_a_full_buffer_drops_and_counts_instead_of_waiting():
    realm = RealmFactory(slug="full-realm")
    blocker_started = []

    def slow_persist(rows):
        blocker_started.append(len(rows))
        import time

        time.sleep(0.5)

    sink = ExecutionLogSink(maxsize=3, batch_size=1, inline=True, persist=slow_persist)
    observer = ExecutionObserver(sink=sink)
    labels = {"reason": "queue_full", "realm": "full-realm", "strategy_type": "DSL_FULL"}
    before = sample("dsl_execution_log_dropped_total", **labels)

    for _ in range(10):
        observer.run_observe(
            run=make_run(status="error"),
            traced=False,
            realm=realm,
            event=make_event(),
            api_key=None,
            correlation_id=None,
        )

    dropped = sample("dsl_execution_log_dropped_total", **labels) - before
    # One row is being persisted, three wait in the buffer, the rest are dropped.
    assert 6 <= dropped <= 7
    sink.shutdown(0.1)


class _BrokenSink:
    def submit(self, row, *, realm, strategy_type):  # noqa: ARG002 - the sink's signature
        raise RuntimeError("sink exploded")


def test_run_observe_never_raises(caplog):
    realm = RealmFactory(slug="broken-sink")
    labels = {"realm": "broken-sink", "strategy_type": "DSL_FULL", "status": "error"}
    before = sample("dsl_execution_duration_seconds_count", **labels)
    observer = ExecutionObserver(sink=_BrokenSink())  # type: ignore[arg-type]

    with caplog.at_level("ERROR", logger="observability.observer"):
        returned = observer.run_observe(
            run=make_run(status="error"),
            traced=False,
            realm=realm,
            event=make_event(),
            api_key=None,
            correlation_id=None,
        )

    assert returned is None
    # The metrics come before the hand-off to the sink: the run is counted all the same.
    assert sample("dsl_execution_duration_seconds_count", **labels) == before + 1
    [record] = [r for r in caplog.records if r.name == "observability.observer"]
    assert record.message == "Could not observe a strategy run"
    assert "sink exploded" in record.exc_text


def test_run_observe_never_raises_on_a_run_it_cannot_read(captured, caplog):
    _, rows = captured
    with caplog.at_level("ERROR", logger="observability.observer"):
        returned = run_observe(
            run=object(),  # type: ignore[arg-type]
            traced=True,
            realm=RealmFactory(),
            event=make_event(),
            api_key=None,
            correlation_id=None,
        )
    assert returned is None
    assert rows == []
    assert any(r.message == "Could not observe a strategy run" for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "status", "label"),
    [
        (None, "ok", None),
        (None, "timeout", "DSL_TIMEOUT"),
        (None, "limit", "DSL_LIMIT_EXCEEDED"),
        (ValueError("boom"), "error", "DSL_UNEXPECTED"),
    ],
)
def test_error_code_label_follows_the_spec(error, status, label):
    assert error_code_label(error, status) == label
