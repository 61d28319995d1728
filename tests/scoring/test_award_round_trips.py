"""Round trips of an award on PostgreSQL: one read and one write, whatever the strategy.

The counts are taken over HTTP outside a test transaction (no savepoints), after a first
award has let the process learn the task and the strategy, as a server does on its first
request for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import close_old_connections, connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gamification.models import Award, Player, PlayerTaskStats, Task, TaskStats, WebhookMessage
from gamification.services import api_key_create
from gamification.webhooks import webhook_endpoint_create
from scoring import services as scoring_services
from strategies import services as strategy_services
from strategies.models import StrategyDefinition
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the two-statement award is PostgreSQL's"
    ),
]

URL = "/api/v1/games/g1/tasks/t1/points"

RECENT_PROGRAM = {
    "type": "program",
    "rules": [],
    "default": {
        "type": "assign_points",
        "value": {
            "type": "arith",
            "op": "+",
            "left": {"type": "field", "path": "user.recent_measurements_count"},
            "right": {"type": "literal", "value": 1},
        },
        "case_name": "Recent",
    },
}
EXTEND_PROGRAM = {
    "type": "program",
    "rules": [],
    "post_rules": [
        {
            "type": "rule",
            "when": {"type": "literal", "value": True},
            "then": [
                {
                    "type": "set_points",
                    "value": {
                        "type": "arith",
                        "op": "+",
                        "left": {"type": "field", "path": "parent.points"},
                        "right": {"type": "literal", "value": 5},
                    },
                }
            ],
        }
    ],
}


@pytest.fixture
def realm():
    return RealmFactory(slug="lean")


@pytest.fixture
def api(realm) -> APIClient:
    _, raw = api_key_create(realm=realm, name="game-server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


@pytest.fixture
def task(realm) -> Task:
    return TaskFactory(
        game=GameFactory(realm=realm, external_game_id="g1"),
        external_task_id="t1",
        strategy_id="default",
    )


def _published(realm, **kwargs) -> str:
    kwargs.setdefault("type", "DSL_FULL")
    kwargs.setdefault("ast_json", strategy_program_full())
    row = strategy_services.strategy_create(realm=realm, name=kwargs.pop("name", "lean"), **kwargs)
    strategy_services.strategy_publish(strategy=row)
    return row.strategy_id


def _post(api: APIClient, user: str = "alice", *, key: str | None = None, **data: Any):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return api.post(
        URL, {"externalUserId": user, "data": data or {"minutes": 45}}, format="json", **headers
    )


def _counted(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, [query["sql"] for query in queries]


def test_a_returning_player_costs_one_read_and_one_write(api, task):
    _post(api)

    response, statements = _counted(lambda: _post(api))

    assert response.status_code == 201, response.json()
    assert response.json()["playerCreated"] is False
    assert len(statements) == 2, statements
    assert statements[0].startswith("SELECT")
    assert statements[1].startswith("WITH inserted AS (INSERT")
    assert PlayerTaskStats.objects.get(task=task).award_count == 2


def test_the_award_read_and_write_are_prepared_once_a_connection_repeats_them(api, task):
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    # The first award creates the player, in a write of its own shape.
    for _ in range(threshold + 2):
        assert _post(api).status_code == 201

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any(statement.startswith("WITH inserted AS (INSERT") for statement in prepared)
    assert any(statement.startswith("SELECT g.id, t.id, t.strategy_id") for statement in prepared)
    assert PlayerTaskStats.objects.get(task=task).award_count == threshold + 2


def test_a_new_player_is_created_in_the_award_write(api, task):
    _post(api)

    response, statements = _counted(lambda: _post(api, "bob"))

    assert response.status_code == 201, response.json()
    assert response.json()["playerCreated"] is True
    assert len(statements) == 2, statements
    assert statements[1].startswith("WITH new_player AS (INSERT")
    bob = Player.objects.get(external_user_id="bob")
    award = Award.objects.get(player=bob)
    assert str(award.pk) == response.json()["awardId"]
    assert bob.created_at == award.created_at
    stats = PlayerTaskStats.objects.get(task=task, player=bob)
    assert (stats.award_count, stats.points_total) == (1, award.points)
    assert TaskStats.objects.get(task=task).award_count == 2


def test_a_player_created_since_the_read_is_reused_and_not_claimed(api, task, realm):
    _post(api)

    def create_bob_first(execute, sql, params, many, context):
        if sql.startswith("WITH new_player"):
            Player.objects.create(realm=realm, external_user_id="bob")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(create_bob_first):
        response = _post(api, "bob", key="k-race")

    assert response.status_code == 201, response.json()
    assert response.json()["playerCreated"] is False
    bob = Player.objects.get(external_user_id="bob")
    award = Award.objects.get(player=bob)
    assert award.response_body.encode() == response.content
    assert PlayerTaskStats.objects.get(task=task, player=bob).award_count == 1
    assert TaskStats.objects.get(task=task).award_count == 2


@pytest.mark.parametrize(
    "definition",
    [
        {"type": "DSL_FULL", "ast_json": strategy_program_full()},
        {"type": "DSL_EXTEND", "parent_strategy_id": "default", "ast_json": EXTEND_PROGRAM},
    ],
    ids=["DSL_FULL", "DSL_EXTEND"],
)
def test_a_custom_strategy_costs_one_read_and_one_write_once_warm(api, task, realm, definition):
    task.strategy_id = _published(realm, **definition)
    task.save()
    first = _post(api)

    response, statements = _counted(lambda: _post(api))

    assert first.status_code == response.status_code == 201, response.json()
    assert response.json()["strategyId"] == task.strategy_id
    assert response.json()["points"] == (10 if definition["type"] == "DSL_FULL" else 6)
    assert len(statements) == 2, statements


@pytest.mark.usefixtures("task")
def test_an_idempotency_key_costs_nothing_more_and_its_replay_one_read(api):
    _post(api)

    first, first_statements = _counted(lambda: _post(api, key="k-1"))
    replay, replay_statements = _counted(lambda: _post(api, key="k-1"))

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.content == first.content
    assert len(first_statements) == 2, first_statements
    assert len(replay_statements) == 1, replay_statements
    assert Award.objects.filter(idempotency_key="k-1").count() == 1


@pytest.mark.usefixtures("task")
def test_a_key_used_for_another_player_is_refused_from_the_one_read(api):
    _post(api, key="k-1")

    response, statements = _counted(lambda: _post(api, "bob", key="k-1"))

    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(statements) == 1, statements


def test_a_recent_window_is_read_again_only_when_the_strategy_first_asks_for_it(
    api, task, realm, monkeypatch
):
    monkeypatch.setattr(scoring_services, "_WINDOWS_READ", {})
    task.strategy_id = _published(realm, ast_json=RECENT_PROGRAM)
    task.save()
    _post(api)  # learns the task and the strategy; no window read yet

    second, second_statements = _counted(lambda: _post(api))
    third, third_statements = _counted(lambda: _post(api))

    # The awards before each one within the window, plus one.
    assert (second.json()["points"], third.json()["points"]) == (2, 3)
    assert len(second_statements) == 2, second_statements
    assert len(third_statements) == 2, third_statements


def test_a_window_not_read_ahead_costs_one_read_more_and_scores_the_same(
    api, task, realm, monkeypatch
):
    monkeypatch.setattr(scoring_services, "_WINDOWS_READ", {})
    task.strategy_id = _published(realm, ast_json=RECENT_PROGRAM)
    task.save()
    _post(api)
    scoring_services._WINDOWS_READ.clear()

    response, statements = _counted(lambda: _post(api))

    assert response.json()["points"] == 2
    assert len(statements) == 3, statements


def test_a_newly_published_version_scores_at_once(api, task, realm):
    task.strategy_id = _published(realm, ast_json=strategy_program_full(points=10))
    task.save()
    assert _post(api).json()["points"] == 10

    v1 = StrategyDefinition.objects.get(name="lean")
    v2 = strategy_services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=20)}
    ).strategy
    strategy_services.strategy_publish(strategy=v2)
    after_publish = _post(api)
    warm, statements = _counted(lambda: _post(api))

    assert (after_publish.json()["points"], after_publish.json()["strategyVersion"]) == (20, "2")
    assert (warm.json()["points"], warm.json()["strategyVersion"]) == (20, "2")
    assert len(statements) == 2, statements


def test_an_archived_strategy_is_refused_although_it_was_resolved_before(api, task, realm):
    task.strategy_id = _published(realm)
    task.save()
    assert _post(api).status_code == 201

    strategy_services.strategy_archive(strategy=StrategyDefinition.objects.get(name="lean"))
    response = _post(api)

    assert response.status_code == 409
    assert response.json()["code"] == "STRATEGY_NOT_PUBLISHED"


def test_the_task_as_stored_now_decides_although_it_was_looked_up_before(api, task):
    assert _post(api).json()["strategyId"] == "default"

    Task.objects.filter(pk=task.pk).update(strategy_id="constant_effort")
    rebound = _post(api)
    Task.objects.filter(pk=task.pk).update(status="closed")
    closed = _post(api)
    Task.objects.filter(pk=task.pk).delete()
    deleted = _post(api)

    assert rebound.status_code == 201, rebound.json()
    assert rebound.json()["strategyId"] == "constant_effort"
    assert (closed.status_code, closed.json()["code"]) == (409, "TASK_CLOSED")
    assert (deleted.status_code, deleted.json()["code"]) == (404, "TASK_NOT_FOUND")


@pytest.fixture
def other_session() -> Iterator[Any]:
    """A second connection to the test database, to end the first one's backend with."""
    other = connections.create_connection("default")
    try:
        yield other
    finally:
        other.close()


def _end_backend(other_session, pid: int) -> None:
    with other_session.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("task_known", [True, False], ids=["task known", "task looked up"])
def test_an_award_after_the_database_ended_the_idle_connection_succeeds(
    api, task, other_session, task_known, monkeypatch
):
    """Health checks are off: the first read finds the connection dead and reads again."""
    _post(api)
    if not task_known:
        monkeypatch.setattr("gamification.selectors._AWARD_TASKS", {})
    pid = _backend_pid()
    _end_backend(other_session, pid)

    response = _post(api)

    assert response.status_code == 201, response.json()
    assert _backend_pid() != pid
    assert PlayerTaskStats.objects.get(task=task).award_count == 2


def test_another_request_on_the_ended_connection_fails_once_and_the_next_reconnects(
    api, other_session
):
    """Outside the award read nothing reads again: that request answers 503, and Django closes
    the broken connection at its end, so the next request opens a new one."""
    assert api.get("/api/v1/games").status_code == 200
    pid = _backend_pid()
    _end_backend(other_session, pid)

    failed = api.get("/api/v1/games")
    close_old_connections()  # what Django does at the end of every request
    recovered = api.get("/api/v1/games")

    assert (failed.status_code, failed.json()["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert recovered.status_code == 200
    assert _backend_pid() != pid


def _listening(realm, *events: str):
    return webhook_endpoint_create(
        realm=realm, url="https://93.184.215.14/hook", events=events or ("award.created",)
    )


def test_a_webhook_listening_costs_the_award_no_statement_more(api, task, realm):
    endpoints = [_listening(realm), _listening(realm, "award.created", "strategy.published")]
    _post(api)

    response, statements = _counted(lambda: _post(api))

    assert response.status_code == 201, response.json()
    assert len(statements) == 2, statements
    assert statements[1].startswith("WITH inserted AS (INSERT")
    assert "webhook_messages AS (INSERT" in statements[1]
    messages = WebhookMessage.objects.filter(body__contains=response.json()["awardId"])
    assert {m.endpoint_id for m in messages} == {e.pk for e in endpoints}
    assert {m.event_type for m in WebhookMessage.objects.all()} == {"award.created"}
    assert WebhookMessage.objects.count() == 4
    assert PlayerTaskStats.objects.get(task=task).award_count == 2


def test_a_new_player_and_a_webhook_are_written_in_the_one_award_write(api, task, realm):
    _listening(realm)
    _post(api)

    response, statements = _counted(lambda: _post(api, "bob"))

    assert response.status_code == 201, response.json()
    assert len(statements) == 2, statements
    assert statements[1].startswith("WITH new_player AS (INSERT")
    assert "webhook_messages AS (INSERT" in statements[1]
    message = WebhookMessage.objects.get(body__contains=response.json()["awardId"])
    assert '"playerCreated":true' in message.body
    assert TaskStats.objects.get(task=task).award_count == 2


@pytest.mark.usefixtures("task")
def test_without_a_listener_for_awards_the_write_is_the_plain_one(api, realm):
    _listening(realm, "strategy.published", "strategy.archived")
    _post(api)

    response, statements = _counted(lambda: _post(api))

    assert response.status_code == 201, response.json()
    assert len(statements) == 2, statements
    assert statements[1].startswith("WITH inserted AS (INSERT")
    assert "webhook" not in statements[1]
    assert not WebhookMessage.objects.exists()


@pytest.mark.usefixtures("task")
def test_a_player_created_since_the_read_gets_one_webhook_that_says_so(api, realm):
    _listening(realm)
    _post(api)

    def create_bob_first(execute, sql, params, many, context):
        if sql.startswith("WITH new_player"):
            Player.objects.create(realm=realm, external_user_id="bob")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(create_bob_first):
        response = _post(api, "bob")

    assert response.status_code == 201, response.json()
    message = WebhookMessage.objects.get(body__contains=response.json()["awardId"])
    assert '"playerCreated":false' in message.body
    assert WebhookMessage.objects.count() == 2
