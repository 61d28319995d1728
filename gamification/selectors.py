"""Reads of the core domain. Every function takes the caller's realm and never looks past it."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.db.models import Count, QuerySet, Sum

from gamification import sql
from gamification.errors import NotFoundError
from gamification.models import Game, Player, PlayerTaskStats, Realm, Task, TaskStats


def game_list(*, realm: Realm) -> QuerySet[Game]:
    return Game.objects.filter(realm=realm).annotate(task_count=Count("tasks"))


def game_get(*, realm: Realm, external_game_id: str) -> Game:
    game = Game.objects.filter(realm=realm, external_game_id=external_game_id).first()
    if game is None:
        raise NotFoundError(f"No game {external_game_id!r}.", code="GAME_NOT_FOUND")
    return game


def task_list(*, game: Game) -> QuerySet[Task]:
    return Task.objects.filter(game=game).select_related("game")


def task_get(*, realm: Realm, external_game_id: str, external_task_id: str) -> Task:
    """Return the task with its game in one query; a missing game or task is a 404."""
    task = (
        Task.objects.select_related("game")
        .filter(
            game__realm=realm,
            game__external_game_id=external_game_id,
            external_task_id=external_task_id,
        )
        .first()
    )
    if task is None:
        game_get(realm=realm, external_game_id=external_game_id)
        raise NotFoundError(f"No task {external_task_id!r} in this game.", code="TASK_NOT_FOUND")
    return task


#: What ``task_for_award`` found, by (realm id, external game id, external task id). The
#: tasks are shared by every thread of the process and read only: nothing on the award path
#: changes a task it was given, ``award_points`` builds a new one when the stored row differs.
_AWARD_TASKS: dict[tuple[int, str, str], Task] = {}
_AWARD_TASKS_SIZE = 4096


def task_for_award(*, realm: Realm, external_game_id: str, external_task_id: str) -> Task:
    """Return the task to score, with just the columns scoring reads.

    ``award_points`` reads the task again, by the same ids and in the read it makes anyway,
    and trusts only that read: a closed, rebound or deleted task shows there. So a task found
    once is answered from memory (the same instance: building a model costs more than the
    award's own logic), and only the first award of a task in a process (or one for a task
    that does not exist: a 404 here) costs a statement of its own.
    """
    key = (realm.pk, external_game_id, external_task_id)
    task = _AWARD_TASKS.get(key)
    if task is not None:
        return task
    row = sql.read_one(sql.task_for_award(), [realm.pk, external_game_id, external_task_id])
    if row is None:
        return task_get(
            realm=realm, external_game_id=external_game_id, external_task_id=external_task_id
        )
    task_id, strategy_id, status, game_id = row[:4]
    task = Task(
        id=task_id,
        game=Game(id=game_id, realm=realm, external_game_id=external_game_id),
        external_task_id=external_task_id,
        strategy_id=strategy_id,
        status=status,
    )
    if len(_AWARD_TASKS) >= _AWARD_TASKS_SIZE:
        _AWARD_TASKS.clear()
    _AWARD_TASKS[key] = task
    return task


def task_for_award_update(*, realm: Realm, task: Task) -> None:
    """Make ``task_for_award`` answer ``task`` as the award's read found it stored now.

    A publish rebinds tasks to the new version, so what was remembered can name an older
    strategy id: harmless for the result, but the read would prefetch for the wrong id.
    """
    key = (realm.pk, task.game.external_game_id, task.external_task_id)
    if key in _AWARD_TASKS:
        _AWARD_TASKS[key] = task


class PlayerTotal(TypedDict):
    """One player's totals over a set of stats rows."""

    player__external_user_id: str
    points: float
    awards: int


def game_points_by_player(*, game: Game) -> QuerySet[PlayerTaskStats, PlayerTotal]:
    """Return per-player totals of a game, highest first (from the stats rows, not the awards)."""
    return (
        PlayerTaskStats.objects.filter(task__game=game)
        .values("player__external_user_id")
        .annotate(points=Sum("points_total"), awards=Sum("award_count"))
        .order_by("-points", "player__external_user_id")
    )


def task_points_by_player(*, task: Task) -> QuerySet[PlayerTaskStats, PlayerTotal]:
    return (
        PlayerTaskStats.objects.filter(task=task)
        .values("player__external_user_id")
        .annotate(points=Sum("points_total"), awards=Sum("award_count"))
        .order_by("-points", "player__external_user_id")
    )


class TaskPointsSummary(TypedDict):
    points: float
    awards: int
    first_award_at: datetime | None
    last_award_at: datetime | None


def task_points_summary(*, task: Task) -> TaskPointsSummary:
    stats = TaskStats.objects.filter(task=task).first()
    return TaskPointsSummary(
        points=stats.points_total if stats else 0,
        awards=stats.award_count if stats else 0,
        first_award_at=stats.first_award_at if stats else None,
        last_award_at=stats.last_award_at if stats else None,
    )


def player_get(*, realm: Realm, external_user_id: str) -> Player:
    player = Player.objects.filter(realm=realm, external_user_id=external_user_id).first()
    if player is None:
        raise NotFoundError(f"No player {external_user_id!r}.", code="PLAYER_NOT_FOUND")
    return player


class PlayerTaskPoints(TypedDict):
    external_task_id: str
    points: float
    awards: int
    last_award_at: datetime


class PlayerPoints(TypedDict):
    external_user_id: str
    external_game_id: str
    points: float
    awards: int
    tasks: list[PlayerTaskPoints]


def player_points(*, player: Player, game: Game) -> PlayerPoints:
    """Return a player's total in a game and the breakdown by task."""
    rows = list(
        PlayerTaskStats.objects.filter(player=player, task__game=game)
        .order_by("task__external_task_id")
        .values("task__external_task_id", "points_total", "award_count", "last_award_at")
    )
    return PlayerPoints(
        external_user_id=player.external_user_id,
        external_game_id=game.external_game_id,
        points=sum(row["points_total"] for row in rows),
        awards=sum(row["award_count"] for row in rows),
        tasks=[
            PlayerTaskPoints(
                external_task_id=row["task__external_task_id"],
                points=row["points_total"],
                awards=row["award_count"],
                last_award_at=row["last_award_at"],
            )
            for row in rows
        ],
    )
