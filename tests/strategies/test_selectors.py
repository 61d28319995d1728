"""Reads behind the API and the designer's admin, in snake_case, without HTTP."""

from __future__ import annotations

import pytest

from gamification.errors import DomainError
from strategies import selectors, services
from strategies.errors import StrategyVersionNotFound
from strategies.models import StrategyDefinition
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


def test_a_simulation_runs_only_in_a_realm_the_user_may_simulate_in(realm):
    other = RealmFactory(slug="other")
    assert selectors.simulation_realm_get(realm_id=other.pk, realm_ids=None) == other
    assert selectors.simulation_realm_get(realm_id=realm.pk, realm_ids={realm.pk}) == realm
    for realm_id in (other.pk, other.pk + 1000):
        with pytest.raises(DomainError) as refused:
            selectors.simulation_realm_get(realm_id=realm_id, realm_ids={realm.pk})
        assert (refused.value.code, refused.value.http_status) == ("REALM_NOT_FOUND", 404)


def test_a_simulation_naming_no_realm_runs_in_the_users_only_realm(realm):
    assert selectors.simulation_realm_get(realm_id=None, realm_ids=None) == realm
    other = RealmFactory(slug="other")
    assert selectors.simulation_realm_get(realm_id=None, realm_ids={other.pk}) == other
    for realm_ids in (None, {realm.pk, other.pk}, set()):
        with pytest.raises(DomainError) as refused:
            selectors.simulation_realm_get(realm_id=None, realm_ids=realm_ids)
        assert (refused.value.code, refused.value.http_status) == ("REALM_REQUIRED", 400)


def test_the_list_counts_the_games_and_tasks_bound_to_each_family(realm):
    """Runs on PostgreSQL and on SQLite, whose UUID columns hold hex without dashes."""
    v1 = _published(realm)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    game = GameFactory(realm=realm, strategy_id=v1.strategy_id)
    TaskFactory.create_batch(2, game=game, strategy_id=v1.strategy_id)
    unbound = _published(realm, name="unbound")
    rival = RealmFactory(slug="rival")
    GameFactory(realm=rival, strategy_id=v1.strategy_id)  # another realm's binding: not counted
    rows = selectors.strategy_list_with_usage(StrategyDefinition.objects.all())
    counts = {row.pk: (row.game_count, row.task_count) for row in rows}
    assert counts == {v1.pk: (1, 2), v2.pk: (1, 2), unbound.pk: (0, 0)}


@pytest.mark.usefixtures("db")
def test_a_bound_id_expression_spells_the_uuid_as_games_store_it():
    row = services.strategy_create(realm=RealmFactory(), name="n", type="DSL_FULL")
    bound = (
        StrategyDefinition.objects.annotate(bound=selectors._bound_id_expression())
        .values_list("bound", flat=True)
        .get(pk=row.pk)
    )
    assert bound == row.strategy_id == f"custom:{row.pk}"
