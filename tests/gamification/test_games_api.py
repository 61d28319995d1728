from __future__ import annotations

import pytest

from gamification.models import Game, Task
from tests.factories import GameFactory, TaskFactory

pytestmark = pytest.mark.django_db


def test_create_game_answers_201_with_defaults(api):
    response = api.post("/api/v1/games", {"externalGameId": "g1", "platform": "ios"}, format="json")

    assert response.status_code == 201
    assert response.json()["externalGameId"] == "g1"
    assert response.json()["strategyId"] == "default"
    assert response.json()["params"] == {}
    game = Game.objects.get(external_game_id="g1")
    assert game.api_key_used is not None


def test_duplicate_external_game_id_is_a_409(api):
    api.post("/api/v1/games", {"externalGameId": "g1"}, format="json")

    response = api.post("/api/v1/games", {"externalGameId": "g1"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "GAME_ALREADY_EXISTS"


def test_invalid_game_payload_is_a_400_with_field_messages(api):
    response = api.post("/api/v1/games", {"platform": "x", "params": [1]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"externalGameId", "params"}


def test_malformed_json_is_a_400_not_a_500(api):
    response = api.generic("POST", "/api/v1/games", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity"])
def test_numbers_json_cannot_carry_are_a_400(api, number):
    response = api.generic(
        "POST",
        "/api/v1/games",
        f'{{"externalGameId": "g1", "params": {{"x": {number}}}}}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"
    assert not Game.objects.exists()


def test_a_pathologically_nested_document_is_a_400(api):
    body = '{"externalGameId": "g1", "params": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}"

    response = api.generic("POST", "/api/v1/games", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"


def test_malformed_strategy_id_is_rejected(api):
    response = api.post(
        "/api/v1/games", {"externalGameId": "g1", "strategyId": "drop table;"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "STRATEGY_ID_INVALID"


def test_list_games_is_paginated_and_filterable(api, realm):
    for n in range(3):
        GameFactory(realm=realm, external_game_id=f"g{n}", platform="ios" if n else "web")

    everything = api.get("/api/v1/games?pageSize=2").json()
    ios = api.get("/api/v1/games?platform=ios").json()

    assert everything["count"] == 3
    assert [g["externalGameId"] for g in everything["results"]] == ["g0", "g1"]
    assert everything["next"] is not None
    assert [g["externalGameId"] for g in ios["results"]] == ["g1", "g2"]


def test_patch_game_changes_fields_but_not_its_id(api, realm):
    GameFactory(realm=realm, external_game_id="g1")

    response = api.patch(
        "/api/v1/games/g1", {"platform": "android", "externalGameId": "other"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["platform"] == "android"
    assert response.json()["externalGameId"] == "g1"


def test_delete_game_removes_it_and_its_tasks(api, realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(game=game)

    response = api.delete("/api/v1/games/g1")

    assert response.status_code == 204
    assert not Game.objects.filter(pk=game.pk).exists()
    assert not Task.objects.filter(game_id=game.pk).exists()


@pytest.mark.usefixtures("api")
def test_another_realm_sees_nothing_of_a_game(other_api, realm):
    GameFactory(realm=realm, external_game_id="g1")

    assert other_api.get("/api/v1/games").json()["count"] == 0
    for method in ("get", "patch", "delete"):
        response = getattr(other_api, method)("/api/v1/games/g1", {}, format="json")
        assert response.status_code == 404, method
        assert response.json()["code"] == "GAME_NOT_FOUND"
    assert other_api.get("/api/v1/games/g1/tasks").status_code == 404
    assert other_api.get("/api/v1/games/g1/points").status_code == 404
    assert Game.objects.filter(external_game_id="g1").exists()


def test_the_same_external_game_id_can_exist_in_two_realms(api, other_api):
    assert api.post("/api/v1/games", {"externalGameId": "g1"}, format="json").status_code == 201
    assert (
        other_api.post("/api/v1/games", {"externalGameId": "g1"}, format="json").status_code == 201
    )
