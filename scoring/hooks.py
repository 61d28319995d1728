"""What the scoring service asks of the apps above it, and how they answer.

Scoring must not import the apps that stand on it. Strategies registers the resolver of
``custom:<uuid>`` ids and observability registers the run observer, each in its
``AppConfig.ready()``; until then custom ids resolve to nothing and runs go unobserved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gamification.models import ApiKey, Realm
    from scoring.builtins.base import ScoringEvent
    from scoring.strategy_types import ResolvedStrategy, StrategyRun


class CustomStrategyResolver(Protocol):
    def __call__(self, *, realm: Realm, strategy_id: str) -> ResolvedStrategy:
        """Return the published custom strategy ``strategy_id`` of ``realm``, or raise."""
        ...


class RunObserver(Protocol):
    def trace_wanted(self) -> bool:
        """Decide before a run whether it is traced; never raises."""
        ...

    def run_observe(
        self,
        *,
        run: StrategyRun,
        traced: bool,
        realm: Realm,
        event: ScoringEvent,
        api_key: ApiKey | None,
        correlation_id: str | None,
    ) -> None:
        """Take note of a finished run; never raises, never blocks."""
        ...


class _Unobserved:
    def trace_wanted(self) -> bool:
        return False

    def run_observe(
        self,
        *,
        # The RunObserver signature; nothing observes the run.
        run: StrategyRun,  # noqa: ARG002
        traced: bool,  # noqa: ARG002
        realm: Realm,  # noqa: ARG002
        event: ScoringEvent,  # noqa: ARG002
        api_key: ApiKey | None,  # noqa: ARG002
        correlation_id: str | None,  # noqa: ARG002
    ) -> None:
        return None


_custom_resolver: CustomStrategyResolver | None = None
_run_observer: RunObserver = _Unobserved()


def custom_strategy_resolver_register(resolver: CustomStrategyResolver) -> None:
    global _custom_resolver
    _custom_resolver = resolver


def custom_strategy_resolver() -> CustomStrategyResolver | None:
    return _custom_resolver


def run_observer_register(observer: RunObserver) -> None:
    global _run_observer
    _run_observer = observer


def run_observer() -> RunObserver:
    return _run_observer
