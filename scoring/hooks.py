"""What the scoring service asks of the apps above it, and how they answer.

Scoring must not import the apps that stand on it. Strategies registers the resolver of
``custom:<uuid>`` ids and observability registers the run observer, each in its
``AppConfig.ready()``; until then custom ids resolve to nothing and runs go unobserved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gamification.models import ApiKey, Realm
    from scoring.builtins.base import ScoringEvent
    from scoring.strategy_types import ResolvedStrategy, StrategyRun


class CustomStrategyResolver(Protocol):
    def __call__(self, *, realm: Realm, strategy_id: str) -> ResolvedStrategy:
        """Return the published custom strategy ``strategy_id`` of ``realm``, or raise.

        While the family runs an experiment, the answer carries its ``arms``.
        """
        ...


class CustomStrategyPrefetch(Protocol):
    """A part of the award's one read that lets a custom id resolve without a query of its own.

    The award read (scoring/sql.py) cannot name the strategies' table, so strategies hands it a
    LEFT JOIN clause and the columns it selects. ``join`` may refer to ``event.realm_id``; its
    placeholders take ``join_params(strategy_id=...)``. ``resolve_cached`` gets the values of
    ``columns`` back and answers from what the process resolved before, or None when that
    is stale or unknown: the caller then asks the resolver, which costs one query.
    """

    columns: tuple[str, ...]
    join: str

    def join_params(self, *, strategy_id: str) -> list[Any]:
        """Return the parameters of ``join`` for the custom id ``strategy_id``."""
        ...

    def resolve_cached(
        self, *, realm: Realm, strategy_id: str, values: Sequence[Any]
    ) -> ResolvedStrategy | None:
        """Return the strategy resolved before if ``values`` show it is still the live one."""
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
_custom_prefetches: dict[CustomStrategyResolver, CustomStrategyPrefetch] = {}
_run_observer: RunObserver = _Unobserved()


def custom_strategy_resolver_register(
    resolver: CustomStrategyResolver, *, prefetch: CustomStrategyPrefetch | None = None
) -> None:
    """Install ``resolver``; ``prefetch`` answers only while this very resolver is installed.

    A prefetch answers from what its own resolver resolved before, so a stand-in resolver
    (registered without one) is always asked, and putting the first one back restores both.
    """
    global _custom_resolver
    _custom_resolver = resolver
    if prefetch is not None:
        _custom_prefetches[resolver] = prefetch


def custom_strategy_resolver() -> CustomStrategyResolver | None:
    return _custom_resolver


def custom_strategy_prefetch() -> CustomStrategyPrefetch | None:
    if _custom_resolver is None:
        return None
    return _custom_prefetches.get(_custom_resolver)


def run_observer_register(observer: RunObserver) -> None:
    global _run_observer
    _run_observer = observer


def run_observer() -> RunObserver:
    return _run_observer
