"""Request and response shapes of levels, badges and the player profile (camelCase)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gamification.achievements.definitions import LEVELS_MAX
from gamification.models import Badge, StreakPeriod


class LevelSerializer(serializers.Serializer):
    level = serializers.IntegerField(min_value=0, max_value=10**6)
    name = serializers.CharField(max_length=200)
    minPoints = serializers.FloatField(source="min_points", min_value=-(2**53), max_value=2**53)


class LevelsSerializer(serializers.Serializer):
    """The game's levels, ascending, and (optionally) its streak period."""

    levels = serializers.ListField(child=LevelSerializer(), max_length=LEVELS_MAX)
    streakPeriod = serializers.ChoiceField(
        source="streak_period", choices=StreakPeriod.choices, required=False, allow_blank=True
    )

    def to_internal_value(self, data: Any) -> Any:
        # A bare list is the levels alone.
        if isinstance(data, list):
            data = {"levels": data}
        return super().to_internal_value(data)


class BadgeSerializer(serializers.ModelSerializer):
    badgeId = serializers.CharField(source="badge_id", max_length=255)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    repeatable = serializers.BooleanField(required=False, default=False)
    condition = serializers.JSONField(
        help_text="A DSL condition over data.*, player.points, player.awards, player.level, "
        "player.streak and player.tasks.<externalTaskId>.awards."
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Badge
        fields = ["badgeId", "name", "description", "repeatable", "condition", "createdAt"]


class ProfileLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()


class ProfileStreakSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    longest = serializers.IntegerField()


class ProfileBadgeSerializer(serializers.Serializer):
    badgeId = serializers.CharField(source="badge_id")
    name = serializers.CharField()
    count = serializers.IntegerField(help_text="Times earned (1 unless repeatable).")
    earnedAt = serializers.DateTimeField(source="earned_at", help_text="First time earned.")
    lastEarnedAt = serializers.DateTimeField(source="last_earned_at")


class PlayerProfileSerializer(serializers.Serializer):
    externalUserId = serializers.CharField(source="external_user_id")
    externalGameId = serializers.CharField(source="external_game_id")
    points = serializers.FloatField()
    awards = serializers.IntegerField()
    level = ProfileLevelSerializer(allow_null=True)
    streak = ProfileStreakSerializer(allow_null=True)
    badges = ProfileBadgeSerializer(many=True)
