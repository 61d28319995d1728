"""Messages speak the DSL's words: its kinds of value and the editor's names of the sections.

Codes, pointers and the GAME-compatible params (``leftType``, ``actualType``...) stay as the
corpus pins them; only the human text changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from dsl_helpers import arith, assign, cmp, fld, lit, program, rule, score

from scoring.builtins.base import AnalyticsRequest, BuiltinStrategy, ScoringEvent, StrategyResult
from scoring.dsl import spec
from scoring.dsl.compile import compile_program
from scoring.dsl.conformance import decode_floats, read_cases
from scoring.dsl.run import run_program
from scoring.dsl.validate import validate_ast

# Python's names where a message names a kind ("int" alone is also the DSL's function).
PYTHON_TYPE = re.compile(
    r"NoneType|(?:\b(?:got|compare|to|and|of|a)|[<>=!,]) (?:int|str|bool|dict|tuple)\b"
)
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "conformance" / "cases.jsonl"


class FixedParent(BuiltinStrategy):
    id = "fixed"
    version = "1"
    description = "returns 5 points"
    variables = {"variable_basic_points": 1, "variable_ratio": 1.5}

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:  # noqa: ARG002 - BuiltinStrategy API
        return AnalyticsRequest(paths=frozenset(), recent_windows=frozenset())

    def score(self, *, event: ScoringEvent, analytics: Any, variables: Mapping[str, Any]) -> Any:  # noqa: ARG002 - BuiltinStrategy API
        return StrategyResult(5, "Parent")


def _post(*statements: dict) -> dict:
    return {"type": "program", "rules": [], "post_rules": [rule(lit(True), *statements)]}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (None, "null"),
        (True, "boolean"),
        (3, "integer"),
        (2.5, "float"),
        ("x", "string"),
        ([1], "list"),
        ((1,), "list"),
        ({"a": 1}, "object"),
        (object(), "unsupported value"),
    ],
)
def test_every_value_has_a_dsl_kind_name(value, kind):
    assert spec.kind_name(value) == kind


def test_a_comparison_with_null_names_null_and_keeps_the_corpus_params():
    result = score(program(rule(cmp("<", fld("data.missing"), lit(5)), assign(lit(1)))))
    assert result.error.code == "DSL_COMPARE_TYPE_MISMATCH"
    assert result.error.message == "cannot compare null < integer"
    assert (result.error.params["leftType"], result.error.params["rightType"]) == (
        "NoneType",
        "int",
    )


@pytest.mark.parametrize(
    ("value", "data", "message"),
    [
        (arith("+", fld("data.s"), lit(1)), {"s": "a"}, "cannot apply + to string and integer"),
        (arith("*", fld("data.o"), lit(1.5)), {"o": {}}, "cannot apply * to object and float"),
        (fld("data.missing"), {}, "points must be a number, got null"),
        (fld("data.flag"), {"flag": True}, "points must be a number, got boolean"),
        (
            {"type": "func_call", "name": "int", "args": [fld("data.l")]},
            {"l": [1]},
            "int() of list",
        ),
    ],
)
def test_run_time_messages_name_the_dsl_kinds(value, data, message):
    result = score(program(rule(lit(True), assign(value))), data)
    assert result.error.message == message


def test_a_case_name_that_is_not_text_names_its_kind():
    ast = _post({"type": "set_case_name", "value": lit(7)})
    result = score(ast, mode="extend", parent=FixedParent())
    assert result.error.code == "DSL_SET_CASE_NAME_NOT_STRING"
    assert result.error.message == "a case name must be a string, got integer"
    assert result.error.params["actualType"] == "int"


def test_reading_the_parent_outside_post_rules_uses_the_blocks_words():
    ast = program(rule(lit(True), assign(fld("parent.points"))))
    issue = validate_ast(ast).issues[0]
    assert issue.code == "DSL_PARENT_FIELD_OUTSIDE_POST"
    assert issue.message == "'parent.points' can only be read in post rules (after the parent)"
    assert issue.pointer == "/rules/0/then/0/value"


def test_a_statement_in_the_wrong_section_names_the_section_as_the_blocks_do():
    issue = validate_ast(_post(assign(lit(1)))).issues[0]
    assert issue.code == "DSL_STATEMENT_WRONG_SECTION"
    assert issue.message.startswith(
        "assign_points is not allowed in post rules (after the parent) (allowed there: "
    )
    assert issue.pointer == "/post_rules/0/then/0"
    assert issue.params["section"] == "post"


def test_a_section_that_is_not_a_list_names_the_section_as_the_blocks_do():
    ast = {"type": "program", "rules": [], "post_rules": {}, "pre_rules": 3}
    issues = validate_ast(ast).issues
    assert {issue.code for issue in issues} == {"DSL_SECTION_NOT_ARRAY"}
    assert [issue.message for issue in issues] == [
        "pre rules (before the parent) must be an array or null",
        "post rules (after the parent) must be an array or null",
    ]
    assert "post_rules" not in " ".join(issue.message for issue in issues)


def test_a_parent_variable_of_the_wrong_kind_names_both_kinds():
    ast = {
        "type": "program",
        "rules": [],
        "parent_variables": {"variable_basic_points": "two", "variable_ratio": None},
    }
    issues = validate_ast(ast, parent=FixedParent()).issues
    assert [issue.message for issue in issues] == [
        "'variable_basic_points' must be an integer, got string",
        "'variable_ratio' must be a number, got null",
    ]
    assert [issue.pointer for issue in issues] == [
        "/parent_variables/variable_basic_points",
        "/parent_variables/variable_ratio",
    ]


def test_node_types_that_are_not_text_are_named_by_kind_in_messages():
    ast = program(rule({"type": None}, {"type": 3}))
    messages = [issue.message for issue in validate_ast(ast).issues]
    assert messages[0].startswith("null is not a condition")
    assert messages[1] == "integer is not a statement type"
    unchecked = compile_program(program(rule(lit(True), {"type": None})), validate=False)
    result = run_program(unchecked, event=ScoringEvent("g1", "t1", "u1", {}))
    assert result.error.code == "DSL_UNKNOWN_STATEMENT"
    assert result.error.message == "unknown statement null"
    assert result.error.params["nodeType"] == "NoneType"


@pytest.mark.skipif(not CORPUS.is_file(), reason=f"conformance corpus not found at {CORPUS}")
def test_no_message_of_the_corpus_programs_names_a_python_type():
    seen = 0
    leaks = []
    for case in read_cases(CORPUS):
        ast = decode_floats(case["ast"])
        messages = [issue.message for issue in validate_ast(ast).issues]
        if not messages and case["mode"] == "full":
            inputs = decode_floats(case["inputs"])
            result = score(ast, inputs.get("data") or {}, fields=inputs.get("fields") or {})
            messages = [result.error.message] if result.error else []
        seen += len(messages)
        leaks += [(case["name"], m) for m in messages if PYTHON_TYPE.search(m)]
    assert seen > 100
    assert leaks == []
