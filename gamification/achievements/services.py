"""Writes of a game's achievements: its levels and streak period, its badges.

Every write bumps the game's ``achievements_version`` in its transaction, so that each
process reloads its copy of the definitions at its next award of the game.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from gamification.achievements.definitions import condition_check, levels_check
from gamification.errors import ConflictError
from gamification.models import ApiKey, Badge, Game, StreakPeriod


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
