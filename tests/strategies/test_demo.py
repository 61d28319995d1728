from __future__ import annotations

import io

from django.core.management import call_command

from gamification.models import Task
from strategies.models import StrategyDefinition, StrategyStatus


def test_seed_demo_publishes_one_custom_strategy_of_each_type_once(db, tmp_path):
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
