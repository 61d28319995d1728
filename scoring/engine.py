"""Resolve a strategy id and run it for one event: the one place that executes strategies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models

from gamification.models import Realm
from scoring.builtins.base import (
    Analytics,
    AnalyticsRequest,
    BuiltinStrategy,
    ScoringEvent,
    StrategyResult,
)
from scoring.builtins.registry import UnknownBuiltinStrategy, builtin_get
from scoring.dsl.compile import CompiledProgram
from scoring.dsl.errors import DslError
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program
from scoring.errors import StrategyNotFound

AnalyticsLoader = Callable[[AnalyticsRequest], Analytics]

CUSTOM_PREFIX = "custom:"


def strategy_uuid(strategy_id: str) -> uuid.UUID | None:
    """Return the UUID of ``custom:<uuid>`` (or of a bare UUID); None for a built-in id."""
    try:
        return uuid.UUID(str(strategy_id).removeprefix(CUSTOM_PREFIX))
    except ValueError:
        return None


class StrategyKind(models.TextChoices):
    """How a strategy runs: the one list of strategy types (definitions, logs, metrics)."""

    BUILT_IN = "BUILT_IN", "Built-in"
    DSL_EXTEND = "DSL_EXTEND", "Extends a built-in"
    DSL_FULL = "DSL_FULL", "Full program"


@dataclass(frozen=True, slots=True)
class ResolvedStrategy:
    """A strategy ready to run: a built-in, or a compiled custom program (with its parent)."""

    strategy_id: str
    version: str
    kind: str
    builtin: BuiltinStrategy | None = None
    program: CompiledProgram | None = None
    definition_id: str | None = None

    @property
    def parent_strategy_id(self) -> str | None:
        if self.kind == StrategyKind.DSL_EXTEND and self.builtin is not None:
            return self.builtin.id
        return None


@dataclass(slots=True)
class StrategyRun:
    """What happened when a strategy scored one event."""

    strategy: ResolvedStrategy
    status: str
    result: StrategyResult | None
    error: DslError | None = None
    duration_ms: float = 0.0
    nodes_executed: int = 0
    trace: list[dict[str, Any]] | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    vetoed: bool = False
    #: False when a DSL_FULL program matched no rule and had no default (0 points, no case).
    matched: bool = True

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def strategy_resolve(*, realm: Realm, strategy_id: str) -> ResolvedStrategy:
    """Return the runnable strategy bound as ``strategy_id`` in ``realm``."""
    if strategy_id.startswith(CUSTOM_PREFIX):
        from strategies.selectors import strategy_resolve_custom

        return strategy_resolve_custom(realm=realm, strategy_id=strategy_id)
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
    outcome = run_program(
        strategy.program,
        event=event,
        mode=strategy.kind,
        analytics_loader=analytics_loader,
        parent=strategy.builtin,
        mock_state=mock_state,
        trace=trace,
    )
    return StrategyRun(
        strategy=strategy,
        status=outcome.status,
        result=(
            StrategyResult(outcome.points, outcome.case_name, outcome.callback_data)
            if outcome.error is None
            else None
        ),
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        nodes_executed=outcome.nodes_executed,
        trace=outcome.trace,
        fields=outcome.fields,
        vetoed=outcome.vetoed,
        matched=outcome.matched,
    )


def _builtin_execute(
    *, strategy: ResolvedStrategy, event: ScoringEvent, analytics_loader: AnalyticsLoader
) -> StrategyRun:
    builtin = strategy.builtin
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
    )
