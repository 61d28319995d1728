"""Writes of a game's achievements: its levels and streak period, its badges.

Every write bumps the game's ``achievements_version`` in its transaction, so that each
process reloads its copy of the definitions at its next award of the game.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import TruncDate

from gamification.achievements.definitions import (
    badge_limits_check,
    condition_check,
    levels_check,
)
from gamification.errors import ConflictError
from gamification.models import (
    ApiKey,
    Award,
    Badge,
    Game,
    PlayerBadge,
    PlayerGameStats,
    StreakPeriod,
)


def achievements_version_bump(*, game_id: int) -> None:
    """Tell every process that the game's definitions changed (in the caller's transaction)."""
    Game.objects.filter(pk=game_id).update(achievements_version=F("achievements_version") + 1)


@transaction.atomic
def game_levels_set(
    *,
    game: Game,
    api_key: ApiKey | None,
    levels: Sequence[dict[str, Any]],
    streak_period: str | None = None,
) -> Game:
    """Replace the game's levels (and its streak period when given); record the key."""
    game.levels = levels_check(list(levels))
    fields = ["levels", "achievements_api_key", "updated_at"]
    if streak_period is not None:
        game.streak_period = StreakPeriod(streak_period)
        fields.append("streak_period")
    game.achievements_api_key = api_key
    game.save(update_fields=fields)
    achievements_version_bump(game_id=game.pk)
    game.refresh_from_db(fields=["achievements_version"])
    return game


def badge_create(
    *,
    game: Game,
    api_key: ApiKey | None,
    badge_id: str,
    name: str,
    condition: Any,
    description: str = "",
    repeatable: bool = False,
) -> Badge:
    """Create a badge after validating its condition (400 ``DSL_VALIDATION_ERROR``)."""
    compiled = condition_check(condition)
    try:
        with transaction.atomic():
            # Concurrent creations of the game's badges count one after the other.
            list(Game.objects.select_for_update().filter(pk=game.pk).values_list("pk"))
            badge_limits_check(game_id=game.pk, condition=compiled)
            badge = Badge.objects.create(
                game=game,
                badge_id=badge_id,
                name=name,
                description=description,
                repeatable=repeatable,
                condition=compiled.ast,
                api_key_used=api_key,
            )
            achievements_version_bump(game_id=game.pk)
    except IntegrityError:
        raise ConflictError(
            f"The game has a badge {badge_id!r} already.", code="BADGE_ALREADY_EXISTS"
        ) from None
    return badge


@dataclass(frozen=True, slots=True)
class AchievementsTakenBack:
    """What a reversal took back: the badges the award had granted, the streak recounted."""

    badge_ids: tuple[str, ...]
    current_streak: int
    longest_streak: int


def achievements_award_reverse(*, award: Award) -> AchievementsTakenBack:
    """Take back what ``award`` granted, in the caller's transaction (the reversal's).

    The badges it granted go (a badge granted once may be earned again by a later award).
    The level needs nothing: it follows the player's points in the game, which the reversal's
    change to the leaderboard entries lowers. The streak is counted again from the player's
    other awards in the game, period by period in the realm's time zone: a reversal is rare
    and this reads one date per award of the player in the game.
    """
    game = Game.objects.select_related("realm").get(tasks=award.task_id)
    grants = PlayerBadge.objects.filter(award_id=award.pk)
    badge_ids = tuple(sorted(grants.values_list("badge__badge_id", flat=True)))
    grants.delete()
    current = longest = 0
    if game.streak_period:
        zone = ZoneInfo(game.realm.timezone)
        days = (
            Award.objects.filter(player_id=award.player_id, task__game=game, reversal__isnull=True)
            .exclude(pk=award.pk)
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values_list("day", flat=True)
            .distinct()
        )
        step = 7 if game.streak_period == StreakPeriod.WEEK else 1
        starts = sorted({day - timedelta(days=day.weekday() if step == 7 else 0) for day in days})
        run = 0
        previous: date | None = None
        for start in starts:
            run = run + 1 if previous is not None and start - previous == timedelta(step) else 1
            longest = max(longest, run)
            previous = start
        current = run
        PlayerGameStats.objects.filter(player_id=award.player_id, game=game).update(
            current_streak=current,
            longest_streak=longest,
            streak_period_start=previous,
        )
    return AchievementsTakenBack(
        badge_ids=badge_ids, current_streak=current, longest_streak=longest
    )
