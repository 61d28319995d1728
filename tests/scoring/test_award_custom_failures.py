"""A custom strategy that fails while scoring answers 422 with the engine's error, never 500."""

from __future__ import annotations

import pytest

from gamification.models import Award, Player
from strategies import services
from tests.factories import GameFactory, TaskFactory, strategy_program_ratio

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(realm):
    strategy = services.strategy_create(
        realm=realm, name="ratio", type="DSL_FULL", ast_json=strategy_program_ratio()
    )
    services.strategy_publish(strategy=strategy)
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id=f"custom:{strategy.pk}")


def award(api, data):
    return api.post(
        "/api/v1/games/g1/tasks/t1/points", {"externalUserId": "u1", "data": data}, format="json"
    )


@pytest.mark.usefixtures("task")
def test_custom_strategy_scores_through_the_engine(api):
    response = award(api, {"divisor": 8})

    assert response.status_code == 201
    assert response.json()["points"] == 12.5
    assert response.json()["caseName"] == "Ratio"


@pytest.mark.parametrize(
    ("data", "code"),
    [({"divisor": 0}, "DSL_ARITH_DIV_BY_ZERO"), ({"divisor": "x"}, "DSL_ARITH_TYPE_MISMATCH")],
)
@pytest.mark.usefixtures("task")
def test_failing_custom_strategy_answers_422_with_code_node_and_pointer(api, data, code):
    response = award(api, data)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == code
    assert body["detail"]
    assert body["nodeId"] == "p.program.0.rule.0.assign_points.0.arith.0"
    assert body["pointer"] == "/rules/0/then/0/value"
    assert Award.objects.count() == 0
    assert Player.objects.count() == 0
