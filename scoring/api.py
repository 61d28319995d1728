"""The scoring endpoint game servers call, and the catalogue of built-in strategies."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gamification import selectors
from gamification.api import TaskPointsReadMixin
from gamification.auth import request_api_key, request_realm
from scoring.builtins.registry import ALIASES, builtin_list, builtin_version_hash
from scoring.serializers import (
    AwardRequestSerializer,
    AwardResponseSerializer,
    BuiltinStrategySerializer,
    award_request_validated,
)
from scoring.services import award_points

IDEMPOTENCY_HEADER = "Idempotency-Key"


class TaskPointsView(TaskPointsReadMixin, generics.GenericAPIView):
    serializer_class = AwardRequestSerializer

    @extend_schema(
        request=AwardRequestSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retries with the same key replay the first answer (200).",
            )
        ],
        responses={201: AwardResponseSerializer, 200: AwardResponseSerializer},
    )
    def post(self, request: Request, external_game_id: str, external_task_id: str) -> HttpResponse:
        """Score one event with the task's strategy and store the points."""
        payload = award_request_validated(request.data)
        idempotency_key = request.headers.get(IDEMPOTENCY_HEADER) or None
        if idempotency_key is not None and len(idempotency_key) > 255:
            raise serializers.ValidationError({IDEMPOTENCY_HEADER: ["At most 255 characters."]})
        realm = request_realm(request)
        task = selectors.task_for_award(
            realm=realm, external_game_id=external_game_id, external_task_id=external_task_id
        )
        outcome = award_points(
            realm=realm,
            api_key=request_api_key(request),
            task=task,
            external_user_id=payload["externalUserId"],
            data=payload["data"],
            idempotency_key=idempotency_key,
            dry_run=payload["dryRun"],
        )
        return HttpResponse(
            outcome.body,
            content_type="application/json",
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


class BuiltinStrategyListView(APIView):
    @extend_schema(responses=BuiltinStrategySerializer(many=True))
    def get(self, request: Request) -> Response:  # noqa: ARG002
        """List the built-in strategies with their tunable variables."""
        payload = [
            {
                "id": strategy.id,
                "aliases": sorted(
                    alias for alias, target in ALIASES.items() if target == strategy.id
                ),
                "description": strategy.description,
                "version": strategy.version,
                "versionHash": builtin_version_hash(strategy.id),
                "variables": dict(strategy.variables),
            }
            for strategy in builtin_list()
        ]
        return Response(BuiltinStrategySerializer(payload, many=True).data)
