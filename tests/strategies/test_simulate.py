"""Simulation: the stored or unsaved program runs with its real type and nothing is written."""

from __future__ import annotations

import json
import time

import pytest

from gamification.models import Award, Player
from strategies.models import StrategyDefinition
from tests.factories import GameFactory, TaskFactory, strategy_program_full

BASE = "/api/v1/strategies/custom"
WEEKEND = {
    "type": "program",
    "rules": [],
    "post_rules": [
        {
            "type": "rule",
            "when": {
                "type": "compare",
                "op": "==",
                "left": {"type": "field", "path": "data.is_weekend"},
                "right": {"type": "literal", "value": True},
            },
            "then": [
                {
                    "type": "set_points",
                    "value": {
                        "type": "arith",
                        "op": "*",
                        "left": {"type": "field", "path": "parent.points"},
                        "right": {"type": "literal", "value": 2},
                    },
                },
                {"type": "set_case_name", "value": {"type": "literal", "value": "WeekendBonus"}},
            ],
        }
    ],
}


def _draft(api, **body):
    body = {"name": "speed", "type": "DSL_FULL", "astJson": strategy_program_full(), **body}
    return api.post(BASE, body, format="json").json()


def test_simulating_a_stored_draft_returns_points_case_and_trace(api):
    draft = _draft(api)
    response = api.post(f"{BASE}/{draft['id']}/simulate", {"data": {"minutes": 45}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["points"], body["caseName"], body["status"]) == (10, "LongSession", "ok")
    assert body["errorCode"] is None
    rule = next(e for e in body["trace"] if e["type"] == "rule")
    assert (rule["nodeId"], rule["branch"]) == ("p.program.0.rule.0", "match")
    assert body["nodesExecuted"] > 0
    assert body["durationMs"] >= 0
    assert not Award.objects.exists()
    assert not Player.objects.exists()


def test_simulating_an_extension_runs_its_parent_too(api):
    draft = _draft(
        api, name="weekend", type="DSL_EXTEND", parentStrategyId="default", astJson=WEEKEND
    )
    body = api.post(
        f"{BASE}/{draft['id']}/simulate", {"data": {"is_weekend": True}}, format="json"
    ).json()
    # Empty history: the default built-in answers (1, BasicEngagement), doubled by the post rule.
    assert (body["points"], body["caseName"]) == (2, "WeekendBonus")
    body = api.post(
        f"{BASE}/{draft['id']}/simulate",
        {
            "data": {"is_weekend": True},
            "mockState": {"task.measurements_count": 5, "user.measurements_count": 1},
        },
        format="json",
    ).json()
    assert (body["points"], body["caseName"]) == (2, "WeekendBonus")


def test_mock_state_overrides_analytics(api):
    program = strategy_program_full()
    program["rules"][0]["when"]["left"] = {"type": "field", "path": "user.measurements_count"}
    draft = _draft(api, astJson=program)
    body = api.post(
        f"{BASE}/{draft['id']}/simulate",
        {"mockState": {"user.measurements_count": 31}},
        format="json",
    ).json()
    assert body["caseName"] == "LongSession"
    assert api.post(f"{BASE}/{draft['id']}/simulate", {}, format="json").json()["caseName"] == (
        "ShortSession"
    )


def test_simulating_with_a_real_task_reads_its_history(api, realm):
    program = strategy_program_full()
    program["rules"][0]["when"]["left"] = {"type": "field", "path": "user.measurements_count"}
    program["rules"][0]["when"]["right"] = {"type": "literal", "value": 1}
    draft = _draft(api, astJson=program)
    task = TaskFactory(game=GameFactory(realm=realm, external_game_id="g"), external_task_id="t")
    api.post("/api/v1/games/g/tasks/t/points", {"externalUserId": "u"}, format="json")
    body = {"externalUserId": "u", "externalGameId": "g", "externalTaskId": "t"}
    result = api.post(f"{BASE}/{draft['id']}/simulate", body, format="json").json()
    assert result["caseName"] == "LongSession"
    assert Award.objects.filter(task=task).count() == 1
    missing = api.post(
        f"{BASE}/{draft['id']}/simulate", {**body, "externalTaskId": "nope"}, format="json"
    )
    assert missing.status_code == 404


def test_an_execution_error_comes_back_in_the_simulation_result(api):
    program = strategy_program_full()
    program["default"]["value"] = {"type": "field", "path": "data.label"}
    draft = _draft(api, astJson=program)
    body = api.post(
        f"{BASE}/{draft['id']}/simulate", {"data": {"minutes": 1, "label": "x"}}, format="json"
    ).json()
    assert body["status"] == "error"
    assert body["errorCode"] == "DSL_ASSIGN_POINTS_NOT_NUMBER"
    assert body["nodeId"]
    assert body["pointer"] == "/default"
    assert body["points"] is None


def test_simulating_an_unsaved_program_stores_nothing(api):
    response = api.post(
        "/api/v1/strategies/simulate",
        {"type": "DSL_FULL", "astJson": strategy_program_full(points=7), "data": {"minutes": 30}},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["points"], response.json()["caseName"]) == (7, "LongSession")
    assert not StrategyDefinition.objects.exists()


def test_simulating_an_unsaved_extension_needs_its_parent(api):
    body = {"type": "DSL_EXTEND", "astJson": WEEKEND, "data": {"is_weekend": True}}
    assert api.post("/api/v1/strategies/simulate", body, format="json").status_code == 400
    body["parentStrategyId"] = "default"
    assert api.post("/api/v1/strategies/simulate", body, format="json").json()["points"] == 2


def test_simulating_an_invalid_program_answers_400_with_pointers(api):
    response = api.post(
        "/api/v1/strategies/simulate",
        {"type": "DSL_FULL", "astJson": {"type": "program", "rules": [{"type": "rule"}]}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "DSL_VALIDATION_ERROR"
    assert body["errors"][0]["pointer"].startswith("/rules/0")


def test_simulating_without_a_program_answers_400(api):
    draft = _draft(api, astJson=None)
    response = api.post(f"{BASE}/{draft['id']}/simulate", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "DSL_NO_AST_TO_SIMULATE"


# -- big inputs ---------------------------------------------------------------------------------
def _field(path: str) -> dict:
    return {"type": "field", "path": path}


def _megabyte_of_lists() -> dict:
    """Two lists of about 1 MB of JSON each, equal but for their last item."""
    unit = "[[[[[[[[[[0]]]]]]]]]]"
    text = "[" + ",".join([unit] * (500_000 // (len(unit) + 1))) + "]"
    left, right = json.loads(text), json.loads(text)
    right[-1] = 1
    return {"l": left, "m": right}


def _simulate_big(api, ast: dict, data: dict) -> tuple[dict, int, float]:
    started = time.perf_counter()
    response = api.post(
        "/api/v1/strategies/simulate",
        {"type": "DSL_FULL", "astJson": ast, "data": data},
        format="json",
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    assert response.status_code == 200, response.content[:500]
    return response.json(), len(response.content), elapsed


#: What a simulation answer may take: the trace's budget and 64 KiB for everything else.
ANSWER_BYTES = 65536 + 64 * 1024
#: Time allowed on top of the run to encode a megabyte of JSON, send it and parse it. It
#: takes about half a second; the rest is headroom for a shared, noisy machine.
CODEC_MS = 2500


@pytest.fixture
def edge_limits_raised(settings):
    """An operator may raise the edge's limits: the answer must stay bounded all the same."""
    settings.DSL_EVENT_DATA_MAX_BYTES = 4_000_000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 8_000_000


@pytest.mark.usefixtures("edge_limits_raised")
def test_simulating_the_amplification_program_on_a_megabyte_answers_small_and_on_time(
    api, settings
):
    rules = [
        {
            "type": "rule",
            "when": {
                "type": "compare",
                "op": "==",
                "left": _field("data.l"),
                "right": _field("data.m"),
            },
            "then": [
                {
                    "type": "assign_points",
                    "value": {"type": "literal", "value": i},
                    "case_name": "R",
                }
            ],
        }
        for i in range(160)
    ]
    body, size, elapsed = _simulate_big(
        api, {"type": "program", "rules": rules}, _megabyte_of_lists()
    )
    assert elapsed <= settings.DSL_EXECUTION_TIMEOUT_MS * 1.1 + CODEC_MS
    assert (body["status"], body["errorCode"]) == ("error", "DSL_VALUE_TOO_LARGE")
    assert (body["nodeId"], body["pointer"]) == ("p.program.0.rule.0.compare.0", "/rules/0/when")
    assert body["durationMs"] <= settings.DSL_EXECUTION_TIMEOUT_MS * 1.1
    assert size <= ANSWER_BYTES
    assert len(json.dumps(body["trace"])) <= settings.DSL_EXECUTION_LOG_TRACE_BYTES + 64


@pytest.mark.usefixtures("edge_limits_raised")
def test_simulating_a_program_that_echoes_a_megabyte_answers_small(api, settings):
    echoes = [
        {"type": "set_callback_data", "key": f"copy{i}", "value": _field("data.l")}
        for i in range(150)
    ]
    ast = {
        "type": "program",
        "rules": [
            {
                "type": "rule",
                "when": {"type": "literal", "value": True},
                "then": [
                    *echoes,
                    {
                        "type": "assign_points",
                        "value": {"type": "literal", "value": 3},
                        "case_name": "Echo",
                    },
                ],
            }
        ],
    }
    body, size, elapsed = _simulate_big(api, ast, _megabyte_of_lists())
    assert elapsed <= settings.DSL_EXECUTION_TIMEOUT_MS * 1.1 + CODEC_MS
    assert body["durationMs"] <= settings.DSL_EXECUTION_TIMEOUT_MS * 1.1
    assert size <= ANSWER_BYTES
    # 150 copies of the data are far over the callback budget: the run fails, and what the
    # answer shows of the input is cut with explicit markers.
    assert (body["status"], body["errorCode"]) == ("limit", "DSL_VALUE_TOO_LARGE")
    assert body["fields"]["data.l"][-1]["$truncated"] == "bytes"
    assert body["trace"][-1]["$truncated"] == "bytes"


def test_simulation_run_returns_the_public_outcome_and_the_program_that_ran(realm):
    from strategies.simulation import simulation_run

    simulation = simulation_run(
        realm=realm,
        type="DSL_FULL",
        parent_strategy_id=None,
        ast_json=strategy_program_full(),
        data={"minutes": 45},
    )
    outcome = simulation.outcome
    assert (outcome["points"], outcome["case_name"], outcome["status"]) == (10, "LongSession", "ok")
    assert outcome["error_code"] is None
    assert outcome["matched"] is True
    assert (simulation.type, simulation.parent_strategy_id) == ("DSL_FULL", None)
    assert simulation.program_ast["rules"][0]["id"] == "p.program.0.rule.0"
    assert simulation.fields["data.minutes"] == 45
