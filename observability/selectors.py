"""Reads of execution logs: the runbook listing and the dashboard aggregates.

Rows are a biased sample: every failure is kept, ok runs only at ``sample_rate``. Estimates
weight each row by the number of runs it stands for (``1 / sample_rate`` for a sampled ok
row, 1 for a failure), so that a 1 % failure rate shows as 1 % and not as 17 %; raw row
counts are returned beside them.

A strategy is addressed by ``custom:<uuid>`` / ``<uuid>`` (a custom strategy version) or by
a built-in id. A custom version matches the rows of runs of that version (``definition_id``;
rows that do not know their version are stored with their bound id's UUID there).
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Trunc

from gamification.models import Realm
from gamification.strategy_ids import strategy_uuid
from observability.metrics import DURATION_BUCKETS
from observability.models import ExecutionStatus, StrategyExecutionLog

LIST_CAP = 200
SAMPLE_CAP = 1000
PERCENTILES = (0.5, 0.95, 0.99)
#: Duration histogram edges in ms: the Prometheus buckets, so both views line up.
DURATION_EDGES_MS = tuple(round(bucket * 1000, 3) for bucket in DURATION_BUCKETS)
POINTS_BINS = 10
STATUSES = tuple(ExecutionStatus.values)
_EPSILON = 1e-9


# -- scoping --------------------------------------------------------------------------------


def strategy_q(strategy_id: str) -> Q:
    """Return the filter of one strategy's rows."""
    pk = strategy_uuid(strategy_id)
    if pk is None:
        return Q(strategy_id=strategy_id)
    # Rows without a known version get the bound id as their definition id on insert, so
    # one equality serves both and keeps the covering index usable.
    return Q(definition_id=pk)


def execution_logs_for(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> QuerySet[StrategyExecutionLog]:
    """Return one strategy's rows in ``[since, until)``, optionally of one realm and status."""
    queryset = StrategyExecutionLog.objects.filter(strategy_q(strategy_id))
    if realm is not None:
        queryset = queryset.filter(realm_id=realm.pk)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def execution_log_exists(*, strategy_id: str, realm: Realm) -> bool:
    return execution_logs_for(strategy_id=strategy_id, realm=realm).exists()


def execution_log_get(
    *, strategy_id: str, realm: Realm, log_id: uuid.UUID | str
) -> StrategyExecutionLog | None:
    return execution_logs_for(strategy_id=strategy_id, realm=realm).filter(pk=log_id).first()


def _weight() -> Case:
    """How many runs a row stands for."""
    return Case(
        When(sampled=True, sample_rate__gt=0, then=Value(1.0) / F("sample_rate")),
        default=Value(1.0),
        output_field=FloatField(),
    )


# -- the seed's repository reads -------------------------------------------------------------


def list_for_strategy(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    status: str | None = None,
    limit: int = 50,
    before: datetime | None = None,
) -> list[StrategyExecutionLog]:
    """Return the most recent rows first (capped at 200), optionally of one status."""
    queryset = execution_logs_for(strategy_id=strategy_id, realm=realm, status=status)
    if before is not None:
        queryset = queryset.filter(created_at__lt=before)
    limit = max(1, min(int(limit), LIST_CAP))
    return list(queryset.order_by("-created_at", "-id")[:limit])


def count_by_status(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, int]:
    """Return raw row counts by status (ok, error, timeout, limit)."""
    rows = (
        execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
        .order_by()
        .values("status")
        .annotate(rows=Count("id"))
    )
    return {row["status"]: row["rows"] for row in rows}


def estimate_by_status(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, dict[str, float]]:
    """Return raw rows and sampling-corrected run estimates by status."""
    rows = (
        execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
        .order_by()
        .values("status")
        .annotate(rows=Count("id"), estimated=Sum(_weight()))
    )
    return {
        row["status"]: {"rows": row["rows"], "estimated": float(row["estimated"] or 0)}
        for row in rows
    }


def count_by_error_code(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Return the most frequent error codes (failures are never sampled: rows = runs)."""
    rows = (
        execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
        .exclude(status=ExecutionStatus.OK)
        .order_by()
        .values("error_code")
        .annotate(rows=Count("id"), estimated=Sum(_weight()))
        .order_by("-rows", "error_code")[:limit]
    )
    return [
        {"errorCode": row["error_code"], "count": row["rows"], "estimated": row["estimated"]}
        for row in rows
    ]


def count_by_case_name(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Return which cases ok runs end in; a null case name means no rule matched."""
    rows = (
        execution_logs_for(
            strategy_id=strategy_id, realm=realm, since=since, until=until, status="ok"
        )
        .order_by()
        .values("case_name")
        .annotate(rows=Count("id"), estimated=Sum(_weight()))
        .order_by("-estimated", "case_name")[:limit]
    )
    return [
        {"caseName": row["case_name"], "count": row["rows"], "estimated": row["estimated"]}
        for row in rows
    ]


def duration_and_nodes_summary(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Return count, avg/min/max/sum of duration and nodes, and the sum of points.

    Raw figures are over the rows; ``estimated*`` figures are weighted by sampling.
    """
    weight = _weight()
    ok = Q(status=ExecutionStatus.OK)
    row = execution_logs_for(
        strategy_id=strategy_id, realm=realm, since=since, until=until
    ).aggregate(
        count=Count("id"),
        avg_duration=Avg("duration_ms"),
        min_duration=Min("duration_ms"),
        max_duration=Max("duration_ms"),
        sum_duration=Sum("duration_ms"),
        avg_nodes=Avg("nodes_executed"),
        min_nodes=Min("nodes_executed"),
        max_nodes=Max("nodes_executed"),
        sum_nodes=Sum("nodes_executed"),
        sum_points=Sum("points"),
        estimated_runs=Sum(weight),
        weighted_duration=Sum(weight * F("duration_ms")),
        weighted_nodes=Sum(weight * F("nodes_executed")),
        estimated_ok=Sum(weight, filter=ok),
        weighted_points=Sum(weight * F("points"), filter=ok & Q(points__isnull=False)),
        weight_with_points=Sum(weight, filter=ok & Q(points__isnull=False)),
    )
    runs = float(row["estimated_runs"] or 0)
    with_points = float(row["weight_with_points"] or 0)
    return {
        "count": row["count"],
        "avgDurationMs": row["avg_duration"],
        "minDurationMs": row["min_duration"],
        "maxDurationMs": row["max_duration"],
        "sumDurationMs": row["sum_duration"],
        "avgNodes": row["avg_nodes"],
        "minNodes": row["min_nodes"],
        "maxNodes": row["max_nodes"],
        "sumNodes": row["sum_nodes"],
        "sumPoints": row["sum_points"],
        "estimatedRuns": runs,
        "estimatedAvgDurationMs": (row["weighted_duration"] / runs) if runs else None,
        "estimatedAvgNodes": (row["weighted_nodes"] / runs) if runs else None,
        "estimatedAvgPoints": (row["weighted_points"] / with_points) if with_points else None,
        "estimatedSumPoints": float(row["weighted_points"] or 0),
    }


def sample_durations(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = SAMPLE_CAP,
) -> list[float]:
    """Return the durations of the most recent rows, bounded at 1000."""
    queryset = execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
    return list(
        queryset.order_by("-created_at").values_list("duration_ms", flat=True)[
            : min(limit, SAMPLE_CAP)
        ]
    )


def sample_points(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = SAMPLE_CAP,
) -> list[float]:
    """Return awarded points of the most recent rows (failures have none), bounded at 1000."""
    queryset = execution_logs_for(
        strategy_id=strategy_id, realm=realm, since=since, until=until
    ).filter(points__isnull=False)
    return list(
        queryset.order_by("-created_at").values_list("points", flat=True)[: min(limit, SAMPLE_CAP)]
    )


# -- percentiles ----------------------------------------------------------------------------


def weighted_percentiles(
    values: list[tuple[float, float]], fractions: tuple[float, ...] = PERCENTILES
) -> dict[float, float | None]:
    """Return ``percentile_cont`` of ``(value, weight)`` pairs as if each value were repeated
    ``weight`` times (with weights all 1 this is exactly ``percentile_cont``)."""
    pairs = sorted(values)
    total = sum(weight for _, weight in pairs)
    if not pairs or total <= 0:
        return dict.fromkeys(fractions)
    cumulative = []
    running = 0.0
    for value, weight in pairs:
        running += weight
        cumulative.append((running, value))

    def at(k: float) -> float:
        for cw, value in cumulative:
            if cw > k + _EPSILON:
                return value
        return cumulative[-1][1]

    result: dict[float, float | None] = {}
    for fraction in fractions:
        position = fraction * max(total - 1, 0)
        low, high = math.floor(position), math.ceil(position)
        low_value, high_value = at(low), at(high)
        result[fraction] = low_value + (high_value - low_value) * (position - low)
    return result


def duration_percentiles(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    fractions: tuple[float, ...] = PERCENTILES,
) -> dict[float, float | None]:
    """Return sampling-corrected duration percentiles over the whole window.

    On PostgreSQL one query: a running sum of weights in duration order, then the value at
    each percentile's position, interpolated like ``percentile_cont``. Elsewhere (SQLite)
    the same computation in Python.
    """
    queryset = (
        execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
        .order_by()
        .annotate(w=_weight())
        .values_list("duration_ms", "w")
    )
    if connection.vendor != "postgresql":
        return weighted_percentiles(list(queryset), fractions)
    inner, params = queryset.query.sql_with_params()
    selects = []
    select_params: list[Any] = []
    for fraction in fractions:
        selects.append(
            "MIN(v) FILTER (WHERE cw > FLOOR(%s * GREATEST(tw - 1, 0)) + %s), "
            "MIN(v) FILTER (WHERE cw > CEIL(%s * GREATEST(tw - 1, 0)) + %s)"
        )
        select_params += [fraction, _EPSILON, fraction, _EPSILON]
    sql = (
        f"SELECT {', '.join(selects)}, MAX(v), MAX(tw) FROM ("
        "SELECT v, SUM(w) OVER (ORDER BY v ROWS UNBOUNDED PRECEDING) AS cw, "
        "SUM(w) OVER () AS tw "
        f"FROM (SELECT q.duration_ms AS v, q.w AS w FROM ({inner}) q) r) s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*select_params, *params])
        row = cursor.fetchone()
    total = row[-1]
    if not total:
        return dict.fromkeys(fractions)
    result: dict[float, float | None] = {}
    for index, fraction in enumerate(fractions):
        low_value, high_value = row[2 * index], row[2 * index + 1]
        low_value = row[-2] if low_value is None else low_value
        high_value = row[-2] if high_value is None else high_value
        position = fraction * max(total - 1, 0)
        result[fraction] = low_value + (high_value - low_value) * (position - math.floor(position))
    return result


# -- histograms and series ------------------------------------------------------------------


def duration_histogram(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Return rows and estimated runs per duration bucket (upper edges in ms, last is +Inf)."""
    weight = _weight()
    aggregates: dict[str, Any] = {}
    lower = None
    edges: list[float | None] = [*DURATION_EDGES_MS, None]
    for index, upper in enumerate(edges):
        condition = Q()
        if lower is not None:
            condition &= Q(duration_ms__gt=lower)
        if upper is not None:
            condition &= Q(duration_ms__lte=upper)
        aggregates[f"r{index}"] = Count("id", filter=condition)
        aggregates[f"w{index}"] = Sum(weight, filter=condition)
        lower = upper
    row = execution_logs_for(
        strategy_id=strategy_id, realm=realm, since=since, until=until
    ).aggregate(**aggregates)
    return [
        {
            "leMs": upper,
            "rows": row[f"r{index}"],
            "estimated": float(row[f"w{index}"] or 0),
        }
        for index, upper in enumerate(edges)
    ]


def points_histogram(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bins: int = POINTS_BINS,
) -> list[dict[str, Any]]:
    """Return rows and estimated runs in equal-width bins between the min and max points."""
    queryset = execution_logs_for(
        strategy_id=strategy_id, realm=realm, since=since, until=until, status="ok"
    ).filter(points__isnull=False)
    bounds = queryset.aggregate(low=Min("points"), high=Max("points"))
    low, high = bounds["low"], bounds["high"]
    if low is None:
        return []
    if high == low:
        bins = 1
    width = (high - low) / bins if high > low else 1.0
    weight = _weight()
    aggregates: dict[str, Any] = {}
    for index in range(bins):
        start = low + index * width
        condition = Q(points__gte=start)
        if index < bins - 1:
            condition &= Q(points__lt=start + width)
        aggregates[f"r{index}"] = Count("id", filter=condition)
        aggregates[f"w{index}"] = Sum(weight, filter=condition)
    row = queryset.aggregate(**aggregates)
    return [
        {
            "from": low + index * width,
            "to": high if index == bins - 1 else low + (index + 1) * width,
            "rows": row[f"r{index}"],
            "estimated": float(row[f"w{index}"] or 0),
        }
        for index in range(bins)
    ]


def series_bucket(since: datetime, until: datetime) -> str:
    """Return the series resolution of a window: hours up to two days, else days."""
    return "hour" if until - since <= timedelta(days=2) else "day"


def time_series(
    *,
    strategy_id: str,
    realm: Realm | None = None,
    since: datetime,
    until: datetime,
    bucket: str | None = None,
) -> list[dict[str, Any]]:
    """Return rows, estimated runs and failures, and mean duration per time bucket."""
    bucket = bucket or series_bucket(since, until)
    weight = _weight()
    failed = ~Q(status=ExecutionStatus.OK)
    rows = (
        execution_logs_for(strategy_id=strategy_id, realm=realm, since=since, until=until)
        .order_by()
        .annotate(at=Trunc("created_at", bucket))
        .values("at")
        .annotate(
            rows=Count("id"),
            estimated=Sum(weight),
            errors=Sum(weight, filter=failed),
            weighted_duration=Sum(weight * F("duration_ms")),
        )
        .order_by("at")
    )
    result = []
    for row in rows:
        runs = float(row["estimated"] or 0)
        errors = float(row["errors"] or 0)
        result.append(
            {
                "at": row["at"],
                "rows": row["rows"],
                "estimatedRuns": runs,
                "estimatedErrors": errors,
                "errorRate": errors / runs if runs else None,
                "avgDurationMs": row["weighted_duration"] / runs if runs else None,
            }
        )
    return result


# -- the dashboard payload ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime


def execution_log_stats(
    *, strategy_id: str, realm: Realm | None, since: datetime, until: datetime
) -> dict[str, Any]:
    """Return every dashboard figure of one strategy over ``[since, until)``."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The window is sorted (percentiles) and grouped in memory, not on disk.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '64MB'")
            return _stats_postgres(strategy_id=strategy_id, realm=realm, since=since, until=until)
        return _stats(strategy_id=strategy_id, realm=realm, since=since, until=until)


def _stats(
    *, strategy_id: str, realm: Realm | None, since: datetime, until: datetime
) -> dict[str, Any]:
    scope = {"strategy_id": strategy_id, "realm": realm, "since": since, "until": until}
    return _stats_payload(
        strategy_id=strategy_id,
        since=since,
        until=until,
        by_status=estimate_by_status(**scope),
        summary=duration_and_nodes_summary(**scope),
        percentiles=duration_percentiles(**scope),
        duration_histogram=duration_histogram(**scope),
        points_histogram=points_histogram(**scope),
        top_errors=count_by_error_code(**scope),
        top_cases=count_by_case_name(**scope),
        series=time_series(**scope),
    )


def _stats_payload(
    *,
    strategy_id: str,
    since: datetime,
    until: datetime,
    by_status: dict[str, dict[str, float]],
    summary: dict[str, Any],
    percentiles: dict[float, float | None],
    duration_histogram: list[dict[str, Any]],
    points_histogram: list[dict[str, Any]],
    top_errors: list[dict[str, Any]],
    top_cases: list[dict[str, Any]],
    series: list[dict[str, Any]],
) -> dict[str, Any]:
    runs = sum(entry["estimated"] for entry in by_status.values())
    ok_runs = by_status.get("ok", {}).get("estimated", 0.0)
    rows = sum(int(entry["rows"]) for entry in by_status.values())
    status_mix = {
        status: {
            "rows": int(by_status.get(status, {}).get("rows", 0)),
            "estimated": by_status.get(status, {}).get("estimated", 0.0),
            "share": (by_status.get(status, {}).get("estimated", 0.0) / runs) if runs else None,
        }
        for status in STATUSES
    }
    return {
        "strategyId": strategy_id,
        "since": since,
        "until": until,
        "bucket": series_bucket(since, until),
        "rows": rows,
        "estimatedRuns": runs,
        "statusMix": status_mix,
        "successRate": ok_runs / runs if runs else None,
        "errorRate": (runs - ok_runs) / runs if runs else None,
        "durationMs": {
            "p50": percentiles[0.5],
            "p95": percentiles[0.95],
            "p99": percentiles[0.99],
            "avg": summary["estimatedAvgDurationMs"],
            "min": summary["minDurationMs"],
            "max": summary["maxDurationMs"],
        },
        "points": {
            "avg": summary["estimatedAvgPoints"],
            "estimatedSum": summary["estimatedSumPoints"],
            "rowsSum": summary["sumPoints"],
        },
        "nodes": {
            "avg": summary["estimatedAvgNodes"],
            "max": summary["maxNodes"],
        },
        "durationHistogram": duration_histogram,
        "pointsHistogram": points_histogram,
        "topErrors": top_errors,
        "topCases": top_cases,
        "series": series,
    }


_STATS_SQL = """
WITH w AS MATERIALIZED (
    SELECT q.status, q.error_code, q.case_name, q.points, q.duration_ms, q.nodes_executed,
           q.created_at,
           CASE WHEN q.sampled AND q.sample_rate > 0 THEN 1.0 / q.sample_rate ELSE 1.0 END AS w
    FROM ({inner}) q
), ordered AS (
    SELECT duration_ms AS v, SUM(w) OVER (ORDER BY duration_ms ROWS UNBOUNDED PRECEDING) AS cw,
           SUM(w) OVER () AS tw
    FROM w
), bounds AS (
    SELECT MIN(points) AS lo, MAX(points) AS hi FROM w WHERE status = 'ok' AND points IS NOT NULL
)
SELECT
  (SELECT json_agg(json_build_array(status, n, e)) FROM
     (SELECT status, COUNT(*) AS n, SUM(w) AS e FROM w GROUP BY status) s),
  (SELECT json_build_array(
      COUNT(*), MIN(duration_ms), MAX(duration_ms), SUM(duration_ms), MAX(nodes_executed),
      SUM(points), SUM(w), SUM(w * duration_ms), SUM(w * nodes_executed),
      SUM(w * points) FILTER (WHERE status = 'ok' AND points IS NOT NULL),
      SUM(w) FILTER (WHERE status = 'ok' AND points IS NOT NULL),
      MIN(nodes_executed), AVG(duration_ms), AVG(nodes_executed)) FROM w),
  (SELECT json_build_array({percentiles} MAX(v), MAX(tw)) FROM ordered),
  (SELECT json_agg(json_build_array(b, n, e)) FROM
     (SELECT width_bucket(-duration_ms, %s::float8[]) AS b, COUNT(*) AS n, SUM(w) AS e
      FROM w GROUP BY 1) h),
  (SELECT json_build_array(lo, hi) FROM bounds),
  (SELECT json_agg(json_build_array(b, n, e)) FROM
     (SELECT LEAST(FLOOR((points - bounds.lo) / NULLIF(bounds.hi - bounds.lo, 0) * %s), %s - 1)
             AS b, COUNT(*) AS n, SUM(w) AS e
      FROM w, bounds WHERE status = 'ok' AND points IS NOT NULL GROUP BY 1) p),
  (SELECT json_agg(json_build_array(error_code, n, e)) FROM
     (SELECT error_code, COUNT(*) AS n, SUM(w) AS e FROM w WHERE status <> 'ok'
      GROUP BY error_code ORDER BY n DESC, error_code LIMIT 10) x),
  (SELECT json_agg(json_build_array(case_name, n, e)) FROM
     (SELECT case_name, COUNT(*) AS n, SUM(w) AS e FROM w WHERE status = 'ok'
      GROUP BY case_name ORDER BY e DESC, case_name LIMIT 10) c),
  (SELECT json_agg(json_build_array(at, n, e, f, d) ORDER BY at) FROM
     (SELECT date_trunc(%s, created_at AT TIME ZONE 'UTC') AS at, COUNT(*) AS n, SUM(w) AS e,
             COALESCE(SUM(w) FILTER (WHERE status <> 'ok'), 0) AS f, SUM(w * duration_ms) AS d
      FROM w GROUP BY 1) t)
"""


def _stats_postgres(
    *, strategy_id: str, realm: Realm | None, since: datetime, until: datetime
) -> dict[str, Any]:
    """The figures of :func:`_stats` in one statement: the window is read from the table once
    (narrow columns, materialised), then grouped and sorted in memory."""
    queryset = execution_logs_for(
        strategy_id=strategy_id, realm=realm, since=since, until=until
    ).order_by()
    inner, inner_params = queryset.query.sql_with_params()
    percentile_sql = []
    percentile_params: list[Any] = []
    for fraction in PERCENTILES:
        percentile_sql.append(
            "MIN(v) FILTER (WHERE cw > FLOOR(%s * GREATEST(tw - 1, 0)) + %s), "
            "MIN(v) FILTER (WHERE cw > CEIL(%s * GREATEST(tw - 1, 0)) + %s),"
        )
        percentile_params += [fraction, _EPSILON, fraction, _EPSILON]
    bucket = series_bucket(since, until)
    sql = _STATS_SQL.format(inner=inner, percentiles=" ".join(percentile_sql))
    params = [
        *inner_params,
        *percentile_params,
        [-edge for edge in reversed(DURATION_EDGES_MS)],
        POINTS_BINS,
        POINTS_BINS,
        bucket,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    status_rows, summary, pct_row, dur_rows, bounds, point_rows, errors, cases, series = [
        json.loads(value) if isinstance(value, str) else value for value in row
    ]
    by_status = {status: {"rows": n, "estimated": float(e)} for status, n, e in status_rows or []}
    _, min_d, max_d, _, max_n, sum_p, runs, wd, wn, wp, wpw, *_ = summary
    runs = float(runs or 0)
    percentiles: dict[float, float | None] = dict.fromkeys(PERCENTILES)
    total = pct_row[-1]
    if total:
        for index, fraction in enumerate(PERCENTILES):
            low_value = pct_row[2 * index]
            high_value = pct_row[2 * index + 1]
            low_value = pct_row[-2] if low_value is None else low_value
            high_value = pct_row[-2] if high_value is None else high_value
            position = fraction * max(total - 1, 0)
            percentiles[fraction] = low_value + (high_value - low_value) * (
                position - math.floor(position)
            )
    # Bucketing -duration over the negated edges gives (lower, upper] buckets, counted from
    # the top: 0 is above the last edge, len(edges) is at or below the first.
    durations = {len(DURATION_EDGES_MS) - b: (n, float(e)) for b, n, e in dur_rows or []}
    edges: list[float | None] = [*DURATION_EDGES_MS, None]
    duration_histogram_rows = [
        {
            "leMs": upper,
            "rows": durations.get(index, (0, 0.0))[0],
            "estimated": durations.get(index, (0, 0.0))[1],
        }
        for index, upper in enumerate(edges)
    ]
    lo, hi = bounds if bounds else (None, None)
    points_rows: list[dict[str, Any]] = []
    if lo is not None:
        bins = POINTS_BINS if hi > lo else 1
        width = (hi - lo) / bins if hi > lo else 1.0
        counts = {int(b or 0): (n, float(e)) for b, n, e in point_rows or []}
        points_rows = [
            {
                "from": lo + index * width,
                "to": hi if index == bins - 1 else lo + (index + 1) * width,
                "rows": counts.get(index, (0, 0.0))[0],
                "estimated": counts.get(index, (0, 0.0))[1],
            }
            for index in range(bins)
        ]
    summary_dict = {
        "minDurationMs": min_d,
        "maxDurationMs": max_d,
        "maxNodes": max_n,
        "sumPoints": sum_p,
        "estimatedAvgDurationMs": wd / runs if runs else None,
        "estimatedAvgNodes": wn / runs if runs else None,
        "estimatedAvgPoints": wp / wpw if wpw else None,
        "estimatedSumPoints": float(wp or 0),
    }
    series_rows = []
    for at, n, e, f, d in series or []:
        moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
        e, f = float(e), float(f)
        series_rows.append(
            {
                "at": moment,
                "rows": n,
                "estimatedRuns": e,
                "estimatedErrors": f,
                "errorRate": f / e if e else None,
                "avgDurationMs": d / e if e else None,
            }
        )
    return _stats_payload(
        strategy_id=strategy_id,
        since=since,
        until=until,
        by_status=by_status,
        summary=summary_dict,
        percentiles=percentiles,
        duration_histogram=duration_histogram_rows,
        points_histogram=points_rows,
        top_errors=[
            {"errorCode": code, "count": n, "estimated": float(e)} for code, n, e in errors or []
        ],
        top_cases=[
            {"caseName": case, "count": n, "estimated": float(e)} for case, n, e in cases or []
        ],
        series=series_rows,
    )


#: Figures compared between two strategies (B - A).
COMPARED = (
    ("estimatedRuns",),
    ("successRate",),
    ("errorRate",),
    ("durationMs", "p50"),
    ("durationMs", "p95"),
    ("durationMs", "p99"),
    ("durationMs", "avg"),
    ("points", "avg"),
    ("nodes", "avg"),
    ("nodes", "max"),
)


def execution_log_compare(*, a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
    """Return B - A of each compared figure (None when either side has no value)."""
    deltas: dict[str, float | None] = {}
    for path in COMPARED:
        left: Any = a
        right: Any = b
        for key in path:
            left = left.get(key) if isinstance(left, dict) else None
            right = right.get(key) if isinstance(right, dict) else None
        name = path[0] if len(path) == 1 else path[0] + path[1][0].upper() + path[1][1:]
        deltas[name] = (right - left) if left is not None and right is not None else None
    return deltas
