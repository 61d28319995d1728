from __future__ import annotations

import pytest

from gamification.models import Task
from tests.factories import GameFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def game(realm):
    return GameFactory(realm=realm, external_game_id="g1", strategy_id="default")


@pytest.mark.usefixtures("game")
def test_task_created_without_strategy_inherits_and_follows_the_games(api):
    created = api.post("/api/v1/games/g1/tasks", {"externalTaskId": "t1"}, format="json")
    assert created.status_code == 201
    assert created.json()["strategyId"] == "default"
    assert created.json()["inheritsStrategy"] is True

    api.patch("/api/v1/games/g1", {"strategyId": "constant_effort"}, format="json")

    assert api.get("/api/v1/games/g1/tasks/t1").json()["strategyId"] == "constant_effort"


@pytest.mark.usefixtures("game")
def test_task_created_with_its_own_strategy_keeps_it(api):
    api.post(
        "/api/v1/games/g1/tasks",
        {"externalTaskId": "t1", "strategyId": "constant_effort"},
        format="json",
    )

    api.patch("/api/v1/games/g1", {"strategyId": "default"}, format="json")

    task = api.get("/api/v1/games/g1/tasks/t1").json()
    assert task["strategyId"] == "constant_effort"
    assert task["inheritsStrategy"] is False


def test_patching_strategy_to_null_follows_the_game_again(api, game):
    TaskFactory(
        game=game, external_task_id="t1", strategy_id="constant_effort", inherits_strategy=False
    )

    response = api.patch("/api/v1/games/g1/tasks/t1", {"strategyId": None}, format="json")

    assert response.json()["strategyId"] == "default"
    assert response.json()["inheritsStrategy"] is True


@pytest.mark.usefixtures("game")
def test_duplicate_task_id_in_a_game_is_a_409(api):
    api.post("/api/v1/games/g1/tasks", {"externalTaskId": "t1"}, format="json")

    response = api.post("/api/v1/games/g1/tasks", {"externalTaskId": "t1"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "TASK_ALREADY_EXISTS"


def test_task_ids_are_unique_per_game_in_the_database(game):
    from django.db import IntegrityError, transaction

    TaskFactory(game=game, external_task_id="t1")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaskFactory(game=game, external_task_id="t1")


def test_bulk_create_creates_all_tasks(api, game):
    response = api.post(
        "/api/v1/games/g1/tasks/bulk",
        {
            "tasks": [
                {"externalTaskId": "a"},
                {"externalTaskId": "b", "strategyId": "constant_effort"},
            ]
        },
        format="json",
    )

    assert response.status_code == 201
    assert [t["strategyId"] for t in response.json()] == ["default", "constant_effort"]
    assert Task.objects.filter(game=game).count() == 2


def test_bulk_create_with_a_taken_id_creates_nothing(api, game):
    TaskFactory(game=game, external_task_id="a")

    response = api.post(
        "/api/v1/games/g1/tasks/bulk",
        {"tasks": [{"externalTaskId": "b"}, {"externalTaskId": "a"}]},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["conflicts"] == ["a"]
    assert not Task.objects.filter(external_task_id="b").exists()


def test_task_list_is_filterable_by_status(api, game):
    TaskFactory(game=game, external_task_id="open-one")
    TaskFactory(game=game, external_task_id="closed-one", status="closed")

    response = api.get("/api/v1/games/g1/tasks?status=closed")

    assert [t["externalTaskId"] for t in response.json()["results"]] == ["closed-one"]


def test_delete_task(api, game):
    TaskFactory(game=game, external_task_id="t1")

    assert api.delete("/api/v1/games/g1/tasks/t1").status_code == 204
    assert api.get("/api/v1/games/g1/tasks/t1").status_code == 404


def test_another_realm_cannot_reach_tasks(other_api, game):
    TaskFactory(game=game, external_task_id="t1")

    for method in ("get", "patch", "delete"):
        response = getattr(other_api, method)("/api/v1/games/g1/tasks/t1", {}, format="json")
        assert response.status_code == 404
    response = other_api.post("/api/v1/games/g1/tasks", {"externalTaskId": "x"}, format="json")
    assert response.status_code == 404
    response = other_api.post(
        "/api/v1/games/g1/tasks/bulk", {"tasks": [{"externalTaskId": "x"}]}, format="json"
    )
    assert response.status_code == 404
    assert Task.objects.count() == 1
