"""The contract every scoring strategy implements, built-in or authored in the DSL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

Scalar = int | float | str | bool | None

#: Analytics paths of the DSL specification, section 4.2.
ANALYTICS_PATHS: frozenset[str] = frozenset(
    {
        "task.measurements_count",
        "user.measurements_count",
        "user.recent_measurements_count",
        "user.avg_time",
        "all.avg_time",
        "user.last_window_diff",
        "user.new_last_window_diff",
    }
)

#: The fixed window of ``user.recent_measurements_count``, in seconds.
RECENT_WINDOW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class ScoringEvent:
    """One "user U did task T in game G" event, as a strategy sees it."""

    external_game_id: str
    external_task_id: str
    external_user_id: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StrategyResult:
    """What a strategy decided: the points, the branch that produced them, extra data."""

    points: int | float
    case_name: str | None
    callback_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnalyticsRequest:
    """Every analytics value one event needs, so that they are loaded in one round trip."""

    paths: frozenset[str] = frozenset()
    recent_windows: frozenset[int] = frozenset()

    def __or__(self, other: AnalyticsRequest) -> AnalyticsRequest:
        return AnalyticsRequest(
            paths=self.paths | other.paths,
            recent_windows=self.recent_windows | other.recent_windows,
        )

    @property
    def is_empty(self) -> bool:
        return not self.paths and not self.recent_windows


class Analytics(Protocol):
    """Precomputed history of one event (never includes the event being scored)."""

    def get(self, path: str) -> Any:
        """Return the value of an analytics path of section 4.2."""

    def recent_count(self, seconds: int) -> int:
        """Return how many awards this user has on this task in the last ``seconds``."""


class BuiltinStrategy:
    """A strategy written in Python, addressed by a stable public id."""

    id: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    #: Tunable variables (``variable_*``) and their defaults; their types are the contract
    #: that ``parent_variables`` overrides are checked against.
    variables: ClassVar[Mapping[str, int | float]]

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:
        """Return the analytics this strategy reads with these variables."""
        raise NotImplementedError

    def score(
        self,
        *,
        event: ScoringEvent,
        analytics: Analytics,
        variables: Mapping[str, Any],
    ) -> StrategyResult:
        """Score one event."""
        raise NotImplementedError

    def resolve_variables(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the defaults with ``overrides`` applied (keys are checked by the caller)."""
        merged = dict(self.variables)
        if overrides:
            merged.update(overrides)
        return merged
