"""Running strategies: rule flow, the extend pipeline, limits, trace and precompute."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dsl_helpers import RecordingLoader, arith, assign, cmp, fld, lit, program, rule, score

from scoring.builtins.base import AnalyticsRequest, BuiltinStrategy, ScoringEvent, StrategyResult
from scoring.builtins.registry import builtin_get
from scoring.dsl.compile import compile_program
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program


def callback(key: str, value: dict) -> dict:
    return {"type": "set_callback_data", "key": key, "value": value}


def set_data(key: str, value: dict) -> dict:
    return {"type": "set_data", "key": key, "value": value}


class Parent(BuiltinStrategy):
    """A parent that records what it receives and returns a fixed result."""

    id = "recording"
    version = "1"
    description = "test parent"
    variables = {"variable_basic_points": 1, "variable_ratio": 1.5}

    def __init__(self, result: Any = None) -> None:
        self.result = result if result is not None else StrategyResult(5, "ParentCase")
        self.calls: list[tuple[dict, dict]] = []

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:  # noqa: ARG002 - BuiltinStrategy API
        return AnalyticsRequest(paths=frozenset({"user.avg_time"}), recent_windows=frozenset({60}))

    def score(self, *, event: ScoringEvent, analytics: Any, variables: Mapping[str, Any]) -> Any:  # noqa: ARG002 - BuiltinStrategy API
        self.calls.append((dict(event.data), dict(variables)))
        return self.result


# -- DSL_FULL flow ----------------------------------------------------------------------------
def test_first_matching_assign_points_halts_the_run():
    ast = program(
        rule(lit(True), callback("a", lit(1)), assign(lit(1), "First"), callback("b", lit(2))),
        rule(lit(True), assign(lit(2), "Second")),
        default=assign(lit(3), "Default"),
    )
    result = score(ast)
    assert (result.points, result.case_name, result.callback_data) == (1, "First", {"a": 1})
    assert result.matched


def test_callback_only_rules_fall_through_to_the_default_and_keep_their_data():
    ast = program(rule(lit(True), callback("a", lit(1))), default=assign(lit(3), "Default"))
    result = score(ast)
    assert (result.points, result.case_name, result.callback_data) == (3, "Default", {"a": 1})


def test_else_if_and_else_branches_pick_the_first_truthy_branch():
    ast = program(
        rule(
            cmp(">", fld("data.n"), lit(10)),
            assign(lit(3), "Big"),
            else_if=[{"when": cmp(">", fld("data.n"), lit(5)), "then": [assign(lit(2), "Mid")]}],
            **{"else": [assign(lit(1), "Small")]},
        )
    )
    assert [score(ast, {"n": n}).case_name for n in (20, 7, 1)] == ["Big", "Mid", "Small"]


def test_return_halts_the_run_and_skips_the_default():
    ast = program(rule(lit(True), {"type": "return"}), default=assign(lit(5), "Default"))
    result = score(ast)
    assert (result.points, result.case_name, result.matched) == (0, None, False)


def test_no_match_gives_zero_points_a_null_case_name_and_matched_false():
    result = score(program(rule(lit(False), assign(lit(5)))))
    assert (result.points, result.case_name, result.matched, result.status) == (
        0,
        None,
        False,
        "ok",
    )


def test_static_and_data_fields_are_read_and_missing_data_is_null():
    ast = program(
        rule(
            lit(True),
            callback("game", fld("externalGameId")),
            callback("missing", fld("data.nope")),
            assign(fld("data.n")),
        )
    )
    result = score(ast, {"n": 4})
    assert result.callback_data == {"game": "g1", "missing": None}
    assert result.points == 4


def test_extend_sections_are_ignored_in_full_mode():
    ast = program(
        rule(lit(True), assign(lit(1), "Full")),
        pre_rules=[rule(lit(True), {"type": "veto", "case_name": "Veto"})],
    )
    assert score(ast).case_name == "Full"


# -- precompute ----------------------------------------------------------------------------------
def test_analytics_are_loaded_once_per_event_with_the_union_of_ast_and_parent_needs():
    parent = Parent()
    loader = RecordingLoader({"user.measurements_count": 3, "user.recent_measurements_count": 2})
    ast = {
        "type": "program",
        "rules": [],
        "pre_rules": [
            rule(
                cmp(">", fld("user.measurements_count"), lit(5)), {"type": "veto", "case_name": "V"}
            )
        ],
        "post_rules": [
            rule(
                cmp(">", fld("user.recent_measurements_count"), lit(1)),
                {"type": "set_points", "value": lit(9)},
            )
        ],
    }
    result = score(ast, mode="extend", parent=parent, loader=loader)
    assert result.points == 9
    assert loader.requests == [
        AnalyticsRequest(
            paths=frozenset({"user.measurements_count", "user.avg_time"}),
            recent_windows=frozenset({300, 60}),
        )
    ]


def test_compiled_program_exposes_field_paths_and_the_analytics_request():
    compiled = compile_program(
        program(
            rule(
                cmp(">", fld("user.recent_measurements_count"), fld("data.x")),
                assign(fld("all.avg_time")),
            )
        )
    )
    assert compiled.field_paths == {"user.recent_measurements_count", "data.x", "all.avg_time"}
    assert compiled.analytics_request == AnalyticsRequest(
        paths=frozenset({"all.avg_time"}), recent_windows=frozenset({300})
    )


def test_compilation_is_cached_by_content_hash():
    ast = program(rule(lit(True), assign(lit(1))))
    assert compile_program(ast) is compile_program(dict(ast))
    assert compile_program(ast) is not compile_program(ast, limits=DslLimits(max_nodes=10))


def test_no_loader_call_when_the_strategy_reads_no_analytics():
    loader = RecordingLoader()
    score(program(rule(lit(True), assign(lit(1)))), loader=loader)
    assert loader.requests == []


def test_mock_state_wins_over_analytics_data_and_static_values():
    ast = program(
        rule(
            lit(True),
            callback("a", fld("user.avg_time")),
            callback("d", fld("data.x")),
            callback("g", fld("externalGameId")),
            assign(lit(1)),
        )
    )
    result = score(
        ast,
        {"x": 1},
        fields={"user.avg_time": 10},
        mock_state={"user.avg_time": 99, "data.x": 2, "externalGameId": "mocked"},
    )
    assert result.callback_data == {"a": 99, "d": 2, "g": "mocked"}


def test_the_result_carries_the_precomputed_fields_for_the_execution_log():
    result = score(program(rule(fld("data.x"), assign(lit(1)))), {"x": 1, "other": 2})
    assert result.fields == {"data.x": 1}


# -- DSL_EXTEND -------------------------------------------------------------------------------
def extend(pre=None, post=None, **extra: Any) -> dict:
    ast: dict = {"type": "program", "rules": [], **extra}
    if pre is not None:
        ast["pre_rules"] = pre
    if post is not None:
        ast["post_rules"] = post
    return ast


def test_set_data_is_visible_to_later_pre_rules_and_reaches_the_parent():
    parent = Parent()
    ast = extend(
        pre=[
            rule(lit(True), set_data("n", lit(10))),
            rule(cmp("==", fld("data.n"), lit(10)), set_data("seen", lit(True))),
        ]
    )
    result = score(ast, {"n": 1, "keep": "yes"}, mode="extend", parent=parent)
    assert result.parent_received_data == {"n": 10, "keep": "yes", "seen": True}
    assert parent.calls[0][0] == {"n": 10, "keep": "yes", "seen": True}
    assert (result.points, result.case_name) == (5, "ParentCase")


def test_veto_stops_the_pipeline_before_the_parent():
    parent = Parent()
    ast = extend(
        pre=[
            rule(lit(True), callback("why", lit("fast")), {"type": "veto", "case_name": "Vetoed"})
        ],
        post=[rule(lit(True), {"type": "set_points", "value": lit(99)})],
    )
    result = score(ast, mode="extend", parent=parent)
    assert (result.points, result.case_name, result.vetoed) == (0, "Vetoed", True)
    assert result.callback_data == {"why": "fast"}
    assert not result.parent_called
    assert parent.calls == []


def test_pre_callback_data_is_merged_under_the_parents_and_posts():
    parent = Parent(StrategyResult(3, "P", {"p": 1, "shared": "parent"}))
    ast = extend(
        pre=[rule(lit(True), callback("pre", lit(1)), callback("shared", lit("pre")))],
        post=[rule(lit(True), callback("post", lit(1)))],
    )
    result = score(ast, mode="extend", parent=parent)
    assert result.callback_data == {"pre": 1, "shared": "parent", "p": 1, "post": 1}


def test_parent_points_keep_their_type_with_or_without_post_rules():
    parent = Parent()
    without = score(extend(), mode="extend", parent=parent)
    with_post = score(
        extend(post=[rule(lit(False), {"type": "set_points", "value": lit(1)})]),
        mode="extend",
        parent=parent,
    )
    assert (without.points, type(without.points)) == (5, int)
    assert (with_post.points, type(with_post.points)) == (5, int)


def test_parent_fields_keep_the_original_values_after_set_points():
    ast = extend(
        post=[
            rule(
                lit(True), {"type": "set_points", "value": arith("*", fld("parent.points"), lit(2))}
            ),
            rule(
                lit(True), {"type": "set_points", "value": arith("+", fld("parent.points"), lit(1))}
            ),
            rule(lit(True), {"type": "set_case_name", "value": lit("Boosted")}),
            rule(lit(True), callback("was", fld("parent.case_name"))),
        ]
    )
    result = score(ast, mode="extend", parent=Parent())
    assert (result.points, result.case_name, result.callback_data) == (
        6,
        "Boosted",
        {"was": "ParentCase"},
    )


def test_parent_variables_apply_to_a_copy_of_the_parents_variables():
    parent = builtin_get("default")
    ast = extend(parent_variables={"variable_bonus_points": 20, "variable_basic_points": 2})
    fields = {
        "task.measurements_count": 3,
        "user.measurements_count": 3,
        "user.avg_time": 5,
        "all.avg_time": 10,
        "user.last_window_diff": 0,
        "user.new_last_window_diff": 0,
    }
    result = score(ast, mode="extend", parent=parent, fields=fields)
    assert (result.points, result.case_name) == (22, "PerformanceBonus")
    assert parent.variables["variable_bonus_points"] == 10


def test_set_case_name_is_checked_against_the_case_name_rule_at_run_time():
    for value, code in (
        ("", "DSL_SET_CASE_NAME_INVALID"),
        ("Café", "DSL_SET_CASE_NAME_INVALID"),
        (3, "DSL_SET_CASE_NAME_NOT_STRING"),
    ):
        ast = extend(post=[rule(lit(True), {"type": "set_case_name", "value": lit(value)})])
        result = score(ast, mode="extend", parent=Parent())
        assert result.error_code == code
        assert result.parent_called


def test_parent_returning_a_non_number_is_an_error_and_null_reads_as_zero():
    assert (
        score(extend(), mode="extend", parent=Parent(("5", "P"))).error_code
        == "DSL_PARENT_POINTS_NOT_NUMBER"
    )
    assert score(extend(), mode="extend", parent=Parent((None, None))).points == 0
    assert score(extend(), mode="extend", parent=Parent(7)).points == 0


def test_parent_and_post_rule_points_past_the_bound_are_out_of_range():
    assert (
        score(extend(), mode="extend", parent=Parent((1e300, "P"))).error_code
        == "DSL_POINTS_OUT_OF_RANGE"
    )
    huge = extend(post=[rule(lit(True), {"type": "set_points", "value": lit(-1e300)})])
    assert score(huge, mode="extend", parent=Parent()).error_code == "DSL_POINTS_OUT_OF_RANGE"


def test_a_failing_parent_is_reported_as_a_dsl_error():
    class Broken(Parent):
        def score(self, **kwargs: Any) -> Any:
            raise TypeError("boom")

    result = score(extend(), mode="extend", parent=Broken())
    assert (result.status, result.error_code) == ("error", "DSL_PARENT_FAILED")


# -- limits ---------------------------------------------------------------------------------------
def test_a_zero_ms_budget_times_out_before_the_first_node():
    result = score(program(rule(lit(True), assign(lit(1)))), limits=DslLimits(timeout_ms=0))
    assert (result.status, result.error_code, result.nodes_executed) == (
        "timeout",
        "DSL_TIMEOUT",
        0,
    )


def test_the_budget_covers_the_analytics_load_and_the_parent():
    def slow_loader(_request: AnalyticsRequest) -> Any:
        time.sleep(0.02)
        return RecordingLoader().analytics

    compiled = compile_program(
        program(rule(fld("user.avg_time"), assign(lit(1)))), limits=DslLimits(timeout_ms=5)
    )
    result = run_program(compiled, event=ScoringEvent("g", "t", "u"), analytics_loader=slow_loader)
    assert result.error_code == "DSL_TIMEOUT"

    class SlowParent(Parent):
        def score(self, **kwargs: Any) -> Any:
            time.sleep(0.02)
            return (1, "P")

    compiled = compile_program(extend(), limits=DslLimits(timeout_ms=5))
    result = run_program(
        compiled,
        event=ScoringEvent("g", "t", "u"),
        mode="extend",
        parent=SlowParent(),
        analytics_loader=RecordingLoader(),
    )
    assert result.error_code == "DSL_TIMEOUT"


def test_the_clock_is_checked_during_long_walks(monkeypatch):
    rules = [rule(cmp("<", fld("data.x"), lit(i)), assign(lit(i))) for i in range(100)]
    compiled = compile_program(program(*rules), limits=DslLimits(timeout_ms=50))
    clock = iter([10.0] * 1000)
    monkeypatch.setattr("scoring.dsl.compile.perf_counter", lambda: next(clock))
    monkeypatch.setattr("scoring.dsl.run.perf_counter", lambda: 0.0)
    result = run_program(compiled, event=ScoringEvent("g", "t", "u", {"x": 1000}))
    assert result.error_code == "DSL_TIMEOUT"
    assert 64 < result.nodes_executed <= 64 + 4


def test_the_runtime_node_cap_counts_visited_nodes_once_and_names_the_node():
    ast = program(rule(cmp("<", fld("data.x"), lit(2)), assign(lit(1), "A")))
    # rule + compare + field + literal = 4, then assign + literal = 6
    assert score(ast, {"x": 1}, limits=DslLimits(runtime_max_nodes=6)).ok
    result = score(ast, {"x": 1}, limits=DslLimits(runtime_max_nodes=5))
    assert (result.status, result.error_code) == ("limit", "DSL_RUNTIME_NODE_COUNT_EXCEEDED")
    assert result.error.pointer == "/rules/0/then/0/value"


def test_skipped_branches_do_not_count_against_the_runtime_cap():
    big_else = [callback(f"k{i}", lit(i)) for i in range(50)]
    ast = program(rule(lit(True), assign(lit(1), "A"), **{"else": big_else}))
    assert score(ast, limits=DslLimits(runtime_max_nodes=4)).ok


def test_the_runtime_depth_cap_applies_to_visited_nodes_only():
    deep = {
        "type": "and",
        "args": [{"type": "and", "args": [{"type": "and", "args": [lit(True)]}]}],
    }
    ast = program(rule(deep, assign(lit(1))))
    result = score(ast, limits=DslLimits(runtime_max_depth=3))
    assert (result.status, result.error_code) == ("limit", "DSL_RUNTIME_DEPTH_EXCEEDED")
    assert result.error.pointer == "/rules/0/when/args/0/args/0"
    skipped = program(
        rule(
            lit(True),
            assign(lit(1)),
            **{"else": [assign(arith("+", arith("+", lit(1), lit(1)), lit(1)))]},
        )
    )
    assert score(skipped, limits=DslLimits(runtime_max_depth=3)).ok


# -- trace ---------------------------------------------------------------------------------------
def test_untraced_runs_have_no_trace():
    assert score(program(rule(lit(True), assign(lit(1))))).trace is None


def test_trace_is_post_order_with_branches_and_short_circuits():
    ast = program(
        rule({"type": "and", "args": [lit(True), lit(0)]}, assign(lit(1))),
        rule(
            {"type": "or", "args": [lit(0), fld("data.x")]},
            callback("k", lit("v")),
            {"type": "return"},
        ),
    )
    result = score(ast, {"x": 5}, trace=True)
    assert [(e["type"], e["value"], e.get("branch")) for e in result.trace] == [
        ("literal", True, None),
        ("literal", 0, None),
        ("and", False, "short_circuit:1"),
        ("rule", False, "skip"),
        ("literal", 0, None),
        ("field", 5, None),
        ("or", True, "short_circuit:1"),
        ("rule", True, "match"),
        ("literal", "v", None),
        ("set_callback_data", "v", None),
        ("return", None, "halt"),
    ]
    assert result.trace[3]["nodeId"] == "p.program.0.rule.0"
    assert result.nodes_executed == len(result.trace)


def test_traced_and_untraced_runs_agree_on_results():
    ast = program(
        rule(
            cmp(">", arith("*", fld("data.x"), lit(2)), lit(5)),
            assign(arith("/", fld("data.x"), lit(4)), "Big"),
        ),
        default=assign(lit(1), "Small"),
    )
    for x in (1, 10):
        plain, traced = score(ast, {"x": x}), score(ast, {"x": x}, trace=True)
        assert (plain.points, plain.case_name, plain.nodes_executed) == (
            traced.points,
            traced.case_name,
            traced.nodes_executed,
        )


def test_extend_trace_is_the_pre_trace_followed_by_the_post_trace():
    ast = extend(
        pre=[rule(lit(True), set_data("a", lit(1)))],
        post=[rule(lit(True), {"type": "set_points", "value": lit(2)})],
    )
    result = score(ast, mode="extend", parent=Parent(), trace=True)
    assert [e["nodeId"] for e in result.trace] == [
        "p.program.0.pre.rule.0.literal.0",
        "p.program.0.pre.rule.0",
        "p.program.0.pre.rule.0.set_data.0.literal.0",
        "p.program.0.pre.rule.0.set_data.0",
        "p.program.0.post.rule.0.literal.0",
        "p.program.0.post.rule.0",
        "p.program.0.post.rule.0.set_points.0.literal.0",
        "p.program.0.post.rule.0.set_points.0",
    ]


# -- unvalidated ASTs ---------------------------------------------------------------------------
def test_unvalidated_junk_fails_at_run_time_with_dsl_codes():
    ast = {
        "type": "program",
        "rules": [
            rule(
                lit(True),
                assign({"type": "arith", "op": "%", "left": lit(5), "right": lit(2), "id": "a"}),
            )
        ],
    }
    compiled = compile_program(ast, validate=False)
    result = run_program(compiled, event=ScoringEvent("g", "t", "u"))
    assert (result.error_code, result.node_id) == ("DSL_ARITH_OP_NOT_ALLOWED", "a")
