"""What a run was given is kept with it, and answered again from its record on a replay."""

from __future__ import annotations

import json

from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.builtins.registry import builtin_get
from scoring.context import EventAnalytics, analytics_record, analytics_replayed
from scoring.dsl.compile import compile_program
from scoring.engine import dsl_limits, strategy_execute
from scoring.strategy_types import ResolvedStrategy, StrategyKind

EVENT = ScoringEvent("g", "t", "u", {"minutes": 3})
EXTEND = {
    "type": "program",
    "rules": [],
    "parent_variables": {"variable_constant_effort_interval_minutes": 10},
    "pre_rules": [
        {
            "type": "rule",
            "when": {"type": "literal", "value": True},
            "then": [{"type": "set_data", "key": "seen", "value": {"type": "literal", "value": 1}}],
        }
    ],
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
                        "right": {"type": "field", "path": "user.avg_time"},
                    },
                }
            ],
        }
    ],
}


def _loader(values: dict, recent: dict):
    requests: list[AnalyticsRequest] = []

    def load(request: AnalyticsRequest) -> EventAnalytics:
        requests.append(request)
        return EventAnalytics(values=values, recent_counts=recent)

    return load, requests


def test_a_built_in_run_keeps_the_analytics_it_was_given():
    builtin = builtin_get("constant_effort")
    strategy = ResolvedStrategy("constant_effort", builtin.version, StrategyKind.BUILT_IN, builtin)
    load, _ = _loader({}, {300: 3})

    run = strategy_execute(strategy=strategy, event=EVENT, analytics_loader=load)

    assert (run.result.points, run.result.case_name) == (4, "ConstantEffortReward")
    assert analytics_record(run.analytics) == {"values": {}, "windows": {"300": 3}}


def test_an_extension_keeps_its_parents_analytics_and_the_data_handed_to_it():
    parent = builtin_get("constant_effort")
    program = compile_program(EXTEND, limits=dsl_limits(), parent=parent)
    strategy = ResolvedStrategy(
        "custom:x", "1", StrategyKind.DSL_EXTEND, builtin=parent, program=program
    )
    load, requests = _loader({"user.avg_time": 2.5}, {600: 1})

    run = strategy_execute(strategy=strategy, event=EVENT, analytics_loader=load)

    assert len(requests) == 1
    assert run.result.points == 2 + 2.5
    assert run.parent_data == {"minutes": 3, "seen": 1}
    assert analytics_record(run.analytics) == {
        "values": {"user.avg_time": 2.5},
        "windows": {"600": 1},
    }


def test_a_record_answers_what_it_holds_through_json():
    record = json.loads(
        json.dumps(analytics_record(EventAnalytics({"user.avg_time": 2.5}, {600: 1})))
    )

    answer = analytics_replayed(
        record,
        request=AnalyticsRequest(
            paths=frozenset({"user.avg_time"}), recent_windows=frozenset({600})
        ),
    )

    assert answer.analytics.get("user.avg_time") == 2.5
    assert answer.analytics.recent_count(600) == 1
    assert answer.missing.is_empty


def test_what_a_record_lacks_is_an_empty_history_and_reported():
    record = {"values": {"task.measurements_count": 4}, "windows": {"300": 2}}
    request = AnalyticsRequest(
        paths=frozenset(
            {"task.measurements_count", "all.avg_time", "user.recent_measurements_count"}
        ),
        recent_windows=frozenset({900}),
    )

    answer = analytics_replayed(record, request=request)

    assert answer.analytics.get("task.measurements_count") == 4
    assert answer.analytics.get("all.avg_time") == -1
    assert answer.analytics.get("user.recent_measurements_count") == 2
    assert answer.analytics.recent_count(900) == 0
    assert answer.missing == AnalyticsRequest(
        paths=frozenset({"all.avg_time"}), recent_windows=frozenset({900})
    )


def test_an_unreadable_record_answers_an_empty_history():
    request = AnalyticsRequest(paths=frozenset({"user.avg_time"}))
    answer = analytics_replayed(["not", "a", "record"], request=request)
    assert answer.analytics.get("user.avg_time") == -1
    assert answer.missing == request
