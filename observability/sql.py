"""The raw SQL of the execution-log reads (PostgreSQL), named from the model's metadata.

Everything else in the app reads through the ORM; this statement exists because the
dashboard's figures over a 30-day window must come from one pass over the table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, QuerySet

from observability.bins import PointsRange
from observability.models import StrategyExecutionLog
from observability.percentiles import EPSILON

#: The fields the statistics read, in this order (the covering indexes hold them).
STATS_FIELDS = (
    "status",
    "error_code",
    "case_name",
    "points",
    "duration_ms",
    "nodes_executed",
    "created_at",
    "sampled",
    "sample_rate",
)

_STATS_SQL = """
WITH w AS MATERIALIZED (
    SELECT q.{status} AS status, q.{error_code} AS error_code, q.{case_name} AS case_name,
           q.{points} AS points, q.{duration_ms} AS duration_ms,
           q.{nodes_executed} AS nodes_executed, q.{created_at} AS created_at,
           CASE WHEN q.{sampled} AND q.{sample_rate} > 0 THEN 1.0 / q.{sample_rate} ELSE 1.0 END
             AS w
    FROM ({inner}) q
), ordered AS (
    SELECT duration_ms AS v, SUM(w) OVER (ORDER BY duration_ms ROWS UNBOUNDED PRECEDING) AS cw,
           SUM(w) OVER () AS tw
    FROM w
), bounds AS (
    SELECT MIN(points) AS lo, MAX(points) AS hi, bool_and(points = floor(points)) AS integral
    FROM w WHERE status = 'ok' AND points IS NOT NULL
), forced AS (
    SELECT COALESCE(%s::float8, lo) AS lo, COALESCE(%s::float8, hi) AS hi,
           COALESCE(%s::boolean, integral) AS integral
    FROM bounds
), spans AS (
    SELECT lo, hi, integral,
           CASE WHEN hi - lo <= 0 THEN 1.0::float8
                WHEN integral AND hi - lo < %s THEN 1.0::float8
                WHEN integral THEN CEIL((hi - lo) / %s)
                ELSE (hi - lo) / %s END AS width
    FROM forced
), bins AS (
    SELECT lo, width,
           CASE WHEN hi - lo <= 0 THEN 1
                WHEN integral THEN LEAST(FLOOR((hi - lo) / width) + 1, %s)
                ELSE %s END AS n
    FROM spans
)
SELECT
  (SELECT json_agg(json_build_array(status, n, e)) FROM
     (SELECT status, COUNT(*) AS n, SUM(w) AS e FROM w GROUP BY status) s),
  (SELECT json_build_array(
      MIN(duration_ms), MAX(duration_ms), MAX(nodes_executed), SUM(points), SUM(w),
      SUM(w * duration_ms), SUM(w * nodes_executed),
      SUM(w * points) FILTER (WHERE status = 'ok' AND points IS NOT NULL),
      SUM(w) FILTER (WHERE status = 'ok' AND points IS NOT NULL)) FROM w),
  (SELECT json_build_array({percentiles} MAX(v), MAX(tw)) FROM ordered),
  (SELECT json_agg(json_build_array(b, n, e)) FROM
     (SELECT width_bucket(-duration_ms, %s::float8[]) AS b, COUNT(*) AS n, SUM(w) AS e
      FROM w GROUP BY 1) h),
  (SELECT json_build_array(lo, hi, integral) FROM bounds),
  (SELECT json_agg(json_build_array(b, n, e)) FROM
     (SELECT LEAST(GREATEST(FLOOR((points - bins.lo) / bins.width), 0), bins.n - 1)
             AS b, COUNT(*) AS n, SUM(w) AS e
      FROM w, bins WHERE status = 'ok' AND points IS NOT NULL GROUP BY 1) p),
  (SELECT json_agg(json_build_array(error_code, n, e)) FROM
     (SELECT error_code, COUNT(*) AS n, SUM(w) AS e FROM w WHERE status <> 'ok'
      GROUP BY error_code ORDER BY n DESC, error_code LIMIT %s) x),
  (SELECT json_agg(json_build_array(case_name, n, e)) FROM
     (SELECT case_name, COUNT(*) AS n, SUM(w) AS e FROM w WHERE status = 'ok'
      GROUP BY case_name ORDER BY e DESC, case_name LIMIT %s) c),
  (SELECT json_agg(json_build_array(at, n, e, f, d) ORDER BY at) FROM
     (SELECT date_bin(%s::interval, created_at AT TIME ZONE 'UTC', %s::timestamp) AS at,
             COUNT(*) AS n, SUM(w) AS e,
             COALESCE(SUM(w) FILTER (WHERE status <> 'ok'), 0) AS f, SUM(w * duration_ms) AS d
      FROM w GROUP BY 1) t)
"""

#: The values at one percentile's floor and ceiling rank (see observability.percentiles).
_PERCENTILE_SQL = (
    "MIN(v) FILTER (WHERE cw > FLOOR(%s * GREATEST(tw - 1, 0)) + %s), "
    "MIN(v) FILTER (WHERE cw > CEIL(%s * GREATEST(tw - 1, 0)) + %s),"
)


def _column(name: str) -> str:
    field = StrategyExecutionLog._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise LookupError(f"{name!r} is not a column of {StrategyExecutionLog.__name__}")
    return connection.ops.quote_name(field.column)


def stats_work_mem_raise(cursor: CursorWrapper) -> None:
    """Let the stats statement sort and group a window in memory, for this transaction."""
    cursor.execute("SET LOCAL work_mem = '64MB'")


def stats_fetch(
    *,
    queryset: QuerySet[StrategyExecutionLog],
    fractions: tuple[float, ...],
    negated_edges: list[float],
    points_bins: int,
    points_range: PointsRange | None,
    top: int,
    bucket_width: timedelta,
    bucket_origin: datetime,
) -> tuple[Any, ...]:
    """Run the stats statement over the rows of ``queryset``; return its nine JSON values.

    The window is read from the table once (narrow columns, materialised), then grouped
    and sorted in memory: status counts, the summary, the percentile rank values, the
    duration buckets, the points bounds and buckets, top errors, top cases, the series.
    The points are binned as :func:`observability.bins.points_bins` bins them, over
    ``points_range`` if given, else over the window's own range.
    """
    inner, inner_params = queryset.order_by().query.sql_with_params()
    percentile_params: list[Any] = []
    for fraction in fractions:
        percentile_params += [fraction, EPSILON, fraction, EPSILON]
    sql = _STATS_SQL.format(
        inner=inner,
        percentiles=" ".join([_PERCENTILE_SQL] * len(fractions)),
        **{name: _column(name) for name in STATS_FIELDS},
    )
    forced = points_range
    params = [
        *inner_params,
        forced.lo if forced else None,
        forced.hi if forced else None,
        forced.integral if forced else None,
        *[points_bins] * 5,
        *percentile_params,
        negated_edges,
        top,
        top,
        bucket_width,
        bucket_origin.replace(tzinfo=None),
    ]
    with connection.cursor() as cursor:
        stats_work_mem_raise(cursor)
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())
