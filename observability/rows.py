"""The execution-log row: what the observer makes, the sink ships and the worker persists.

One key per concrete field of :class:`~observability.models.StrategyExecutionLog` (foreign
keys by their ``_id`` column). A row travels as JSON, so ids and dates are strings. Rows of
an older web process may lack the optional keys; the model's defaults apply to them.
"""

# No ``from __future__ import annotations``: TypedDict reads required and optional keys from
# evaluated annotations.

import uuid
from collections.abc import Mapping
from typing import Any, TypedDict

from gamification.strategy_ids import strategy_uuid
from observability.models import StrategyExecutionLog
from scoring.context import AnalyticsRecord


class _RequiredRow(TypedDict):
    id: str
    created_at: str
    strategy_id: str
    strategy_version: str
    strategy_type: str
    status: str
    duration_ms: float
    sampled: bool


class ExecutionLogRow(_RequiredRow, total=False):
    realm_id: int | None
    api_key_used_id: int | None
    definition_id: str | None
    parent_strategy_id: str | None
    external_game_id: str
    external_task_id: str
    external_user_id: str
    correlation_id: str | None
    error_code: str | None
    error_node_id: str | None
    points: float | None
    case_name: str | None
    callback_data: dict[str, Any] | None
    nodes_executed: int
    data: dict[str, Any]
    fields: dict[str, Any]
    analytics: AnalyticsRecord | None
    parent_data: dict[str, Any] | None
    trace: list[dict[str, Any]] | None
    sample_rate: float
    notes: str | None


ROW_KEYS = ExecutionLogRow.__required_keys__ | ExecutionLogRow.__optional_keys__


class InvalidRowError(ValueError):
    """A row whose keys do not match the log's fields."""


def log_from_row(row: Mapping[str, Any]) -> StrategyExecutionLog:
    """Return the unsaved log of ``row``; raise ``InvalidRowError`` on unknown or missing keys."""
    if not isinstance(row, Mapping):
        raise InvalidRowError(f"a row is a JSON object, not {type(row).__name__}")
    unknown = set(row) - ROW_KEYS
    if unknown:
        raise InvalidRowError(f"unknown keys: {', '.join(sorted(map(str, unknown)))}")
    missing = ExecutionLogRow.__required_keys__ - set(row)
    if missing:
        raise InvalidRowError(f"missing keys: {', '.join(sorted(missing))}")
    strategy_id = row["strategy_id"]
    return StrategyExecutionLog(
        id=uuid.UUID(str(row["id"])),
        created_at=row["created_at"],
        realm_id=row.get("realm_id"),
        api_key_used_id=row.get("api_key_used_id"),
        strategy_id=strategy_id,
        strategy_version=row["strategy_version"],
        strategy_type=row["strategy_type"],
        # Rows that do not know their version are stored under their bound id's UUID.
        definition_id=row.get("definition_id") or strategy_uuid(strategy_id),
        parent_strategy_id=row.get("parent_strategy_id"),
        external_game_id=row.get("external_game_id", ""),
        external_task_id=row.get("external_task_id", ""),
        external_user_id=row.get("external_user_id", ""),
        correlation_id=row.get("correlation_id"),
        status=row["status"],
        error_code=row.get("error_code"),
        error_node_id=row.get("error_node_id"),
        points=row.get("points"),
        case_name=row.get("case_name"),
        callback_data=row.get("callback_data"),
        duration_ms=row["duration_ms"],
        nodes_executed=row.get("nodes_executed", 0),
        data=row.get("data", {}),
        fields=row.get("fields", {}),
        analytics=row.get("analytics"),
        parent_data=row.get("parent_data"),
        trace=row.get("trace"),
        sampled=row["sampled"],
        sample_rate=row.get("sample_rate", 1.0),
        notes=row.get("notes"),
    )
