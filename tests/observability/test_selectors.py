"""Aggregates over a fixed data set equal hand-computed, sampling-corrected values."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from observability import selectors
from tests.observability.conftest import DEFINITION_ID, log_make

pytestmark = pytest.mark.django_db

S = f"custom:{DEFINITION_ID}"


def window(now):
    return {"since": now - timedelta(days=1), "until": now + timedelta(minutes=1)}


def test_count_by_status_returns_raw_rows_and_estimates(dataset, realm):
    scope = {"strategy_id": S, "realm": realm, **window(dataset)}
    assert selectors.count_by_status(**scope) == {"ok": 4, "error": 2, "timeout": 1}
    assert selectors.estimate_by_status(**scope) == {
        "ok": {"rows": 4, "estimated": pytest.approx(80)},
        "error": {"rows": 2, "estimated": 2},
        "timeout": {"rows": 1, "estimated": 1},
    }


def test_error_rate_is_corrected_for_sampling(dataset, realm):
    stats = selectors.execution_log_stats(strategy_id=S, realm=realm, **window(dataset))

    assert stats["rows"] == 7
    assert stats["estimatedRuns"] == pytest.approx(83)
    # 3 failures among 83 runs, not 3 among 7 rows.
    assert stats["errorRate"] == pytest.approx(3 / 83)
    assert stats["successRate"] == pytest.approx(80 / 83)
    assert stats["statusMix"]["timeout"] == {"rows": 1, "estimated": 1, "share": 1 / 83}


def test_summary_weights_durations_nodes_and_points(dataset, realm):
    summary = selectors.duration_and_nodes_summary(strategy_id=S, realm=realm, **window(dataset))

    assert summary["count"] == 7
    assert summary["minDurationMs"] == 1
    assert summary["maxDurationMs"] == 500
    assert summary["sumDurationMs"] == pytest.approx(521)
    assert summary["avgDurationMs"] == pytest.approx(521 / 7)
    assert summary["sumNodes"] == 75
    assert summary["maxNodes"] == 20
    assert summary["sumPoints"] == 40
    assert summary["estimatedRuns"] == pytest.approx(83)
    assert summary["estimatedAvgDurationMs"] == pytest.approx((20 * 10 + 511) / 83)
    assert summary["estimatedAvgNodes"] == pytest.approx((20 * 60 + 15) / 83)
    assert summary["estimatedAvgPoints"] == pytest.approx(10)
    assert summary["estimatedSumPoints"] == pytest.approx(800)


def test_percentiles_are_weighted_percentile_cont(dataset, realm):
    # Expanded: 20 x 1, 20 x 2, 20 x 3, 20 x 4, then 5, 6, 500 (83 runs).
    result = selectors.duration_percentiles(strategy_id=S, realm=realm, **window(dataset))

    assert result[0.5] == pytest.approx(3)
    assert result[0.95] == pytest.approx(4)
    assert result[0.99] == pytest.approx(6 + (0.99 * 82 - 81) * (500 - 6))


def test_percentiles_without_weights_equal_percentile_cont(realm):
    rng = random.Random(5)
    values = [round(rng.uniform(0, 100), 3) for _ in range(101)]
    for value in values:
        log_make(realm=realm, status="error", duration_ms=value)
    result = selectors.duration_percentiles(strategy_id=S, realm=realm)
    ordered = sorted(values)
    assert result[0.5] == pytest.approx(ordered[50])
    assert result[0.95] == pytest.approx(ordered[95])
    assert result[0.99] == pytest.approx(ordered[99])
    assert selectors.weighted_percentiles([(v, 1.0) for v in values]) == pytest.approx(result)


def test_python_fallback_matches_the_sql(dataset, realm):
    rows = selectors.execution_logs_for(strategy_id=S, realm=realm, **window(dataset))
    pairs = [(row.duration_ms, row.weight) for row in rows]
    sql = selectors.duration_percentiles(strategy_id=S, realm=realm, **window(dataset))
    assert selectors.weighted_percentiles(pairs) == pytest.approx(sql)


def test_top_errors_and_cases(dataset, realm):
    scope = {"strategy_id": S, "realm": realm, **window(dataset)}
    assert selectors.count_by_error_code(**scope) == [
        {"errorCode": "DSL_ARITH_DIV_BY_ZERO", "count": 2, "estimated": 2},
        {"errorCode": "DSL_TIMEOUT", "count": 1, "estimated": 1},
    ]
    cases = selectors.count_by_case_name(**scope)
    assert cases[0] == {"caseName": "fast", "count": 2, "estimated": pytest.approx(40)}
    assert {(c["caseName"], c["count"]) for c in cases[1:]} == {("slow", 1), (None, 1)}


def test_histograms(dataset, realm):
    scope = {"strategy_id": S, "realm": realm, **window(dataset)}
    buckets = {
        b["leMs"]: (b["rows"], b["estimated"]) for b in selectors.duration_histogram(**scope)
    }
    assert buckets[1.0] == (1, 20)
    assert buckets[2.5] == (1, 20)
    assert buckets[5.0] == (3, 41)
    assert buckets[10.0] == (1, 1)
    assert buckets[500.0] == (1, 1)
    assert buckets[None] == (0, 0)
    assert sum(rows for rows, _ in buckets.values()) == 7

    points = selectors.points_histogram(**scope)
    assert len(points) == 10
    assert points[0] == {"from": 0, "to": 2, "rows": 1, "estimated": 20}
    assert points[5]["rows"] == 2  # 10 and 10
    assert points[-1] == {"from": 18, "to": 20, "rows": 1, "estimated": 20}


def test_list_for_strategy_is_most_recent_first_filtered_and_capped(dataset, realm):
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


def test_samples_are_bounded_and_skip_failures_for_points(dataset, realm):
    scope = {"strategy_id": S, "realm": realm, **window(dataset)}
    assert sorted(selectors.sample_durations(**scope)) == [1, 2, 3, 4, 5, 6, 500]
    assert sorted(selectors.sample_points(**scope)) == [0, 10, 10, 20]


def test_time_series_buckets_by_hour(dataset, realm):
    series = selectors.time_series(strategy_id=S, realm=realm, **window(dataset))
    assert sum(point["rows"] for point in series) == 7
    assert sum(point["estimatedRuns"] for point in series) == pytest.approx(83)
    assert sum(point["estimatedErrors"] for point in series) == 3


def test_compare_gives_b_minus_a():
    a = {"estimatedRuns": 10, "errorRate": 0.1, "durationMs": {"p95": 4.0}, "nodes": {"max": 3}}
    b = {"estimatedRuns": 15, "errorRate": 0.05, "durationMs": {"p95": 3.0}, "nodes": {"max": 3}}
    delta = selectors.execution_log_compare(a=a, b=b)
    assert delta["estimatedRuns"] == 5
    assert delta["errorRate"] == pytest.approx(-0.05)
    assert delta["durationMsP95"] == -1
    assert delta["nodesMax"] == 0
    assert delta["successRate"] is None


def test_single_statement_stats_equal_the_per_figure_selectors(dataset, realm):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the single-statement path is PostgreSQL only")
    scope = {"strategy_id": S, "realm": realm, **window(dataset)}
    fast = selectors.execution_log_stats(**scope)
    slow = selectors._stats(**scope)
    for key in (
        "rows",
        "estimatedRuns",
        "errorRate",
        "successRate",
        "statusMix",
        "durationMs",
        "points",
        "nodes",
        "durationHistogram",
        "pointsHistogram",
        "topErrors",
    ):
        assert (
            fast[key] == pytest.approx(slow[key])
            if not isinstance(slow[key], (dict, list))
            else fast[key] == slow[key] or fast[key] == pytest.approx(slow[key])
        ), key
    assert {c["caseName"] for c in fast["topCases"]} == {c["caseName"] for c in slow["topCases"]}
    assert [(p["rows"], p["estimatedRuns"]) for p in fast["series"]] == [
        (p["rows"], p["estimatedRuns"]) for p in slow["series"]
    ]
