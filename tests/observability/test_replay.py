"""Replay of logged runs: the version that ran reproduces every logged outcome, of every kind.

Runs are logged through the real award endpoint with every run kept, shipped by the sink,
encoded as the worker receives them and persisted by the worker's service; then each row is
replayed through the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from gamification.models import Player
from observability.models import StrategyExecutionLog
from observability.presenters import TRACE_NOT_DRAWN, TRACE_OF_BUILTIN
from observability.services import execution_log_batch_persist
from observability.sink import payload_joined, row_encoded
from strategies import services as strategy_services
from strategies.models import StrategyDefinition
from tests.factories import GameFactory, TaskFactory, award_history
from tests.observability.conftest import log_make

pytestmark = pytest.mark.django_db

USERS = [f"player-{n}" for n in range(6)]
COMPARED = ("points", "caseName", "callbackData", "status", "errorCode", "strategyVersion")


def field(path: str) -> dict:
    return {"type": "field", "path": path}


def lit(value: Any) -> dict:
    return {"type": "literal", "value": value}


def arith(op: str, left: dict, right: dict) -> dict:
    return {"type": "arith", "op": op, "left": left, "right": right}


def compare(op: str, left: dict, right: dict) -> dict:
    return {"type": "compare", "op": op, "left": left, "right": right}


def rule(when: dict, *then: dict) -> dict:
    return {"type": "rule", "when": when, "then": list(then)}


def callback(key: str, value: dict) -> dict:
    return {"type": "set_callback_data", "key": key, "value": value}


def assign(value: dict, case_name: str) -> dict:
    return {"type": "assign_points", "value": value, "case_name": case_name}


#: Reads analytics, the event's ids and data; writes callback data.
PACE = {
    "type": "program",
    "rules": [
        rule(
            compare(">=", field("user.recent_measurements_count"), lit(2)),
            callback("streak", field("user.recent_measurements_count")),
            callback("who", field("externalUserId")),
            assign(arith("*", field("user.recent_measurements_count"), lit(2)), "Streak"),
        ),
        rule(
            compare("<", field("user.avg_time"), lit(90)),
            callback("pace", field("user.avg_time")),
            assign(lit(7), "Regular"),
        ),
        rule(compare(">=", field("data.minutes"), lit(30)), assign(lit(10), "LongSession")),
    ],
    "default": assign(lit(1), "Short"),
}
#: Divides by the event's data: a runtime error when it is 0.
DIVIDE = {
    "type": "program",
    "rules": [],
    "default": assign(arith("/", lit(100), field("data.divisor")), "Divided"),
}
#: Copies the event's blob twice into the callback data: over its budget for a long blob.
AMPLIFY = {
    "type": "program",
    "rules": [
        rule(
            lit(True),
            callback("first", field("data.blob")),
            callback("second", field("data.blob")),
            assign(lit(2), "Copied"),
        )
    ],
}
#: Around constant_effort with a 10-minute interval: the parent reads another window than
#: the program's own ``user.recent_measurements_count``; pre rules rewrite the parent's data.
EFFORT_PLUS = {
    "type": "program",
    "rules": [],
    "parent_variables": {"variable_constant_effort_interval_minutes": 10},
    "pre_rules": [
        rule(lit(True), {"type": "set_data", "key": "boosted", "value": field("data.minutes")})
    ],
    "post_rules": [
        rule(
            lit(True),
            {
                "type": "set_points",
                "value": arith(
                    "+", field("parent.points"), field("user.recent_measurements_count")
                ),
            },
            callback("parentCase", field("parent.case_name")),
            callback("boosted", field("data.boosted")),
        )
    ],
}
#: Around default, adding 5: the parent reads analytics the program never mentions.
DEFAULT_PLUS = {
    "type": "program",
    "rules": [],
    "post_rules": [
        rule(
            lit(True),
            {"type": "set_points", "value": arith("+", field("parent.points"), lit(5))},
        )
    ],
}


def _published(realm, name: str, ast: dict, parent: str | None = None):
    row = strategy_services.strategy_create(
        realm=realm,
        name=name,
        type="DSL_EXTEND" if parent else "DSL_FULL",
        parent_strategy_id=parent,
        ast_json=ast,
    )
    strategy_services.strategy_publish(strategy=row)
    row.refresh_from_db()
    return row


def _seed_history(task, users: list[str], now) -> None:
    """Give each player a different past on ``task``: none, sparse, steady, recent bursts."""
    pasts = [
        [],
        [now - timedelta(hours=5)],
        [now - timedelta(minutes=m) for m in (50, 40, 30)],
        [now - timedelta(minutes=m) for m in (8, 4, 2)],
        [now - timedelta(seconds=s) for s in (900, 200, 100, 60)],
        [now - timedelta(hours=h) for h in (30, 20, 1)],
    ]
    for user, timestamps in zip(users, pasts, strict=True):
        if timestamps:
            player, _ = Player.objects.get_or_create(realm=task.game.realm, external_user_id=user)
            award_history(task=task, player=player, timestamps=timestamps)


def _persist(rows: list[dict[str, Any]]) -> int:
    """Persist the sink's rows as the worker does: from the JSON payload it receives."""
    return execution_log_batch_persist(payload=payload_joined([row_encoded(r) for r in rows]))


@pytest.fixture
def logged_runs(realm, api, captured, settings) -> list[StrategyExecutionLog]:
    """Award a mix of events on every kind of strategy, every run logged; return the rows."""
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 1.0
    observer, rows = captured
    game = GameFactory(realm=realm, external_game_id="g1")
    custom = {
        "pace": _published(realm, "pace", PACE),
        "divide": _published(realm, "divide", DIVIDE),
        "amplify": _published(realm, "amplify", AMPLIFY),
        "effort-plus": _published(realm, "effort-plus", EFFORT_PLUS, parent="constant_effort"),
        "default-plus": _published(realm, "default-plus", DEFAULT_PLUS, parent="default"),
    }
    bindings = {"default": "default", "constant_effort": "constant_effort"}
    bindings |= {name: row.strategy_id for name, row in custom.items()}
    now = timezone.now()
    tasks = []
    for name, strategy_id in bindings.items():
        task = TaskFactory(game=game, external_task_id=name, strategy_id=strategy_id)
        _seed_history(task, USERS, now)
        tasks.append(task)
    statuses: list[int] = []
    for round_ in range(2):
        for task in tasks:
            for n, user in enumerate(USERS):
                data: dict[str, Any] = {"minutes": 10 * n + round_, "divisor": n % 3}
                data["blob"] = "x" * (40_000 if n == 5 and round_ == 1 else 10)
                response = api.post(
                    f"/api/v1/games/g1/tasks/{task.external_task_id}/points",
                    {"externalUserId": user, "data": data},
                    format="json",
                )
                statuses.append(response.status_code)
    assert observer.sink.flush(10)
    assert len(rows) == len(statuses) == 2 * len(tasks) * len(USERS)
    assert _persist(rows) == len(rows)
    assert set(statuses) == {201, 422}
    return list(StrategyExecutionLog.objects.filter(realm=realm))


def test_the_version_that_ran_reproduces_every_logged_run(api, logged_runs):
    kinds = {log.strategy_type for log in logged_runs}
    statuses = {log.status for log in logged_runs}
    cases = {log.case_name for log in logged_runs if log.strategy_id == "constant_effort"}
    default_cases = {log.case_name for log in logged_runs if log.strategy_id == "default"}
    assert kinds == {"BUILT_IN", "DSL_FULL", "DSL_EXTEND"}
    assert statuses == {"ok", "error", "limit"}
    assert cases == {"BasicReward", "ConstantEffortReward"}
    assert len(default_cases) >= 3, default_cases

    mismatches = []
    for log in logged_runs:
        response = api.post(f"/api/v1/executions/{log.pk}/replay")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert set(body) == {"logged", "versionThatRan", "current"}, body.get("notes")
        assert set(body["logged"]) == set(COMPARED)
        if body["versionThatRan"] != body["logged"]:
            mismatches.append((log.strategy_id, log.external_user_id, body))
        # Nothing changed since: the current version is the one that ran.
        assert body["current"] == body["logged"]

    assert mismatches == [], f"{len(mismatches)}/{len(logged_runs)} differ: {mismatches[:3]}"


def test_a_logged_built_in_run_keeps_the_analytics_it_read(logged_runs):
    effort = [log for log in logged_runs if log.strategy_id == "constant_effort"]
    rewarded = next(log for log in effort if log.case_name == "ConstantEffortReward")
    assert rewarded.analytics["values"] == {}
    recent = rewarded.analytics["windows"]["300"]
    assert rewarded.points == min(recent + 1, 100)

    default = next(log for log in logged_runs if log.strategy_id == "default")
    assert set(default.analytics["values"]) >= {"task.measurements_count", "user.avg_time"}

    extended = [log for log in logged_runs if log.strategy_type == "DSL_EXTEND"]
    effort_plus = next(log for log in extended if log.parent_strategy_id == "constant_effort")
    # The parent's 10-minute window and the program's own 5-minute one.
    assert set(effort_plus.analytics["windows"]) == {"300", "600"}
    assert effort_plus.parent_data["boosted"] == effort_plus.data["minutes"]


def test_the_current_version_is_replayed_beside_the_one_that_ran(api, realm, logged_runs):
    log = next(log for log in logged_runs if log.case_name == "Streak")
    pace = StrategyDefinition.objects.get(realm=realm, name="pace")
    draft = strategy_services.strategy_edit(
        strategy=pace, changes={"ast_json": {**PACE, "rules": PACE["rules"][2:]}}
    ).strategy
    strategy_services.strategy_publish(strategy=draft)

    body = api.post(f"/api/v1/executions/{log.pk}/replay").json()

    assert body["versionThatRan"] == body["logged"]
    assert body["logged"]["strategyVersion"] == "1"
    assert body["logged"]["callbackData"]["who"] == log.external_user_id
    assert body["current"]["strategyVersion"] == "2"
    assert body["current"]["caseName"] in {"LongSession", "Short"}
    assert body["current"]["callbackData"] == {}


def test_another_realms_log_and_an_unknown_id_are_not_found(api, other_api, realm):
    log = log_make(realm=realm, strategy_id="default", definition_id=None, strategy_type="BUILT_IN")

    for client, log_id in (
        (other_api, log.pk),
        (api, "0190a5b0-0000-7000-8000-00000000dead"),
        (api, "not-a-uuid"),
    ):
        response = client.post(f"/api/v1/executions/{log_id}/replay")
        assert response.status_code == 404
        assert response.json()["code"] == "EXECUTION_NOT_FOUND"
        assert response.json()["detail"]
    assert api.post(f"/api/v1/executions/{log.pk}/replay").status_code == 200


def test_replay_needs_an_api_key(client, realm):
    log = log_make(realm=realm)
    response = client.post(f"/api/v1/executions/{log.pk}/replay")
    assert response.status_code in {401, 403}
    assert "code" in response.json()


def test_a_row_logged_before_analytics_were_says_so(api, realm):
    log = log_make(
        realm=realm,
        strategy_id="constant_effort",
        definition_id=None,
        strategy_type="BUILT_IN",
        strategy_version="0.0.1",
        fields={},
        points=4.0,
        case_name="ConstantEffortReward",
        trace=None,
    )

    body = api.post(f"/api/v1/executions/{log.pk}/replay").json()

    assert body["versionThatRan"]["caseName"] == "BasicReward"
    assert any("logged before its analytics" in note for note in body["notes"])
    assert any("recent count over 300 s" in note for note in body["notes"])


def test_a_version_that_is_gone_is_null_with_a_note(api, realm):
    log = log_make(
        realm=realm,
        strategy_id="default",
        definition_id=None,
        strategy_type="BUILT_IN",
        strategy_version="0.0.0-gone",
        analytics={"values": {}, "windows": {}},
    )

    body = api.post(f"/api/v1/executions/{log.pk}/replay").json()

    assert body["versionThatRan"] is None
    assert body["current"]["strategyVersion"] != "0.0.0-gone"
    assert any(note.startswith("versionThatRan: ") for note in body["notes"])


def test_the_schema_documents_the_replay(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/executions/{log_id}/replay"]["post"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"logged", "versionThatRan", "current"} <= set(component["properties"])


def test_the_admin_replay_page_shows_the_three_results(admin_client, logged_runs):
    log = next(
        log
        for log in logged_runs
        if log.strategy_id == "constant_effort" and log.case_name == "ConstantEffortReward"
    )
    url = reverse("admin:observability_strategyexecutionlog_replay", args=[log.pk])

    response = admin_client.get(url)

    assert response.status_code == 200
    columns = response.context["columns"]
    assert [column["result"]["points"] for column in columns] == [log.points] * 3
    assert [column["result"]["case_name"] for column in columns] == ["ConstantEffortReward"] * 3
    assert columns[1]["matches"]
    assert columns[2]["matches"]
    body = response.content.decode()
    assert body.count("Same outcome as the logged run.") == 2
    assert TRACE_OF_BUILTIN in body
    assert "failed runs lose theirs" not in body


def test_an_ok_dsl_run_shows_its_trace_and_no_missing_trace_message(admin_client, logged_runs):
    log = next(log for log in logged_runs if log.strategy_type == "DSL_FULL" and log.trace)
    for page in ("change", "replay"):
        url = reverse(f"admin:observability_strategyexecutionlog_{page}", args=[log.pk])
        body = admin_client.get(url).content.decode()
        assert "execlog-trace" in body
        assert "execlog-no-trace" not in body


def test_a_failed_run_not_drawn_for_a_trace_says_why(admin_client, realm, api, captured, settings):
    settings.DSL_EXECUTION_LOG_SAMPLE_RATE = 0.0
    observer, rows = captured
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(
        game=game,
        external_task_id="divide",
        strategy_id=_published(realm, "divide", DIVIDE).strategy_id,
    )
    response = api.post(
        "/api/v1/games/g1/tasks/divide/points",
        {"externalUserId": "u", "data": {"divisor": 0}},
        format="json",
    )
    assert response.status_code == 422
    assert observer.sink.flush(10)
    _persist(rows)
    log = StrategyExecutionLog.objects.get(realm=realm)
    assert (log.status, log.sampled, log.trace) == ("error", False, None)

    change = admin_client.get(
        reverse("admin:observability_strategyexecutionlog_change", args=[log.pk])
    )
    assert TRACE_NOT_DRAWN in change.content.decode()
    replay = admin_client.get(
        reverse("admin:observability_strategyexecutionlog_replay", args=[log.pk])
    )
    columns = replay.context["columns"]
    assert columns[1]["result"]["error_code"] == log.error_code == "DSL_ARITH_DIV_BY_ZERO"
    assert columns[1]["matches"]
    assert "execlog-trace" in str(columns[1]["trace"])
