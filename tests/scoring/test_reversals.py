"""Reversing an award through the API: the compensating entry, every total, board and wallet
moved back in one transaction, refusals, realm isolation, and how a reversed award counts in
the analytics that later awards' strategies read."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import pytest

from gamification.leaderboards.services import leaderboards_rebuild
from gamification.models import (
    Award,
    AwardReversal,
    Game,
    LeaderboardEntry,
    LedgerEntry,
    PlayerTaskStats,
    TaskStats,
    Wallet,
    WebhookMessage,
)
from gamification.webhooks import webhook_endpoint_create
from strategies import services as strategy_services
from tests.factories import GameFactory, TaskFactory
from tests.gamification.leaderboard_helpers import boards_from_awards, stored_boards

AWARD = "/api/v1/games/g1/tasks/t1/points"
REVERSE = "/api/v1/awards/{}/reverse"


def _field(path: str) -> dict:
    return {"type": "field", "path": path}


def _callback(key: str, path: str) -> dict:
    return {"type": "set_callback_data", "key": key, "value": _field(path)}


#: Awards ``data.points`` and answers the analytics it was given in its callback data.
COUNTING = {
    "type": "program",
    "rules": [
        {
            "type": "rule",
            "when": {"type": "literal", "value": True},
            "then": [
                _callback("count", "user.measurements_count"),
                _callback("taskCount", "task.measurements_count"),
                _callback("recent", "user.recent_measurements_count"),
                _callback("avgTime", "user.avg_time"),
                {"type": "assign_points", "value": _field("data.points"), "case_name": "Counted"},
            ],
        }
    ],
    "default": {
        "type": "assign_points",
        "value": {"type": "literal", "value": 0},
        "case_name": "None",
    },
}


@pytest.fixture
def task(realm):
    row = strategy_services.strategy_create(
        realm=realm, name="counting", type="DSL_FULL", ast_json=COUNTING
    )
    strategy_services.strategy_publish(strategy=row)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=row.strategy_id)
    return TaskFactory(game=game, external_task_id="t1", strategy_id=row.strategy_id)


def _award(api, user: str, points: float) -> dict:
    response = api.post(AWARD, {"externalUserId": user, "data": {"points": points}}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _reverse(api, award_id: str, reason: str = "cheating"):
    return api.post(REVERSE.format(award_id), {"reason": reason}, format="json")


@pytest.mark.django_db
def test_reversal_answers_the_compensating_entry_and_moves_everything_back(api, task):
    kept = _award(api, "alice", 10)
    reversed_award = _award(api, "alice", 7)
    _award(api, "bob", 3)

    response = _reverse(api, reversed_award["awardId"], "duplicate event")

    assert response.status_code == 201
    body = response.json()
    assert body["awardId"] == body["reversalOf"] == reversed_award["awardId"]
    assert body["points"] == -7
    assert body["reason"] == "duplicate event"
    assert body["reversedBy"] == {
        "type": "apiKey",
        "name": "game-server",
        "prefix": body["reversedBy"]["prefix"],
    }
    assert (body["externalGameId"], body["externalTaskId"], body["externalUserId"]) == (
        "g1",
        "t1",
        "alice",
    )
    reversal = AwardReversal.objects.get(pk=body["id"])
    assert reversal.reversed_by_key is not None
    assert reversal.reason == "duplicate event"
    alice = PlayerTaskStats.objects.get(task=task, player__external_user_id="alice")
    assert (alice.award_count, alice.points_total) == (1, 10)
    stats = TaskStats.objects.get(task=task)
    assert (stats.award_count, stats.points_total) == (2, 13)
    entries = LeaderboardEntry.objects.filter(player__external_user_id="alice")
    assert entries.count() == 8
    assert {(e.points, e.awards) for e in entries} == {(10, 1)}
    assert stored_boards(task.game) == boards_from_awards(task.game)
    wallet = Wallet.objects.get(player__external_user_id="alice")
    assert wallet.points_balance == 10
    entry = LedgerEntry.objects.get(kind="reversal")
    assert (entry.points, entry.award_id, entry.reason) == (
        -7,
        reversal.award_id,
        "duplicate event",
    )
    assert entry.actor_key_id == reversal.reversed_by_key_id
    assert Award.objects.filter(pk=kept["awardId"], reversal__isnull=True).exists()
    assert Award.objects.get(pk=reversed_award["awardId"]).points == 7  # the record stays


@pytest.mark.django_db
def test_reversing_twice_is_a_409_and_changes_nothing_more(api, task):
    award = _award(api, "alice", 7)
    assert _reverse(api, award["awardId"]).status_code == 201

    again = _reverse(api, award["awardId"])

    assert again.status_code == 409
    assert again.json()["code"] == "AWARD_ALREADY_REVERSED"
    assert AwardReversal.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="reversal").count() == 1
    assert TaskStats.objects.get(task=task).award_count == 0
    assert Wallet.objects.get().points_balance == 0


@pytest.mark.django_db
def test_another_realms_award_and_a_malformed_id_are_a_404(api, other_api, task):
    award = _award(api, "alice", 7)

    for response in (
        _reverse(other_api, award["awardId"]),
        _reverse(api, str(uuid.uuid4())),
        _reverse(api, "not-a-uuid"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "AWARD_NOT_FOUND"
    assert AwardReversal.objects.count() == 0
    assert TaskStats.objects.get(task=task).award_count == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_a_reversal_needs_a_reason(api):
    award = _award(api, "alice", 7)

    for body in ({}, {"reason": ""}, {"reason": "x" * 501}):
        response = api.post(REVERSE.format(award["awardId"]), body, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert AwardReversal.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_a_reversal_emits_award_reversed_in_its_transaction(api, realm):
    webhook_endpoint_create(
        realm=realm, url="https://93.184.215.14/hook", events=["award.reversed"]
    )
    award = _award(api, "alice", 7)

    body = _reverse(api, award["awardId"]).json()

    message = WebhookMessage.objects.get(event_type="award.reversed")
    sent = json.loads(message.body)
    assert sent["type"] == "award.reversed"
    assert sent["data"] == body


@pytest.mark.django_db
def test_a_reversed_award_counts_in_no_analytics_a_strategy_reads(api, task):
    first = _award(api, "alice", 5)
    second = _award(api, "alice", 5)
    assert second["callbackData"] == {"count": 1, "taskCount": 1, "recent": 1, "avgTime": -1}
    before = PlayerTaskStats.objects.get(task=task)

    _reverse(api, first["awardId"])
    third = _award(api, "alice", 5)

    # The reversed award is out of the counts and the recent window; the timestamps stay.
    assert third["callbackData"]["count"] == 1
    assert third["callbackData"]["taskCount"] == 1
    assert third["callbackData"]["recent"] == 1
    assert third["callbackData"]["avgTime"] == -1
    after = PlayerTaskStats.objects.get(task=task)
    assert after.first_award_at == before.first_award_at
    assert (after.award_count, after.points_total) == (2, 10)

    fourth = _award(api, "alice", 5)

    assert fourth["callbackData"]["count"] == 2
    assert fourth["callbackData"]["taskCount"] == 2
    assert fourth["callbackData"]["recent"] == 2
    # The mean gap of the two counted awards spans from the reversed first award's time.
    span = datetime.fromisoformat(third["createdAt"]) - datetime.fromisoformat(first["createdAt"])
    assert fourth["callbackData"]["avgTime"] == pytest.approx(span.total_seconds(), abs=1e-3)


@pytest.mark.django_db
def test_a_rebuild_keeps_reversed_awards_off_the_boards(api, task):
    award = _award(api, "alice", 7)
    _award(api, "alice", 3)
    _reverse(api, award["awardId"])

    leaderboards_rebuild(game=Game.objects.get(pk=task.game_id))

    assert stored_boards(task.game) == boards_from_awards(task.game)
    assert {e.points for e in LeaderboardEntry.objects.all()} == {3}
