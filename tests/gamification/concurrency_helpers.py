"""What the concurrency tests of boards and wallets share: a busy game of two tasks, threads
that award and read boards at random (seeded), each error kept for the test, and the check
that every cached set holds exactly the stored entries."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from decimal import Decimal

from django.db import connection

from gamification.leaderboards.cache import EMPTY_MEMBER, Board, board_key
from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.leaderboards.selectors import leaderboard_read
from gamification.models import Game, Realm, Task
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import Key, award, points_strategy

THREADS = 8
AWARDS_PER_THREAD = 250
PLAYERS = 40
#: The busy realm's time zone, far from UTC so that its periods are not UTC's.
ZONE = "Pacific/Auckland"


def busy_game(*, conversion_rate: Decimal | None = None) -> tuple[Game, list[Task]]:
    """Return a game of a new realm and its two tasks, all scored by ``points_strategy``."""
    realm = RealmFactory(slug="busy", timezone=ZONE)
    if conversion_rate is not None:
        Realm.objects.filter(pk=realm.pk).update(conversion_rate=conversion_rate)
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    tasks = [TaskFactory(game=game, external_task_id=f"t{n}", strategy_id=strategy) for n in (1, 2)]
    return game, tasks


def run_threads(threads: list[threading.Thread]) -> None:
    """Start every thread, then wait for all of them."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def guarded(work: Callable[[], None], errors: list[BaseException]) -> None:
    """Run ``work`` in a thread of its own: an error goes to ``errors``, the connection closes."""
    try:
        work()
    except BaseException as error:  # noqa: BLE001 - reported to the test
        errors.append(error)
    finally:
        connection.close()


def random_player(rng: random.Random) -> str:
    return f"player-{rng.randrange(PLAYERS):02}"


def award_at_random(tasks: list[Task], seed: int) -> None:
    """Award ``AWARDS_PER_THREAD`` times, each to a random player on a random task."""
    rng = random.Random(seed)
    for _ in range(AWARDS_PER_THREAD):
        task = rng.choice(tasks)
        award(task, random_player(rng), rng.randrange(1, 20))


def read_boards_at_random(game: Game, tasks: list[Task], rng: random.Random) -> None:
    """Read a page of every period's board, of the game or one of its tasks, around a player."""
    for period in LeaderboardPeriod:
        leaderboard_read(
            game=game,
            task=rng.choice([None, *tasks]),
            timezone=ZONE,
            period=period,
            around=random_player(rng),
            limit=5,
        )


def assert_cached_sets_are_the_entries(
    redis, game: Game, stored: dict[Key, tuple[float, int]]
) -> None:
    """Every board of ``stored`` that has a cached set holds its entries, and some have one."""
    cached = 0
    for task_id, period, start in {key[:3] for key in stored}:
        key = board_key(Board(game_id=game.pk, task_id=task_id, period=period, start=start))
        if not redis.exists(key):
            continue
        cached += 1
        members = redis.zrange(key, 0, -1, withscores=True)
        in_redis = {m.decode(): -score for m, score in members if m.decode() != EMPTY_MEMBER}
        assert in_redis == {
            user: points
            for (t, p, s, user), (points, _) in stored.items()
            if (t, p, s) == (task_id, period, start)
        }, key
    assert cached > 0
