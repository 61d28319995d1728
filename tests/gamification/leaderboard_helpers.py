"""What the leaderboard tests share: a strategy that awards the points an event asks for,
awards at a chosen moment, and the boards as an aggregate over the award ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gamification.leaderboards.periods import ALL_TIME_START, LeaderboardPeriod, period_starts
from gamification.models import Award, Game, LeaderboardEntry, Realm, Task
from scoring.services import award_points
from strategies import services as strategy_services

#: A DSL_FULL program awarding ``data.points``.
POINTS_PROGRAM = {
    "type": "program",
    "rules": [],
    "default": {
        "type": "assign_points",
        "value": {"type": "field", "path": "data.points"},
        "case_name": "AsAsked",
    },
}


def points_strategy(realm: Realm) -> str:
    """Return the id of a published strategy of ``realm`` that awards ``data.points``."""
    row = strategy_services.strategy_create(
        realm=realm, name="as-asked", type="DSL_FULL", ast_json=POINTS_PROGRAM
    )
    strategy_services.strategy_publish(strategy=row)
    return row.strategy_id


def award(task: Task, user: str, points: float) -> None:
    """Award ``points`` to ``user`` on ``task`` through the scoring service."""
    realm = Realm.objects.get(pk=task.game.realm_id)
    outcome = award_points(
        realm=realm,
        api_key=None,
        task=Task.objects.select_related("game").get(pk=task.pk),
        external_user_id=user,
        data={"points": points},
    )
    assert outcome.created, outcome.body


Key = tuple[int | None, str, date, str]


def boards_from_awards(game: Game) -> dict[Key, tuple[float, int]]:
    """Every entry of ``game`` as the award ledger adds it up, in the realm's time zone:
    {(task id or None, period, period start, external user id): (points, awards)}.

    Reversed awards count on no board."""
    zone = Realm.objects.get(pk=game.realm_id).timezone
    totals: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0])
    awards = Award.objects.filter(task__game=game, reversal__isnull=True)
    for task_id, user, points, at in awards.values_list(
        "task_id", "player__external_user_id", "points", "created_at"
    ):
        starts = period_starts(timezone=zone, at=at)
        for scope in (None, task_id):
            for period, start in (
                (LeaderboardPeriod.ALL, ALL_TIME_START),
                (LeaderboardPeriod.DAY, starts.day),
                (LeaderboardPeriod.WEEK, starts.week),
                (LeaderboardPeriod.MONTH, starts.month),
            ):
                total = totals[(scope, str(period), start, user)]
                total[0] += points
                total[1] += 1
    return {key: (points, int(count)) for key, (points, count) in totals.items()}


def stored_boards(game: Game) -> dict[Key, tuple[float, int]]:
    """Every entry of ``game`` as stored."""
    rows = LeaderboardEntry.objects.filter(game=game).values_list(
        "task_id", "period", "period_start", "external_user_id", "points", "awards"
    )
    return {
        (task_id, period, start, user): (points, awards)
        for task_id, period, start, user, points, awards in rows
    }


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


def iter_boards(keys) -> Iterator[tuple[int | None, str, date]]:
    yield from sorted({key[:3] for key in keys}, key=lambda board: (board[0] or 0, *board[1:]))
