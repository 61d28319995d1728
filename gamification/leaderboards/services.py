"""Writes of leaderboards: an award's change to its entries, and rebuilding a game's entries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction

from gamification.leaderboards import sql
from gamification.leaderboards.cache import Board, cache_enabled, cache_game_drop, cache_points_add
from gamification.leaderboards.periods import (
    ALL_TIME_START,
    LeaderboardPeriod,
    PeriodStarts,
    period_starts,
)
from gamification.models import Award, Game, LeaderboardEntry, Realm, Task


@dataclass(frozen=True, slots=True)
class EntryChange:
    """What one award adds to its eight entries; a reversal is the same change negated
    (``points`` negative, ``awards`` -1)."""

    game_id: int
    task_id: int
    external_user_id: str
    points: float
    awards: int
    starts: PeriodStarts

    def boards(self) -> list[Board]:
        """Return the boards the change counts on: the game's and the task's, per period."""
        starts = {
            LeaderboardPeriod.ALL: ALL_TIME_START,
            LeaderboardPeriod.DAY: self.starts.day,
            LeaderboardPeriod.WEEK: self.starts.week,
            LeaderboardPeriod.MONTH: self.starts.month,
        }
        return [
            Board(game_id=self.game_id, task_id=task_id, period=period, start=start)
            for task_id in (None, self.task_id)
            for period, start in starts.items()
        ]

    def award_write_params(self) -> list[Any]:
        """Return the parameters of ``sql.award_entry_ctes`` (in the award's own write)."""
        adapt = connection.ops.adapt_datefield_value
        return [
            self.game_id,
            self.external_user_id,
            adapt(self.starts.day),
            adapt(self.starts.week),
            adapt(self.starts.month),
        ]


def entry_change_for_award(
    *,
    timezone: str,
    game_id: int,
    task_id: int,
    external_user_id: str,
    points: float,
    at: datetime,
) -> EntryChange:
    """Return the change an award of ``points`` at ``at`` makes, in periods of ``timezone``."""
    return EntryChange(
        game_id=game_id,
        task_id=task_id,
        external_user_id=external_user_id,
        points=points,
        awards=1,
        starts=period_starts(timezone=timezone, at=at),
    )


def leaderboard_entries_change(*, change: EntryChange, player_id: int) -> None:
    """Apply ``change`` to the player's entries, in the caller's transaction.

    On PostgreSQL an award does this inside its own write (``sql.award_entry_ctes``); this is
    the same upsert as statements of their own, for the ORM path of the demo.
    """
    adapt = connection.ops.adapt_datefield_value
    params: list[Any] = [
        change.game_id,
        change.task_id,
        player_id,
        change.external_user_id,
        change.points,
        change.awards,
        adapt(change.starts.day),
        adapt(change.starts.week),
        adapt(change.starts.month),
    ]
    source = sql.one_entry_source(connection.vendor)
    with connection.cursor() as cursor:
        for statement in sql.entry_upserts(source, connection.vendor):
            cursor.execute(statement, params)


def leaderboard_cache_change(*, change: EntryChange, transaction_id: int | None) -> None:
    """Add ``change`` to the cached boards once its transaction commits (if they are cached).

    ``transaction_id`` is the one the award's write answered; the demo caches nothing.
    """
    if transaction_id is None or not cache_enabled():
        return
    transaction.on_commit(
        lambda: cache_points_add(
            boards=change.boards(),
            external_user_id=change.external_user_id,
            points=change.points,
            transaction_id=transaction_id,
        )
    )


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a rebuild changed: entries set right, entries no award backs removed."""

    game_id: int
    corrected: int
    pruned: int
    cache_dropped: bool


def _game_entries(game: Game):
    """The game's entries: its own boards' by game, its tasks' by task (the indexes' way)."""
    return LeaderboardEntry.objects.filter(
        game=game, task__isnull=True
    ) | LeaderboardEntry.objects.filter(task__in=game.tasks.values("pk"))


def leaderboards_rebuild(*, game: Game) -> RebuildResult:
    """Set every entry of ``game`` to what its awards add up to, then drop its cached sets.

    Safe while awards arrive: on PostgreSQL each entry is corrected by the difference its
    snapshot found, which a concurrent award's increment does not undo. Run it after changing
    a realm's time zone (entries are keyed by local dates).
    """
    timezone = game.realm.timezone
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql.entries_rebuild_postgres(), [timezone, *[game.pk] * 4])
            corrected = cursor.fetchone()[0]
        pruned = 0
        for rows in (
            LeaderboardEntry.objects.filter(game=game, task__isnull=True),
            LeaderboardEntry.objects.filter(task__in=game.tasks.values("pk")),
        ):
            pruned += rows.filter(awards=0).delete()[0]
    else:
        corrected, pruned = _entries_rebuild_in_python(game=game, timezone=timezone)
    return RebuildResult(
        game_id=game.pk,
        corrected=corrected,
        pruned=pruned,
        cache_dropped=cache_game_drop(game_id=game.pk),
    )


def _entries_rebuild_in_python(*, game: Game, timezone: str) -> tuple[int, int]:
    """The demo's rebuild: recount in Python and replace the rows (SQLite takes the writes
    one transaction at a time, so no award interleaves)."""
    totals: dict[tuple[int | None, str, date, int], list[Any]] = defaultdict(lambda: ["", 0.0, 0])
    awards = (
        Award.objects.filter(task__game=game, reversal__isnull=True)
        .order_by("created_at", "id")
        .values_list("task_id", "player_id", "player__external_user_id", "points", "created_at")
    )
    with transaction.atomic():
        for task_id, player_id, user, points, at in awards.iterator():
            change = EntryChange(
                game_id=game.pk,
                task_id=task_id,
                external_user_id=user,
                points=points,
                awards=1,
                starts=period_starts(timezone=timezone, at=at),
            )
            for board in change.boards():
                total = totals[(board.task_id, board.period, board.start, player_id)]
                total[0] = user
                total[1] += points
                total[2] += 1
        kept = {
            (task_id, period, start, player_id): [user, points, count]
            for task_id, period, start, player_id, user, points, count in _game_entries(
                game
            ).values_list(
                "task_id",
                "period",
                "period_start",
                "player_id",
                "external_user_id",
                "points",
                "awards",
            )
        }
        _game_entries(game).delete()
        LeaderboardEntry.objects.bulk_create(
            LeaderboardEntry(
                game=game,
                task_id=task_id,
                period=period,
                period_start=start,
                player_id=player_id,
                external_user_id=user,
                points=points,
                awards=count,
            )
            for (task_id, period, start, player_id), (user, points, count) in totals.items()
        )
    corrected = sum(1 for key, total in totals.items() if kept.get(key) != total)
    return corrected, len(kept.keys() - totals.keys())


def leaderboard_task_forget(*, task: Task) -> None:
    """Take a task's awards out of its game's boards, before the task (and they) are deleted.

    Its own boards go with it (a cascade); the game's cached sets are dropped after commit.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql.task_entries_subtract(), [task.pk])
        LeaderboardEntry.objects.filter(game_id=task.game_id, task__isnull=True, awards=0).delete()
    transaction.on_commit(lambda: cache_game_drop(game_id=task.game_id))


def task_pre_delete(*, instance: Task, origin: object = None, **kwargs: object) -> None:
    """``pre_delete`` receiver of Task: its game's boards forget it, unless the game goes too."""
    model = getattr(origin, "model", type(origin))
    if not (isinstance(model, type) and issubclass(model, Game | Realm)):
        leaderboard_task_forget(task=instance)
