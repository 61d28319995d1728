"""2,000 awards from concurrent threads on PostgreSQL, while another thread keeps dropping the
cached sets and reading (so that sets are built while awards commit): afterwards every entry
is the sum of its awards and every cached set holds exactly the entries."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection

from gamification.leaderboards import cache
from gamification.leaderboards.cache import cache_game_drop
from gamification.models import Award
from tests.gamification import concurrency_helpers as load
from tests.gamification.leaderboard_helpers import boards_from_awards, stored_boards

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency of PostgreSQL"),
]


def test_entries_and_cached_sets_add_up_after_2000_concurrent_awards(leaderboard_redis):
    game, tasks = load.busy_game()
    errors: list[BaseException] = []
    done = threading.Event()

    def reading() -> None:
        rng = random.Random(-1)
        while not done.is_set():
            cache_game_drop(game_id=game.pk)
            load.read_boards_at_random(game, tasks, rng)

    reader = threading.Thread(target=load.guarded, args=(reading, errors))
    reader.start()
    load.run_threads(
        [
            threading.Thread(
                target=load.guarded, args=(lambda s=seed: load.award_at_random(tasks, s), errors)
            )
            for seed in range(load.THREADS)
        ]
    )
    done.set()
    reader.join()

    assert errors == []
    assert Award.objects.filter(task__game=game).count() == load.THREADS * load.AWARDS_PER_THREAD
    expected = boards_from_awards(game)
    assert stored_boards(game) == expected
    load.assert_cached_sets_are_the_entries(leaderboard_redis, game, expected)
    assert cache._state.stale_games == set()
