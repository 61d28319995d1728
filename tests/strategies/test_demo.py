from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from gamification.models import Task
from strategies.models import StrategyDefinition, StrategyStatus


@pytest.mark.usefixtures("db")
def test_seed_demo_publishes_one_custom_strategy_of_each_type_once(tmp_path):
    for _ in range(2):
        call_command("seed_demo", key_file=str(tmp_path / "key"), stdout=io.StringIO())
    rows = StrategyDefinition.objects.filter(realm__slug="demo")
    assert sorted(rows.values_list("type", "status", "version")) == [
        ("DSL_EXTEND", StrategyStatus.PUBLISHED, 1),
        ("DSL_FULL", StrategyStatus.PUBLISHED, 1),
    ]
    bound = dict(Task.objects.values_list("external_task_id", "strategy_id"))
    assert bound["sprint"] == rows.get(type="DSL_FULL").strategy_id
    assert bound["weekend-run"] == rows.get(type="DSL_EXTEND").strategy_id


@pytest.mark.usefixtures("db")
def test_seed_demo_restores_a_demo_strategy_left_archived_with_an_unfinished_draft(tmp_path):
    from strategies import services

    call_command("seed_demo", key_file=str(tmp_path / "key"), stdout=io.StringIO())
    live = StrategyDefinition.objects.get(realm__slug="demo", type="DSL_FULL")
    draft = services.strategy_edit(
        strategy=live, changes={"ast_json": None}, allow_invalid=True
    ).strategy
    services.strategy_archive(strategy=live)

    call_command("seed_demo", key_file=str(tmp_path / "key"), stdout=io.StringIO())

    draft.refresh_from_db()
    assert draft.status == StrategyStatus.PUBLISHED
    assert draft.ast_json["type"] == "program"
    bound = dict(Task.objects.values_list("external_task_id", "strategy_id"))
    assert bound["sprint"] == draft.strategy_id
