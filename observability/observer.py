"""Observe every strategy run: emit metrics, then keep failures and a sample of successes.

The award path calls :func:`trace_wanted` before the run (so that untraced runs pay nothing
for a trace) and :func:`run_observe` after it. Both cost microseconds and never raise: the
row is handed to the sink (:mod:`observability.sink`), which never blocks.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from gamification.ids import uuid7
from observability import metrics
from observability.rows import ExecutionLogRow
from observability.sink import ExecutionLogSink, sink_get
from scoring.context import analytics_record
from scoring.strategy_types import run_outcome

if TYPE_CHECKING:
    from gamification.models import ApiKey, Realm
    from scoring.builtins.base import ScoringEvent
    from scoring.strategy_types import StrategyRun

logger = logging.getLogger(__name__)


def trace_truncate(
    trace: list[dict[str, Any]] | None, limit: int
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Keep the head of ``trace`` (where rules match); return it and a note when cut."""
    if trace is None:
        return None, None
    if limit <= 0 or len(trace) <= limit:
        return list(trace), None
    return list(trace[:limit]), f"trace truncated: {len(trace)} -> {limit} entries"


class ExecutionObserver:
    """Metrics for every run, persistence per sampling rules; ``rng`` is injectable."""

    def __init__(
        self, *, rng: random.Random | None = None, sink: ExecutionLogSink | None = None
    ) -> None:
        self.rng = rng or random.Random()
        self._sink = sink

    @property
    def sink(self) -> ExecutionLogSink:
        return self._sink or sink_get()

    def trace_wanted(self) -> bool:
        """Draw the sampler: would an ok run be kept?"""
        if not settings.DSL_EXECUTION_LOG_ENABLED:
            return False
        rate = settings.DSL_EXECUTION_LOG_SAMPLE_RATE
        if rate <= 0:
            return False
        return rate >= 1 or self.rng.random() < rate

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
        """Emit metrics and hand the row to the sink when kept; never raises."""
        try:
            self._observe(
                run=run,
                traced=traced,
                realm=realm,
                event=event,
                api_key=api_key,
                correlation_id=correlation_id,
            )
        except Exception:
            logger.exception("Could not observe a strategy run")

    def _observe(
        self,
        *,
        run: StrategyRun,
        traced: bool,
        realm: Realm,
        event: ScoringEvent,
        api_key: ApiKey | None,
        correlation_id: str | None,
    ) -> None:
        strategy = run.strategy
        realm_label = realm.slug if realm is not None else ""
        outcome = run_outcome(run)
        status = outcome["status"]
        metrics.run_observe_metrics(
            realm=realm_label,
            strategy_type=strategy.kind,
            status=status,
            duration_seconds=outcome["duration_ms"] / 1000.0,
            nodes_executed=outcome["nodes_executed"],
            error_code=outcome["error_code"],
        )
        failed = status != "ok"
        if not failed and not traced:
            return
        if not settings.DSL_EXECUTION_LOG_ENABLED:
            metrics.log_dropped_inc(
                reason="disabled", realm=realm_label, strategy_type=strategy.kind
            )
            return
        trace, note = trace_truncate(run.trace, settings.DSL_EXECUTION_LOG_TRACE_LIMIT)
        notes = [note] if note else []
        if failed and outcome["error_message"] is not None:
            notes.append(outcome["error_message"])
        row = ExecutionLogRow(
            id=str(uuid7()),
            created_at=timezone.now().isoformat(),
            realm_id=realm.pk if realm is not None else None,
            api_key_used_id=api_key.pk if api_key is not None else None,
            strategy_id=strategy.strategy_id,
            strategy_version=str(strategy.version),
            strategy_type=strategy.kind,
            definition_id=str(strategy.definition_id) if strategy.definition_id else None,
            parent_strategy_id=strategy.parent_strategy_id,
            external_game_id=event.external_game_id,
            external_task_id=event.external_task_id,
            external_user_id=event.external_user_id,
            correlation_id=correlation_id,
            status=status,
            error_code=outcome["error_code"],
            error_node_id=outcome["error_node_id"],
            points=outcome["points"],
            case_name=outcome["case_name"],
            # A failed run has no callback data, not an empty one.
            callback_data=outcome["callback_data"] if not failed else None,
            duration_ms=outcome["duration_ms"],
            nodes_executed=outcome["nodes_executed"],
            data=dict(event.data),
            fields=dict(run.fields),
            analytics=analytics_record(run.analytics),
            parent_data=dict(run.parent_data) if run.parent_data is not None else None,
            trace=trace,
            sampled=not failed,
            sample_rate=settings.DSL_EXECUTION_LOG_SAMPLE_RATE if not failed else 1.0,
            notes="; ".join(notes) or None,
        )
        self.sink.submit(row, realm=realm_label, strategy_type=strategy.kind)


_observer = ExecutionObserver()


def observer_get() -> ExecutionObserver:
    return _observer


def observer_set(observer: ExecutionObserver) -> ExecutionObserver:
    """Install ``observer`` (tests: a seeded rng or a private sink); return the previous one."""
    global _observer
    previous, _observer = _observer, observer
    return previous


def trace_wanted() -> bool:
    """Decide BEFORE the run whether an ok run would be kept (sampler draw with the injectable RNG).

    The award path passes this as ``trace=...`` so that untraced runs pay nothing.
    """
    try:
        return _observer.trace_wanted()
    except Exception:
        logger.exception("Sampler failed")
        return False


def run_observe(
    *,
    run: StrategyRun,
    traced: bool,
    realm: Realm,
    event: ScoringEvent,
    api_key: ApiKey | None,
    correlation_id: str | None,
) -> None:
    """Emit metrics; persist per sampling rules (errors always; ok runs iff traced).

    Never raises, never blocks.
    """
    _observer.run_observe(
        run=run,
        traced=traced,
        realm=realm,
        event=event,
        api_key=api_key,
        correlation_id=correlation_id,
    )
