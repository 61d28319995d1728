"""Hypothesis: any document and event either work or fail with a DslError, never a host error."""

from __future__ import annotations

import math

import pytest
from dsl_helpers import RecordingLoader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dsl_run import Parent

from scoring.builtins.base import ScoringEvent, StrategyResult
from scoring.dsl.compile import CompiledProgram, compile_program
from scoring.dsl.errors import DslError, DslValidationError
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program
from scoring.dsl.validate import validate_ast

TYPES = [
    "program",
    "rule",
    "and",
    "or",
    "not",
    "compare",
    "literal",
    "field",
    "arith",
    "func_call",
    "assign_points",
    "set_callback_data",
    "return",
    "set_data",
    "veto",
    "set_points",
    "set_case_name",
    "lambda",
]
PATHS = [
    "data.x",
    "data.s",
    "data.l",
    "data.big",
    "user.avg_time",
    "all.avg_time",
    "user.recent_measurements_count",
    "task.measurements_count",
    "parent.points",
    "parent.case_name",
    "externalUserId",
    "os.system",
    "",
    "data.",
]
OPS = ["<", "<=", "==", "!=", ">=", ">", "+", "-", "*", "/", "min", "max", "%", "int", "clamp"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["Case", "x" * 300, "1_000", " 42 ", "Caf\u00e9"]),
)
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)


def node(children: st.SearchStrategy) -> st.SearchStrategy:
    child_list = st.lists(children, max_size=3)
    return st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(TYPES), junk)},
        optional={
            "id": st.one_of(st.sampled_from(["a", "b", "p.program.0.rule.0"]), junk),
            "value": st.one_of(scalars, children),
            "path": st.one_of(st.sampled_from(PATHS), junk),
            "op": st.one_of(st.sampled_from(OPS), junk),
            "name": st.one_of(st.sampled_from(["int", "clamp", "eval"]), junk),
            "left": children,
            "right": children,
            "arg": children,
            "args": st.one_of(child_list, junk),
            "when": children,
            "then": st.one_of(child_list, junk),
            "else": st.one_of(child_list, junk),
            "else_if": st.one_of(
                st.lists(st.fixed_dictionaries({"when": children, "then": child_list}), max_size=2),
                junk,
            ),
            "key": st.one_of(st.sampled_from(["k", "x", "a b", ""]), junk),
            "case_name": st.one_of(st.sampled_from(["Case", "", "Name\n"]), junk),
        },
    )


nodes = st.recursive(junk, node, max_leaves=30)
programs = st.fixed_dictionaries(
    {"type": st.sampled_from(["program", "program", "rule"])},
    optional={
        "rules": st.one_of(st.lists(nodes, max_size=3), junk),
        "pre_rules": st.one_of(st.lists(nodes, max_size=2), junk),
        "post_rules": st.one_of(st.lists(nodes, max_size=2), junk),
        "default": nodes,
        "parent_variables": st.one_of(
            st.dictionaries(st.sampled_from(["variable_basic_points", "variable_x", "x"]), junk),
            junk,
        ),
    },
)
event_data = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["x", "s", "l", "big"]),
        st.one_of(scalars, st.just(10**400), st.lists(scalars, max_size=3)),
    ),
)
fields = st.dictionaries(
    st.sampled_from(
        [
            "user.avg_time",
            "all.avg_time",
            "user.recent_measurements_count",
            "task.measurements_count",
        ]
    ),
    st.one_of(scalars, st.just(math.nan)),
)
parents = st.sampled_from([(5, "P"), ("5", None), None, 3.5, StrategyResult(2, "Q", {"c": 1})])


def compiled_or_error(ast, **options) -> CompiledProgram | DslError:
    """Compile ``ast``, returning the DslError it raises; any other exception propagates."""
    try:
        return compile_program(ast, **options)
    except DslError as error:
        return error


def check_run(compiled, data, analytics, mode, returns, trace) -> None:
    result = run_program(
        compiled,
        event=ScoringEvent("g", "t", "u", data),
        mode=mode,
        analytics_loader=RecordingLoader(analytics),
        parent=Parent(returns),
        trace=trace,
    )
    assert result.status in ("ok", "error", "limit", "timeout")
    if result.ok:
        assert isinstance(result.points, (int, float))
        assert not isinstance(result.points, bool)
        assert math.isfinite(result.points)
    else:
        assert isinstance(result.error, DslError)
        assert result.error.code.startswith("DSL_")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, event_data, fields, st.sampled_from(["full", "extend"]), parents, st.booleans())
def test_any_document_validates_or_fails_with_dsl_errors(
    ast, data, analytics, mode, returns, trace
):
    report = validate_ast(ast)
    assert all(issue.code.startswith("DSL_") for issue in report.issues)
    compiled = compiled_or_error(ast, limits=DslLimits(max_nodes=200))
    if isinstance(compiled, DslError):
        assert compiled.code.startswith("DSL_")
    else:
        check_run(compiled, data, analytics, mode, returns, trace)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, event_data, fields, st.sampled_from(["full", "extend"]), parents, st.booleans())
def test_unvalidated_documents_fail_at_run_time_with_dsl_errors_only(
    ast, data, analytics, mode, returns, trace
):
    compiled = compiled_or_error(ast, validate=False, limits=DslLimits(runtime_max_depth=8))
    if isinstance(compiled, DslError):
        assert compiled.code.startswith("DSL_")
    else:
        check_run(compiled, data, analytics, mode, returns, trace)


def nested_nots(levels: int) -> dict:
    when: dict = {"type": "literal", "value": 1}
    for _ in range(levels):
        when = {"type": "not", "arg": when}
    return {
        "type": "program",
        "rules": [{"type": "rule", "when": when, "then": [{"type": "return"}]}],
    }


def test_deeply_nested_documents_are_rejected_not_crashed():
    doc = nested_nots(5000)
    assert validate_ast(doc).issues[0].code == "DSL_DEPTH_EXCEEDED"
    with pytest.raises(DslValidationError) as caught:
        compile_program(doc, validate=False)
    assert caught.value.code == "DSL_DEPTH_EXCEEDED"


def test_unvalidated_deep_documents_hit_the_runtime_depth_cap():
    result = run_program(
        compile_program(nested_nots(200), validate=False), event=ScoringEvent("g", "t", "u")
    )
    assert (result.status, result.error_code) == ("limit", "DSL_RUNTIME_DEPTH_EXCEEDED")
