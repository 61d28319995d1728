"""Reads of achievements: a game's badges and a player's profile in a game."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone

from gamification.achievements.awards import streak_period_start
from gamification.leaderboards.periods import ALL_TIME_START, LeaderboardPeriod
from gamification.models import Badge, Game, LeaderboardEntry, Player, PlayerBadge, PlayerGameStats


def badge_list(*, game: Game) -> QuerySet[Badge]:
    return Badge.objects.filter(game=game).order_by("badge_id")


class ProfileLevel(TypedDict):
    level: int
    name: str


class ProfileStreak(TypedDict):
    current: int
    longest: int


class ProfileBadge(TypedDict):
    badge_id: str
    name: str
    count: int
    earned_at: datetime
    last_earned_at: datetime


class PlayerProfile(TypedDict):
    external_user_id: str
    external_game_id: str
    points: float
    awards: int
    level: ProfileLevel | None
    streak: ProfileStreak | None
    badges: list[ProfileBadge]


def player_profile(*, game: Game, player: Player, now: datetime | None = None) -> PlayerProfile:
    """Return the player's points, level, streak and badges in ``game``.

    Points and awards are the game's all-time leaderboard entry; a streak whose last period
    is older than the one before the current period is broken: its current length reads 0.
    """
    entry = (
        LeaderboardEntry.objects.filter(
            game=game,
            task__isnull=True,
            period=LeaderboardPeriod.ALL,
            period_start=ALL_TIME_START,
            player=player,
        )
        .values_list("points", "awards")
        .first()
    )
    points, awards = entry if entry is not None else (0.0, 0)
    level = None
    for item in game.levels or ():
        if points >= item["min_points"]:
            level = ProfileLevel(level=item["level"], name=item["name"])
    streak = None
    if game.streak_period:
        stats = PlayerGameStats.objects.filter(game=game, player=player).first()
        current = longest = 0
        if stats is not None and stats.streak_period_start is not None:
            _start, previous = streak_period_start(
                period=game.streak_period,
                timezone=game.realm.timezone,
                at=now or timezone.now(),
            )
            longest = stats.longest_streak
            current = stats.current_streak if stats.streak_period_start >= previous else 0
        streak = ProfileStreak(current=current, longest=longest)
    rows = (
        PlayerBadge.objects.filter(player=player, game=game)
        .values("badge__badge_id", "badge__name")
        .annotate(count=Count("id"), first=Min("earned_at"), last=Max("earned_at"))
        .order_by("first", "badge__badge_id")
    )
    badges = [
        ProfileBadge(
            badge_id=row["badge__badge_id"],
            name=row["badge__name"],
            count=row["count"],
            earned_at=row["first"],
            last_earned_at=row["last"],
        )
        for row in rows
    ]
    return PlayerProfile(
        external_user_id=player.external_user_id,
        external_game_id=game.external_game_id,
        points=points,
        awards=awards,
        level=level,
        streak=streak,
        badges=badges,
    )
