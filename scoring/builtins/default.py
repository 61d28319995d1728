"""The ``default`` built-in: engagement and performance bonuses from the player's pace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.builtins.base import (
    Analytics,
    AnalyticsRequest,
    BuiltinStrategy,
    ScoringEvent,
    StrategyResult,
)

_PATHS = frozenset(
    {
        "task.measurements_count",
        "user.measurements_count",
        "user.avg_time",
        "all.avg_time",
        "user.new_last_window_diff",
        "user.last_window_diff",
    }
)

#: Points of the campaign fallback; not tunable.
DEFAULT_POINTS_TASK_CAMPAIGN = 1


class DefaultStrategy(BuiltinStrategy):
    id = "default"
    version = "0.0.2"
    description = (
        "Basic points while a task is new, then bonuses for players who are faster than "
        "the task's average pace or than their own previous pace."
    )
    variables = {
        "variable_basic_points": 1,
        "variable_bonus_points": 10,
        "variable_individual_over_global_points": 3,
        "variable_peak_performer_bonus_points": 15,
        "variable_global_advantage_adjustment_points": 7,
        "variable_individual_adjustment_points": 8,
    }

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:  # noqa: ARG002 - BuiltinStrategy API
        return AnalyticsRequest(paths=_PATHS)

    def score(
        self,
        *,
        event: ScoringEvent,  # noqa: ARG002 - BuiltinStrategy API
        analytics: Analytics,
        variables: Mapping[str, Any],
    ) -> StrategyResult:
        if analytics.get("task.measurements_count") < 2:
            return StrategyResult(variables["variable_basic_points"], "BasicEngagement")
        if analytics.get("user.measurements_count") <= 2:
            return StrategyResult(DEFAULT_POINTS_TASK_CAMPAIGN, "default")

        user_avg = analytics.get("user.avg_time")
        all_avg = analytics.get("all.avg_time")
        if user_avg < all_avg:
            return StrategyResult(
                variables["variable_basic_points"] + variables["variable_bonus_points"],
                "PerformanceBonus",
            )

        diff = analytics.get("user.new_last_window_diff") - analytics.get("user.last_window_diff")
        if diff > 0:
            if diff < all_avg:
                return StrategyResult(
                    variables["variable_individual_over_global_points"],
                    "IndividualOverGlobal",
                )
            if diff < user_avg:
                return StrategyResult(
                    variables["variable_peak_performer_bonus_points"], "PeakPerformerBonus"
                )
            if diff > user_avg:
                return StrategyResult(
                    variables["variable_global_advantage_adjustment_points"],
                    "GlobalAdvantageAdjustment",
                )
        elif diff < 0:
            return StrategyResult(
                variables["variable_individual_adjustment_points"], "IndividualAdjustment"
            )
        return StrategyResult(DEFAULT_POINTS_TASK_CAMPAIGN, "default")
