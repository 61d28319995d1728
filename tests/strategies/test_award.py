"""Custom strategies on the award path: only the PUBLISHED version of a family scores."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gamification.models import Award
from scoring.engine import strategy_resolve
from scoring.errors import StrategyNotFound, StrategyNotPublished
from scoring.strategy_types import StrategyKind
from strategies import services
from strategies.selectors import strategy_resolve_custom
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full

EXTEND_AST = {
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
                },
                {"type": "set_case_name", "value": {"type": "literal", "value": "Boosted"}},
            ],
        }
    ],
}


def _draft(realm, name="speed", **kwargs):
    kwargs.setdefault("type", "DSL_FULL")
    kwargs.setdefault("ast_json", strategy_program_full())
    return services.strategy_create(realm=realm, name=name, **kwargs)


def _award(api, task, data=None):
    return api.post(
        f"/api/v1/games/{task.game.external_game_id}/tasks/{task.external_task_id}/points",
        {"externalUserId": "alice", "data": data or {"minutes": 45}},
        format="json",
    )


def test_strategy_resolve_custom_returns_the_published_version_of_the_family(realm):
    v1 = _draft(realm)
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "x"}).strategy
    resolved = strategy_resolve_custom(realm=realm, strategy_id=v2.strategy_id)
    assert resolved.kind == StrategyKind.DSL_FULL
    assert (resolved.version, resolved.definition_id) == ("1", str(v1.pk))
    assert resolved.program.ast["id"] == "p.program.0"


def test_strategy_resolve_custom_costs_one_query(realm):
    row = _draft(realm)
    services.strategy_publish(strategy=row)
    strategy_resolve_custom(realm=realm, strategy_id=row.strategy_id)
    with CaptureQueriesContext(connection) as queries:
        strategy_resolve(realm=realm, strategy_id=row.strategy_id)
    assert len(queries) == 1


def test_strategy_resolve_custom_gives_an_extension_its_parent(realm):
    row = _draft(realm, type="DSL_EXTEND", parent_strategy_id="default", ast_json=EXTEND_AST)
    services.strategy_publish(strategy=row)
    resolved = strategy_resolve_custom(realm=realm, strategy_id=row.strategy_id)
    assert resolved.kind == StrategyKind.DSL_EXTEND
    assert resolved.builtin.id == "default"
    assert resolved.parent_strategy_id == "default"


def test_strategy_resolve_custom_refuses_unknown_other_realm_and_unpublished_ids(realm):
    row = _draft(realm)
    other = RealmFactory(slug="rival")
    with pytest.raises(StrategyNotFound):
        strategy_resolve_custom(realm=realm, strategy_id="custom:not-a-uuid")
    with pytest.raises(StrategyNotFound):
        strategy_resolve_custom(realm=other, strategy_id=row.strategy_id)
    with pytest.raises(StrategyNotPublished):
        strategy_resolve_custom(realm=realm, strategy_id=row.strategy_id)


def test_award_with_a_published_custom_strategy_scores_with_its_program(realm, api):
    row = _draft(realm)
    services.strategy_publish(strategy=row)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=row.strategy_id)
    response = _award(api, task)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["points"], body["caseName"]) == (10, "LongSession")
    assert (body["strategyId"], body["strategyVersion"]) == (row.strategy_id, "1")


def test_award_with_an_extension_runs_the_parent_then_the_post_rules(realm, api):
    row = _draft(realm, type="DSL_EXTEND", parent_strategy_id="default", ast_json=EXTEND_AST)
    services.strategy_publish(strategy=row)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=row.strategy_id)
    response = _award(api, task)
    assert response.status_code == 201, response.json()
    # Empty history: the default built-in answers (1, BasicEngagement).
    assert (response.json()["points"], response.json()["caseName"]) == (6, "Boosted")


def test_award_on_a_draft_only_strategy_is_refused_and_stores_nothing(realm, api):
    row = _draft(realm)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=row.strategy_id)
    response = _award(api, task)
    assert response.status_code == 409
    assert response.json()["code"] == "STRATEGY_NOT_PUBLISHED"
    assert not Award.objects.exists()


def test_archiving_the_published_version_stops_awards(realm, api):
    row = _draft(realm)
    services.strategy_publish(strategy=row)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=row.strategy_id)
    assert _award(api, task).status_code == 201
    services.strategy_archive(strategy=row)
    response = _award(api, task)
    assert response.status_code == 409
    assert response.json()["code"] == "STRATEGY_NOT_PUBLISHED"
    assert Award.objects.count() == 1


def test_publishing_a_new_version_changes_the_points_of_the_next_award(realm, api):
    v1 = _draft(realm)
    services.strategy_publish(strategy=v1)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=v1.strategy_id)
    assert _award(api, task).json()["points"] == 10
    v2 = services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=25)}
    ).strategy
    assert _award(api, task).json()["points"] == 10
    services.strategy_publish(strategy=v2)
    body = _award(api, task).json()
    assert (body["points"], body["strategyVersion"]) == (25, "2")
    assert body["strategyId"] == v2.strategy_id


def test_rollback_brings_back_the_old_points(realm, api):
    v1 = _draft(realm)
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=25)}
    ).strategy
    services.strategy_publish(strategy=v2)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=v2.strategy_id)
    services.strategy_rollback(strategy=v2, version=1)
    assert _award(api, task).json()["points"] == 10
