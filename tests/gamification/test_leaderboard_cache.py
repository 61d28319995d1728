"""The leaderboards' Redis sets: built lazily, followed by every award after it commits,
fenced against awards that commit while a set is built, dropped when they may be stale, and
never needed: PostgreSQL answers the same when Redis is away."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gamification.leaderboards import cache
from gamification.leaderboards.cache import EMPTY_MEMBER, Board, board_key
from gamification.leaderboards.periods import ALL_TIME_START
from gamification.models import Game, LeaderboardEntry, Task
from gamification.services import api_key_create
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import award, points_strategy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the sets are fenced by PostgreSQL snapshots"
    ),
]

URL = "/api/v1/games/g1/leaderboard"
UNREACHABLE = "redis://127.0.0.1:9/0"


@pytest.fixture
def task() -> Task:
    realm = RealmFactory(slug="cached")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    return TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)


@pytest.fixture
def api(task) -> APIClient:
    _, raw = api_key_create(realm=task.game.realm, name="server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _game_board(game: Game) -> Board:
    return Board(game_id=game.pk, task_id=None, period="all", start=ALL_TIME_START)


def _cached(redis, board: Board) -> dict[str, float] | None:
    key = board_key(board)
    if not redis.exists(key):
        return None
    members = redis.zrange(key, 0, -1, withscores=True)
    return {m.decode(): -s for m, s in members if m.decode() != EMPTY_MEMBER}


def _stored(board: Board) -> dict[str, float]:
    return dict(board.entries().values_list("external_user_id", "points"))


def _read(api: APIClient, **params) -> dict:
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return response.json()


def _unreachable(settings) -> None:
    settings.CACHES = {
        **settings.CACHES,
        cache.CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": UNREACHABLE,
            "KEY_PREFIX": "test",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }


def test_a_read_builds_the_set_and_every_later_award_follows_it(api, task, leaderboard_redis):
    board = _game_board(task.game)
    for user, points in [("ann", 5), ("ben", 9), ("cat", 7)]:
        award(task, user, points)
    assert _cached(leaderboard_redis, board) is None

    first = _read(api, around="ann")
    award(task, "ann", 10)
    award(task, "dan", 1)
    second = _read(api, around="ann")

    assert first["player"]["rank"] == 3
    assert (
        _cached(leaderboard_redis, board)
        == _stored(board)
        == {
            "ann": 15,
            "ben": 9,
            "cat": 7,
            "dan": 1,
        }
    )
    assert second["player"] == {"rank": 1, "externalUserId": "ann", "points": 15, "awards": 2}
    assert leaderboard_redis.pttl(board_key(board)) > 0


def test_a_warm_set_counts_ranks_so_postgresql_reads_rows_only(api, task, leaderboard_redis):
    """Counting in PostgreSQL would read a range as long as the rank."""
    for n in range(30):
        award(task, f"p{n:02}", n)
    _read(api, player="p03")  # builds the set

    with CaptureQueriesContext(connection) as queries:
        body = _read(api, around="p10", limit=3)
        mine = _read(api, player="p03")
    deep = _read(api, offset=25, limit=3)

    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts == []
    assert [e["rank"] for e in body["entries"]] == [19, 20, 21]
    assert mine["player"]["rank"] == 27
    assert [(e["rank"], e["externalUserId"]) for e in deep["entries"]] == [
        (26, "p04"),
        (27, "p03"),
        (28, "p02"),
    ]
    assert leaderboard_redis.exists(board_key(_game_board(task.game)))


def test_without_redis_awards_are_stored_and_reads_count_in_postgresql(api, task, settings):
    _unreachable(settings)
    cache.cache_state_reset()
    for user, points in [("ann", 5), ("ben", 9), ("cat", 7), ("ann", 5)]:
        award(task, user, points)

    body = _read(api, around="cat", limit=3)

    assert [(e["rank"], e["externalUserId"]) for e in body["entries"]] == [
        (1, "ann"),
        (2, "ben"),
        (3, "cat"),
    ]
    assert body["player"]["rank"] == 3
    assert LeaderboardEntry.objects.filter(period="all", task__isnull=True).count() == 3
    cache.cache_state_reset()


def test_sets_missing_increments_from_a_redis_outage_are_dropped_once_it_answers(
    api, task, settings, leaderboard_redis
):
    board = _game_board(task.game)
    award(task, "ann", 5)
    award(task, "ben", 9)
    _read(api, around="ann")
    assert _cached(leaderboard_redis, board) == {"ann": 5, "ben": 9}
    reachable = settings.CACHES

    _unreachable(settings)
    award(task, "ann", 10)  # its increment cannot be sent
    settings.CACHES = reachable
    assert _cached(leaderboard_redis, board) == {"ann": 5, "ben": 9}  # stale meanwhile
    body = _read(api, around="ann")

    assert body["player"]["rank"] == 1
    assert _cached(leaderboard_redis, board) == _stored(board) == {"ann": 15, "ben": 9}


def test_a_set_that_disagrees_with_an_entry_for_long_is_dropped_and_built_again(
    api, task, leaderboard_redis, monkeypatch
):
    board = _game_board(task.game)
    for user, points in [("ann", 5), ("ben", 9), ("cat", 7)]:
        award(task, user, points)
    _read(api, around="ann")
    # A lost increment: the set believes cat has 20 points more than stored.
    leaderboard_redis.zincrby(board_key(board), -20, "cat")
    monkeypatch.setattr(cache, "SUSPECT_GRACE_MS", 0)

    first = _read(api, around="cat", limit=3)
    second = _read(api, around="cat", limit=3)
    rebuilt = _cached(leaderboard_redis, board)
    third = _read(api, around="cat", limit=3)

    for body in (first, second, third):
        assert [(e["rank"], e["externalUserId"]) for e in body["entries"]] == [
            (1, "ben"),
            (2, "cat"),
            (3, "ann"),
        ]
    assert rebuilt is None  # the second disagreement dropped it
    assert _cached(leaderboard_redis, board) == {"ann": 5, "ben": 9, "cat": 7}


def _award_in_thread(task: Task, user: str, points: float, *, before_commit_hooks=None):
    """Award in another thread (another connection) and wait for it, hooks included."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if before_commit_hooks is None:
                award(task, user, points)
            else:
                with transaction.atomic():
                    before_commit_hooks()
                    award(task, user, points)
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_awards_committing_while_a_set_is_built_count_exactly_once(api, task, leaderboard_redis):
    """One award commits before the build's snapshot but sends its increment during the
    build (the snapshot holds it: not applied again); one commits after the snapshot, during
    the build (queued, then applied)."""
    board = _game_board(task.game)
    award(task, "ann", 5)
    award(task, "ben", 9)
    sent: list[str] = []

    def interleave(execute: Callable, sql: str, params, many, context):
        if sql.startswith("SET TRANSACTION") and "before" not in sent:
            sent.append("before")
            thread, errors = _award_in_thread(task, "ann", 100)
            thread.join()
            assert errors == []
        elif '"player_id" >' in sql and "after" not in sent:
            sent.append("after")
            thread, errors = _award_in_thread(task, "ben", 1000)
            thread.join()
            assert errors == []
        return execute(sql, params, many, context)

    with connection.execute_wrapper(interleave):
        _read(api, around="ann")

    assert sent == ["before", "after"]
    assert _stored(board) == {"ann": 105, "ben": 1009}
    assert _cached(leaderboard_redis, board) == {"ann": 105, "ben": 1009}


def test_an_increment_sent_late_after_its_set_was_built_is_not_counted_twice(
    api, task, leaderboard_redis
):
    board = _game_board(task.game)
    award(task, "ann", 5)
    gate = threading.Event()
    committed = threading.Event()

    def hold_the_increment() -> None:
        # Runs first of the commit's callbacks: the award is committed, its increment waits.
        transaction.on_commit(lambda: (committed.set(), gate.wait(10)))

    thread, errors = _award_in_thread(task, "ann", 50, before_commit_hooks=hold_the_increment)
    assert committed.wait(10)
    _read(api, around="ann")  # builds the set from a snapshot that holds the award
    gate.set()
    thread.join()

    assert errors == []
    assert _stored(board) == {"ann": 55}
    assert _cached(leaderboard_redis, board) == {"ann": 55}


def test_an_empty_board_is_cached_as_empty(api, task, leaderboard_redis):
    body = _read(api, period="day", offset=5)

    assert body["entries"] == []
    board = Board(
        game_id=task.game.pk,
        task_id=None,
        period="day",
        start=LeaderboardEntry._meta.get_field("period_start").to_python(body["since"][:10]),
    )
    assert _cached(leaderboard_redis, board) == {}
