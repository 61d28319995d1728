"""Reads behind the API and the designer's admin, in snake_case, without HTTP."""

from __future__ import annotations

import pytest

from gamification.errors import DomainError
from strategies import selectors, services
from strategies.errors import StrategyVersionNotFound
from strategies.selectors import GameUsage, TaskUsage
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full


def _published(realm, name="speed"):
    row = services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full()
    )
    return services.strategy_publish(strategy=row).strategy


def test_strategy_usage_lists_the_family_bindings_in_order(realm):
    v1 = _published(realm)
    game = GameFactory(realm=realm, external_game_id="g", strategy_id=v1.strategy_id)
    TaskFactory(
        game=game, external_task_id="t", strategy_id=v1.strategy_id, inherits_strategy=False
    )
    TaskFactory(game=game, external_task_id="other")
    usage = selectors.strategy_usage(strategy=v1)
    assert (usage.strategy_id, usage.name) == (v1.strategy_id, "speed")
    assert usage.games == [GameUsage(external_game_id="g", strategy_id=v1.strategy_id)]
    assert [t for t in usage.tasks if t.external_task_id == "t"] == [
        TaskUsage(
            external_game_id="g",
            external_task_id="t",
            strategy_id=v1.strategy_id,
            inherits_strategy=False,
        )
    ]
    assert (usage.game_count, usage.task_count) == (1, len(usage.tasks))


def test_strategy_export_returns_the_bundle_in_snake_case(realm):
    v1 = _published(realm)
    bundle = selectors.strategy_export(strategy=v1)
    assert bundle["source_id"] == str(v1.pk)
    assert (bundle["parent_strategy_id"], bundle["version"], bundle["status"]) == (
        None,
        1,
        "PUBLISHED",
    )
    assert bundle["ast_json"] == v1.ast_json


def test_a_publish_preview_names_the_consumers_that_switch(realm):
    v1 = _published(realm)
    game = GameFactory(realm=realm, strategy_id=v1.strategy_id)
    TaskFactory.create_batch(2, game=game)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    preview = selectors.strategy_transition_preview(strategy=v2, action="publish")
    assert (preview.target, preview.games, preview.tasks) == (2, 1, 2)
    assert preview.blast == "1 game and 2 tasks will switch to v2."


def test_archiving_a_draft_is_previewed_as_harmless(realm):
    draft = services.strategy_create(realm=realm, name="d", type="DSL_FULL")
    preview = selectors.strategy_transition_preview(strategy=draft, action="archive")
    assert preview.blast == "No game or task is affected: this version is not live."
    live = _published(realm, name="live")
    preview = selectors.strategy_transition_preview(strategy=live, action="archive")
    assert preview.blast.startswith("0 games and 0 tasks will stop scoring")


def test_strategy_version_pair_refuses_a_version_the_family_lacks(realm):
    v1 = _published(realm)
    assert selectors.strategy_version_pair(strategy=v1, old=1, new=1) == (v1, v1)
    with pytest.raises(StrategyVersionNotFound):
        selectors.strategy_version_pair(strategy=v1, old=1, new=2)


def test_a_simulation_runs_in_the_realm_asked_for_else_in_the_first_one(realm):
    other = RealmFactory(slug="other")
    assert selectors.simulation_realm_get(realm_id=other.pk) == other
    assert selectors.simulation_realm_get(realm_id=None) == realm
    assert selectors.simulation_realm_get(realm_id=other.pk + 1000) == realm


@pytest.mark.usefixtures("db")
def test_a_simulation_without_any_realm_is_refused():
    with pytest.raises(DomainError) as refused:
        selectors.simulation_realm_get(realm_id=None)
    assert refused.value.code == "REALM_REQUIRED"
