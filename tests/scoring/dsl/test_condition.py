"""A condition alone (badges): the strategies' validator and closures over other fields."""

from __future__ import annotations

from time import perf_counter

import pytest

from scoring.dsl import errors as E
from scoring.dsl.condition import (
    condition_compile,
    condition_holds,
    condition_path_allowed,
    condition_task_id,
)
from scoring.dsl.limits import DslLimits


def _field(path: str) -> dict:
    return {"type": "field", "path": path}


def _cmp(left: dict, op: str, right) -> dict:
    return {"type": "compare", "op": op, "left": left, "right": {"type": "literal", "value": right}}


def _holds(condition: dict, *, data=None, values=None, budget: float = 1.0) -> bool:
    compiled = condition_compile(condition)
    return condition_holds(
        compiled, data=data or {}, values=values or {}, deadline=perf_counter() + budget
    )


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("data.score", True),
        ("player.points", True),
        ("player.awards", True),
        ("player.level", True),
        ("player.streak", True),
        ("player.tasks.level-1.awards", True),
        ("player.tasks..awards", False),
        ("player.name", False),
        ("user.recent_measurements_count", False),
        ("parent.points", False),
        ("externalUserId", False),
        ("data.a.b", False),
    ],
)
def test_a_condition_reads_event_data_and_the_players_state_only(path, allowed):
    assert condition_path_allowed(path) is allowed


def test_a_task_path_names_its_task():
    assert condition_task_id("player.tasks.quiz.7.awards") == "quiz.7"
    assert condition_task_id("player.points") is None


def test_conditions_hold_on_the_values_given():
    second = _cmp(_field("player.awards"), ">=", 2)
    assert not _holds(second, values={"player.awards": 1})
    assert _holds(second, values={"player.awards": 2})
    both = {"type": "and", "args": [_field("data.win"), _cmp(_field("player.streak"), ">", 6)]}
    assert _holds(both, data={"win": True}, values={"player.streak": 7})
    assert not _holds(both, data={"win": False}, values={"player.streak": 7})


def test_a_task_the_values_do_not_name_counts_zero():
    condition = _cmp(_field("player.tasks.t9.awards"), "==", 0)
    assert _holds(condition)


def test_issues_carry_pointers_relative_to_the_condition():
    with pytest.raises(E.DslValidationError) as caught:
        condition_compile(
            {"type": "or", "args": [_cmp(_field("user.points"), ">", 1), {"type": "rule"}]}
        )
    assert [(issue.code, issue.pointer) for issue in caught.value.issues] == [
        (E.FIELD_PATH_NOT_ALLOWED, "/args/0/left"),
        (E.UNKNOWN_CONDITION_TYPE, "/args/1"),
    ]


def test_a_condition_over_the_node_cap_is_refused():
    deep = _field("data.x")
    for _ in range(40):
        deep = {"type": "not", "arg": deep}
    with pytest.raises(E.DslValidationError) as caught:
        condition_compile(deep, limits=DslLimits(max_depth=32))
    assert caught.value.code == E.DEPTH_EXCEEDED


def test_a_run_time_type_error_names_its_node():
    with pytest.raises(E.DslError) as caught:
        _holds(_cmp(_field("data.score"), ">", 1), data={"score": "high"})
    assert caught.value.pointer == ""
    assert caught.value.code == "DSL_COMPARE_TYPE_MISMATCH"


def test_a_spent_budget_stops_the_condition():
    with pytest.raises(E.DslTimeoutError):
        _holds(_field("data.win"), data={"win": True}, budget=-1.0)
