"""GET /api/v1/games/{g}/leaderboard: rankings kept by the award's own write, read as index
ranges. Redis is not configured here: PostgreSQL (or the demo's SQLite) counts the ranks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gamification import services
from gamification.models import Award, LeaderboardEntry, Player, Realm
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import (
    award,
    boards_from_awards,
    local,
    points_strategy,
    stored_boards,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/games/g1/leaderboard"


@pytest.fixture
def game(realm):
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    TaskFactory(game=game, external_task_id="t2", strategy_id=strategy)
    return game


@pytest.fixture
def t1(game):
    return game.tasks.get(external_task_id="t1")


@pytest.fixture
def t2(game):
    return game.tasks.get(external_task_id="t2")


def _board(api, **params) -> dict:
    response = api.get(URL, params)
    assert response.status_code == 200, response.json()
    return response.json()


def _ranks(body: dict) -> list[tuple[int, str, float]]:
    return [(e["rank"], e["externalUserId"], e["points"]) for e in body["entries"]]


def test_players_share_a_rank_on_equal_points_and_ties_go_by_external_user_id(api, t1):
    for user, points in [("dora", 10), ("bob", 20), ("cyd", 20), ("al", 30), ("eve", 5)]:
        award(t1, user, points)
    award(t1, "eve", 4)

    body = _board(api)

    assert body["period"] == "all"
    assert (body["since"], body["until"], body["player"]) == (None, None, None)
    assert _ranks(body) == [
        (1, "al", 30),
        (2, "bob", 20),
        (2, "cyd", 20),
        (4, "dora", 10),
        (5, "eve", 9),
    ]
    assert [e["awards"] for e in body["entries"]] == [1, 1, 1, 1, 2]


def test_a_page_past_the_first_ranks_a_tie_that_began_on_the_page_before(api, t1):
    for user, points in [("a", 50), ("b", 40), ("c", 40), ("d", 40), ("e", 30), ("f", 20)]:
        award(t1, user, points)

    first = _board(api, limit=2)
    second = _board(api, limit=2, offset=2)
    third = _board(api, limit=2, offset=4)
    beyond = _board(api, limit=2, offset=6)

    assert _ranks(first) == [(1, "a", 50), (2, "b", 40)]
    assert _ranks(second) == [(2, "c", 40), (2, "d", 40)]
    assert _ranks(third) == [(5, "e", 30), (6, "f", 20)]
    assert beyond["entries"] == []


def test_the_limit_defaults_to_ten_and_goes_up_to_a_hundred(api, t1):
    for n in range(105):
        award(t1, f"p{n:03}", n)

    assert len(_board(api)["entries"]) == 10
    full = _board(api, limit=100)["entries"]
    assert len(full) == 100
    assert (full[0]["externalUserId"], full[-1]["rank"]) == ("p104", 100)


def test_around_centres_the_page_on_the_player_and_answers_its_entry(api, t1):
    for n in range(1, 21):  # p01 has 1 point ... p20 has 20: p20 ranks first
        award(t1, f"p{n:02}", n)

    middle = _board(api, around="p10", limit=5)
    top = _board(api, around="p19", limit=5)
    bottom = _board(api, around="p01", limit=5)

    assert _ranks(middle) == [(9, "p12", 12), (10, "p11", 11), (11, "p10", 10), (12, "p09", 9),
                              (13, "p08", 8)]  # fmt: skip
    assert middle["player"] == {"rank": 11, "externalUserId": "p10", "points": 10, "awards": 1}
    assert [e["externalUserId"] for e in top["entries"]] == ["p20", "p19", "p18", "p17", "p16"]
    assert top["player"]["rank"] == 2
    assert [e["rank"] for e in bottom["entries"]] == [16, 17, 18, 19, 20]
    assert bottom["player"]["externalUserId"] == "p01"


def test_around_a_player_among_ties_keeps_the_tie_order(api, t1):
    for user in ["a", "b", "c", "d", "e", "f", "g"]:
        award(t1, user, 7)
    award(t1, "top", 9)

    body = _board(api, around="e", limit=3)

    assert _ranks(body) == [(2, "d", 7), (2, "e", 7), (2, "f", 7)]


def test_around_a_player_without_an_entry_answers_the_first_page_and_no_player(api, t1):
    award(t1, "alice", 3)

    body = _board(api, around="nobody")

    assert _ranks(body) == [(1, "alice", 3)]
    assert body["player"] is None


def test_player_answers_its_entry_even_off_the_page(api, t1):
    for n in range(1, 31):
        award(t1, f"p{n:02}", n)

    body = _board(api, limit=3, player="p05")
    unknown = _board(api, limit=3, player="stranger")

    assert [e["externalUserId"] for e in body["entries"]] == ["p30", "p29", "p28"]
    assert body["player"] == {"rank": 26, "externalUserId": "p05", "points": 5, "awards": 1}
    assert unknown["player"] is None


def test_a_task_board_counts_that_task_only_and_the_game_board_every_task(api, t1, t2):
    award(t1, "alice", 10)
    award(t2, "bob", 15)
    award(t2, "alice", 10)

    assert _ranks(_board(api)) == [(1, "alice", 20), (2, "bob", 15)]
    assert _ranks(_board(api, taskId="t1")) == [(1, "alice", 10)]
    assert _ranks(_board(api, taskId="t2")) == [(1, "bob", 15), (2, "alice", 10)]


def test_an_unknown_task_is_a_404(api, game):  # noqa: ARG001 - the game exists
    response = api.get(URL, {"taskId": "nope"})

    assert response.status_code == 404
    assert response.json()["code"] == "TASK_NOT_FOUND"


def test_another_realms_game_is_a_404_like_a_missing_one(other_api, t1):
    award(t1, "alice", 10)

    foreign = other_api.get(URL)
    missing = other_api.get("/api/v1/games/nope/leaderboard")

    assert (foreign.status_code, foreign.json()["code"]) == (404, "GAME_NOT_FOUND")
    assert foreign.json()["detail"] == "No game 'g1'."
    assert missing.status_code == 404


def test_a_realm_sees_only_its_own_players_of_the_same_name(api, other_api, t1):
    rival = Realm.objects.get(slug="rival")
    strategy = points_strategy(rival)
    their = TaskFactory(
        game=GameFactory(realm=rival, external_game_id="g1", strategy_id=strategy),
        external_task_id="t1",
        strategy_id=strategy,
    )
    award(t1, "alice", 10)
    award(their, "alice", 99)
    award(their, "mallory", 50)

    ours = _board(api, player="alice")
    theirs = other_api.get(URL, {"player": "alice"}).json()

    assert _ranks(ours) == [(1, "alice", 10)]
    assert ours["player"]["points"] == 10
    assert _ranks(theirs) == [(1, "alice", 99), (2, "mallory", 50)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "year"}, "period"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": str(10**30)}, "offset"),
        ({"around": "alice", "offset": "5"}, "offset"),
        ({"around": "alice", "player": "bob"}, "player"),
        ({"taskId": "t" * 256}, "taskId"),
        ({"player": "p" * 256}, "player"),
    ],
)
def test_bad_parameters_are_a_400_naming_each(api, game, params, field):  # noqa: ARG001
    response = api.get(URL, params)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert list(response.json()["errors"]) == [field]


def test_a_nul_in_a_parameter_is_refused_before_the_leaderboard(api, game):  # noqa: ARG001
    response = api.get(URL, {"around": "a\x00b"})

    assert (response.status_code, response.json()["code"]) == (400, "INVALID_STRING")


def test_the_same_around_and_player_are_one_player(api, t1):
    award(t1, "alice", 1)

    assert _board(api, around="alice", player="alice")["player"]["externalUserId"] == "alice"


def test_periods_split_at_local_midnight_of_the_realms_time_zone(api, realm, t1, clock):
    realm.timezone = "America/New_York"
    realm.save()
    api_key_realm = Realm.objects.get(pk=realm.pk)
    assert api_key_realm.timezone == "America/New_York"
    # Tuesday 2026-03-03 23:59 in New York is Wednesday 04:59 UTC; a minute later is Wednesday.
    clock(local("America/New_York", 2026, 3, 3, 23, 59, 30))
    award(t1, "late", 5)
    clock(local("America/New_York", 2026, 3, 4, 0, 0, 30))
    award(t1, "early", 7)

    today = _board(api, period="day")
    week = _board(api, period="week")
    month = _board(api, period="month")
    clock(local("America/New_York", 2026, 3, 3, 12, 0))
    yesterday = _board(api, period="day")

    assert _ranks(today) == [(1, "early", 7)]
    assert (today["since"], today["until"]) == (
        "2026-03-04T00:00:00-05:00",
        "2026-03-05T00:00:00-05:00",
    )
    assert _ranks(yesterday) == [(1, "late", 5)]
    assert _ranks(week) == [(1, "early", 7), (2, "late", 5)]
    assert (week["since"], week["until"]) == (
        "2026-03-02T00:00:00-05:00",  # the Monday
        "2026-03-09T00:00:00-04:00",  # DST begins on Sunday 2026-03-08
    )
    assert (month["since"], month["until"]) == (
        "2026-03-01T00:00:00-05:00",
        "2026-04-01T00:00:00-04:00",
    )


def test_the_same_moments_fall_on_one_utc_day(api, t1, clock):
    clock(local("America/New_York", 2026, 3, 3, 23, 59, 30))
    award(t1, "late", 5)
    clock(local("America/New_York", 2026, 3, 4, 0, 0, 30))
    award(t1, "early", 7)

    today = _board(api, period="day")

    assert _ranks(today) == [(1, "early", 7), (2, "late", 5)]
    assert today["since"] == "2026-03-04T00:00:00+00:00"


def test_a_week_starts_on_monday_and_a_new_week_starts_empty(api, t1, clock):
    clock(datetime(2026, 3, 8, 23, 0, tzinfo=UTC))  # a Sunday
    award(t1, "sunday", 1)
    clock(datetime(2026, 3, 9, 1, 0, tzinfo=UTC))  # the Monday after

    week = _board(api, period="week")
    award(t1, "monday", 2)

    assert week["entries"] == []
    assert week["since"] == "2026-03-09T00:00:00+00:00"
    assert _ranks(_board(api, period="week")) == [(1, "monday", 2)]
    assert _ranks(_board(api, period="month")) == [(1, "monday", 2), (2, "sunday", 1)]


def test_every_entry_is_the_sum_of_its_awards(t1, t2, clock):
    moments = [datetime(2026, 1, 31, 23, 30, tzinfo=UTC), datetime(2026, 2, 1, 0, 30, tzinfo=UTC)]
    for i in range(12):
        clock(moments[i % 2])
        award(t1 if i % 3 else t2, f"u{i % 4}", i + 0.5)

    expected = boards_from_awards(t1.game)
    assert stored_boards(t1.game) == expected
    assert LeaderboardEntry.objects.filter(task__isnull=True).count() == 16


def test_a_realms_time_zone_must_be_an_iana_name():
    realm = RealmFactory(slug="tz")
    assert realm.timezone == "UTC"
    realm.timezone = "Mars/Olympus_Mons"

    with pytest.raises(ValidationError, match="IANA"):
        realm.full_clean()


def test_a_read_is_a_few_index_ranges_and_never_touches_the_awards(api, t1):
    for n in range(40):
        award(t1, f"p{n:02}", n % 7)

    with CaptureQueriesContext(connection) as queries:
        _board(api, around="p20", player="p20", limit=7, taskId="t1")

    statements = [query["sql"] for query in queries]
    award_table = Award._meta.db_table
    assert not any(award_table in statement for statement in statements), statements
    assert len(statements) <= 12, statements


def test_entries_go_with_their_task_their_game_and_their_player(api, t1, t2):
    award(t1, "alice", 1)
    award(t1, "bob", 10)
    award(t2, "alice", 2)
    award(t2, "bob", 3)
    game = t1.game

    assert api.delete("/api/v1/games/g1/tasks/t1").status_code == 204
    after_task, expected_after_task = stored_boards(game), boards_from_awards(game)
    Player.objects.get(external_user_id="bob").delete()
    after_player, expected_after_player = stored_boards(game), boards_from_awards(game)
    services.game_delete(game=game)

    assert after_task == expected_after_task
    assert {key[0] for key in after_task} == {None, t2.pk}
    game_all_time = {
        user: points for (task, period, _, user), (points, _) in after_task.items()
        if task is None and period == "all"
    }  # fmt: skip
    assert game_all_time == {"alice": 2, "bob": 3}
    assert after_player == expected_after_player
    assert {key[3] for key in after_player} == {"alice"}
    assert LeaderboardEntry.objects.count() == 0


def test_a_task_deleted_in_the_admin_leaves_its_games_boards(admin_client, t1, t2):
    award(t1, "alice", 5)
    award(t2, "alice", 2)

    response = admin_client.post(
        f"/admin/gamification/task/{t1.pk}/delete/", {"post": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert stored_boards(t2.game) == boards_from_awards(t2.game)
    assert LeaderboardEntry.objects.get(task__isnull=True, period="all").points == 2
