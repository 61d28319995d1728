from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from gamification.models import Award, Player, PlayerTaskStats, TaskStats
from tests.factories import GameFactory, TaskFactory

URL = "/api/v1/games/g1/tasks/t1/points"


@pytest.fixture
def task(realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id="default")


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_award_answers_201_with_points_and_case_name(api):
    response = api.post(URL, {"externalUserId": "u1", "data": {"score": 3}}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["points"] == 1
    assert body["caseName"] == "BasicEngagement"
    assert body["callbackData"] == {}
    assert body["strategyId"] == "default"
    assert body["strategyVersion"] == "0.0.2"
    assert body["externalUserId"] == "u1"
    assert body["playerCreated"] is True
    award = Award.objects.get(pk=body["awardId"])
    assert award.data == {"score": 3}
    assert award.api_key_used is not None
    assert body["createdAt"].endswith("Z")


@pytest.mark.django_db
def test_second_award_reuses_the_player_and_updates_stats(api, task):
    api.post(URL, {"externalUserId": "u1"}, format="json")
    response = api.post(URL, {"externalUserId": "u1"}, format="json")

    assert response.json()["playerCreated"] is False
    assert Player.objects.count() == 1
    assert TaskStats.objects.get(task=task).award_count == 2
    assert PlayerTaskStats.objects.get(task=task).award_count == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_same_idempotency_key_replays_the_stored_body_byte_for_byte(api):
    first = api.post(URL, {"externalUserId": "u1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = api.post(URL, {"externalUserId": "u1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.content == first.content
    assert Award.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_idempotency_key_reused_for_another_player_is_a_409(api):
    api.post(URL, {"externalUserId": "u1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = api.post(URL, {"externalUserId": "u2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_store_exactly_one_award_and_answer_identically(realm, api_key_pair):
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(game=game, external_task_id="t1")
    barrier = threading.Barrier(8)
    responses = []

    def send() -> None:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=api_key_pair[1])
        barrier.wait()
        try:
            responses.append(
                client.post(
                    URL, {"externalUserId": "u1"}, format="json", HTTP_IDEMPOTENCY_KEY="dup"
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.content for r in responses}) == 1
    assert Award.objects.count() == 1
    assert TaskStats.objects.get().award_count == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_dry_run_scores_but_writes_nothing(api):
    response = api.post(URL, {"externalUserId": "u1", "dryRun": True}, format="json")

    assert response.status_code == 200
    assert response.json()["points"] == 1
    assert response.json()["dryRun"] is True
    assert response.json()["awardId"] is None
    assert Award.objects.count() == 0
    assert Player.objects.count() == 0
    assert TaskStats.objects.count() == 0


@pytest.mark.django_db
def test_closed_task_refuses_awards(api, task):
    task.status = "closed"
    task.save()

    response = api.post(URL, {"externalUserId": "u1"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "TASK_CLOSED"
    assert Award.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("strategy_id", ["no_such_strategy", f"custom:{uuid.uuid4()}"])
def test_unknown_strategy_is_a_422(api, task, strategy_id):
    task.strategy_id = strategy_id
    task.save()

    response = api.post(URL, {"externalUserId": "u1"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "STRATEGY_NOT_FOUND"
    assert Award.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"externalUserId": ""},
        {"externalUserId": "u1", "data": [1, 2]},
        {"externalUserId": "u" * 300},
    ],
)
@pytest.mark.usefixtures("task")
def test_bad_award_payload_is_a_400(api, payload):
    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_award_on_a_missing_task_is_a_404(api):
    response = api.post(
        "/api/v1/games/g1/tasks/nope/points", {"externalUserId": "u"}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "TASK_NOT_FOUND"


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_another_realm_cannot_award_or_read_points(api, other_api):
    api.post(URL, {"externalUserId": "u1"}, format="json")

    assert other_api.post(URL, {"externalUserId": "u1"}, format="json").status_code == 404
    assert other_api.get(URL).status_code == 404
    assert other_api.get("/api/v1/games/g1/players/u1/points").status_code == 404
    assert Award.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("task")
def test_award_endpoint_query_count_is_bounded(api, django_assert_max_num_queries):
    """Key, task, replay check, player with analytics, and one statement writing the award
    with its stats (outside a test transaction, so no savepoints are counted)."""
    if connection.vendor != "postgresql":
        pytest.skip("the one-statement award write is PostgreSQL's")
    api.post(URL, {"externalUserId": "u1"}, format="json")

    with django_assert_max_num_queries(5):
        response = api.post(
            URL, {"externalUserId": "u1"}, format="json", HTTP_IDEMPOTENCY_KEY="bounded"
        )

    assert response.status_code == 201


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_points_reads_per_game_player_and_task(api):
    for user in ("u1", "u1", "u2"):
        api.post(URL, {"externalUserId": user}, format="json")

    game_totals = api.get("/api/v1/games/g1/points").json()
    player = api.get("/api/v1/games/g1/players/u1/points").json()
    per_task = api.get(URL).json()

    assert [(r["externalUserId"], r["awards"]) for r in game_totals["results"]] == [
        ("u1", 2),
        ("u2", 1),
    ]
    assert player["awards"] == 2
    assert player["tasks"][0]["externalTaskId"] == "t1"
    assert per_task["summary"]["awards"] == 3
    assert per_task["count"] == 2
