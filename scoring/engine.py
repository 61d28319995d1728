"""Resolve a strategy id and run it for one event: the one place that executes strategies."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings

from gamification.strategy_ids import strategy_id_is_custom
from scoring.builtins.base import Analytics, AnalyticsRequest, ScoringEvent
from scoring.builtins.registry import UnknownBuiltinStrategy, builtin_get
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program
from scoring.errors import StrategyNotFound
from scoring.hooks import custom_strategy_prefetch, custom_strategy_resolver
from scoring.strategy_types import ResolvedStrategy, StrategyKind, StrategyRun

if TYPE_CHECKING:
    from gamification.models import Realm

AnalyticsLoader = Callable[[AnalyticsRequest], Analytics]


def strategy_resolve(
    *,
    realm: Realm,
    strategy_id: str,
    prefetched: Sequence[Any] | None = None,
    external_user_id: str | None = None,
) -> ResolvedStrategy:
    """Return the runnable strategy bound as ``strategy_id`` in ``realm``.

    ``prefetched`` holds the values of the registered prefetch's columns, read for this
    ``strategy_id``; when they show the last resolution is still live, it costs no query.
    Under an experiment, ``external_user_id`` picks the arm; without it (a simulation, a
    replay) the published version answers.
    """
    if strategy_id_is_custom(strategy_id):
        resolved = _custom_resolve(realm=realm, strategy_id=strategy_id, prefetched=prefetched)
        if resolved.arms is not None and external_user_id is not None:
            return resolved.arms.choose(external_user_id=external_user_id)
        return resolved
    try:
        builtin = builtin_get(strategy_id)
    except UnknownBuiltinStrategy:
        raise StrategyNotFound(f"No strategy {strategy_id!r}.") from None
    return ResolvedStrategy(
        strategy_id=strategy_id,
        version=builtin.version,
        kind=StrategyKind.BUILT_IN,
        builtin=builtin,
    )


def _custom_resolve(
    *, realm: Realm, strategy_id: str, prefetched: Sequence[Any] | None
) -> ResolvedStrategy:
    prefetch = custom_strategy_prefetch()
    if prefetch is not None and prefetched is not None:
        cached = prefetch.resolve_cached(realm=realm, strategy_id=strategy_id, values=prefetched)
        if cached is not None:
            return cached
    resolver = custom_strategy_resolver()
    if resolver is None:
        raise StrategyNotFound(f"No strategy {strategy_id!r}: custom strategies are off.")
    return resolver(realm=realm, strategy_id=strategy_id)


def dsl_limits() -> DslLimits:
    return DslLimits(
        max_nodes=settings.DSL_MAX_NODES,
        max_depth=settings.DSL_MAX_DEPTH,
        timeout_ms=settings.DSL_EXECUTION_TIMEOUT_MS,
        trace_bytes=settings.DSL_EXECUTION_LOG_TRACE_BYTES,
        callback_bytes=settings.DSL_CALLBACK_DATA_MAX_BYTES,
    )


def strategy_execute(
    *,
    strategy: ResolvedStrategy,
    event: ScoringEvent,
    analytics_loader: AnalyticsLoader,
    trace: bool = False,
    mock_state: Mapping[str, Any] | None = None,
) -> StrategyRun:
    """Run ``strategy`` on ``event``; engine failures come back in the run, never raised."""
    if strategy.kind == StrategyKind.BUILT_IN:
        return _builtin_execute(strategy=strategy, event=event, analytics_loader=analytics_loader)
    assert strategy.program is not None, "a custom strategy is resolved with its program"
    loaded: list[Analytics] = []

    def load(request: AnalyticsRequest) -> Analytics:
        analytics = analytics_loader(request)
        loaded.append(analytics)
        return analytics

    outcome = run_program(
        strategy.program,
        event=event,
        mode=strategy.kind,
        analytics_loader=load,
        parent=strategy.builtin,
        mock_state=mock_state,
        trace=trace,
    )
    return StrategyRun(
        strategy=strategy,
        status=outcome.status,
        result=outcome.as_strategy_result() if outcome.error is None else None,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        nodes_executed=outcome.nodes_executed,
        trace=outcome.trace,
        fields=outcome.fields,
        vetoed=outcome.vetoed,
        matched=outcome.matched,
        # A program loads its analytics at most once: the parent reads the same ones.
        analytics=loaded[0] if loaded else None,
        parent_data=outcome.parent_received_data,
    )


def _builtin_execute(
    *, strategy: ResolvedStrategy, event: ScoringEvent, analytics_loader: AnalyticsLoader
) -> StrategyRun:
    builtin = strategy.builtin
    assert builtin is not None, "a built-in strategy is resolved with its implementation"
    started = time.perf_counter()
    variables = builtin.resolve_variables()
    analytics = analytics_loader(builtin.analytics_needed(variables))
    result = builtin.score(event=event, analytics=analytics, variables=variables)
    return StrategyRun(
        strategy=strategy,
        status="ok",
        result=result,
        duration_ms=(time.perf_counter() - started) * 1000,
        matched=True,
        analytics=analytics,
    )
