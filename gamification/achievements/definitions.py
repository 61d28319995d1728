"""A game's levels, streak period and badges as the award path uses them, cached per process.

The award read answers the game's ``achievements_version`` (0: it never defined any, and
nothing more is read); a process keeps the definitions
of each game it scored with the version they were loaded at, and loads them again (one
statement more, once per change and process) when the read shows another version.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gamification.errors import ConflictError, DomainError
from gamification.hooks import BadgeCondition, ConditionInvalid, badge_condition_compile
from gamification.models import Badge, Game

#: Levels a game may define.
LEVELS_MAX = 100
#: Badges a game may define.
BADGES_MAX = 100
#: Tasks a game's badge conditions may name together (``player.tasks.<id>.awards``): each is
#: one more probe and column of every award's read of the game.
BADGE_TASKS_MAX = 100


class BadgeLimitReached(ConflictError):
    code = "BADGE_LIMIT_REACHED"


class BadgeConditionInvalid(DomainError):
    """A badge condition does not validate: every issue with its JSON pointer and node id."""

    code = "DSL_VALIDATION_ERROR"


class LevelsInvalid(DomainError):
    code = "LEVELS_INVALID"


@dataclass(frozen=True, slots=True)
class Level:
    level: int
    name: str
    min_points: float


@dataclass(frozen=True, slots=True)
class BadgeRule:
    pk: int
    badge_id: str
    name: str
    repeatable: bool
    condition: BadgeCondition


@dataclass(frozen=True, slots=True)
class GameAchievements:
    """What a game defines, at ``version``; ``task_ids`` are the tasks the badges count on."""

    version: int
    levels: tuple[Level, ...] = ()
    streak_period: str = ""
    badges: tuple[BadgeRule, ...] = ()
    task_ids: tuple[str, ...] = ()

    @property
    def defined(self) -> bool:
        return bool(self.levels or self.streak_period or self.badges)

    @property
    def held_badges(self) -> bool:
        """Whether a badge is granted once: the read must say which the player holds."""
        return any(not badge.repeatable for badge in self.badges)

    def level_of(self, points: float) -> Level | None:
        """Return the highest level whose threshold ``points`` reach, None below the first."""
        reached = None
        for level in self.levels:
            if points >= level.min_points:
                reached = level
            else:
                break
        return reached


def condition_check(condition: Any) -> BadgeCondition:
    """Compile a badge condition, or refuse it with every issue and its pointer."""
    try:
        return badge_condition_compile(condition)
    except ConditionInvalid as error:
        errors = error.issues
        raise BadgeConditionInvalid(
            f"The condition is invalid: {errors[0]['message']}", field="condition", errors=errors
        ) from None


def badge_limits_check(*, game_id: int, condition: BadgeCondition) -> None:
    """Refuse one more badge of the game, with ``condition``, past ``BADGES_MAX`` badges or
    ``BADGE_TASKS_MAX`` tasks named (409 ``BADGE_LIMIT_REACHED``)."""
    current = achievements_load(game_id=game_id)
    if Badge.objects.filter(game_id=game_id).count() >= BADGES_MAX:
        raise BadgeLimitReached(f"A game has at most {BADGES_MAX} badges.", maxBadges=BADGES_MAX)
    named = set(current.task_ids) | condition.task_ids
    if len(named) > BADGE_TASKS_MAX:
        raise BadgeLimitReached(
            f"A game's badges name at most {BADGE_TASKS_MAX} tasks together; with this one "
            f"they would name {len(named)}.",
            maxTasks=BADGE_TASKS_MAX,
        )


def levels_check(levels: Any) -> list[dict[str, Any]]:
    """Return ``levels`` in stored form (snake_case), or refuse them with the first problem.

    A list of ``{"level", "name", "min_points"}``, both numbers strictly ascending.
    """
    if not isinstance(levels, list):
        raise LevelsInvalid("levels must be a list.", field="levels")
    if len(levels) > LEVELS_MAX:
        raise LevelsInvalid(f"A game has at most {LEVELS_MAX} levels.", field="levels")
    stored: list[dict[str, Any]] = []
    for index, item in enumerate(levels):
        where = f"/levels/{index}"
        if not isinstance(item, dict) or set(item) != {"level", "name", "min_points"}:
            raise LevelsInvalid(
                "Each level is {level, name, minPoints} and nothing else.", pointer=where
            )
        number, name, min_points = item["level"], item["name"], item["min_points"]
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 10**6:
            raise LevelsInvalid("level is an integer from 0 to 1000000.", pointer=where)
        if not isinstance(name, str) or not 1 <= len(name) <= 200:
            raise LevelsInvalid("name is a string of 1 to 200 characters.", pointer=where)
        if (
            isinstance(min_points, bool)
            or not isinstance(min_points, int | float)
            or not math.isfinite(min_points)
            or abs(min_points) > 2**53
        ):
            raise LevelsInvalid("minPoints is a finite number.", pointer=where)
        if stored and (number <= stored[-1]["level"] or min_points <= stored[-1]["min_points"]):
            raise LevelsInvalid(
                "Levels and their minPoints must both be strictly ascending.", pointer=where
            )
        stored.append({"level": number, "name": name, "min_points": min_points})
    return stored


_DEFINITIONS: dict[int, GameAchievements] = {}
_DEFINITIONS_SIZE = 4096


def achievements_cached(*, game_id: int) -> GameAchievements | None:
    """Return this process's copy of a game's definitions, if it has one."""
    return _DEFINITIONS.get(game_id)


def achievements_load(*, game_id: int) -> GameAchievements:
    """Read a game's definitions and keep them for the next awards of this process."""
    game = Game.objects.filter(pk=game_id).values("levels", "streak_period", "achievements_version")
    row = game.first()
    if row is None:
        return GameAchievements(version=-1)
    badges: list[BadgeRule] = []
    task_ids: set[str] = set()
    rows = Badge.objects.filter(game_id=game_id)
    for pk, badge_id, name, repeatable, condition in rows.values_list(
        "pk", "badge_id", "name", "repeatable", "condition"
    ):
        try:
            compiled = badge_condition_compile(condition)
        except ConditionInvalid:
            continue  # validated when written; a limit lowered since leaves the badge out
        # Badges past the game's limits (written before them, or around the API) are left
        # out, in badge id order, so that the award's read stays what the limits allow.
        if len(badges) == BADGES_MAX or len(task_ids | compiled.task_ids) > BADGE_TASKS_MAX:
            continue
        badges.append(BadgeRule(pk, badge_id, name, repeatable, compiled))
        task_ids.update(compiled.task_ids)
    levels = tuple(
        Level(item["level"], item["name"], item["min_points"]) for item in row["levels"] or ()
    )
    definitions = GameAchievements(
        version=row["achievements_version"],
        levels=levels,
        streak_period=row["streak_period"],
        badges=tuple(badges),
        task_ids=tuple(sorted(task_ids)),
    )
    achievements_remember(game_id=game_id, definitions=definitions)
    return definitions


def achievements_remember(*, game_id: int, definitions: GameAchievements) -> None:
    """Keep ``definitions`` as this process's copy of the game's."""
    if len(_DEFINITIONS) >= _DEFINITIONS_SIZE:
        _DEFINITIONS.clear()
    _DEFINITIONS[game_id] = definitions


def achievements_forget() -> None:
    """Drop every kept definition (tests)."""
    _DEFINITIONS.clear()
