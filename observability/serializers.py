"""Render execution logs and their aggregates as JSON (camelCase, like the rest of the API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from observability.models import ExecutionStatus, StrategyExecutionLog

WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_WINDOW = "24h"


class ExecutionLogSerializer(serializers.ModelSerializer):
    strategyId = serializers.CharField(source="strategy_id")
    strategyVersion = serializers.CharField(source="strategy_version")
    strategyType = serializers.CharField(source="strategy_type")
    definitionId = serializers.UUIDField(source="definition_id")
    parentStrategyId = serializers.CharField(source="parent_strategy_id")
    realmId = serializers.IntegerField(source="realm_id")
    apiKeyUsed = serializers.IntegerField(source="api_key_used_id")
    externalGameId = serializers.CharField(source="external_game_id")
    externalTaskId = serializers.CharField(source="external_task_id")
    externalUserId = serializers.CharField(source="external_user_id")
    correlationId = serializers.CharField(source="correlation_id")
    errorCode = serializers.CharField(source="error_code")
    errorNodeId = serializers.CharField(source="error_node_id")
    caseName = serializers.CharField(source="case_name")
    callbackData = serializers.JSONField(source="callback_data")
    durationMs = serializers.FloatField(source="duration_ms")
    nodesExecuted = serializers.IntegerField(source="nodes_executed")
    sampleRate = serializers.FloatField(source="sample_rate")
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = StrategyExecutionLog
        fields = [
            "id",
            "createdAt",
            "strategyId",
            "strategyVersion",
            "strategyType",
            "definitionId",
            "parentStrategyId",
            "realmId",
            "apiKeyUsed",
            "externalGameId",
            "externalTaskId",
            "externalUserId",
            "correlationId",
            "status",
            "errorCode",
            "errorNodeId",
            "points",
            "caseName",
            "callbackData",
            "durationMs",
            "nodesExecuted",
            "sampled",
            "sampleRate",
            "notes",
        ]
        read_only_fields = fields


class ExecutionLogDetailSerializer(ExecutionLogSerializer):
    class Meta(ExecutionLogSerializer.Meta):
        fields = [*ExecutionLogSerializer.Meta.fields, "data", "fields", "trace"]
        read_only_fields = fields


class ExecutionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ExecutionStatus.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)
    before = serializers.DateTimeField(required=False)


def _moment(raw: str, field: str) -> datetime:
    value = parse_datetime(raw)
    if value is None:
        day = parse_date(raw)
        if day is None:
            raise serializers.ValidationError({field: ["Not an ISO 8601 date or date-time."]})
        value = datetime(day.year, day.month, day.day)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value


def window_parse(params: Any) -> tuple[datetime, datetime, str]:
    """Return ``[since, until)`` from ``since``/``until`` or ``window`` (24h, 7d, 30d)."""
    window = params.get("window") or ""
    if window and window not in WINDOWS and window != "custom":
        raise serializers.ValidationError({"window": [f"One of {', '.join(WINDOWS)}, custom."]})
    until_raw, since_raw = params.get("until"), params.get("since")
    until = _moment(until_raw, "until") if until_raw else timezone.now()
    if since_raw:
        since = _moment(since_raw, "since")
        window = window or "custom"
    else:
        window = window if window in WINDOWS else DEFAULT_WINDOW
        since = until - WINDOWS[window]
    if since >= until:
        raise serializers.ValidationError({"since": ["Must be before until."]})
    if until - since > timedelta(days=400):
        raise serializers.ValidationError({"since": ["The window is limited to 400 days."]})
    return since, until, window


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {key: _iso(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_iso(item) for item in value]
    return value


def stats_render(stats: dict[str, Any]) -> dict[str, Any]:
    """Return the stats payload with ISO dates."""
    return _iso(stats)
