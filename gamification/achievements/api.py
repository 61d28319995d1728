"""Levels, badges and player profiles for game servers, scoped to the key's realm."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from gamification import selectors as core_selectors
from gamification.achievements import selectors, services
from gamification.achievements.serializers import (
    BadgeSerializer,
    LevelsSerializer,
    PlayerProfileSerializer,
)
from gamification.auth import request_api_key, request_realm
from gamification.models import Badge, Game


class _GameScoped(generics.GenericAPIView):
    def game(self) -> Game:
        if not hasattr(self, "_game"):
            self._game = core_selectors.game_get(
                realm=request_realm(self.request), external_game_id=self.kwargs["external_game_id"]
            )
        return self._game


def _levels_body(game: Game) -> dict:
    return LevelsSerializer({"levels": game.levels, "streak_period": game.streak_period}).data


class GameLevelsView(_GameScoped):
    """The game's levels (thresholds on its points) and its streak period."""

    serializer_class = LevelsSerializer

    def get(self, request: Request, external_game_id: str) -> Response:  # noqa: ARG002
        return Response(_levels_body(self.game()))

    @extend_schema(
        request=LevelsSerializer,
        responses={200: LevelsSerializer},
        description="Replace the levels: a list of {level, name, minPoints}, both ascending, "
        "or {levels, streakPeriod} (day, week or empty for no streaks).",
    )
    def put(self, request: Request, external_game_id: str) -> Response:  # noqa: ARG002
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        game = services.game_levels_set(
            game=self.game(),
            api_key=request_api_key(request),
            levels=serializer.validated_data["levels"],
            streak_period=serializer.validated_data.get("streak_period"),
        )
        return Response(_levels_body(game))


class BadgeListCreateView(_GameScoped, generics.ListCreateAPIView):
    """The game's badges; a condition that does not validate is a 400 DSL_VALIDATION_ERROR."""

    serializer_class = BadgeSerializer
    queryset = Badge.objects.none()

    def get_queryset(self):
        return selectors.badge_list(game=self.game())

    @extend_schema(
        responses={
            201: BadgeSerializer,
            409: OpenApiResponse(
                description="BADGE_ALREADY_EXISTS; BADGE_LIMIT_REACHED (100 badges, or 100 "
                "tasks named by the game's conditions together)"
            ),
        }
    )
    def post(self, request: Request, external_game_id: str) -> Response:  # noqa: ARG002
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        badge = services.badge_create(
            game=self.game(), api_key=request_api_key(request), **serializer.validated_data
        )
        return Response(BadgeSerializer(badge).data, status=status.HTTP_201_CREATED)


class PlayerProfileView(_GameScoped):
    """A player's points, level, streak and badges (with when earned) in the game."""

    serializer_class = PlayerProfileSerializer

    def get(
        self,
        request: Request,
        external_game_id: str,  # noqa: ARG002
        external_user_id: str,
    ) -> Response:
        game = self.game()
        player = core_selectors.player_get(
            realm=request_realm(request), external_user_id=external_user_id
        )
        return Response(
            PlayerProfileSerializer(selectors.player_profile(game=game, player=player)).data
        )
