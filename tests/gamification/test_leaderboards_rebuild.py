"""manage.py leaderboards_rebuild: every entry recomputed from the award ledger."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from gamification.leaderboards.cache import Board, board_key
from gamification.leaderboards.periods import ALL_TIME_START
from gamification.leaderboards.services import leaderboards_rebuild
from gamification.models import Game, LeaderboardEntry, Player
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import (
    award,
    boards_from_awards,
    points_strategy,
    stored_boards,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def game(clock) -> Game:
    realm = RealmFactory(slug="rebuilt", timezone="Asia/Tokyo")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    tasks = [TaskFactory(game=game, external_task_id=f"t{n}", strategy_id=strategy) for n in (1, 2)]
    start = datetime(2026, 2, 27, 12, 0, tzinfo=UTC)  # across a week's and a month's end
    for i in range(40):
        clock(start + timedelta(hours=7 * i))
        award(tasks[i % 2], f"u{i % 6}", (i % 5) * 1.5)
    return game


def _rebuild(*args: str) -> str:
    out = io.StringIO()
    call_command("leaderboards_rebuild", *args, stdout=out)
    return out.getvalue()


def test_a_rebuild_of_right_entries_changes_nothing(game):
    before = stored_boards(game)

    out = _rebuild("--game", "g1")

    assert before == boards_from_awards(game)
    assert stored_boards(game) == before
    assert out == "rebuilt/g1: 0 entries set right, 0 removed\n"


def test_a_rebuild_sets_wrong_missing_and_stray_entries_right(game):
    expected = stored_boards(game)
    entries = LeaderboardEntry.objects.filter(game=game)
    doomed = list(entries.filter(period="day").values_list("pk", flat=True)[:3])
    LeaderboardEntry.objects.filter(pk__in=doomed).delete()
    changed = list(entries.filter(period="week").values_list("pk", flat=True)[:2])
    LeaderboardEntry.objects.filter(pk__in=changed).update(points=999, awards=7)
    stray = Player.objects.create(realm=game.realm, external_user_id="stray")
    LeaderboardEntry.objects.create(
        game=game,
        period="all",
        period_start=ALL_TIME_START,
        player=stray,
        external_user_id="stray",
        points=5,
        awards=1,
    )

    out = _rebuild()

    assert stored_boards(game) == expected
    assert out == "rebuilt/g1: 5 entries set right, 1 removed\n"


def test_a_rebuild_follows_a_new_time_zone_of_the_realm(game):
    game.realm.timezone = "America/Los_Angeles"
    game.realm.save()
    before = stored_boards(game)

    result = leaderboards_rebuild(game=Game.objects.select_related("realm").get(pk=game.pk))

    after = stored_boards(game)
    assert after != before
    assert after == boards_from_awards(game)
    assert result.corrected > 0


def test_unknown_games_and_realms_are_refused():
    with pytest.raises(CommandError, match="No game 'nope'"):
        _rebuild("--game", "nope")
    with pytest.raises(CommandError, match="No realm 'nowhere'"):
        _rebuild("--realm", "nowhere")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the cache is PostgreSQL's")
def test_a_rebuild_drops_the_games_cached_sets(game, leaderboard_redis):
    from gamification.leaderboards.selectors import leaderboard_read

    board = Board(game_id=game.pk, task_id=None, period="all", start=ALL_TIME_START)
    leaderboard_read(
        game=game, task=None, timezone="Asia/Tokyo", period="all", around="u3", limit=3
    )
    assert leaderboard_redis.exists(board_key(board))

    _rebuild("--realm", "rebuilt")

    assert not leaderboard_redis.exists(board_key(board))
