"""The points reads answer the same camelCase JSON whatever shape the selectors use inside."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gamification import selectors
from tests.factories import GameFactory, PlayerFactory, TaskFactory, award_history

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T1 = datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC)


@pytest.fixture
def history(realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    first = TaskFactory(game=game, external_task_id="a", strategy_id="default")
    second = TaskFactory(game=game, external_task_id="b", strategy_id="default")
    player = PlayerFactory(realm=realm, external_user_id="u1")
    award_history(task=first, player=player, timestamps=[T0, T1], points=2.5)
    award_history(task=second, player=player, timestamps=[T0])
    return first, second, player


@pytest.mark.usefixtures("history")
def test_a_players_points_answer_the_camel_case_shape(api):
    response = api.get("/api/v1/games/g1/players/u1/points")

    assert response.status_code == 200
    assert response.json() == {
        "externalUserId": "u1",
        "externalGameId": "g1",
        "points": 6.0,
        "awards": 3,
        "tasks": [
            {
                "externalTaskId": "a",
                "points": 5.0,
                "awards": 2,
                "lastAwardAt": "2026-01-02T04:00:00Z",
            },
            {
                "externalTaskId": "b",
                "points": 1.0,
                "awards": 1,
                "lastAwardAt": "2026-01-02T03:04:05Z",
            },
        ],
    }


@pytest.mark.usefixtures("history")
def test_a_tasks_points_answer_the_summary_in_camel_case(api):
    body = api.get("/api/v1/games/g1/tasks/a/points").json()

    assert body["summary"] == {
        "points": 5.0,
        "awards": 2,
        "firstAwardAt": "2026-01-02T03:04:05Z",
        "lastAwardAt": "2026-01-02T04:00:00Z",
    }
    assert body["results"] == [{"externalUserId": "u1", "points": 5.0, "awards": 2}]
    assert list(body) == ["summary", "count", "next", "previous", "results"]


def test_an_empty_task_summary_has_no_dates(api, realm):
    TaskFactory(game=GameFactory(realm=realm, external_game_id="g1"), external_task_id="a")

    summary = api.get("/api/v1/games/g1/tasks/a/points").json()["summary"]

    assert summary == {"points": 0.0, "awards": 0, "firstAwardAt": None, "lastAwardAt": None}


def test_the_selectors_answer_snake_case(history):
    first, _second, player = history

    summary = selectors.task_points_summary(task=first)
    points = selectors.player_points(player=player, game=first.game)

    assert summary == {
        "points": 5.0,
        "awards": 2,
        "first_award_at": T0,
        "last_award_at": T1,
    }
    assert set(points) == {"external_user_id", "external_game_id", "points", "awards", "tasks"}
    assert points["tasks"][0] == {
        "external_task_id": "a",
        "points": 5.0,
        "awards": 2,
        "last_award_at": T1,
    }
