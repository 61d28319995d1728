"""Huge points: a custom strategy that passes event data through as points (1e308 is a finite
JSON number) is refused past ±2^53 like an integer, so the running totals of the stats rows,
the game's totals and the dashboards' sums, all float columns, cannot overflow."""

from __future__ import annotations

import pytest

from gamification.models import Award, TaskStats
from strategies import services
from strategies.models import StrategyDefinition
from tests.factories import GameFactory, TaskFactory

pytestmark = pytest.mark.django_db

POINTS = "/api/v1/games/g1/tasks/t1/points"
BOUND = 2**53

PASS_THROUGH = {
    "type": "program",
    "rules": [],
    "default": {
        "type": "assign_points",
        "value": {"type": "field", "path": "data.score"},
        "case_name": "Score",
    },
}


@pytest.fixture
def task(realm):
    row = services.strategy_create(realm=realm, name="raw", type="DSL_FULL", ast_json=PASS_THROUGH)
    live = services.strategy_publish(strategy=row).strategy
    return TaskFactory(
        game=GameFactory(realm=realm, external_game_id="g1"),
        external_task_id="t1",
        strategy_id=live.strategy_id,
    )


def _award(api, score, **extra):
    return api.post(
        POINTS, {"externalUserId": "u", "data": {"score": score}, **extra}, format="json"
    )


@pytest.mark.usefixtures("task")
@pytest.mark.parametrize("score", [1e308, -1e308, 2.0**53 * 2])
def test_an_award_past_the_points_bound_is_a_422_and_stores_nothing(api, score):
    for _ in range(2):
        response = _award(api, score)

        assert response.status_code == 422
        body = response.json()
        assert (body["code"], body["pointer"]) == ("DSL_POINTS_OUT_OF_RANGE", "/default")
    assert _award(api, score, dryRun=True).json()["code"] == "DSL_POINTS_OUT_OF_RANGE"
    assert not Award.objects.exists()
    assert api.get("/api/v1/games/g1/points").status_code == 200


def test_awards_at_the_bound_add_up_without_overflow(api, task):
    for score in (float(BOUND), float(BOUND), -float(BOUND), float(BOUND)):
        assert _award(api, score).status_code == 201

    assert TaskStats.objects.get(task=task).points_total == 2 * BOUND
    totals = api.get("/api/v1/games/g1/points").json()
    assert totals["results"][0]["points"] == 2 * BOUND


@pytest.mark.usefixtures("task")
def test_a_batch_refuses_each_huge_event_alone(api):
    events = [
        {"externalTaskId": "t1", "externalUserId": f"u{n}", "data": {"score": score}}
        for n, score in enumerate((1e308, 7, 1e308))
    ]

    response = api.post("/api/v1/games/g1/points/batch", {"events": events}, format="json")

    assert [r["status"] for r in response.json()["results"]] == [422, 201, 422]
    assert list(Award.objects.values_list("points", flat=True)) == [7]


def test_a_simulation_and_a_backtest_count_huge_points_as_out_of_range(
    api, task, django_capture_on_commit_callbacks
):
    live = task.strategy_id.removeprefix("custom:")
    simulated = api.post(
        f"/api/v1/strategies/custom/{live}/simulate", {"data": {"score": 1e308}}, format="json"
    ).json()
    assert (simulated["status"], simulated["errorCode"]) == ("error", "DSL_POINTS_OUT_OF_RANGE")

    assert _award(api, 3).status_code == 201
    huge = {
        **PASS_THROUGH,
        "default": {
            **PASS_THROUGH["default"],
            "value": {
                "type": "arith",
                "op": "*",
                "left": {
                    "type": "arith",
                    "op": "*",
                    "left": {"type": "field", "path": "data.score"},
                    "right": {"type": "literal", "value": 1e15},
                },
                "right": {"type": "literal", "value": 1e15},
            },
        },
    }
    draft = services.strategy_edit(
        strategy=StrategyDefinition.objects.get(pk=live), changes={"ast_json": huge}
    ).strategy
    with django_capture_on_commit_callbacks(execute=True):
        queued = api.post(
            f"/api/v1/strategies/custom/{draft.pk}/backtest",
            {"since": "2000-01-01T00:00:00Z"},
            format="json",
        )
    assert queued.status_code == 202, queued.json()
    report = api.get(f"/api/v1/backtests/{queued.json()['id']}").json()
    assert (report["status"], report["errors"]) == ("done", {"DSL_POINTS_OUT_OF_RANGE": 1})
    assert (report["pointsBefore"], report["pointsAfter"]) == (3, 0)
