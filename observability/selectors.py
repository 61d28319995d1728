"""Reads of execution logs: the runbook listing and the dashboard figures.

Rows are a biased sample: every failure is kept, ok runs only at ``sample_rate``. Estimates
weight each row by the number of runs it stands for (``1 / sample_rate`` for a sampled ok
row, 1 for a failure), so that a 1 % failure rate shows as 1 % and not as 17 %; raw row
counts are returned beside them.

A strategy is addressed by ``custom:<uuid>`` / ``<uuid>`` (a custom strategy version) or by
a built-in id. A custom version matches the rows of runs of that version (``definition_id``;
rows that do not know their version are stored with their bound id's UUID there).
"""

from __future__ import annotations

import bisect
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from gamification.models import Realm
from gamification.strategy_ids import strategy_uuid
from observability import sql
from observability.metrics import DURATION_BUCKETS
from observability.models import ExecutionStatus, StrategyExecutionLog
from observability.percentiles import PERCENTILES, percentile_interpolate, weighted_percentiles
from observability.stats import (
    CaseCount,
    DurationBucket,
    DurationFigures,
    ErrorCount,
    ExecutionLogStats,
    NodesFigures,
    PointsBucket,
    PointsFigures,
    SeriesPoint,
    StatsDelta,
    StatusShare,
)

LIST_CAP = 200
#: Duration histogram edges in ms: the Prometheus buckets, so both views line up.
DURATION_EDGES_MS = tuple(round(bucket * 1000, 3) for bucket in DURATION_BUCKETS)
POINTS_BINS = 10
TOP = 10
STATUSES = tuple(ExecutionStatus.values)


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
    realm_ids: Collection[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> QuerySet[StrategyExecutionLog]:
    """Return one strategy's rows in ``[since, until)``, optionally of one status.

    ``realm`` keeps one realm's rows, ``realm_ids`` those of a set of realms (an empty set
    keeps none); given both, a row must satisfy both. Neither: every realm.
    """
    queryset = StrategyExecutionLog.objects.filter(strategy_q(strategy_id))
    if realm is not None:
        queryset = queryset.filter(realm_id=realm.pk)
    if realm_ids is not None:
        queryset = queryset.filter(realm_id__in=sorted(realm_ids)) if realm_ids else queryset.none()
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def execution_log_exists(
    *, strategy_id: str, realm: Realm | None = None, realm_ids: Collection[int] | None = None
) -> bool:
    return execution_logs_for(strategy_id=strategy_id, realm=realm, realm_ids=realm_ids).exists()


def execution_log_get(
    *, strategy_id: str, realm: Realm, log_id: uuid.UUID | str
) -> StrategyExecutionLog | None:
    return execution_logs_for(strategy_id=strategy_id, realm=realm).filter(pk=log_id).first()


def execution_log_find(*, realm: Realm, log_id: str) -> StrategyExecutionLog | None:
    """Return one of the realm's logs, of any strategy, by its id as a URL carries it."""
    try:
        pk = uuid.UUID(log_id)
    except ValueError:
        return None
    return StrategyExecutionLog.objects.select_related("realm").filter(realm=realm, pk=pk).first()


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


# -- what the dashboards list and filter by --------------------------------------------------


def realm_get(*, realm_id: str, realm_ids: Collection[int] | None = None) -> Realm | None:
    """Return the realm of an id as a query string carries it, if among ``realm_ids``.

    None when there is no such realm or it is not among ``realm_ids`` (None: any realm).
    """
    if not realm_id.isdigit() or (realm_ids is not None and int(realm_id) not in realm_ids):
        return None
    return Realm.objects.filter(pk=int(realm_id)).first()


def custom_strategy_exists(*, realm: Realm, definition_id: uuid.UUID) -> bool:
    """Return whether the realm has that custom strategy version."""
    from strategies.models import StrategyDefinition

    return StrategyDefinition.objects.filter(pk=definition_id, realm=realm).exists()


class DashboardEntry(TypedDict):
    id: str
    name: str
    version: int
    status: str
    realm: str


def strategy_dashboard_list(
    *, realm_ids: Collection[int] | None = None, limit: int = 500
) -> list[DashboardEntry]:
    """Return the custom strategy versions that have a dashboard, by realm, name, version.

    Only those of ``realm_ids`` (None: of every realm).
    """
    from strategies.models import StrategyDefinition

    definitions = StrategyDefinition.objects.all()
    if realm_ids is not None:
        definitions = definitions.filter(realm_id__in=sorted(realm_ids))
    rows = definitions.order_by("realm__slug", "name", "-version").values(
        "pk", "name", "version", "status", "realm__slug"
    )[:limit]
    return [
        DashboardEntry(
            id=str(row["pk"]),
            name=row["name"],
            version=row["version"],
            status=row["status"],
            realm=row["realm__slug"],
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class StrategyLabel:
    """What a page calls a custom strategy version, and the realm it belongs to."""

    label: str
    realm_id: int


def strategy_labels(
    *, definition_ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, StrategyLabel]:
    """Return ``name vN`` and the realm of each custom strategy version that still exists.

    One query for however many ids (a changelist page's rows).
    """
    from strategies.models import StrategyDefinition

    wanted = sorted({pk for pk in definition_ids if pk is not None})
    if not wanted:
        return {}
    rows = StrategyDefinition.objects.filter(pk__in=wanted).values_list(
        "pk", "name", "version", "realm_id"
    )
    return {
        pk: StrategyLabel(label=f"{name} v{version}", realm_id=realm_id)
        for pk, name, version, realm_id in rows
    }


# -- the dashboard figures -------------------------------------------------------------------


def series_bucket(since: datetime, until: datetime) -> str:
    """Return the series resolution of a window: hours up to two days, else days."""
    return "hour" if until - since <= timedelta(days=2) else "day"


def execution_log_stats(
    *,
    strategy_id: str,
    realm: Realm | None,
    realm_ids: Collection[int] | None = None,
    since: datetime,
    until: datetime,
) -> ExecutionLogStats:
    """Return every dashboard figure of one strategy over ``[since, until)``.

    Over the rows of ``realm`` and of ``realm_ids``, as :func:`execution_logs_for` scopes them.

    On PostgreSQL one statement computes them (:mod:`observability.sql`); elsewhere (the
    SQLite demo) the same computation runs in Python over the window's rows.
    """
    queryset = execution_logs_for(
        strategy_id=strategy_id, realm=realm, realm_ids=realm_ids, since=since, until=until
    )
    bucket = series_bucket(since, until)
    with transaction.atomic():
        # An empty realm set leaves a query with nothing to run (the SQL cannot be compiled);
        # the Python path reads no rows for it.
        if connection.vendor == "postgresql" and not queryset.query.is_empty():
            figures = _figures_sql(queryset, bucket=bucket)
        else:
            figures = _figures_python(queryset, bucket=bucket)
    return _stats_build(figures, strategy_id=strategy_id, since=since, until=until, bucket=bucket)


@dataclass(slots=True)
class _Figures:
    """The raw figures of a window, however computed; :func:`_stats_build` shapes them."""

    #: status -> (rows, estimated runs)
    by_status: dict[str, tuple[int, float]]
    min_duration: float | None
    max_duration: float | None
    max_nodes: int | None
    sum_points: float | None
    estimated_runs: float
    weighted_duration: float | None
    weighted_nodes: float | None
    #: Over ok rows with points.
    weighted_points: float | None
    weight_with_points: float | None
    percentiles: dict[float, float | None]
    #: index into DURATION_EDGES_MS (len: above the last) -> (rows, estimated runs)
    durations: dict[int, tuple[int, float]]
    points_bounds: tuple[float, float] | None
    #: index of the equal-width points bin -> (rows, estimated runs)
    points: dict[int, tuple[int, float]]
    #: (value, rows, estimated runs), the most frequent first
    errors: list[tuple[str | None, int, float]]
    cases: list[tuple[str | None, int, float]]
    #: (bucket start, rows, estimated runs, estimated failures, weighted duration)
    series: list[tuple[datetime, int, float, float, float]]


def _figures_sql(queryset: QuerySet[StrategyExecutionLog], *, bucket: str) -> _Figures:
    values = sql.stats_fetch(
        queryset=queryset,
        fractions=PERCENTILES,
        negated_edges=[-edge for edge in reversed(DURATION_EDGES_MS)],
        points_bins=POINTS_BINS,
        top=TOP,
        bucket=bucket,
    )
    status_rows, summary, ranks, dur_rows, bounds, point_rows, errors, cases, series = [
        json.loads(value) if isinstance(value, str) else value for value in values
    ]
    min_d, max_d, max_n, sum_p, runs, wd, wn, wp, wpw = summary
    total, largest = ranks[-1], ranks[-2]
    percentiles: dict[float, float | None] = dict.fromkeys(PERCENTILES)
    if total:
        for index, fraction in enumerate(PERCENTILES):
            low, high = ranks[2 * index], ranks[2 * index + 1]
            percentiles[fraction] = percentile_interpolate(
                fraction=fraction,
                total=total,
                low=largest if low is None else low,
                high=largest if high is None else high,
            )
    lo, hi = bounds if bounds else (None, None)
    return _Figures(
        by_status={status: (n, float(e)) for status, n, e in status_rows or []},
        min_duration=min_d,
        max_duration=max_d,
        max_nodes=max_n,
        sum_points=sum_p,
        estimated_runs=float(runs or 0),
        weighted_duration=wd,
        weighted_nodes=wn,
        weighted_points=wp,
        weight_with_points=wpw,
        percentiles=percentiles,
        # Bucketing -duration over the negated edges gives (lower, upper] buckets, counted
        # from the top: 0 is above the last edge, len(edges) is at or below the first.
        durations={len(DURATION_EDGES_MS) - b: (n, float(e)) for b, n, e in dur_rows or []},
        points_bounds=(lo, hi) if lo is not None and hi is not None else None,
        points={int(b or 0): (n, float(e)) for b, n, e in point_rows or []},
        errors=[(code, n, float(e)) for code, n, e in errors or []],
        cases=[(case, n, float(e)) for case, n, e in cases or []],
        series=[
            (datetime.fromisoformat(at).replace(tzinfo=UTC), n, float(e), float(f), d)
            for at, n, e, f, d in series or []
        ],
    )


def _weight(sampled: bool, sample_rate: float) -> float:
    """Return how many runs a row stands for."""
    return 1.0 / sample_rate if sampled and sample_rate > 0 else 1.0


def _sum(values: Iterable[float]) -> float | None:
    """``SUM``: None over no values."""
    values = list(values)
    return math.fsum(values) if values else None


def _counted(
    pairs: Iterable[tuple[Any, float]],
) -> dict[Any, tuple[int, float]]:
    counts: dict[Any, list[float]] = defaultdict(lambda: [0, 0.0])
    for key, weight in pairs:
        counts[key][0] += 1
        counts[key][1] += weight
    return {key: (int(n), e) for key, (n, e) in counts.items()}


def _nulls_last(value: str | None) -> tuple[bool, str]:
    return value is None, value or ""


def _figures_python(queryset: QuerySet[StrategyExecutionLog], *, bucket: str) -> _Figures:
    """The figures of :func:`_figures_sql`, computed the same way over the loaded rows."""
    rows = [
        (status, code, case, points, duration, nodes, created_at, _weight(sampled, rate))
        for status, code, case, points, duration, nodes, created_at, sampled, rate in (
            queryset.order_by().values_list(*sql.STATS_FIELDS)
        )
    ]
    with_points = [(row[3], row[7]) for row in rows if row[0] == "ok" and row[3] is not None]
    bounds = (
        (min(p for p, _ in with_points), max(p for p, _ in with_points)) if with_points else None
    )
    points: dict[int, tuple[int, float]] = {}
    if bounds is not None:
        lo, hi = bounds
        points = _counted(
            (
                min(math.floor((p - lo) / (hi - lo) * POINTS_BINS), POINTS_BINS - 1)
                if hi > lo
                else 0,
                w,
            )
            for p, w in with_points
        )
    errors = _counted((row[1], row[7]) for row in rows if row[0] != "ok")
    cases = _counted((row[2], row[7]) for row in rows if row[0] == "ok")
    series: dict[datetime, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for status, _, _, _, duration, _, created_at, weight in rows:
        at = _truncate(created_at, bucket)
        series[at][0] += 1
        series[at][1] += weight
        series[at][2] += weight if status != "ok" else 0.0
        series[at][3] += weight * duration
    return _Figures(
        by_status=_counted((row[0], row[7]) for row in rows),
        min_duration=min((row[4] for row in rows), default=None),
        max_duration=max((row[4] for row in rows), default=None),
        max_nodes=max((row[5] for row in rows), default=None),
        sum_points=_sum(row[3] for row in rows if row[3] is not None),
        estimated_runs=math.fsum(row[7] for row in rows),
        weighted_duration=_sum(row[7] * row[4] for row in rows),
        weighted_nodes=_sum(row[7] * row[5] for row in rows),
        weighted_points=_sum(p * w for p, w in with_points),
        weight_with_points=_sum(w for _, w in with_points),
        percentiles=weighted_percentiles((row[4], row[7]) for row in rows),
        durations=_counted((bisect.bisect_left(DURATION_EDGES_MS, row[4]), row[7]) for row in rows),
        points_bounds=bounds,
        points=points,
        errors=sorted(
            ((code, n, e) for code, (n, e) in errors.items()),
            key=lambda item: (-item[1], _nulls_last(item[0])),
        )[:TOP],
        cases=sorted(
            ((case, n, e) for case, (n, e) in cases.items()),
            key=lambda item: (-item[2], _nulls_last(item[0])),
        )[:TOP],
        series=[(at, int(n), e, f, d) for at, (n, e, f, d) in sorted(series.items())],
    )


def _truncate(moment: datetime, bucket: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if bucket == "day" else moment


def _ratio(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None


def _stats_build(
    figures: _Figures, *, strategy_id: str, since: datetime, until: datetime, bucket: str
) -> ExecutionLogStats:
    by_status = figures.by_status
    runs = sum(estimated for _, estimated in by_status.values())
    ok_runs = by_status.get("ok", (0, 0.0))[1]
    estimated_runs = figures.estimated_runs
    edges: list[float | None] = [*DURATION_EDGES_MS, None]
    points_histogram: list[PointsBucket] = []
    if figures.points_bounds is not None:
        lo, hi = figures.points_bounds
        bins = POINTS_BINS if hi > lo else 1
        width = (hi - lo) / bins if hi > lo else 1.0
        points_histogram = [
            PointsBucket(
                start=lo + index * width,
                end=hi if index == bins - 1 else lo + (index + 1) * width,
                rows=figures.points.get(index, (0, 0.0))[0],
                estimated=figures.points.get(index, (0, 0.0))[1],
            )
            for index in range(bins)
        ]
    return ExecutionLogStats(
        strategy_id=strategy_id,
        since=since,
        until=until,
        bucket=bucket,
        rows=sum(int(rows) for rows, _ in by_status.values()),
        estimated_runs=runs,
        status_mix={
            status: StatusShare(
                rows=int(by_status.get(status, (0, 0.0))[0]),
                estimated=by_status.get(status, (0, 0.0))[1],
                share=(by_status.get(status, (0, 0.0))[1] / runs) if runs else None,
            )
            for status in STATUSES
        },
        success_rate=ok_runs / runs if runs else None,
        error_rate=(runs - ok_runs) / runs if runs else None,
        duration_ms=DurationFigures(
            p50=figures.percentiles[0.5],
            p95=figures.percentiles[0.95],
            p99=figures.percentiles[0.99],
            avg=_ratio(figures.weighted_duration, estimated_runs),
            min=figures.min_duration,
            max=figures.max_duration,
        ),
        points=PointsFigures(
            avg=_ratio(figures.weighted_points, figures.weight_with_points),
            estimated_sum=float(figures.weighted_points or 0),
            rows_sum=figures.sum_points,
        ),
        nodes=NodesFigures(
            avg=_ratio(figures.weighted_nodes, estimated_runs), max=figures.max_nodes
        ),
        duration_histogram=[
            DurationBucket(
                le_ms=upper,
                rows=figures.durations.get(index, (0, 0.0))[0],
                estimated=figures.durations.get(index, (0, 0.0))[1],
            )
            for index, upper in enumerate(edges)
        ],
        points_histogram=points_histogram,
        top_errors=[ErrorCount(error_code=c, count=n, estimated=e) for c, n, e in figures.errors],
        top_cases=[CaseCount(case_name=c, count=n, estimated=e) for c, n, e in figures.cases],
        series=[
            SeriesPoint(
                at=at,
                rows=n,
                estimated_runs=e,
                estimated_errors=f,
                error_rate=f / e if e else None,
                avg_duration_ms=d / e if e else None,
            )
            for at, n, e, f, d in figures.series
        ],
    )


def _minus(b: float | None, a: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def execution_log_compare(*, a: ExecutionLogStats, b: ExecutionLogStats) -> StatsDelta:
    """Return B - A of each compared figure (None when either side has no value)."""
    return StatsDelta(
        estimated_runs=_minus(b.estimated_runs, a.estimated_runs),
        success_rate=_minus(b.success_rate, a.success_rate),
        error_rate=_minus(b.error_rate, a.error_rate),
        duration_ms_p50=_minus(b.duration_ms.p50, a.duration_ms.p50),
        duration_ms_p95=_minus(b.duration_ms.p95, a.duration_ms.p95),
        duration_ms_p99=_minus(b.duration_ms.p99, a.duration_ms.p99),
        duration_ms_avg=_minus(b.duration_ms.avg, a.duration_ms.avg),
        points_avg=_minus(b.points.avg, a.points.avg),
        nodes_avg=_minus(b.nodes.avg, a.nodes.avg),
        nodes_max=_minus(b.nodes.max, a.nodes.max),
    )
