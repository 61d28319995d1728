"""Analytics of one scoring event (DSL spec section 4.2), loaded in one database round trip.

Every value is scoped by realm and game (spec Q14): a task belongs to one game of one realm,
so keying on the task does both. Counts, first/last timestamps and the previous timestamp come
from the stats rows kept with every award, so the cost of an event does not grow with history;
only recent-window counts touch the award table, through an index range bounded by the window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, FilteredRelation, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from gamification.models import Award, Task
from scoring.builtins.base import RECENT_WINDOW_SECONDS, AnalyticsRequest

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


@dataclass(frozen=True, slots=True)
class EventAnalytics:
    """The analytics values of one event; unknown paths are a programming error (KeyError)."""

    values: Mapping[str, Any] = field(default_factory=dict)
    recent_counts: Mapping[int, int] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        return self.values[path]

    def recent_count(self, seconds: int) -> int:
        return self.recent_counts[seconds]


def _mean_gap(count: int | None, first: datetime | None, last: datetime | None) -> float:
    if not count or count < 2 or first is None or last is None:
        return -1
    return (last - first).total_seconds() / (count - 1)


def analytics_request_normalise(request: AnalyticsRequest) -> AnalyticsRequest:
    """Express ``user.recent_measurements_count`` as the recent window it reads."""
    if RECENT_PATH in request.paths:
        return AnalyticsRequest(
            paths=request.paths - {RECENT_PATH},
            recent_windows=request.recent_windows | {RECENT_WINDOW_SECONDS},
        )
    return request


def analytics_load(
    *, task_id: int, player_id: int | None, request: AnalyticsRequest, now: datetime
) -> EventAnalytics:
    """Return the requested analytics of an event on ``task_id`` by ``player_id`` at ``now``.

    ``player_id`` is None for a player who has never scored: their history is empty.
    """
    wanted = analytics_request_normalise(request)
    needs_task = bool(wanted.paths & _TASK_PATHS)
    needs_player = player_id is not None and bool(wanted.paths & _PLAYER_PATHS)
    windows = sorted(wanted.recent_windows) if player_id is not None else []

    row: dict[str, Any] = {}
    if needs_task or needs_player or windows:
        columns: list[str] = []
        queryset = Task.objects.filter(pk=task_id)
        if needs_task:
            columns += ["stats__award_count", "stats__first_award_at", "stats__last_award_at"]
        if needs_player:
            queryset = queryset.annotate(
                mine=FilteredRelation(
                    "player_stats", condition=Q(player_stats__player_id=player_id)
                )
            )
            columns += [
                "mine__award_count",
                "mine__first_award_at",
                "mine__last_award_at",
                "mine__previous_award_at",
            ]
        for seconds in windows:
            recent = (
                Award.objects.filter(
                    task_id=OuterRef("pk"),
                    player_id=player_id,
                    created_at__gt=now - timedelta(seconds=seconds),
                )
                .order_by()
                .values("task_id")
                .annotate(total=Count("pk"))
                .values("total")
            )
            name = f"recent_{seconds}"
            queryset = queryset.annotate(
                **{name: Coalesce(Subquery(recent, output_field=IntegerField()), Value(0))}
            )
            columns.append(name)
        row = queryset.values(*columns).first() or {}

    values: dict[str, Any] = {}
    if wanted.paths & _TASK_PATHS:
        task_count = row.get("stats__award_count") or 0
        values["task.measurements_count"] = task_count
        values["all.avg_time"] = _mean_gap(
            task_count, row.get("stats__first_award_at"), row.get("stats__last_award_at")
        )
    if wanted.paths & _PLAYER_PATHS:
        count = row.get("mine__award_count") or 0
        last = row.get("mine__last_award_at")
        previous = row.get("mine__previous_award_at")
        values["user.measurements_count"] = count
        values["user.avg_time"] = _mean_gap(count, row.get("mine__first_award_at"), last)
        values["user.last_window_diff"] = (
            (last - previous).total_seconds() if count >= 2 and previous and last else 0
        )
        values["user.new_last_window_diff"] = (now - last).total_seconds() if last else 0
    recent_counts = {seconds: row.get(f"recent_{seconds}", 0) for seconds in wanted.recent_windows}
    if RECENT_PATH in request.paths:
        values[RECENT_PATH] = recent_counts[RECENT_WINDOW_SECONDS]
    return EventAnalytics(values=values, recent_counts=recent_counts)
