from __future__ import annotations

import pytest

from gamification.models import Game, Task
from strategies import selectors, services
from strategies.errors import (
    StrategyArchived,
    StrategyError,
    StrategyInvalid,
    StrategyNameTaken,
    StrategyStateConflict,
    StrategyVersionNotFound,
)
from strategies.models import StrategyDefinition, StrategyStatus
from tests.factories import GameFactory, TaskFactory, strategy_program_full

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
                }
            ],
        }
    ],
}


def _create(realm, name="speed", **kwargs):
    kwargs.setdefault("type", "DSL_FULL")
    kwargs.setdefault("ast_json", strategy_program_full())
    return services.strategy_create(realm=realm, name=name, **kwargs)


def _published(realm, name="speed", **kwargs):
    row = _create(realm, name, **kwargs)
    return services.strategy_publish(strategy=row).strategy


def test_strategy_create_makes_version_one_draft_with_filled_ids(realm):
    row = _create(realm)
    assert (row.version, row.status) == (1, StrategyStatus.DRAFT)
    assert row.ast_json["id"] == "p.program.0"
    assert row.ast_json["rules"][0]["id"]
    assert row.validation_errors == []


def test_strategy_create_refuses_an_invalid_program_unless_a_draft_may_keep_it(realm):
    bad = {"type": "program", "rules": [{"type": "rule"}]}
    with pytest.raises(StrategyInvalid) as info:
        _create(realm, ast_json=bad)
    assert info.value.errors[0]["pointer"].startswith("/rules/0")
    row = _create(realm, ast_json=bad, allow_invalid=True)
    assert row.validation_errors
    assert row.status == StrategyStatus.DRAFT


def test_strategy_create_refuses_a_taken_name(realm):
    _create(realm)
    with pytest.raises(StrategyNameTaken):
        _create(realm)


@pytest.mark.parametrize(
    ("type", "parent", "code"),
    [
        ("DSL_EXTEND", None, "STRATEGY_PARENT_REQUIRED"),
        ("DSL_EXTEND", "nope", "STRATEGY_PARENT_UNKNOWN"),
        ("DSL_FULL", "default", "STRATEGY_PARENT_FORBIDDEN"),
        ("BUILT_IN", None, "STRATEGY_TYPE_INVALID"),
    ],
)
def test_strategy_create_checks_type_and_parent(realm, type, parent, code):
    with pytest.raises(StrategyError) as info:
        _create(realm, type=type, parent_strategy_id=parent, ast_json=EXTEND_AST)
    assert info.value.code == code


def test_strategy_create_accepts_an_extension_of_a_builtin_alias(realm):
    row = _create(
        realm, type="DSL_EXTEND", parent_strategy_id="constantEffortStrategy", ast_json=EXTEND_AST
    )
    assert row.parent_strategy_id == "constant_effort"


def test_strategy_edit_changes_a_draft_in_place(realm):
    row = _create(realm)
    outcome = services.strategy_edit(
        strategy=row, changes={"ast_json": strategy_program_full(points=20)}
    )
    assert outcome.created is False
    assert outcome.strategy.pk == row.pk
    assert StrategyDefinition.objects.count() == 1
    row.refresh_from_db()
    assert row.ast_json["rules"][0]["then"][0]["value"]["value"] == 20


def test_strategy_edit_of_the_published_version_creates_the_next_draft(realm):
    live = _published(realm)
    outcome = services.strategy_edit(
        strategy=live, changes={"ast_json": strategy_program_full(points=20)}
    )
    assert outcome.created is True
    assert (outcome.strategy.version, outcome.strategy.status) == (2, StrategyStatus.DRAFT)
    live.refresh_from_db()
    assert live.status == StrategyStatus.PUBLISHED
    assert live.ast_json["rules"][0]["then"][0]["value"]["value"] == 10


def test_strategy_edit_refuses_archived_versions_and_renames(realm):
    row = _create(realm)
    with pytest.raises(StrategyError):
        services.strategy_edit(strategy=row, changes={"name": "other"})
    services.strategy_archive(strategy=row)
    with pytest.raises(StrategyArchived):
        services.strategy_edit(strategy=row, changes={"description": "x"})


def test_strategy_publish_archives_the_previous_version_and_moves_consumers(realm):
    v1 = _published(realm)
    game = GameFactory(realm=realm, strategy_id=v1.strategy_id)
    task = TaskFactory(game=game)
    other_task = TaskFactory(game=GameFactory(realm=realm), strategy_id="default")
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    switch = services.strategy_publish(strategy=v2)
    assert (switch.games, switch.tasks) == (1, 1)
    v1.refresh_from_db()
    assert v1.status == StrategyStatus.ARCHIVED
    assert StrategyDefinition.objects.get(pk=v2.pk).status == StrategyStatus.PUBLISHED
    assert Game.objects.get(pk=game.pk).strategy_id == v2.strategy_id
    assert Task.objects.get(pk=task.pk).strategy_id == v2.strategy_id
    assert Task.objects.get(pk=other_task.pk).strategy_id == "default"


def test_strategy_publish_validates_the_program_again(realm):
    row = _create(realm, ast_json={"type": "program"}, allow_invalid=True)
    with pytest.raises(StrategyInvalid):
        services.strategy_publish(strategy=row)
    row.refresh_from_db()
    assert row.status == StrategyStatus.DRAFT


def test_strategy_publish_refuses_a_draft_without_program(realm):
    row = _create(realm, ast_json=None, allow_invalid=True)
    with pytest.raises(StrategyInvalid) as info:
        services.strategy_publish(strategy=row)
    assert info.value.errors[0]["code"] == "DSL_AST_MISSING"


def test_strategy_rollback_republishes_an_archived_version(realm):
    v1 = _published(realm)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    services.strategy_publish(strategy=v2)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=v2.strategy_id)
    switch = services.strategy_rollback(strategy=v2, version=1)
    assert switch.strategy.pk == v1.pk
    assert switch.tasks == 1
    statuses = dict(StrategyDefinition.objects.values_list("version", "status"))
    assert statuses == {1: StrategyStatus.PUBLISHED, 2: StrategyStatus.ARCHIVED}
    assert Task.objects.get(pk=task.pk).strategy_id == v1.strategy_id


def test_strategy_rollback_refuses_unknown_versions_and_drafts(realm):
    v1 = _published(realm)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    with pytest.raises(StrategyVersionNotFound):
        services.strategy_rollback(strategy=v1, version=9)
    with pytest.raises(StrategyStateConflict):
        services.strategy_rollback(strategy=v1, version=v2.version)


def test_strategy_duplicate_starts_a_new_family(realm):
    v1 = _published(realm)
    copy = services.strategy_duplicate(strategy=v1)
    assert copy.name == "speed copy"
    assert (copy.version, copy.status) == (1, StrategyStatus.DRAFT)
    assert copy.ast_json == v1.ast_json
    assert services.strategy_duplicate(strategy=v1).name == "speed copy (2)"


def test_strategy_export_then_import_round_trips_into_a_new_version(realm):
    v1 = _published(realm)
    bundle = selectors.strategy_export(strategy=v1)
    again = services.strategy_import(realm=realm, bundle=bundle)
    assert (again.name, again.version, again.status) == ("speed", 2, StrategyStatus.DRAFT)
    assert again.ast_json == v1.ast_json
    fresh = services.strategy_import(realm=realm, bundle=bundle, name="imported")
    assert (fresh.name, fresh.version) == ("imported", 1)


def test_strategy_transition_publishes_archives_and_rolls_back(realm):
    v1 = _published(realm)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    assert services.strategy_transition(strategy=v2, action="publish").strategy == v2
    switch = services.strategy_transition(strategy=v2, action="rollback", version=1)
    assert (switch.strategy.pk, switch.strategy.status) == (v1.pk, StrategyStatus.PUBLISHED)
    archived = services.strategy_transition(strategy=v1, action="archive")
    assert (archived.strategy.status, archived.games, archived.tasks) == ("ARCHIVED", 0, 0)
    with pytest.raises(StrategyError):
        services.strategy_transition(strategy=v1, action="delete")


def test_a_bulk_publish_reports_each_draft_it_could_not_publish(realm):
    good = services.strategy_create(
        realm=realm, name="good", type="DSL_FULL", ast_json=strategy_program_full()
    )
    empty = services.strategy_create(realm=realm, name="empty", type="DSL_FULL")
    live = _published(realm, name="live")
    attempts = services.strategy_publish_drafts(strategies=StrategyDefinition.objects.all())
    by_name = {a.strategy.name: a for a in attempts}
    assert set(by_name) == {"good", "empty"}
    assert by_name["good"].switch.strategy.pk == good.pk
    assert by_name["good"].error is None
    assert by_name["empty"].switch is None
    assert isinstance(by_name["empty"].error, StrategyInvalid)
    archived = services.strategy_archive_many(strategies=StrategyDefinition.objects.all())
    assert {row.pk for row in archived} == {good.pk, empty.pk, live.pk}


def test_strategy_name_check_refuses_a_name_the_realm_uses(realm):
    _published(realm)
    services.strategy_name_check(realm=realm, name="fresh")
    with pytest.raises(StrategyNameTaken):
        services.strategy_name_check(realm=realm, name="speed")
