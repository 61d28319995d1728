"""Render execution logs and their aggregates as JSON (camelCase, like the rest of the API)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from rest_framework import serializers

from observability.models import ExecutionStatus, StrategyExecutionLog
from observability.stats import ExecutionLogStats, StatsDelta
from observability.windows import StatsWindow, WindowError, window_parse

if TYPE_CHECKING:
    from observability.services import Replay


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
    parentData = serializers.JSONField(source="parent_data")

    class Meta(ExecutionLogSerializer.Meta):
        fields = [
            *ExecutionLogSerializer.Meta.fields,
            "data",
            "fields",
            "analytics",
            "parentData",
            "trace",
        ]
        read_only_fields = fields


class ReplayResultSerializer(serializers.Serializer):
    """One outcome of a logged input: what the log says, or what a re-run did."""

    points = serializers.FloatField(allow_null=True)
    caseName = serializers.CharField(source="case_name", allow_null=True)
    callbackData = serializers.JSONField(
        source="callback_data", allow_null=True, help_text="Null for a failed run."
    )
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    errorCode = serializers.CharField(source="error_code", allow_null=True)
    strategyVersion = serializers.CharField(source="strategy_version")


class ExecutionReplaySerializer(serializers.Serializer):
    """A logged run and its re-runs; a version that cannot be run is null, and ``notes``
    (present only then, or when the log lacks some input) say why."""

    logged = ReplayResultSerializer()
    versionThatRan = ReplayResultSerializer(source="version_that_ran", allow_null=True)
    current = ReplayResultSerializer(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField(), required=False)


def replay_render(replay: Replay) -> dict[str, Any]:
    """Return the replay answer; ``notes`` only when something is missing."""
    notes = [
        f"{side}: {problem}"
        for side, problem in (
            ("versionThatRan", replay.version_that_ran_problem),
            ("current", replay.current_problem),
        )
        if problem
    ]
    notes += replay.notes
    body = ExecutionReplaySerializer(
        {
            "logged": replay.logged,
            "version_that_ran": replay.version_that_ran,
            "current": replay.current,
            "notes": notes,
        }
    ).data
    if not notes:
        del body["notes"]
    return body


class ExecutionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ExecutionStatus.values, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, required=False, default=50)
    before = serializers.DateTimeField(required=False)


def window_from_query(params: Any) -> StatsWindow:
    """Return the window of a request's query; a bad parameter is a validation error."""
    try:
        return window_parse(params)
    except WindowError as error:
        raise serializers.ValidationError({error.field: [error.message]}) from error


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def stats_render(stats: ExecutionLogStats, *, window: str) -> dict[str, Any]:
    """Return the metrics answer of one strategy: camelCase, ISO dates."""
    duration = stats.duration_ms
    return {
        "strategyId": stats.strategy_id,
        "since": _iso(stats.since),
        "until": _iso(stats.until),
        "bucket": stats.bucket,
        "bucketSeconds": int(stats.bucket_width.total_seconds()),
        "rows": stats.rows,
        "estimatedRuns": stats.estimated_runs,
        "statusMix": {
            status: {"rows": share.rows, "estimated": share.estimated, "share": share.share}
            for status, share in stats.status_mix.items()
        },
        "successRate": stats.success_rate,
        "errorRate": stats.error_rate,
        "durationMs": {
            "p50": duration.p50,
            "p95": duration.p95,
            "p99": duration.p99,
            "avg": duration.avg,
            "min": duration.min,
            "max": duration.max,
        },
        "points": {
            "avg": stats.points.avg,
            "estimatedSum": stats.points.estimated_sum,
            "rowsSum": stats.points.rows_sum,
        },
        "nodes": {"avg": stats.nodes.avg, "max": stats.nodes.max},
        "durationHistogram": [
            {"leMs": b.le_ms, "rows": b.rows, "estimated": b.estimated}
            for b in stats.duration_histogram
        ],
        "pointsHistogram": [
            {"from": b.start, "to": b.end, "rows": b.rows, "estimated": b.estimated}
            for b in stats.points_histogram
        ],
        "topErrors": [
            {"errorCode": e.error_code, "count": e.count, "estimated": e.estimated}
            for e in stats.top_errors
        ],
        "topCases": [
            {"caseName": c.case_name, "count": c.count, "estimated": c.estimated}
            for c in stats.top_cases
        ],
        "series": [
            {
                "at": _iso(p.at),
                "rows": p.rows,
                "estimatedRuns": p.estimated_runs,
                "estimatedErrors": p.estimated_errors,
                "errorRate": p.error_rate,
                "avgDurationMs": p.avg_duration_ms,
            }
            for p in stats.series
        ],
        "window": window,
    }


#: The API name of each compared figure, in the answer's order.
DELTA_NAMES = {
    "estimated_runs": "estimatedRuns",
    "success_rate": "successRate",
    "error_rate": "errorRate",
    "duration_ms_p50": "durationMsP50",
    "duration_ms_p95": "durationMsP95",
    "duration_ms_p99": "durationMsP99",
    "duration_ms_avg": "durationMsAvg",
    "points_avg": "pointsAvg",
    "nodes_avg": "nodesAvg",
    "nodes_max": "nodesMax",
}


def delta_render(delta: StatsDelta) -> dict[str, float | None]:
    """Return B - A by API name."""
    return {name: getattr(delta, field) for field, name in DELTA_NAMES.items()}


def compare_render(
    *, a: ExecutionLogStats, b: ExecutionLogStats, delta: StatsDelta, window: str
) -> dict[str, Any]:
    """Return the compare answer: both strategies' metrics and B - A."""
    return {
        "a": stats_render(a, window=window),
        "b": stats_render(b, window=window),
        "delta": delta_render(delta),
    }
