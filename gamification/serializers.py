"""Request and response shapes of the games, tasks and points API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.leaderboards.selectors import LIMIT_MAX
from gamification.models import Game, Task, TaskStatus


def _external_id(source: str) -> serializers.CharField:
    """A game server's id of a game or task."""
    return serializers.CharField(source=source, max_length=255, allow_blank=False)


class GameSerializer(serializers.ModelSerializer):
    externalGameId = _external_id("external_game_id")
    platform = serializers.CharField(max_length=100, required=False, allow_blank=True)
    strategyId = serializers.CharField(source="strategy_id", max_length=100, required=False)
    params = serializers.JSONField(required=False)
    conversionRate = serializers.DecimalField(
        source="conversion_rate",
        max_digits=18,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        required=False,
        allow_null=True,
        coerce_to_string=False,
        help_text="Points per coin of wallet conversions that name this game; null: the realm's.",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Game
        fields = [
            "externalGameId",
            "platform",
            "strategyId",
            "params",
            "conversionRate",
            "createdAt",
            "updatedAt",
        ]

    def validate_params(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class GameUpdateSerializer(GameSerializer):
    externalGameId = serializers.CharField(source="external_game_id", read_only=True)


class TaskSerializer(serializers.ModelSerializer):
    externalTaskId = _external_id("external_task_id")
    externalGameId = serializers.CharField(source="game.external_game_id", read_only=True)
    strategyId = serializers.CharField(
        source="strategy_id", max_length=100, required=False, allow_null=True
    )
    inheritsStrategy = serializers.BooleanField(source="inherits_strategy", read_only=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    params = serializers.JSONField(required=False)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = Task
        fields = [
            "externalTaskId",
            "externalGameId",
            "strategyId",
            "inheritsStrategy",
            "status",
            "params",
            "createdAt",
            "updatedAt",
        ]

    def validate_params(self, value: object) -> object:
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class TaskUpdateSerializer(TaskSerializer):
    externalTaskId = serializers.CharField(source="external_task_id", read_only=True)


class TaskBulkSerializer(serializers.Serializer):
    # many=True takes the list's max_length (LIST_SERIALIZER_KWARGS); the stubs lack it.
    tasks = TaskSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]


class PlayerTotalSerializer(serializers.Serializer):
    externalUserId = serializers.CharField(source="player__external_user_id")
    points = serializers.FloatField()
    awards = serializers.IntegerField()


class TaskPointsSummarySerializer(serializers.Serializer):
    points = serializers.FloatField()
    awards = serializers.IntegerField()
    firstAwardAt = serializers.DateTimeField(source="first_award_at", allow_null=True)
    lastAwardAt = serializers.DateTimeField(source="last_award_at", allow_null=True)


class PlayerTaskPointsSerializer(serializers.Serializer):
    externalTaskId = serializers.CharField(source="external_task_id")
    points = serializers.FloatField()
    awards = serializers.IntegerField()
    lastAwardAt = serializers.DateTimeField(source="last_award_at")


class PlayerPointsSerializer(serializers.Serializer):
    externalUserId = serializers.CharField(source="external_user_id")
    externalGameId = serializers.CharField(source="external_game_id")
    points = serializers.FloatField()
    awards = serializers.IntegerField()
    tasks = PlayerTaskPointsSerializer(many=True)


class WebhookCreateSerializer(serializers.Serializer):
    """The shape of a new webhook; which URLs and events are allowed is the service's call."""

    url = serializers.CharField(max_length=2000, trim_whitespace=False)
    events = serializers.ListField(
        child=serializers.CharField(max_length=64), allow_empty=False, max_length=64
    )


class WebhookSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    url = serializers.CharField(read_only=True)
    events = serializers.ListField(child=serializers.CharField(), read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret, shown in this answer only."
    )


class WebhookTestSerializer(serializers.Serializer):
    webhookId = serializers.CharField(
        source="webhook_id", help_text="The webhook-id header the test delivery carries."
    )
    type = serializers.CharField(source="event_type")
    status = serializers.CharField()


class LeaderboardQuerySerializer(serializers.Serializer):
    """The query of a leaderboard read; every bad value is a 400 naming its parameter."""

    period = serializers.ChoiceField(
        choices=LeaderboardPeriod.choices, default=LeaderboardPeriod.ALL
    )
    taskId = serializers.CharField(
        source="task_id", max_length=255, required=False, help_text="A task's board."
    )
    limit = serializers.IntegerField(min_value=1, max_value=LIMIT_MAX, default=10)
    offset = serializers.IntegerField(
        min_value=0, max_value=10**9, required=False, help_text="Entries to skip (default 0)."
    )
    around = serializers.CharField(
        max_length=255,
        required=False,
        help_text="An externalUserId: the page is centred on that player instead of offset.",
    )
    player = serializers.CharField(
        max_length=255,
        required=False,
        help_text="An externalUserId whose entry is answered as player, wherever it stands.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "around" in attrs and "offset" in attrs:
            raise serializers.ValidationError({"offset": ["Give either offset or around."]})
        if "player" in attrs and attrs["player"] != attrs.get("around", attrs["player"]):
            raise serializers.ValidationError(
                {"player": ["around already names the player; give one of them."]}
            )
        return attrs


class LocalDateTimeField(serializers.DateTimeField):
    """An aware datetime in its own time zone (a realm's), not converted to the server's."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    externalUserId = serializers.CharField(source="external_user_id")
    points = serializers.FloatField()
    awards = serializers.IntegerField()


class LeaderboardSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=LeaderboardPeriod.choices)
    since = LocalDateTimeField(
        allow_null=True, help_text="Start of the current period in the realm's time zone."
    )
    until = LocalDateTimeField(allow_null=True, help_text="End of the current period.")
    entries = LeaderboardEntrySerializer(many=True)
    player = LeaderboardEntrySerializer(
        allow_null=True, help_text="The entry of the player named by around or player."
    )
