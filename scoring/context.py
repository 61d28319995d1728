"""Analytics of one scoring event (DSL spec section 4.2), loaded in one database round trip.

Every value is scoped by realm and game (spec Q14): a task belongs to one game of one realm,
so keying on the task does both. Counts, first/last timestamps and the previous timestamp come
from the stats rows kept with every award, so the cost of an event does not grow with history;
only recent-window counts touch the award table, through an index range bounded by the window.
The award read (``scoring.sql.award_read``) fetches these with the task and the player, and
``event_stats_parse`` / ``event_analytics`` turn its row into analytics; ``event_history_load``
is the same read on its own, for a run that asks for a window the award read did not fetch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from django.db import connection
from django.utils.dateparse import parse_datetime

from scoring import sql
from scoring.builtins.base import RECENT_WINDOW_SECONDS, Analytics, AnalyticsRequest

_TASK_PATHS = frozenset({"task.measurements_count", "all.avg_time"})
_PLAYER_PATHS = frozenset(
    {
        "user.measurements_count",
        "user.avg_time",
        "user.last_window_diff",
        "user.new_last_window_diff",
    }
)
RECENT_PATH = "user.recent_measurements_count"

#: Values of an empty history (spec 4.2).
EMPTY_HISTORY: Mapping[str, Any] = {
    "task.measurements_count": 0,
    "user.measurements_count": 0,
    RECENT_PATH: 0,
    "user.avg_time": -1,
    "all.avg_time": -1,
    "user.last_window_diff": 0,
    "user.new_last_window_diff": 0,
}


@dataclass(frozen=True, slots=True)
class EventAnalytics:
    """The analytics values of one event; unknown paths are a programming error (KeyError)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    recent_counts: Mapping[int, int] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        return self.values[path]

    def recent_count(self, seconds: int) -> int:
        return self.recent_counts[seconds]


@dataclass(frozen=True, slots=True)
class EventHistory:
    """The player (None before their first award) and the analytics of one event."""

    player_id: int | None
    analytics: EventAnalytics


def analytics_request_normalise(request: AnalyticsRequest) -> AnalyticsRequest:
    """Express ``user.recent_measurements_count`` as the recent window it reads."""
    if RECENT_PATH in request.paths:
        return AnalyticsRequest(
            paths=request.paths - {RECENT_PATH},
            recent_windows=request.recent_windows | {RECENT_WINDOW_SECONDS},
        )
    return request


def _moment(value: Any) -> datetime | None:
    """Return an aware datetime from what the backend gives (SQLite answers naive UTC)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    assert moment is not None, f"the backend answered {value!r} for a datetime"
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mean_gap(count: int, first: datetime | None, last: datetime | None) -> float:
    if count < 2 or first is None or last is None:
        return -1
    return (last - first).total_seconds() / (count - 1)


@dataclass(frozen=True, slots=True)
class TaskAwards:
    """Awards of one task not in its stats row yet: how many, the first and the last time."""

    count: int
    first: datetime
    last: datetime

    def plus(self, at: datetime) -> TaskAwards:
        """These awards and one more at ``at``."""
        return TaskAwards(count=self.count + 1, first=min(self.first, at), last=max(self.last, at))


@dataclass(frozen=True, slots=True)
class EventStats:
    """What the stats rows and the recent-window counts say about one event's player and task.

    ``recent_counts`` holds the windows that were read, which may be more than a run asks for.
    """

    player_id: int | None
    task_count: int
    task_first: datetime | None
    task_last: datetime | None
    count: int
    first: datetime | None
    last: datetime | None
    previous: datetime | None
    recent_counts: Mapping[int, int]

    def covers(self, request: AnalyticsRequest) -> bool:
        """Whether every analytics value of ``request`` can be answered from these stats."""
        return analytics_request_normalise(request).recent_windows <= self.recent_counts.keys()

    def with_task_awards(self, awards: TaskAwards) -> EventStats:
        """These stats as the task's stats row will be with ``awards`` added, as the stats
        upsert adds them (``scoring.sql.stats_upserts``)."""
        first, last = self.task_first, self.task_last
        return replace(
            self,
            task_count=self.task_count + awards.count,
            task_first=awards.first if first is None else min(first, awards.first),
            task_last=awards.last if last is None else max(last, awards.last),
        )


def event_stats_parse(row: Sequence[Any], windows: Sequence[int]) -> EventStats:
    """Return the stats of an event from a row of player id, task count/first/last, player
    count/first/last/previous, then one count per window of ``windows``."""
    return EventStats(
        player_id=row[0],
        task_count=row[1] or 0,
        task_first=_moment(row[2]),
        task_last=_moment(row[3]),
        count=row[4] or 0,
        first=_moment(row[5]),
        last=_moment(row[6]),
        previous=_moment(row[7]),
        recent_counts={seconds: row[8 + i] or 0 for i, seconds in enumerate(windows)},
    )


def event_analytics(
    stats: EventStats, *, request: AnalyticsRequest, now: datetime
) -> EventAnalytics:
    """Return the analytics ``request`` asks for at ``now``, and only those."""
    wanted = analytics_request_normalise(request)
    count, first, last, previous = stats.count, stats.first, stats.last, stats.previous
    values: dict[str, Any] = {}
    if wanted.paths & _TASK_PATHS:
        values["task.measurements_count"] = stats.task_count
        values["all.avg_time"] = _mean_gap(stats.task_count, stats.task_first, stats.task_last)
    if wanted.paths & _PLAYER_PATHS:
        values["user.measurements_count"] = count
        values["user.avg_time"] = _mean_gap(count, first, last)
        values["user.last_window_diff"] = (
            (last - previous).total_seconds() if count >= 2 and previous and last else 0
        )
        values["user.new_last_window_diff"] = (now - last).total_seconds() if last else 0
    recent_counts = {seconds: stats.recent_counts[seconds] for seconds in wanted.recent_windows}
    if RECENT_PATH in request.paths:
        values[RECENT_PATH] = recent_counts[RECENT_WINDOW_SECONDS]
    return EventAnalytics(values=values, recent_counts=recent_counts)


def event_history_load(
    *,
    task_id: int,
    realm_id: int,
    external_user_id: str,
    request: AnalyticsRequest,
    now: datetime,
    unstored: TaskAwards | None = None,
) -> EventHistory:
    """Return the player and the requested analytics of an event on ``task_id`` at ``now``,
    with the task's ``unstored`` awards counted as if stored."""
    wanted = analytics_request_normalise(request)
    windows = sorted(wanted.recent_windows)
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = []
    for seconds in windows:
        params += [task_id, adapt(now - timedelta(seconds=seconds))]
    with connection.cursor() as cursor:
        cursor.execute(
            sql.event_history(len(windows), connection.vendor),
            [*params, task_id, realm_id, external_user_id],
        )
        row = cursor.fetchone()
    stats = event_stats_parse(row, windows)
    if unstored is not None:
        stats = stats.with_task_awards(unstored)
    return EventHistory(
        player_id=stats.player_id, analytics=event_analytics(stats, request=request, now=now)
    )


def empty_history_analytics(request: AnalyticsRequest) -> EventAnalytics:
    """Return the analytics of a player and task with no history (simulation without data)."""
    wanted = analytics_request_normalise(request)
    values = {path: EMPTY_HISTORY[path] for path in request.paths if path in EMPTY_HISTORY}
    return EventAnalytics(values=values, recent_counts=dict.fromkeys(wanted.recent_windows, 0))


class AnalyticsRecord(TypedDict):
    """The analytics a run was given, as plain JSON: values by path, recent counts by window
    (in seconds, as text: JSON keys are strings)."""

    values: dict[str, Any]
    windows: dict[str, int]


def analytics_record(analytics: Analytics | None) -> AnalyticsRecord | None:
    """Return the values a run was given, for its execution log; None when they cannot be
    listed (an ``Analytics`` that is not :class:`EventAnalytics`).

    The award's loader answers what the run asked for (``event_analytics``: the requested
    values and the ones computed with them), so this copies what the run read; the observer
    calls it for the runs it logs only.
    """
    if analytics is None:
        return AnalyticsRecord(values={}, windows={})
    if not isinstance(analytics, EventAnalytics):
        return None
    return AnalyticsRecord(
        values=dict(analytics.values),
        windows={str(seconds): count for seconds, count in analytics.recent_counts.items()},
    )


@dataclass(frozen=True, slots=True)
class RecordedAnalytics:
    """Analytics answered from a record; ``missing`` is what it lacked (answered as empty)."""

    analytics: EventAnalytics
    missing: AnalyticsRequest


def analytics_replayed(record: Any, *, request: AnalyticsRequest) -> RecordedAnalytics:
    """Answer ``request`` from ``record`` (an :class:`AnalyticsRecord` as stored).

    What the record lacks (a version that reads more than the run that was logged) takes its
    empty-history value (spec 4.2) and is reported in ``missing``.
    """
    record = record if isinstance(record, Mapping) else {}
    stored = record.get("values")
    values: dict[str, Any] = dict(stored) if isinstance(stored, Mapping) else {}
    windows: dict[int, int] = {}
    stored = record.get("windows")
    for key, count in stored.items() if isinstance(stored, Mapping) else ():
        if str(key).isdigit():
            windows[int(key)] = count
    if RECENT_PATH not in values and RECENT_WINDOW_SECONDS in windows:
        values[RECENT_PATH] = windows[RECENT_WINDOW_SECONDS]
    wanted = analytics_request_normalise(request)
    missing_paths = frozenset(path for path in request.paths if path not in values)
    missing_windows = wanted.recent_windows - windows.keys()
    for path in missing_paths:
        values[path] = EMPTY_HISTORY.get(path, 0)
    for seconds in missing_windows:
        windows[seconds] = 0
    return RecordedAnalytics(
        analytics=EventAnalytics(values=values, recent_counts=windows),
        missing=AnalyticsRequest(paths=missing_paths, recent_windows=missing_windows),
    )
