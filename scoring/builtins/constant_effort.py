"""The ``constant_effort`` built-in: rewards players who come back within a short interval."""

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


class ConstantEffortStrategy(BuiltinStrategy):
    id = "constant_effort"
    version = "0.0.1"
    description = (
        "One point for an isolated attempt; when the player already scored on the task "
        "within the interval, (recent + 1) * 100 / max points, between 1 and the maximum."
    )
    variables = {
        "variable_basic_points": 1,
        "variable_bonus_points": 10,
        "variable_constant_effort_interval_minutes": 5,
        "variable_max_points": 100,
    }

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:
        return AnalyticsRequest(recent_windows=frozenset({self._window_seconds(variables)}))

    def score(
        self,
        *,
        event: ScoringEvent,  # noqa: ARG002 - BuiltinStrategy API
        analytics: Analytics,
        variables: Mapping[str, Any],
    ) -> StrategyResult:
        recent = analytics.recent_count(self._window_seconds(variables))
        max_points = variables["variable_max_points"]
        if recent > 0:
            # Integer arithmetic (spec Q24): the reference engine's float path loses a point
            # for some counts (28 -> 28 instead of 29).
            points = min(max((recent + 1) * 100 // max_points, 1), max_points)
            return StrategyResult(points, "ConstantEffortReward")
        return StrategyResult(1, "BasicReward")

    @staticmethod
    def _window_seconds(variables: Mapping[str, Any]) -> int:
        return int(variables["variable_constant_effort_interval_minutes"] * 60)
