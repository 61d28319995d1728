"""Games, tasks and points reads for game servers. Every view is scoped to the key's realm."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from gamification import selectors, services, webhooks
from gamification.auth import request_api_key, request_realm
from gamification.filters import GameFilter, TaskFilter
from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.leaderboards.selectors import leaderboard_read
from gamification.models import Game, PlayerTaskStats, Task, WebhookEndpoint
from gamification.serializers import (
    GameSerializer,
    GameUpdateSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
    PlayerPointsSerializer,
    PlayerTotalSerializer,
    TaskBulkSerializer,
    TaskPointsSummarySerializer,
    TaskSerializer,
    TaskUpdateSerializer,
    WebhookCreatedSerializer,
    WebhookCreateSerializer,
    WebhookSerializer,
    WebhookTestSerializer,
)


class GameListCreateView(generics.ListCreateAPIView):
    serializer_class = GameSerializer
    filterset_class = GameFilter
    queryset = Game.objects.none()  # for the schema; get_queryset scopes to the realm

    def get_queryset(self):
        return selectors.game_list(realm=request_realm(self.request)).order_by("external_game_id")

    def perform_create(self, serializer: serializers.BaseSerializer[Game]) -> None:
        serializer.instance = services.game_create(
            realm=request_realm(self.request),
            api_key=request_api_key(self.request),
            **serializer.validated_data,
        )


class GameDetailView(generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]
    lookup_url_kwarg = "external_game_id"

    def get_serializer_class(self):
        return GameUpdateSerializer if self.request.method == "PATCH" else GameSerializer

    def get_object(self) -> Game:
        return selectors.game_get(
            realm=request_realm(self.request), external_game_id=self.kwargs["external_game_id"]
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Game]) -> None:
        game = serializer.instance
        assert game is not None, "UpdateModelMixin.update binds the serializer to get_object()"
        serializer.instance = services.game_update(game=game, changes=serializer.validated_data)

    def perform_destroy(self, instance: Game) -> None:
        services.game_delete(game=instance)


# A view under a game's URL: game() is that game, looked up once per request. Handlers still
# take the external_game_id URL kwarg DRF passes (no docstring: it would become the schema's).
class _GameScopedMixin(generics.GenericAPIView):
    def game(self) -> Game:
        if not hasattr(self, "_game"):
            self._game = selectors.game_get(
                realm=request_realm(self.request), external_game_id=self.kwargs["external_game_id"]
            )
        return self._game


class TaskListCreateView(_GameScopedMixin, generics.ListCreateAPIView):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    queryset = Task.objects.none()

    def get_queryset(self):
        return selectors.task_list(game=self.game()).order_by("external_task_id")

    def perform_create(self, serializer: serializers.BaseSerializer[Task]) -> None:
        serializer.instance = services.task_create(
            game=self.game(), api_key=request_api_key(self.request), **serializer.validated_data
        )


class TaskBulkCreateView(_GameScopedMixin, generics.GenericAPIView):
    serializer_class = TaskBulkSerializer
    queryset = Task.objects.none()

    @extend_schema(responses={201: TaskSerializer(many=True)})
    def post(self, request: Request, external_game_id: str) -> Response:  # noqa: ARG002
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tasks = services.tasks_bulk_create(
            game=self.game(),
            api_key=request_api_key(request),
            items=serializer.validated_data["tasks"],
        )
        return Response(TaskSerializer(tasks, many=True).data, status=status.HTTP_201_CREATED)


class TaskDetailView(generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        return TaskUpdateSerializer if self.request.method == "PATCH" else TaskSerializer

    def get_object(self) -> Task:
        return selectors.task_get(
            realm=request_realm(self.request),
            external_game_id=self.kwargs["external_game_id"],
            external_task_id=self.kwargs["external_task_id"],
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Task]) -> None:
        task = serializer.instance
        assert task is not None, "UpdateModelMixin.update binds the serializer to get_object()"
        serializer.instance = services.task_update(task=task, changes=serializer.validated_data)

    def perform_destroy(self, instance: Task) -> None:
        services.task_delete(task=instance)


class GamePointsView(_GameScopedMixin, generics.ListAPIView):
    """Per-player totals of a game, highest first."""

    serializer_class = PlayerTotalSerializer
    queryset = PlayerTaskStats.objects.none()

    def get_queryset(self):
        return selectors.game_points_by_player(game=self.game())


class PlayerPointsView(_GameScopedMixin, generics.GenericAPIView):
    """A player's total in a game and the breakdown by task."""

    serializer_class = PlayerPointsSerializer

    def get(
        self,
        request: Request,
        external_game_id: str,  # noqa: ARG002
        external_user_id: str,
    ) -> Response:
        player = selectors.player_get(
            realm=request_realm(request), external_user_id=external_user_id
        )
        payload = selectors.player_points(player=player, game=self.game())
        return Response(PlayerPointsSerializer(payload).data)


class TaskPointsReadMixin(generics.GenericAPIView):
    """GET on a task's points: its totals and the per-player totals, highest first."""

    @extend_schema(
        responses=inline_serializer(
            "TaskPointsPage",
            {
                "summary": TaskPointsSummarySerializer(),
                "players": PlayerTotalSerializer(many=True),
            },
        )
    )
    def get(self, request: Request, external_game_id: str, external_task_id: str) -> Response:
        task = selectors.task_get(
            realm=request_realm(request),
            external_game_id=external_game_id,
            external_task_id=external_task_id,
        )
        page = self.paginate_queryset(selectors.task_points_by_player(task=task))
        players = PlayerTotalSerializer(page, many=True).data
        response = self.get_paginated_response(players)
        response.data = {
            "summary": TaskPointsSummarySerializer(selectors.task_points_summary(task=task)).data,
            **response.data,
        }
        return response


WEBHOOKS_TAG = ["webhooks"]


@extend_schema(tags=WEBHOOKS_TAG)
class WebhookListCreateView(generics.ListAPIView):
    serializer_class = WebhookSerializer
    queryset = WebhookEndpoint.objects.none()

    def get_queryset(self):
        return webhooks.webhook_endpoint_list(realm=request_realm(self.request))

    @extend_schema(request=WebhookCreateSerializer, responses={201: WebhookCreatedSerializer})
    def post(self, request: Request) -> Response:
        """Create a webhook; the answer holds its signing secret, which is never shown again."""
        payload = WebhookCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        endpoint = webhooks.webhook_endpoint_create(
            realm=request_realm(request),
            url=payload.validated_data["url"],
            events=payload.validated_data["events"],
        )
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class _WebhookScopedMixin(generics.GenericAPIView):
    serializer_class = WebhookSerializer
    queryset = WebhookEndpoint.objects.none()

    def get_object(self) -> WebhookEndpoint:
        return webhooks.webhook_endpoint_get(
            realm=request_realm(self.request), endpoint_id=self.kwargs["webhook_id"]
        )


@extend_schema(tags=WEBHOOKS_TAG)
class WebhookDetailView(_WebhookScopedMixin):
    def get(self, request: Request, webhook_id: str) -> Response:  # noqa: ARG002
        return Response(WebhookSerializer(self.get_object()).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, webhook_id: str) -> Response:  # noqa: ARG002
        """Delete a webhook and its pending deliveries."""
        webhooks.webhook_endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=WEBHOOKS_TAG)
class WebhookTestView(_WebhookScopedMixin):
    @extend_schema(request=None, responses={202: WebhookTestSerializer})
    def post(self, request: Request, webhook_id: str) -> Response:  # noqa: ARG002
        """Queue a ``webhook.test`` delivery to this webhook."""
        message = webhooks.webhook_test_send(endpoint=self.get_object())
        return Response(WebhookTestSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class LeaderboardView(_GameScopedMixin, generics.GenericAPIView):
    serializer_class = LeaderboardSerializer

    @extend_schema(
        summary="A leaderboard of the game, or of one of its tasks",
        description=(
            "Players ranked by points in the current period (all time, or the day, week from "
            "Monday or month in the realm's time zone), ties sharing a rank (1, 2, 2, 4) and "
            "ordered by externalUserId. Pages by offset, or around a player; player (or "
            "around) also answers that player's own entry wherever it stands."
        ),
        parameters=[LeaderboardQuerySerializer],
        responses={
            200: LeaderboardSerializer,
            400: OpenApiResponse(description="VALIDATION_ERROR, errors per parameter"),
            404: OpenApiResponse(description="GAME_NOT_FOUND or TASK_NOT_FOUND"),
        },
    )
    def get(self, request: Request, external_game_id: str) -> Response:
        game = self.game()
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        task = None
        if "task_id" in params:
            task = selectors.task_get(
                realm=request_realm(request),
                external_game_id=external_game_id,
                external_task_id=params["task_id"],
            )
        board = leaderboard_read(
            game=game,
            task=task,
            timezone=request_realm(request).timezone,
            period=LeaderboardPeriod(params["period"]),
            limit=params["limit"],
            offset=params.get("offset", 0),
            around=params.get("around"),
            player=params.get("player"),
        )
        return Response(LeaderboardSerializer(board).data)
