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
import itertools
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Floor

from gamification.models import Realm
from gamification.strategy_ids import strategy_uuid
from observability import sql
from observability.bins import POINTS_BINS, PointsBins, PointsRange, points_bins
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
from observability.windows import BUCKET_ORIGIN, SeriesBucket, series_bucket, series_starts

LIST_CAP = 200
#: Duration histogram edges in ms: the Prometheus buckets, so both views line up.
DURATION_EDGES_MS = tuple(round(bucket * 1000, 3) for bucket in DURATION_BUCKETS)
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
    definition_ids: Collection[uuid.UUID] | None = None,
    realm: Realm | None = None,
    realm_ids: Collection[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
) -> QuerySet[StrategyExecutionLog]:
    """Return one strategy's rows in ``[since, until)``, optionally of one status.

    ``definition_ids``, if given, keeps the runs of those custom versions (a family's)
    instead of those of ``strategy_id``. ``realm`` keeps one realm's rows, ``realm_ids``
    those of a set of realms (an empty set keeps none); given both, a row must satisfy both.
    Neither: every realm.
    """
    if definition_ids is not None:
        queryset = StrategyExecutionLog.objects.filter(definition_id__in=sorted(definition_ids))
    else:
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
    # isdigit() admits digits int() refuses (superscripts); a primary key has 19 digits at most.
    if not realm_id.isdecimal() or len(realm_id) > 19:
        return None
    if realm_ids is not None and int(realm_id) not in realm_ids:
        return None
    return Realm.objects.filter(pk=int(realm_id)).first()


def custom_strategy_exists(*, realm: Realm, definition_id: uuid.UUID) -> bool:
    """Return whether the realm has that custom strategy version."""
    from strategies.models import StrategyDefinition

    return StrategyDefinition.objects.filter(pk=definition_id, realm=realm).exists()


@dataclass(frozen=True, slots=True)
class FamilyVersion:
    id: uuid.UUID
    version: int
    #: DRAFT, PUBLISHED or ARCHIVED.
    status: str


@dataclass(frozen=True, slots=True)
class StrategyFamily:
    """A realm's custom strategy: the versions that share its name, newest first."""

    realm_id: int
    realm_slug: str
    name: str
    versions: tuple[FamilyVersion, ...]

    @property
    def key(self) -> uuid.UUID:
        """The id that links name the family by: its newest version's."""
        return self.versions[0].id

    @property
    def live(self) -> FamilyVersion | None:
        return next((v for v in self.versions if v.status == "PUBLISHED"), None)

    @property
    def definition_ids(self) -> list[uuid.UUID]:
        return [version.id for version in self.versions]

    def version_get(self, number: int) -> FamilyVersion | None:
        return next((v for v in self.versions if v.version == number), None)

    def version_of(self, definition_id: uuid.UUID) -> FamilyVersion | None:
        return next((v for v in self.versions if v.id == definition_id), None)


_FAMILY_FIELDS = ("pk", "version", "status", "name", "realm_id", "realm__slug")


def _families(rows: Iterable[dict[str, Any]]) -> list[StrategyFamily]:
    """Group version rows ordered by realm, name and version (newest first) into families."""
    families: list[StrategyFamily] = []
    for (realm_id, name), versions in itertools.groupby(
        rows, key=lambda row: (row["realm_id"], row["name"])
    ):
        group = list(versions)
        families.append(
            StrategyFamily(
                realm_id=realm_id,
                realm_slug=group[0]["realm__slug"],
                name=name,
                versions=tuple(
                    FamilyVersion(id=row["pk"], version=row["version"], status=row["status"])
                    for row in group
                ),
            )
        )
    return families


def strategy_family_get(
    *, definition_id: uuid.UUID, realm_ids: Collection[int] | None
) -> StrategyFamily | None:
    """Return the family of a version, if the version is of ``realm_ids`` (None: any realm)."""
    from strategies.models import StrategyDefinition

    versions = StrategyDefinition.objects.filter(pk=definition_id)
    if realm_ids is not None:
        versions = versions.filter(realm_id__in=sorted(realm_ids))
    found = versions.values("realm_id", "name").first()
    if found is None:
        return None
    rows = (
        StrategyDefinition.objects.filter(realm_id=found["realm_id"], name=found["name"])
        .order_by("-version")
        .values(*_FAMILY_FIELDS)
    )
    families = _families(rows)
    return families[0] if families else None


def strategy_family_list(
    *, realm_ids: Collection[int] | None = None, limit: int = 500
) -> list[StrategyFamily]:
    """Return the custom strategies of ``realm_ids`` (None: of every realm) with their versions.

    By realm, then name; at most ``limit`` versions in all.
    """
    from strategies.models import StrategyDefinition

    definitions = StrategyDefinition.objects.all()
    if realm_ids is not None:
        definitions = definitions.filter(realm_id__in=sorted(realm_ids))
    rows = definitions.order_by("realm__slug", "realm_id", "name", "-version").values(
        *_FAMILY_FIELDS
    )[:limit]
    return _families(rows)


@dataclass(frozen=True, slots=True)
class VersionRuns:
    """The runs of one version of a family over a window."""

    definition_id: uuid.UUID
    rows: int
    estimated_runs: float
    estimated_errors: float
    first_at: datetime
    last_at: datetime

    @property
    def error_rate(self) -> float | None:
        return self.estimated_errors / self.estimated_runs if self.estimated_runs else None


def execution_log_version_runs(
    *,
    definition_ids: Collection[uuid.UUID],
    realm: Realm | None = None,
    realm_ids: Collection[int] | None = None,
    since: datetime,
    until: datetime,
) -> list[VersionRuns]:
    """Return the runs of each version that ran in ``[since, until)``, the first to run first.

    Estimates are weighted as the dashboard's are.
    """
    weight = Case(
        When(sampled=True, sample_rate__gt=0, then=Value(1.0) / F("sample_rate")),
        default=Value(1.0),
        output_field=FloatField(),
    )
    rows = (
        execution_logs_for(
            strategy_id="",
            definition_ids=definition_ids,
            realm=realm,
            realm_ids=realm_ids,
            since=since,
            until=until,
        )
        .order_by()
        .values("definition_id")
        .annotate(
            rows=Count("id"),
            estimated=Sum(weight),
            errors=Sum(
                Case(
                    When(~Q(status=ExecutionStatus.OK), then=weight),
                    default=Value(0.0),
                    output_field=FloatField(),
                )
            ),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
        )
    )
    return sorted(
        (
            VersionRuns(
                definition_id=uuid.UUID(str(row["definition_id"])),
                rows=row["rows"],
                estimated_runs=float(row["estimated"] or 0),
                estimated_errors=float(row["errors"] or 0),
                first_at=row["first_at"],
                last_at=row["last_at"],
            )
            for row in rows
        ),
        key=lambda runs: runs.first_at,
    )


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


def execution_log_stats(
    *,
    strategy_id: str,
    definition_ids: Collection[uuid.UUID] | None = None,
    realm: Realm | None,
    realm_ids: Collection[int] | None = None,
    since: datetime,
    until: datetime,
    points_range: PointsRange | None = None,
) -> ExecutionLogStats:
    """Return every dashboard figure of one strategy over ``[since, until)``.

    Over the rows of ``realm`` and of ``realm_ids``, as :func:`execution_logs_for` scopes them;
    of the versions ``definition_ids`` if given (a family), then ``strategy_id`` only names
    them. The points histogram bins ``points_range`` if given (both sides of a comparison),
    else the window's own range.

    On PostgreSQL one statement computes them (:mod:`observability.sql`); elsewhere (the
    SQLite demo) the same computation runs in Python over the window's rows.
    """
    queryset = execution_logs_for(
        strategy_id=strategy_id,
        definition_ids=definition_ids,
        realm=realm,
        realm_ids=realm_ids,
        since=since,
        until=until,
    )
    bucket = series_bucket(since, until)
    with transaction.atomic():
        # An empty realm set leaves a query with nothing to run (the SQL cannot be compiled);
        # the Python path reads no rows for it.
        if connection.vendor == "postgresql" and not queryset.query.is_empty():
            figures = _figures_sql(queryset, bucket=bucket, points_range=points_range)
        else:
            figures = _figures_python(queryset, bucket=bucket, points_range=points_range)
    return _stats_build(figures, strategy_id=strategy_id, since=since, until=until, bucket=bucket)


def execution_log_points_range(
    *,
    strategy_id: str,
    definition_ids: Collection[uuid.UUID] | None = None,
    realm: Realm | None,
    realm_ids: Collection[int] | None = None,
    since: datetime,
    until: datetime,
) -> PointsRange | None:
    """Return the range of points of the ok runs over ``[since, until)``; None without any.

    Scoped as :func:`execution_log_stats` scopes its rows.
    """
    rows = execution_logs_for(
        strategy_id=strategy_id,
        definition_ids=definition_ids,
        realm=realm,
        realm_ids=realm_ids,
        since=since,
        until=until,
        status=ExecutionStatus.OK,
    ).filter(points__isnull=False)
    bounds = rows.aggregate(lo=Min("points"), hi=Max("points"))
    if bounds["lo"] is None or bounds["hi"] is None:
        return None
    fractional = rows.exclude(points=Floor("points")).exists()
    return PointsRange(lo=bounds["lo"], hi=bounds["hi"], integral=not fractional)


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
    #: The range the points were binned over (None: no points and none given).
    points_range: PointsRange | None
    #: index of the points bin (observability.bins) -> (rows, estimated runs)
    points: dict[int, tuple[int, float]]
    #: (value, rows, estimated runs), the most frequent first
    errors: list[tuple[str | None, int, float]]
    cases: list[tuple[str | None, int, float]]
    #: (bucket start, rows, estimated runs, estimated failures, weighted duration)
    series: list[tuple[datetime, int, float, float, float]]


def _figures_sql(
    queryset: QuerySet[StrategyExecutionLog],
    *,
    bucket: SeriesBucket,
    points_range: PointsRange | None = None,
) -> _Figures:
    values = sql.stats_fetch(
        queryset=queryset,
        fractions=PERCENTILES,
        negated_edges=[-edge for edge in reversed(DURATION_EDGES_MS)],
        points_bins=POINTS_BINS,
        points_range=points_range,
        top=TOP,
        bucket_width=bucket.width,
        bucket_origin=BUCKET_ORIGIN,
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
    lo, hi, integral = bounds if bounds else (None, None, None)
    if points_range is None and lo is not None and hi is not None:
        points_range = PointsRange(lo=lo, hi=hi, integral=bool(integral))
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
        points_range=points_range,
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


def _figures_python(
    queryset: QuerySet[StrategyExecutionLog],
    *,
    bucket: SeriesBucket,
    points_range: PointsRange | None = None,
) -> _Figures:
    """The figures of :func:`_figures_sql`, computed the same way over the loaded rows."""
    rows = [
        (status, code, case, points, duration, nodes, created_at, _weight(sampled, rate))
        for status, code, case, points, duration, nodes, created_at, sampled, rate in (
            queryset.order_by().values_list(*sql.STATS_FIELDS)
        )
    ]
    with_points = [(row[3], row[7]) for row in rows if row[0] == "ok" and row[3] is not None]
    if points_range is None and with_points:
        points_range = PointsRange(
            lo=min(p for p, _ in with_points),
            hi=max(p for p, _ in with_points),
            integral=all(p == math.floor(p) for p, _ in with_points),
        )
    points: dict[int, tuple[int, float]] = {}
    if points_range is not None:
        bins = points_bins(points_range)
        points = _counted((bins.index(p), w) for p, w in with_points)
    errors = _counted((row[1], row[7]) for row in rows if row[0] != "ok")
    cases = _counted((row[2], row[7]) for row in rows if row[0] == "ok")
    series: dict[datetime, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    for status, _, _, _, duration, _, created_at, weight in rows:
        at = bucket.start(created_at)
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
        points_range=points_range,
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


def _ratio(part: float | None, whole: float | None) -> float | None:
    return part / whole if part is not None and whole else None


def _series_filled(
    series: list[tuple[datetime, int, float, float, float]],
    *,
    bucket: SeriesBucket,
    since: datetime,
    until: datetime,
) -> list[SeriesPoint]:
    """Return a point for every bucket of the window: a chart of two busy hours out of 24
    shows 22 quiet ones, not a line from one to the other."""
    found = {at: (n, e, f, d) for at, n, e, f, d in series}
    points = []
    for at in series_starts(bucket, since, until):
        n, e, f, d = found.pop(at, (0, 0.0, 0.0, 0.0))
        points.append(
            SeriesPoint(
                at=at,
                rows=n,
                estimated_runs=e,
                estimated_errors=f,
                error_rate=f / e if e else None,
                avg_duration_ms=d / e if e else None,
            )
        )
    return points


def _points_histogram(figures: _Figures) -> tuple[list[PointsBucket], PointsBins | None]:
    if figures.points_range is None:
        return [], None
    bins = points_bins(figures.points_range)
    return [
        PointsBucket(
            start=start,
            end=end,
            rows=figures.points.get(index, (0, 0.0))[0],
            estimated=figures.points.get(index, (0, 0.0))[1],
        )
        for index, (start, end) in enumerate(bins.edges())
    ], bins


def _stats_build(
    figures: _Figures, *, strategy_id: str, since: datetime, until: datetime, bucket: SeriesBucket
) -> ExecutionLogStats:
    by_status = figures.by_status
    runs = sum(estimated for _, estimated in by_status.values())
    ok_runs = by_status.get("ok", (0, 0.0))[1]
    estimated_runs = figures.estimated_runs
    edges: list[float | None] = [*DURATION_EDGES_MS, None]
    points_histogram, bins = _points_histogram(figures)
    return ExecutionLogStats(
        strategy_id=strategy_id,
        since=since,
        until=until,
        bucket=bucket.name,
        bucket_width=bucket.width,
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
        points_integral=bins is not None and bins.integral,
        top_errors=[ErrorCount(error_code=c, count=n, estimated=e) for c, n, e in figures.errors],
        top_cases=[CaseCount(case_name=c, count=n, estimated=e) for c, n, e in figures.cases],
        series=_series_filled(figures.series, bucket=bucket, since=since, until=until),
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
