"""Execution logs, their replay and dashboard metrics, scoped to the key's realm."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gamification.auth import request_realm
from gamification.errors import NotFoundError
from gamification.models import Realm
from gamification.strategy_ids import custom_strategy_id, strategy_uuid
from observability import selectors
from observability.serializers import (
    ExecutionListQuerySerializer,
    ExecutionLogDetailSerializer,
    ExecutionLogSerializer,
    ExecutionReplaySerializer,
    compare_render,
    replay_render,
    stats_render,
    window_from_query,
)
from observability.services import execution_log_replay
from observability.stats import ExecutionLogStats

WINDOW_PARAMETERS = [
    OpenApiParameter("since", str, description="ISO 8601 start (inclusive)."),
    OpenApiParameter("until", str, description="ISO 8601 end (exclusive); default now."),
    OpenApiParameter("window", str, enum=["24h", "7d", "30d"], description="Instead of since."),
]


def strategy_require(*, realm: Realm, strategy_uuid: uuid.UUID) -> str:
    """Return ``custom:<uuid>`` when the realm has that strategy version or logs of it."""
    strategy_id = custom_strategy_id(strategy_uuid)
    if selectors.custom_strategy_exists(realm=realm, definition_id=strategy_uuid):
        return strategy_id
    if selectors.execution_log_exists(strategy_id=strategy_id, realm=realm):
        return strategy_id
    raise NotFoundError(f"No custom strategy {strategy_id!r}.", code="STRATEGY_NOT_FOUND")


class ExecutionListView(APIView):
    """The runbook: most recent runs of a strategy first, optionally of one status."""

    @extend_schema(
        parameters=[ExecutionListQuerySerializer], responses=ExecutionLogSerializer(many=True)
    )
    def get(self, request: Request, strategy_uuid: uuid.UUID) -> Response:
        realm = request_realm(request)
        strategy_id = strategy_require(realm=realm, strategy_uuid=strategy_uuid)
        query = ExecutionListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        logs = selectors.list_for_strategy(
            strategy_id=strategy_id,
            realm=realm,
            status=params.get("status"),
            limit=params["limit"],
            before=params.get("before"),
        )
        body: dict[str, Any] = {"results": ExecutionLogSerializer(logs, many=True).data}
        body["next"] = (
            logs[-1].created_at.isoformat().replace("+00:00", "Z")
            if len(logs) == params["limit"]
            else None
        )
        return Response(body)


class ExecutionDetailView(APIView):
    """One run with its input, precomputed values and trace."""

    @extend_schema(responses=ExecutionLogDetailSerializer)
    def get(self, request: Request, strategy_uuid: uuid.UUID, log_id: uuid.UUID) -> Response:
        realm = request_realm(request)
        log = selectors.execution_log_get(
            strategy_id=custom_strategy_id(strategy_uuid), realm=realm, log_id=log_id
        )
        if log is None:
            raise NotFoundError(f"No execution {log_id}.", code="EXECUTION_NOT_FOUND")
        return Response(ExecutionLogDetailSerializer(log).data)


class ExecutionReplayView(APIView):
    """Re-run a logged run (of a built-in or a custom strategy) on the logged input."""

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter(
                "log_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The log's id."
            )
        ],
        responses=ExecutionReplaySerializer,
        description=(
            "Re-runs the logged event with the analytics values the logged run read, on the "
            "version that ran and on the version the strategy id resolves to now (the "
            "family's published version, or the deployed built-in); nothing is stored. "
            "``versionThatRan`` reproduces ``logged`` unless an input was cut to the log's "
            "budget (``notes`` say so). Another realm's log is a 404."
        ),
    )
    def post(self, request: Request, log_id: str) -> Response:
        log = selectors.execution_log_find(realm=request_realm(request), log_id=log_id)
        if log is None:
            raise NotFoundError(f"No execution {log_id}.", code="EXECUTION_NOT_FOUND")
        return Response(replay_render(execution_log_replay(log=log)))


def _stats(request: Request, strategy_uuid: uuid.UUID) -> tuple[ExecutionLogStats, str]:
    """Return a strategy's stats over the query's window, and the window's name."""
    realm = request_realm(request)
    strategy_id = strategy_require(realm=realm, strategy_uuid=strategy_uuid)
    window = window_from_query(request.query_params)
    stats = selectors.execution_log_stats(
        strategy_id=strategy_id, realm=realm, since=window.since, until=window.until
    )
    return stats, window.name


class StrategyMetricsView(APIView):
    """Status mix, rates, percentiles, histograms, top errors and cases, time series."""

    @extend_schema(parameters=WINDOW_PARAMETERS, responses=dict)
    def get(self, request: Request, strategy_uuid: uuid.UUID) -> Response:
        stats, window = _stats(request, strategy_uuid)
        return Response(stats_render(stats, window=window))


class StrategyCompareView(APIView):
    """Two strategies side by side over the same window, with B - A deltas."""

    @extend_schema(
        parameters=[
            OpenApiParameter("a", str, required=True, description="Strategy UUID A."),
            OpenApiParameter("b", str, required=True, description="Strategy UUID B."),
            *WINDOW_PARAMETERS,
        ],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        ids: dict[str, uuid.UUID] = {}
        errors: dict[str, list[str]] = {}
        for side in ("a", "b"):
            raw = request.query_params.get(side, "")
            parsed = strategy_uuid(raw) if raw else None
            if parsed is None:
                errors[side] = ["A custom strategy UUID is required."]
            else:
                ids[side] = parsed
        if errors:
            raise serializers.ValidationError(errors)
        a, window = _stats(request, ids["a"])
        b, _ = _stats(request, ids["b"])
        delta = selectors.execution_log_compare(a=a, b=b)
        return Response(compare_render(a=a, b=b, delta=delta, window=window))
