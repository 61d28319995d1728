"""The dashboard figures of one strategy over a window, as the stats selector returns them.

Estimates are weighted by sampling (an ok row sampled at 5 % stands for 20 runs); ``rows``
are raw row counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class StatusShare:
    rows: int
    estimated: float
    share: float | None


@dataclass(frozen=True, slots=True)
class DurationFigures:
    p50: float | None
    p95: float | None
    p99: float | None
    avg: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class PointsFigures:
    #: Over ok runs that awarded points.
    avg: float | None
    estimated_sum: float
    rows_sum: float | None


@dataclass(frozen=True, slots=True)
class NodesFigures:
    avg: float | None
    max: int | None


@dataclass(frozen=True, slots=True)
class DurationBucket:
    #: The bucket's upper edge in ms (inclusive); None is +Inf.
    le_ms: float | None
    rows: int
    estimated: float


@dataclass(frozen=True, slots=True)
class PointsBucket:
    """``[start, end)``; the last bucket is ``[start, end]``."""

    start: float
    end: float
    rows: int
    estimated: float


@dataclass(frozen=True, slots=True)
class ErrorCount:
    error_code: str | None
    count: int
    estimated: float


@dataclass(frozen=True, slots=True)
class CaseCount:
    #: None: no rule matched.
    case_name: str | None
    count: int
    estimated: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    at: datetime
    rows: int
    estimated_runs: float
    estimated_errors: float
    error_rate: float | None
    avg_duration_ms: float | None


@dataclass(frozen=True, slots=True)
class ExecutionLogStats:
    strategy_id: str
    since: datetime
    until: datetime
    #: The series resolution's name (hour, 6 hours, day, ...) and width.
    bucket: str
    bucket_width: timedelta
    rows: int
    estimated_runs: float
    status_mix: dict[str, StatusShare]
    success_rate: float | None
    error_rate: float | None
    duration_ms: DurationFigures
    points: PointsFigures
    nodes: NodesFigures
    duration_histogram: list[DurationBucket]
    points_histogram: list[PointsBucket]
    #: Whether the points histogram's bins are whole numbers.
    points_integral: bool
    top_errors: list[ErrorCount]
    top_cases: list[CaseCount]
    #: Every bucket of the window, the empty ones too.
    series: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class StatsDelta:
    """B - A of each compared figure; None when either side has no value."""

    estimated_runs: float | None
    success_rate: float | None
    error_rate: float | None
    duration_ms_p50: float | None
    duration_ms_p95: float | None
    duration_ms_p99: float | None
    duration_ms_avg: float | None
    points_avg: float | None
    nodes_avg: float | None
    nodes_max: float | None
