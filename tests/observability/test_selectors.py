"""Aggregates over a fixed data set equal hand-computed, sampling-corrected values."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from observability import selectors
from observability.percentiles import weighted_percentiles
from tests.observability.conftest import DEFINITION_ID, log_make

pytestmark = pytest.mark.django_db

S = f"custom:{DEFINITION_ID}"


def window(now):
    return {"since": now - timedelta(days=1), "until": now + timedelta(minutes=1)}


def stats_of(dataset, realm):
    return selectors.execution_log_stats(strategy_id=S, realm=realm, **window(dataset))


def test_status_mix_returns_raw_rows_and_estimates(dataset, realm):
    mix = stats_of(dataset, realm).status_mix
    assert {status: share.rows for status, share in mix.items() if share.rows} == {
        "ok": 4,
        "error": 2,
        "timeout": 1,
    }
    assert mix["ok"].estimated == pytest.approx(80)
    assert (mix["error"].estimated, mix["timeout"].estimated) == (2, 1)


def test_error_rate_is_corrected_for_sampling(dataset, realm):
    stats = stats_of(dataset, realm)

    assert stats.rows == 7
    assert stats.estimated_runs == pytest.approx(83)
    # 3 failures among 83 runs, not 3 among 7 rows.
    assert stats.error_rate == pytest.approx(3 / 83)
    assert stats.success_rate == pytest.approx(80 / 83)
    assert dataclasses.asdict(stats.status_mix["timeout"]) == {
        "rows": 1,
        "estimated": 1,
        "share": 1 / 83,
    }


def test_summary_weights_durations_nodes_and_points(dataset, realm):
    stats = stats_of(dataset, realm)

    assert stats.duration_ms.min == 1
    assert stats.duration_ms.max == 500
    assert stats.nodes.max == 20
    assert stats.points.rows_sum == 40
    assert stats.duration_ms.avg == pytest.approx((20 * 10 + 511) / 83)
    assert stats.nodes.avg == pytest.approx((20 * 60 + 15) / 83)
    assert stats.points.avg == pytest.approx(10)
    assert stats.points.estimated_sum == pytest.approx(800)


def test_percentiles_are_weighted_percentile_cont(dataset, realm):
    # Expanded: 20 x 1, 20 x 2, 20 x 3, 20 x 4, then 5, 6, 500 (83 runs).
    duration = stats_of(dataset, realm).duration_ms

    assert duration.p50 == pytest.approx(3)
    assert duration.p95 == pytest.approx(4)
    assert duration.p99 == pytest.approx(6 + (0.99 * 82 - 81) * (500 - 6))


def test_percentiles_without_weights_equal_percentile_cont(realm):
    rng = random.Random(5)
    values = [round(rng.uniform(0, 100), 3) for _ in range(101)]
    for value in values:
        log_make(realm=realm, status="error", duration_ms=value)
    now = timezone.now()
    duration = selectors.execution_log_stats(strategy_id=S, realm=realm, **window(now)).duration_ms
    result = {0.5: duration.p50, 0.95: duration.p95, 0.99: duration.p99}
    ordered = sorted(values)
    assert result[0.5] == pytest.approx(ordered[50])
    assert result[0.95] == pytest.approx(ordered[95])
    assert result[0.99] == pytest.approx(ordered[99])
    assert weighted_percentiles([(v, 1.0) for v in values]) == pytest.approx(result)


def test_top_errors_and_cases(dataset, realm):
    stats = stats_of(dataset, realm)
    assert [dataclasses.asdict(e) for e in stats.top_errors] == [
        {"error_code": "DSL_ARITH_DIV_BY_ZERO", "count": 2, "estimated": 2},
        {"error_code": "DSL_TIMEOUT", "count": 1, "estimated": 1},
    ]
    cases = stats.top_cases
    assert dataclasses.asdict(cases[0]) == {
        "case_name": "fast",
        "count": 2,
        "estimated": pytest.approx(40),
    }
    assert {(c.case_name, c.count) for c in cases[1:]} == {("slow", 1), (None, 1)}


def test_histograms(dataset, realm):
    stats = stats_of(dataset, realm)
    buckets = {b.le_ms: (b.rows, b.estimated) for b in stats.duration_histogram}
    assert buckets[1.0] == (1, 20)
    assert buckets[2.5] == (1, 20)
    assert buckets[5.0] == (3, 41)
    assert buckets[10.0] == (1, 1)
    assert buckets[500.0] == (1, 1)
    assert buckets[None] == (0, 0)
    assert sum(rows for rows, _ in buckets.values()) == 7

    points = stats.points_histogram
    assert len(points) == 10
    assert dataclasses.asdict(points[0]) == {"start": 0, "end": 2, "rows": 1, "estimated": 20}
    assert points[5].rows == 2  # 10 and 10
    assert dataclasses.asdict(points[-1]) == {"start": 18, "end": 20, "rows": 1, "estimated": 20}


@pytest.mark.usefixtures("dataset")
def test_list_for_strategy_is_most_recent_first_filtered_and_capped(realm):
    logs = selectors.list_for_strategy(strategy_id=S, realm=realm)
    assert [log.created_at for log in logs] == sorted(
        (log.created_at for log in logs), reverse=True
    )
    assert len(logs) == 8  # the old row too: no window here
    failures = selectors.list_for_strategy(strategy_id=S, realm=realm, status="error")
    assert {log.external_user_id for log in failures} == {"fail-0", "fail-1"}
    assert len(selectors.list_for_strategy(strategy_id=S, realm=realm, limit=10_000)) == 8
    assert len(selectors.list_for_strategy(strategy_id=S, realm=realm, limit=3)) == 3


def test_list_is_capped_at_200(realm):
    for _ in range(205):
        log_make(realm=realm)
    assert len(selectors.list_for_strategy(strategy_id=S, realm=realm, limit=500)) == 200


def test_time_series_buckets_by_hour(dataset, realm):
    stats = stats_of(dataset, realm)
    assert stats.bucket == "hour"
    assert sum(point.rows for point in stats.series) == 7
    assert sum(point.estimated_runs for point in stats.series) == pytest.approx(83)
    assert sum(point.estimated_errors for point in stats.series) == 3


def test_compare_gives_b_minus_a(realm):
    empty = selectors.execution_log_stats(strategy_id=S, realm=realm, **window(timezone.now()))
    a = dataclasses.replace(
        empty,
        estimated_runs=10,
        error_rate=0.1,
        duration_ms=dataclasses.replace(empty.duration_ms, p95=4.0),
        nodes=dataclasses.replace(empty.nodes, max=3),
    )
    b = dataclasses.replace(
        empty,
        estimated_runs=15,
        error_rate=0.05,
        duration_ms=dataclasses.replace(empty.duration_ms, p95=3.0),
        nodes=dataclasses.replace(empty.nodes, max=3),
    )
    delta = selectors.execution_log_compare(a=a, b=b)
    assert delta.estimated_runs == 5
    assert delta.error_rate == pytest.approx(-0.05)
    assert delta.duration_ms_p95 == -1
    assert delta.nodes_max == 0
    assert delta.success_rate is None


def test_the_python_fallback_equals_the_sql(dataset, realm):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the single-statement path is PostgreSQL only")
    scope = window(dataset)
    queryset = selectors.execution_logs_for(strategy_id=S, realm=realm, **scope)
    bucket = selectors.series_bucket(scope["since"], scope["until"])
    fast, slow = (
        dataclasses.asdict(
            selectors._stats_build(
                figures(queryset, bucket=bucket), strategy_id=S, bucket=bucket, **scope
            )
        )
        for figures in (selectors._figures_sql, selectors._figures_python)
    )
    for key in (
        "rows",
        "estimated_runs",
        "error_rate",
        "success_rate",
        "status_mix",
        "duration_ms",
        "points",
        "nodes",
        "duration_histogram",
        "points_histogram",
        "top_errors",
        "top_cases",
        "series",
    ):
        assert (
            fast[key] == pytest.approx(slow[key])
            if not isinstance(slow[key], (dict, list))
            else (fast[key] == slow[key] or _approx_equal(fast[key], slow[key]))
        ), key


def _approx_equal(left, right) -> bool:
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            _approx_equal(left[key], right[key]) for key in left
        )
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_approx_equal, left, right))
    if isinstance(left, float) or isinstance(right, float):
        return left == pytest.approx(right)
    return left == right
