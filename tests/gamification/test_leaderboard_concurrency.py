"""2,000 awards from concurrent threads on PostgreSQL, while another thread keeps dropping the
cached sets and reading (so that sets are built while awards commit): afterwards every entry
is the sum of its awards and every cached set holds exactly the entries."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection

from gamification.leaderboards import cache
from gamification.leaderboards.cache import EMPTY_MEMBER, Board, board_key, cache_game_drop
from gamification.leaderboards.periods import LeaderboardPeriod
from gamification.leaderboards.selectors import leaderboard_read
from gamification.models import Award, Game, Task
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import (
    award,
    boards_from_awards,
    points_strategy,
    stored_boards,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency of PostgreSQL"),
]

THREADS = 8
AWARDS_PER_THREAD = 250
PLAYERS = 40


def _game() -> tuple[Game, list[Task]]:
    realm = RealmFactory(slug="busy", timezone="Pacific/Auckland")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    tasks = [TaskFactory(game=game, external_task_id=f"t{n}", strategy_id=strategy) for n in (1, 2)]
    return game, tasks


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_entries_and_cached_sets_add_up_after_2000_concurrent_awards(leaderboard_redis):
    game, tasks = _game()
    errors: list[BaseException] = []
    done = threading.Event()

    def awarding(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(AWARDS_PER_THREAD):
                task = rng.choice(tasks)
                award(task, f"player-{rng.randrange(PLAYERS):02}", rng.randrange(1, 20))
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    def reading() -> None:
        rng = random.Random(-1)
        try:
            while not done.is_set():
                cache_game_drop(game_id=game.pk)
                for period in LeaderboardPeriod:
                    leaderboard_read(
                        game=game,
                        task=rng.choice([None, *tasks]),
                        timezone="Pacific/Auckland",
                        period=period,
                        around=f"player-{rng.randrange(PLAYERS):02}",
                        limit=5,
                    )
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    reader = threading.Thread(target=reading)
    reader.start()
    _run([threading.Thread(target=awarding, args=(seed,)) for seed in range(THREADS)])
    done.set()
    reader.join()

    assert errors == []
    assert Award.objects.filter(task__game=game).count() == THREADS * AWARDS_PER_THREAD
    expected = boards_from_awards(game)
    assert stored_boards(game) == expected
    cached = 0
    for task_id, period, start in {key[:3] for key in expected}:
        key = board_key(Board(game_id=game.pk, task_id=task_id, period=period, start=start))
        if not leaderboard_redis.exists(key):
            continue
        cached += 1
        members = leaderboard_redis.zrange(key, 0, -1, withscores=True)
        in_redis = {m.decode(): -score for m, score in members if m.decode() != EMPTY_MEMBER}
        assert in_redis == {
            user: points
            for (t, p, s, user), (points, _) in expected.items()
            if (t, p, s) == (task_id, period, start)
        }, key
    assert cached > 0
    assert cache._state.stale_games == set()
