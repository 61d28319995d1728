"""What an award does to the player's level, streak and badges: read, decide, write.

The award read brings the player's state in the game (``read_plan``, ``state_parse``);
``achievements_evaluate`` decides after the strategy, in the award's execution budget; the
award's one write applies the result (``AchievementWrite.params`` for its CTEs on
PostgreSQL, ``achievements_store`` in the ORM path). A badge condition that fails at run time
(a type mismatch, the budget spent) grants nothing and is logged; the award is stored: a
badge is a reward on top of the points, not a reason to lose them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from time import monotonic, perf_counter
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from gamification.achievements import sql
from gamification.achievements.definitions import (
    GameAchievements,
    Level,
    achievements_cached,
    achievements_load,
    achievements_remember,
)
from gamification.hooks import ConditionFailed
from gamification.leaderboards.periods import LeaderboardPeriod, period_start
from gamification.models import (
    Award,
    Game,
    Player,
    PlayerBadge,
    PlayerGameStats,
    StreakPeriod,
    WebhookEventType,
)
from gamification.sql import column, read_one
from gamification.webhooks import (
    WebhookEvent,
    webhook_delivery_kick,
    webhook_event_build,
    webhook_event_store,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LevelAnswer:
    level: int | None
    name: str | None
    changed: bool


@dataclass(frozen=True, slots=True)
class StreakAnswer:
    current: int
    longest: int


@dataclass(frozen=True, slots=True)
class AchievementAnswer:
    """What the award answers about achievements: only what the game defines (else None)."""

    level: LevelAnswer | None = None
    streak: StreakAnswer | None = None
    badges_earned: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PlayerState:
    """The player's state in the game before the award, as the read found it."""

    points: float = 0.0
    awards: int = 0
    current_streak: int = 0
    longest_streak: int = 0
    streak_start: date | None = None
    held: frozenset[int] = frozenset()
    task_awards: Mapping[str, int] = field(default_factory=dict)
    badge_webhooks: bool = False
    level_webhooks: bool = False


@dataclass(frozen=True, slots=True)
class AchievementState:
    definitions: GameAchievements
    player: PlayerState


@dataclass(frozen=True, slots=True)
class AchievementWrite:
    """What the award's write adds; ``params`` are those of ``sql.write_ctes(shape)``."""

    shape: sql.WriteShape
    game_id: int
    award_id: uuid.UUID
    realm_id: int
    at: datetime
    period_start: date | None = None
    previous_start: date | None = None
    #: (badge pk, granted once) per badge earned.
    grants: tuple[tuple[int, bool], ...] = ()
    badge_events: tuple[WebhookEvent, ...] = ()
    level_event: WebhookEvent | None = None

    def params(self) -> list[Any]:
        adapt = connection.ops.adapt_datefield_value
        params: list[Any] = []
        if self.shape.streak:
            previous = adapt(self.previous_start)
            params += [self.game_id, adapt(self.period_start), previous, previous]
        if self.shape.badges:
            params += [self.game_id, self.award_id, self.at]
            for pk, once in self.grants:
                params += [pk, once]
            if self.shape.badge_webhooks:
                first = self.badge_events[0]
                params += [first.created_at, first.expires_at, first.created_at]
                for (pk, _once), event in zip(self.grants, self.badge_events, strict=True):
                    params += [pk, event.id, event.body]
                params.append(self.realm_id)
        if self.level_event is not None:
            event = self.level_event
            params += [event.created_at, event.expires_at, event.created_at]
            params += [event.id, event.body, self.realm_id]
        return params


@dataclass(frozen=True, slots=True)
class AchievementOutcome:
    answer: AchievementAnswer
    write: AchievementWrite | None


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What the award read asks for a game, and the copy of its definitions that decided it."""

    shape: sql.ReadShape
    params: list[Any]
    definitions: GameAchievements | None


def read_plan(*, game_id: int) -> ReadPlan:
    """Return what the award read asks for a game, from this process's copy."""
    definitions = achievements_cached(game_id=game_id)
    if definitions is None or not definitions.defined:
        return ReadPlan(shape=sql.ReadShape(), params=[], definitions=definitions)
    shape, params = _shape_of(definitions)
    return ReadPlan(shape=shape, params=params, definitions=definitions)


#: How often one badge's failing condition is logged, at most, per process.
CONDITION_FAILURE_LOG_INTERVAL_SECONDS = 60.0
_CONDITION_FAILURES: dict[tuple[int, str, str], tuple[float, int]] = {}
_CONDITION_FAILURES_SIZE = 4096


def _condition_failure_log(*, game_id: int, badge_id: str, error: ConditionFailed) -> None:
    """Log that a badge's condition failed, once a minute per badge and error at most.

    A condition on a field that most events lack (``data.score`` >= 10) fails on every award:
    a line per award and badge would flood the logs with one event's worth of news. The line
    says how many failures it stands for.
    """
    key = (game_id, badge_id, error.code)
    now = monotonic()
    logged_at, failed = _CONDITION_FAILURES.get(key, (-CONDITION_FAILURE_LOG_INTERVAL_SECONDS, 0))
    failed += 1
    if now - logged_at < CONDITION_FAILURE_LOG_INTERVAL_SECONDS:
        _CONDITION_FAILURES[key] = (logged_at, failed)
        return
    if len(_CONDITION_FAILURES) >= _CONDITION_FAILURES_SIZE:
        _CONDITION_FAILURES.clear()
    _CONDITION_FAILURES[key] = (now, 0)
    logger.warning(
        "badge %s of game %s not evaluated: %s at %s (%d time(s) since last said)",
        badge_id,
        game_id,
        error.code,
        error.pointer,
        failed,
    )


def deadline_after(*, spent_ms: float) -> float:
    """Return the ``perf_counter`` deadline of what is left of the award's execution budget."""
    return perf_counter() + max(0.0, settings.DSL_EXECUTION_TIMEOUT_MS - spent_ms) / 1000.0


def _held(value: Any) -> frozenset[int]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(int(part) for part in value.split(",") if part)
    return frozenset(int(part) for part in value)


def _parse(
    definitions: GameAchievements, shape: sql.ReadShape, values: Sequence[Any]
) -> PlayerState:
    points, awards = values[0] or 0.0, values[1] or 0
    offset = 2
    current = longest = 0
    start = None
    if shape.streak:
        current, longest, start = values[offset : offset + 3]
        offset += 3
        if isinstance(start, str):
            start = date.fromisoformat(start)
    held: frozenset[int] = frozenset()
    if shape.held_badges:
        held = _held(values[offset])
        offset += 1
    counts = values[offset : offset + shape.task_count]
    offset += shape.task_count
    task_awards = {
        task_id: count or 0 for task_id, count in zip(definitions.task_ids, counts, strict=True)
    }
    badge_webhooks = bool(values[offset]) if shape.badge_webhooks else False
    offset += int(shape.badge_webhooks)
    level_webhooks = bool(values[offset]) if shape.level_webhooks else False
    return PlayerState(
        points=points,
        awards=awards,
        current_streak=current or 0,
        longest_streak=longest or 0,
        streak_start=start,
        held=held,
        task_awards=task_awards,
        badge_webhooks=badge_webhooks,
        level_webhooks=level_webhooks,
    )


def _state_read(
    definitions: GameAchievements, *, realm_id: int, game_id: int, player_id: int | None
) -> PlayerState:
    """Read the player's state on its own: the award read asked for an older copy's shape."""
    shape, params = _shape_of(definitions)
    vendor = connection.vendor
    statement = (
        f"SELECT {', '.join(sql.read_columns(shape, vendor))} "
        "FROM (SELECT CAST(%s AS BIGINT) AS realm_id) AS event "
        f"JOIN {Game._meta.db_table} g ON g.{column(Game, 'id')} = %s "
        f"LEFT JOIN {Player._meta.db_table} p ON p.{column(Player, 'id')} = %s "
        f"{sql.read_join(shape, vendor)}"
    )
    row = read_one(statement, [realm_id, game_id, player_id, *params])
    assert row is not None, "the game was just read"
    return _parse(definitions, shape, row[1:])


def _shape_of(definitions: GameAchievements) -> tuple[sql.ReadShape, list[Any]]:
    return (
        sql.ReadShape(
            defined=True,
            streak=bool(definitions.streak_period),
            held_badges=definitions.held_badges,
            task_count=len(definitions.task_ids),
            badge_webhooks=bool(definitions.badges),
            level_webhooks=bool(definitions.levels),
        ),
        list(definitions.task_ids),
    )


def state_parse(
    *,
    game_id: int,
    realm_id: int,
    player_id: int | None,
    plan: ReadPlan,
    values: Sequence[Any],
) -> AchievementState | None:
    """Return the player's state from the read's achievement columns; None for a game that
    defines nothing.

    The columns answer ``plan`` only when the game's version is the one of the copy that
    made it; otherwise (definitions changed since, or another request of this process
    replaced the copy between the plan and the answer) the definitions are looked up again
    and the state read on its own.
    """
    version = values[0]
    planned = plan.definitions
    if planned is not None and planned.version == version:
        if not planned.defined:
            return None
        return AchievementState(definitions=planned, player=_parse(planned, plan.shape, values[1:]))
    definitions = achievements_cached(game_id=game_id)
    if definitions is None and version == 0:
        achievements_remember(game_id=game_id, definitions=GameAchievements(version=0))
        return None
    if definitions is None or definitions.version != version:
        definitions = achievements_load(game_id=game_id)
    if not definitions.defined:
        return None
    player = _state_read(definitions, realm_id=realm_id, game_id=game_id, player_id=player_id)
    return AchievementState(definitions=definitions, player=player)


def streak_period_start(*, period: str, timezone: str, at: datetime) -> tuple[date, date]:
    """Return the local start of the streak period holding ``at`` and of the one before."""
    day = at.astimezone(ZoneInfo(timezone)).date()
    if period == StreakPeriod.WEEK:
        start = period_start(period=LeaderboardPeriod.WEEK, day=day)
        return start, start - timedelta(days=7)
    return day, day - timedelta(days=1)


def streak_after(
    *, current: int, longest: int, last: date | None, start: date, previous: date
) -> tuple[int, int]:
    """Return (current, longest) after an award in the period starting ``start``."""
    if last is not None and last >= start:
        new = max(current, 1)
    elif last is not None and last == previous:
        new = current + 1
    else:
        new = 1
    return new, max(longest, new)


def _level_data(level: Level | None) -> dict[str, Any] | None:
    return None if level is None else {"level": level.level, "name": level.name}


def achievements_evaluate(
    *,
    state: AchievementState,
    realm_id: int,
    game_id: int,
    award_id: uuid.UUID,
    external_game_id: str,
    external_task_id: str,
    external_user_id: str,
    points: float,
    data: Mapping[str, Any],
    at: datetime,
    timezone: str,
    deadline: float,
) -> AchievementOutcome:
    """Decide the award's level, streak and badges from the state before it.

    Conditions see the player's state after this award is counted, and run until
    ``deadline`` (a ``perf_counter`` time: what is left of the award's execution budget).
    """
    definitions, before = state.definitions, state.player
    after_points, after_awards = before.points + points, before.awards + 1
    level_answer = None
    level_event = None
    level_after = None
    if definitions.levels:
        level_before = definitions.level_of(before.points)
        level_after = definitions.level_of(after_points)
        changed = level_before != level_after
        level_answer = LevelAnswer(
            level=level_after.level if level_after else None,
            name=level_after.name if level_after else None,
            changed=changed,
        )
        rose = level_after is not None and (
            level_before is None or level_after.level > level_before.level
        )
        if rose and before.level_webhooks:
            level_event = webhook_event_build(
                type=WebhookEventType.LEVEL_REACHED,
                data={
                    "awardId": str(award_id),
                    "externalGameId": external_game_id,
                    "externalTaskId": external_task_id,
                    "externalUserId": external_user_id,
                    "level": _level_data(level_after),
                    "previousLevel": _level_data(level_before),
                    "points": after_points,
                },
                at=at,
            )
    streak_answer = None
    start = previous = None
    current = 0
    if definitions.streak_period:
        start, previous = streak_period_start(
            period=definitions.streak_period, timezone=timezone, at=at
        )
        current, longest = streak_after(
            current=before.current_streak,
            longest=before.longest_streak,
            last=before.streak_start,
            start=start,
            previous=previous,
        )
        streak_answer = StreakAnswer(current=current, longest=longest)
    earned: list[tuple[int, bool, str, str]] = []
    if definitions.badges:
        values: dict[str, Any] = {
            "player.points": after_points,
            "player.awards": after_awards,
            "player.level": level_after.level if level_after else 0,
            "player.streak": current,
        }
        for task_id, count in before.task_awards.items():
            values[f"player.tasks.{task_id}.awards"] = count + (task_id == external_task_id)
        if external_task_id not in before.task_awards:
            values[f"player.tasks.{external_task_id}.awards"] = 1
        for badge in definitions.badges:
            if not badge.repeatable and badge.pk in before.held:
                continue
            try:
                held = badge.condition.holds(data=data, values=values, deadline=deadline)
            except ConditionFailed as error:
                _condition_failure_log(game_id=game_id, badge_id=badge.badge_id, error=error)
                continue
            if held:
                earned.append((badge.pk, not badge.repeatable, badge.badge_id, badge.name))
    badge_events: tuple[WebhookEvent, ...] = ()
    if earned and before.badge_webhooks:
        badge_events = tuple(
            webhook_event_build(
                type=WebhookEventType.BADGE_EARNED,
                data={
                    "awardId": str(award_id),
                    "externalGameId": external_game_id,
                    "externalTaskId": external_task_id,
                    "externalUserId": external_user_id,
                    "badgeId": badge_id,
                    "name": name,
                    "repeatable": not once,
                },
                at=at,
            )
            for _pk, once, badge_id, name in earned
        )
    answer = AchievementAnswer(
        level=level_answer,
        streak=streak_answer,
        badges_earned=tuple(badge_id for _pk, _once, badge_id, _name in earned)
        if definitions.badges
        else None,
    )
    shape = sql.WriteShape(
        # Within the period the read found last credited, the row has nothing to learn.
        streak=start is not None and before.streak_start != start,
        badges=len(earned),
        badge_webhooks=bool(badge_events),
        level_webhook=level_event is not None,
    )
    write = None
    if not shape.empty:
        write = AchievementWrite(
            shape=shape,
            game_id=game_id,
            award_id=award_id,
            realm_id=realm_id,
            at=at,
            period_start=start,
            previous_start=previous,
            grants=tuple((pk, once) for pk, once, _badge_id, _name in earned),
            badge_events=badge_events,
            level_event=level_event,
        )
    return AchievementOutcome(answer=answer, write=write)


def achievements_written(write: AchievementWrite | None) -> None:
    """After the award's write on PostgreSQL: ask for the deliveries its events need."""
    if write is not None and (write.badge_events or write.level_event is not None):
        transaction.on_commit(webhook_delivery_kick)


def achievements_store(*, write: AchievementWrite | None, award: Award) -> None:
    """Apply ``write`` with the ORM, in the caller's transaction (the SQLite path)."""
    if write is None:
        return
    if write.shape.streak:
        assert write.period_start is not None, "a streak write has its period"
        assert write.previous_start is not None, "a streak write has its period"
        stats, _created = PlayerGameStats.objects.select_for_update().get_or_create(
            player_id=award.player_id, game_id=write.game_id
        )
        stats.current_streak, stats.longest_streak = streak_after(
            current=stats.current_streak,
            longest=stats.longest_streak,
            last=stats.streak_period_start,
            start=write.period_start,
            previous=write.previous_start,
        )
        last = stats.streak_period_start
        stats.streak_period_start = (
            write.period_start if last is None else max(last, write.period_start)
        )
        stats.save()
    granted: set[int] = set()
    for pk, once in write.grants:
        try:
            with transaction.atomic():
                PlayerBadge.objects.create(
                    player_id=award.player_id,
                    badge_id=pk,
                    game_id=write.game_id,
                    award_id=award.pk,
                    once=once,
                    earned_at=write.at,
                )
        except IntegrityError:
            continue
        granted.add(pk)
    for (pk, _once), event in zip(write.grants, write.badge_events, strict=False):
        if pk in granted:
            webhook_event_store(realm_id=award.realm_id, event=event)
    if write.level_event is not None:
        webhook_event_store(realm_id=award.realm_id, event=write.level_event)
