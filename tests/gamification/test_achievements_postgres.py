"""Achievements on PostgreSQL outside a test transaction: an award of a game with levels,
streaks and badges stays one read and one write, and concurrent awards grant a badge that is
not repeatable exactly once and count a streak once per period."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gamification.achievements.definitions import achievements_forget
from gamification.achievements.services import badge_create, game_levels_set
from gamification.models import Award, PlayerBadge, PlayerGameStats, Task, WebhookMessage
from gamification.services import api_key_create
from gamification.webhooks import webhook_endpoint_create
from scoring.services import award_points
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.gamification.leaderboard_helpers import award, points_strategy

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement write"),
]

URL = "/api/v1/games/g1/tasks/t1/points"
LEVELS = [
    {"level": 1, "name": "Rookie", "min_points": 0},
    {"level": 2, "name": "Pro", "min_points": 10},
    {"level": 3, "name": "Master", "min_points": 100},
]


def _at_least(path: str, value: int) -> dict:
    return {
        "type": "compare",
        "op": ">=",
        "left": {"type": "field", "path": path},
        "right": {"type": "literal", "value": value},
    }


@pytest.fixture(autouse=True)
def _fresh_definitions():
    achievements_forget()
    yield
    achievements_forget()


@pytest.fixture
def task() -> Task:
    realm = RealmFactory(slug="lean", timezone="Asia/Tokyo")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    TaskFactory(game=game, external_task_id="t2", strategy_id=strategy)
    game_levels_set(game=game, api_key=None, levels=LEVELS, streak_period="day")
    for n in range(10):
        badge_create(
            game=game,
            api_key=None,
            badge_id=f"b{n}",
            name=f"Badge {n}",
            repeatable=n % 2 == 1,
            condition=_at_least("player.awards" if n < 8 else "player.tasks.t2.awards", n),
        )
    return TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)


@pytest.fixture
def api(task) -> APIClient:
    _, raw = api_key_create(realm=task.game.realm, name="game-server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _post(api: APIClient, user: str = "alice", points: float = 4):
    return api.post(URL, {"externalUserId": user, "data": {"points": points}}, format="json")


@pytest.mark.parametrize("listening", [False, True])
def test_an_award_with_levels_streaks_and_badges_is_one_read_and_one_write(api, task, listening):
    if listening:
        webhook_endpoint_create(
            realm=task.game.realm,
            url="https://93.184.215.14/hook",
            events=["award.created", "badge.earned", "level.reached"],
        )
    assert _post(api).status_code == 201  # the process learns the task and the definitions
    assert _post(api, "bob").status_code == 201

    for user, points in (("alice", 8), ("bob", 1), ("carol", 20)):
        with CaptureQueriesContext(connection) as queries:
            response = _post(api, user, points)
        assert response.status_code == 201, response.content
        assert len(queries) == 2, [query["sql"] for query in queries]
    body = response.json()
    assert body["level"] == {"level": 2, "name": "Pro", "changed": True}
    assert body["streak"] == {"current": 1, "longest": 1}
    assert body["badgesEarned"] == ["b0", "b1"]
    alice = _post(api, "alice", 0).json()
    assert alice["badgesEarned"] == ["b1", "b3"]
    messages = WebhookMessage.objects.filter(event_type__in=["badge.earned", "level.reached"])
    if listening:
        # carol: b0, b1 and Pro; alice's third award: b1, b3 (her Pro came with 12 points).
        kinds = sorted(json.loads(m.body)["type"] for m in messages)
        assert kinds.count("level.reached") == 2  # alice's Pro, carol's Pro
        assert "badge.earned" in kinds
    else:
        assert not messages.exists()


def test_psycopg_converts_the_award_statements_once(api, task, monkeypatch):
    """The write of an award with 10 badges and webhooks, longer than psycopg's own limit for
    its conversion cache, goes through that cache: parsed once per text, not once per award."""
    from psycopg import _queries

    webhook_endpoint_create(
        realm=task.game.realm,
        url="https://93.184.215.14/hook",
        events=["award.created", "badge.earned", "level.reached"],
    )
    for user in ("alice", "bob", "carol"):  # the process learns task, definitions, windows
        assert _post(api, user).status_code == 201
    uncached: list[bytes] = []
    parse = _queries._query2pg_nocache

    def parse_uncached(query, encoding):
        uncached.append(query)
        return parse(query, encoding)

    monkeypatch.setattr(_queries, "_query2pg_nocache", parse_uncached)
    for user, points in (("alice", 8), ("bob", 1), ("carol", 20)):
        assert _post(api, user, points).status_code == 201
    assert uncached == []
    with CaptureQueriesContext(connection) as queries:
        assert _post(api, "alice", 8).status_code == 201
    assert max(len(query["sql"]) for query in queries) > 4096


def test_concurrent_awards_grant_a_badge_once_and_count_one_streak_day():
    realm = RealmFactory(slug="busy")
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    task = TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    game_levels_set(game=game, api_key=None, levels=LEVELS, streak_period="day")
    badge_create(
        game=game,
        api_key=None,
        badge_id="first",
        name="First",
        condition={"type": "literal", "value": True},
    )
    badge_create(
        game=game,
        api_key=None,
        badge_id="every",
        name="Every",
        repeatable=True,
        condition={"type": "literal", "value": True},
    )
    award(task, "alice", 1)  # the player exists; her streak is 1 today
    PlayerBadge.objects.all().delete()
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def awarding() -> None:
        try:
            start.wait()
            for _ in range(5):
                outcome = award_points(
                    realm=realm,
                    api_key=None,
                    task=Task.objects.select_related("game").get(pk=task.pk),
                    external_user_id="alice",
                    data={"points": 1},
                )
                assert outcome.created
        except BaseException as error:  # noqa: BLE001 - reported to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=awarding) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Award.objects.filter(task=task).count() == 41
    assert PlayerBadge.objects.filter(badge__badge_id="first").count() == 1
    assert PlayerBadge.objects.filter(badge__badge_id="every").count() == 40
    stats = PlayerGameStats.objects.get(game=game)
    assert (stats.current_streak, stats.longest_streak) == (1, 1)


def test_a_copy_loaded_by_another_request_between_read_plan_and_answer_is_no_500(api, monkeypatch):
    """Two first awards of a process race: the first plans its read with no copy of the
    definitions, the second loads the copy before the first parses its answer."""
    from gamification.achievements import awards as achievement_awards

    assert _post(api, "alice", 8).status_code == 201
    achievements_forget()
    planned = achievement_awards.read_plan

    def plan_then_another_request_loads(*, game_id):
        plan = planned(game_id=game_id)
        achievement_awards.achievements_load(game_id=game_id)
        return plan

    monkeypatch.setattr(achievement_awards, "read_plan", plan_then_another_request_loads)
    response = _post(api, "alice", 4)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["level"] == {"level": 2, "name": "Pro", "changed": True}
    assert body["streak"] == {"current": 1, "longest": 1}
    assert body["badgesEarned"] == ["b1", "b2"]
