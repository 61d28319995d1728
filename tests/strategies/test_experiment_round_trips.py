"""An award under a running experiment costs what any award costs on PostgreSQL: one read
(which also brings the family's running experiment) and one write, once the process knows
both arms.

Counted over HTTP outside a test transaction, as in tests/scoring/test_award_round_trips.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from gamification.models import Award, Realm
from gamification.services import api_key_create
from scoring import services as scoring_services
from strategies import services
from strategies.assignment import assignment_point
from strategies.models import StrategyDefinition, StrategyExperiment
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the two-statement award is PostgreSQL's"
    ),
]

URL = "/api/v1/games/g1/tasks/t1/points"
SHARE = 0.5
#: Awards the recent awards of the player on the task, plus one.
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


@pytest.fixture
def realm() -> Realm:
    return RealmFactory(slug="lean")


@pytest.fixture
def api(realm) -> APIClient:
    _, raw = api_key_create(realm=realm, name="game-server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def _family(realm: Realm, *, candidate: dict) -> tuple[StrategyDefinition, StrategyDefinition]:
    v1 = services.strategy_create(
        realm=realm, name="lean", type="DSL_FULL", ast_json=strategy_program_full(points=10)
    )
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"ast_json": candidate}).strategy
    TaskFactory(
        game=GameFactory(realm=realm, external_game_id="g1"),
        external_task_id="t1",
        strategy_id=v1.strategy_id,
    )
    return v1, v2


def _player(realm: Realm, arm: str) -> str:
    n = 0
    while True:
        user = f"player-{n}"
        point = assignment_point(realm_id=realm.pk, family="lean", external_user_id=user)
        if (point < SHARE) == (arm == "candidate"):
            return user
        n += 1


def _post(api: APIClient, user: str):
    return api.post(URL, {"externalUserId": user, "data": {"minutes": 45}}, format="json")


def _counted(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    return response, [query["sql"] for query in queries]


def test_an_award_of_either_arm_costs_one_read_and_one_write_once_warm(api, realm):
    v1, v2 = _family(realm, candidate=strategy_program_full(points=20))
    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=SHARE, tag="t")
    control, candidate = _player(realm, "control"), _player(realm, "candidate")
    _post(api, control)
    _post(api, candidate)

    for user, arm, points in ((control, "control", 10), (candidate, "candidate", 20)):
        response, statements = _counted(lambda user=user: _post(api, user))

        assert response.status_code == 201, response.json()
        assert (response.json()["experimentArm"], response.json()["points"]) == (arm, points)
        assert len(statements) == 2, statements
        assert statements[0].startswith("SELECT")
        assert statements[1].startswith("WITH inserted AS (INSERT")
    assert Award.objects.filter(experiment_arm="candidate", strategy_version="2").count() == 2


def test_arms_reading_different_windows_share_one_read(api, realm, monkeypatch):
    monkeypatch.setattr(scoring_services, "_WINDOWS_READ", {})
    v1, v2 = _family(realm, candidate=RECENT_PROGRAM)
    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=SHARE, tag="t")
    control, candidate = _player(realm, "control"), _player(realm, "candidate")
    # The candidate's first run asks for a window nobody read ahead; then it is read ahead.
    for user in (control, candidate, control, candidate):
        _post(api, user)

    counts = []
    for user in (control, candidate, control):
        response, statements = _counted(lambda user=user: _post(api, user))
        assert response.status_code == 201, response.json()
        counts.append(len(statements))

    assert counts == [2, 2, 2]
    assert _post(api, candidate).json()["points"] == 4  # its three awards before, plus one


def test_starting_and_stopping_an_experiment_take_effect_at_the_next_award(api, realm):
    v1, v2 = _family(realm, candidate=strategy_program_full(points=20))
    user = _player(realm, "candidate")
    assert "experimentArm" not in _post(api, user).json()

    services.experiment_start(strategy=v1, candidate_id=v2.pk, share=SHARE, tag="t")
    started = _post(api, user).json()
    experiment = StrategyExperiment.objects.get()
    services.experiment_stop(experiment=experiment)
    stopped = _post(api, user).json()
    warm, statements = _counted(lambda: _post(api, user))

    assert (started["experimentArm"], started["points"]) == ("candidate", 20)
    assert "experimentArm" not in stopped
    assert stopped["points"] == 10
    assert warm.json()["points"] == 10
    assert len(statements) == 2, statements
