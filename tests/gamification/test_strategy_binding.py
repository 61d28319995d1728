"""Binding a game or task to a strategy is checked when it is written, not at the first award."""

from __future__ import annotations

import uuid

import pytest

from gamification.models import Game, Task
from tests.factories import GameFactory, RealmFactory, StrategyDefinitionFactory, TaskFactory

pytestmark = pytest.mark.django_db

GAMES = "/api/v1/games"


@pytest.fixture
def game(realm) -> Game:
    return GameFactory(realm=realm, external_game_id="g1")


@pytest.fixture
def foreign_id() -> str:
    """A version that exists, in another realm."""
    return f"custom:{StrategyDefinitionFactory(realm=RealmFactory(slug='rival')).pk}"


def unknown_ids(foreign: str) -> list[str]:
    return [foreign, f"custom:{uuid.uuid4()}", "no_such_builtin"]


def assert_not_found(response) -> None:
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "STRATEGY_NOT_FOUND"
    assert response.json()["field"] == "strategyId"


def test_a_game_cannot_be_created_on_a_strategy_the_realm_does_not_have(api, foreign_id):
    for strategy_id in unknown_ids(foreign_id):
        response = api.post(
            GAMES, {"externalGameId": "g2", "strategyId": strategy_id}, format="json"
        )
        assert_not_found(response)
    assert not Game.objects.filter(external_game_id="g2").exists()


def test_a_game_patched_onto_an_unknown_strategy_keeps_its_own(api, game, foreign_id):
    for strategy_id in unknown_ids(foreign_id):
        assert_not_found(api.patch(f"{GAMES}/g1", {"strategyId": strategy_id}, format="json"))
    game.refresh_from_db()
    assert game.strategy_id == "default"


def test_a_task_cannot_be_created_or_patched_onto_an_unknown_strategy(api, game, foreign_id):
    TaskFactory(game=game, external_task_id="t1")
    for strategy_id in unknown_ids(foreign_id):
        assert_not_found(
            api.post(
                f"{GAMES}/g1/tasks",
                {"externalTaskId": "t2", "strategyId": strategy_id},
                format="json",
            )
        )
        assert_not_found(
            api.patch(f"{GAMES}/g1/tasks/t1", {"strategyId": strategy_id}, format="json")
        )
    assert list(Task.objects.values_list("external_task_id", "strategy_id")) == [("t1", "default")]


def test_a_bulk_with_one_unknown_strategy_creates_no_task(api, game, foreign_id):
    response = api.post(
        f"{GAMES}/g1/tasks/bulk",
        {
            "tasks": [
                {"externalTaskId": "a"},
                {"externalTaskId": "b", "strategyId": "constant_effort"},
                {"externalTaskId": "c", "strategyId": foreign_id},
            ]
        },
        format="json",
    )

    assert_not_found(response)
    assert not Task.objects.filter(game=game).exists()


@pytest.mark.usefixtures("game")
def test_the_realms_own_versions_and_the_builtins_bind(api, realm):
    draft = StrategyDefinitionFactory(realm=realm)
    own = f"custom:{draft.pk}"

    created = api.post(
        f"{GAMES}/g1/tasks", {"externalTaskId": "t2", "strategyId": own}, format="json"
    )
    patched = api.patch(f"{GAMES}/g1", {"strategyId": "constant_effort"}, format="json")

    assert created.status_code == 201
    assert created.json()["strategyId"] == own
    assert patched.status_code == 200
    assert patched.json()["strategyId"] == "constant_effort"


def test_a_malformed_id_is_still_a_400(api):
    response = api.post(GAMES, {"externalGameId": "g2", "strategyId": "custom:nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "STRATEGY_ID_INVALID"
