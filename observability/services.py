"""Writes of execution logs: persist a batch, purge old rows, replay a logged run."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from gamification.errors import DomainError
from observability.models import StrategyExecutionLog
from scoring.engine import strategy_uuid

logger = logging.getLogger(__name__)

_FIELDS = frozenset(field.attname for field in StrategyExecutionLog._meta.concrete_fields)


def execution_logs_persist(*, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert a batch of observer-made rows in one statement; return how many were new.

    Primary keys come from the observer, so a redelivered batch conflicts and inserts
    nothing twice. Unknown keys (a newer web process) are ignored.
    """
    objects = [
        StrategyExecutionLog(**{k: v for k, v in row.items() if k in _FIELDS}) for row in rows
    ]
    if not objects:
        return 0
    for obj in objects:
        obj.definition_id = obj.definition_id or strategy_uuid(obj.strategy_id)
    ids = [obj.pk if isinstance(obj.pk, uuid.UUID) else uuid.UUID(str(obj.pk)) for obj in objects]
    existing = set(StrategyExecutionLog.objects.filter(pk__in=ids).values_list("pk", flat=True))
    StrategyExecutionLog.objects.bulk_create(objects, ignore_conflicts=True)
    return len(set(ids) - existing)


def execution_logs_purge(*, older_than_days: int, batch_size: int = 10_000) -> int:
    """Delete rows older than ``older_than_days`` in bounded batches; return how many."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        with transaction.atomic():
            # A bounded id list keeps every DELETE short, so the purge never holds locks
            # or bloats one transaction; the BRIN index on created_at finds the old range.
            ids = list(
                StrategyExecutionLog.objects.filter(created_at__lt=cutoff)
                .order_by()
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                return deleted
            count, _ = StrategyExecutionLog.objects.filter(pk__in=ids).delete()
        deleted += count
        if len(ids) < batch_size:
            return deleted


@dataclass(frozen=True, slots=True)
class Replay:
    """A logged run next to its re-runs against the version that ran and the current one."""

    logged: dict[str, Any]
    ran_version: dict[str, Any] | None
    current_version: dict[str, Any] | None
    ran_version_error: str | None = None
    current_version_error: str | None = None


def _logged_result(log: StrategyExecutionLog) -> dict[str, Any]:
    return {
        "version": log.strategy_version,
        "status": log.status,
        "points": log.points,
        "caseName": log.case_name,
        "callbackData": log.callback_data or {},
        "errorCode": log.error_code,
        "nodeId": log.error_node_id,
        "durationMs": log.duration_ms,
        "nodesExecuted": log.nodes_executed,
        "trace": log.trace or [],
    }


def _replay_custom(*, log: StrategyExecutionLog, definition: Any) -> dict[str, Any]:
    from strategies.simulation import strategy_simulate

    result = strategy_simulate(
        realm=definition.realm,
        type=definition.type,
        parent_strategy_id=definition.parent_strategy_id,
        ast_json=definition.ast_json,
        external_user_id=log.external_user_id,
        data=log.data or {},
        mock_state=log.fields or {},
        definition=definition,
    )
    result["version"] = str(definition.version)
    return result


def _replay_builtin(*, log: StrategyExecutionLog) -> dict[str, Any]:
    from scoring.builtins.base import ScoringEvent
    from scoring.engine import strategy_execute, strategy_resolve

    fields = dict(log.fields or {})

    class _LoggedAnalytics:
        def get(self, path: str) -> Any:
            return fields.get(path, 0)

        def recent_count(self, seconds: int) -> int:
            return int(fields.get("user.recent_measurements_count", 0) or 0)

    strategy = strategy_resolve(realm=log.realm, strategy_id=log.strategy_id)
    run = strategy_execute(
        strategy=strategy,
        event=ScoringEvent(
            external_game_id=log.external_game_id,
            external_task_id=log.external_task_id,
            external_user_id=log.external_user_id,
            data=log.data or {},
        ),
        analytics_loader=lambda request: _LoggedAnalytics(),
        trace=True,
        mock_state=fields,
    )
    result = run.result
    return {
        "version": str(strategy.version),
        "status": run.status,
        "points": result.points if result is not None and run.ok else None,
        "caseName": result.case_name if result is not None and run.ok else None,
        "callbackData": dict(result.callback_data) if result is not None and run.ok else {},
        "errorCode": getattr(run.error, "code", None),
        "nodeId": getattr(run.error, "node_id", None),
        "durationMs": round(run.duration_ms, 3),
        "nodesExecuted": run.nodes_executed,
        "trace": list(run.trace or []),
    }


def execution_log_replay(*, log: StrategyExecutionLog) -> Replay:
    """Re-run a logged input through simulate with the logged precomputed values.

    Against the version that ran and the family's current (published) version; a version
    that cannot be found or run is reported, not raised.
    """
    logged = _logged_result(log)
    if log.definition_id is None:
        try:
            replayed = _replay_builtin(log=log)
        except Exception as error:
            logger.exception("Replay of execution log %s failed", log.pk)
            return Replay(logged, None, None, str(error), str(error))
        return Replay(logged, replayed, replayed)

    from strategies.models import StrategyDefinition
    from strategies.selectors import strategy_family_live

    ran = (
        StrategyDefinition.objects.select_related("realm")
        .filter(pk=log.definition_id, realm_id=log.realm_id)
        .first()
    )
    if ran is None:
        missing = "The version that ran no longer exists."
        return Replay(logged, None, None, missing, missing)
    current = strategy_family_live(strategy=ran)
    outcomes: list[dict[str, Any] | None] = []
    errors: list[str | None] = []
    for definition in (ran, current):
        if definition is None:
            outcomes.append(None)
            errors.append("The family has no published version.")
            continue
        if definition.realm_id == ran.realm_id:
            definition.realm = ran.realm
        try:
            outcomes.append(_replay_custom(log=log, definition=definition))
            errors.append(None)
        except DomainError as error:
            outcomes.append(None)
            errors.append(error.detail)
        except Exception as error:
            logger.exception("Replay of execution log %s failed", log.pk)
            outcomes.append(None)
            errors.append(str(error))
    return Replay(logged, outcomes[0], outcomes[1], errors[0], errors[1])
