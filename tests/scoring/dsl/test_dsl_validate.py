"""Validation: every problem reported, with codes, pointers and collision-free ids."""

from __future__ import annotations

import pytest
from dsl_helpers import assign, cmp, fld, lit, program, rule

from scoring.builtins.registry import builtin_get
from scoring.dsl.compile import compile_program
from scoring.dsl.errors import DslValidationError, reason_for_code
from scoring.dsl.limits import DslLimits
from scoring.dsl.validate import validate_ast


def codes(ast, **kwargs) -> list[tuple[str, str]]:
    return [(i.code, i.pointer) for i in validate_ast(ast, **kwargs).issues]


def test_a_valid_program_has_no_issues_and_gets_ids():
    report = validate_ast(program(rule(lit(True), assign(lit(1)))))
    assert report.ok
    assert report.ast["id"] == "p.program.0"
    assert report.ast["rules"][0]["then"][0]["value"]["id"] == (
        "p.program.0.rule.0.assign_points.0.literal.0"
    )


def test_every_problem_is_reported_in_check_order_with_pointers():
    ast = program(
        rule(cmp("<", fld("user.bogus"), lit(1)), assign(lit(1), "")),
        rule(cmp("=", lit(1), lit(1)), {"type": "veto", "case_name": "V"}),
    )
    assert codes(ast) == [
        ("DSL_FIELD_PATH_NOT_ALLOWED", "/rules/0/when/left"),
        ("DSL_CASE_NAME_INVALID", "/rules/0/then/0"),
        ("DSL_COMPARE_OP_NOT_ALLOWED", "/rules/1/when"),
        ("DSL_STATEMENT_WRONG_SECTION", "/rules/1/then/0"),
    ]


def test_compile_raises_a_validation_error_carrying_every_issue():
    ast = program(rule(fld("os.system"), assign(fld("__class__"))))
    with pytest.raises(DslValidationError) as caught:
        compile_program(ast)
    assert [i.code for i in caught.value.issues] == ["DSL_FIELD_PATH_NOT_ALLOWED"] * 2
    assert caught.value.code == "DSL_FIELD_PATH_NOT_ALLOWED"
    assert caught.value.pointer == "/rules/0/when"
    assert caught.value.node_id == "p.program.0.rule.0.field.0"


@pytest.mark.parametrize(
    ("ast", "code", "pointer"),
    [
        ([], "DSL_ROOT_NOT_OBJECT", ""),
        ({"type": "rule"}, "DSL_WRONG_NODE_TYPE", ""),
        ({"type": "program"}, "DSL_MISSING_KEY", ""),
        ({"type": "program", "rules": [], "x": 1}, "DSL_UNEXPECTED_KEYS", ""),
        ({"type": "program", "rules": {}}, "DSL_RULES_NOT_ARRAY", ""),
        ({"type": "program", "rules": [], "pre_rules": 3}, "DSL_SECTION_NOT_ARRAY", ""),
        ({"type": "program", "rules": ["r"]}, "DSL_RULE_NOT_OBJECT", "/rules/0"),
        (program(rule(lit(True))), "DSL_EMPTY_STATEMENT_LIST", "/rules/0/then"),
        (
            program(rule({"value": 1}, assign(lit(1)))),
            "DSL_UNKNOWN_CONDITION_TYPE",
            "/rules/0/when",
        ),
        (
            program(rule({"type": "and", "args": []}, assign(lit(1)))),
            "DSL_LOGIC_ARGS_EMPTY",
            "/rules/0/when",
        ),
        (
            program(rule(lit(True), assign({"type": "literal", "value": [1]}))),
            "DSL_LITERAL_NOT_SCALAR",
            "/rules/0/then/0/value",
        ),
        (program(rule(fld(""), assign(lit(1)))), "DSL_FIELD_PATH_NOT_STRING", "/rules/0/when"),
        (
            program(rule(lit(True), assign(fld("parent.points")))),
            "DSL_PARENT_FIELD_OUTSIDE_POST",
            "/rules/0/then/0/value",
        ),
        (
            program(
                rule(
                    lit(True), assign({"type": "arith", "op": "%", "left": lit(1), "right": lit(1)})
                )
            ),
            "DSL_ARITH_OP_NOT_ALLOWED",
            "/rules/0/then/0/value",
        ),
        (
            program(rule(lit(True), assign({"type": "func_call", "name": "eval", "args": []}))),
            "DSL_FUNC_NAME_NOT_ALLOWED",
            "/rules/0/then/0/value",
        ),
        (
            program(rule(lit(True), assign({"type": "func_call", "name": "int", "args": []}))),
            "DSL_FUNC_ARITY_MISMATCH",
            "/rules/0/then/0/value",
        ),
        (program(rule(lit(True), {"type": "rule"})), "DSL_NOT_A_STATEMENT", "/rules/0/then/0"),
        (
            program(rule(lit(True), {"type": "exec"})),
            "DSL_UNKNOWN_STATEMENT_TYPE",
            "/rules/0/then/0",
        ),
        (program(rule(lit(True), 7)), "DSL_STATEMENT_NOT_OBJECT", "/rules/0/then/0"),
        (
            program(rule(lit(True), assign(lit(1)), else_if={})),
            "DSL_ELSE_IF_NOT_ARRAY",
            "/rules/0",
        ),
        (
            program(rule(lit(True), assign(lit(1)), else_if=[{"then": [assign(lit(1))]}])),
            "DSL_ELSE_IF_MISSING_WHEN",
            "/rules/0/else_if/0",
        ),
        (
            program(
                rule(lit(True), assign(lit(1))),
                pre_rules=[rule(lit(True), {"type": "set_data", "key": "a-b", "value": lit(1)})],
            ),
            "DSL_SET_DATA_KEY_PATTERN",
            "/pre_rules/0/then/0",
        ),
        (
            program(rule(lit(True), {"type": "set_callback_data", "key": "", "value": lit(1)})),
            "DSL_CALLBACK_KEY_INVALID",
            "/rules/0/then/0",
        ),
        (
            program(parent_variables={"basic_points": 1}),
            "DSL_PARENT_VARIABLES_BAD_KEY",
            "/parent_variables/basic_points",
        ),
        (
            program(parent_variables={"variable_x": [1]}),
            "DSL_PARENT_VARIABLES_BAD_VALUE",
            "/parent_variables/variable_x",
        ),
    ],
)
def test_each_problem_has_its_code_and_pointer(ast, code, pointer):
    issues = validate_ast(ast).issues
    assert (issues[0].code, issues[0].pointer) == (code, pointer)


def test_codes_map_back_to_corpus_reasons():
    assert reason_for_code("DSL_MISSING_KEY") == "missing_key"
    assert reason_for_code("DSL_FIELD_PATH_NOT_ALLOWED") == "dsl_field_path_not_allowed"
    assert reason_for_code("DSL_FUNC_CALL_FAILED") == "func_call_failed"


def test_pointers_escape_slash_and_tilde_in_keys():
    ast = program(parent_variables={"a/b~c": 1})
    assert validate_ast(ast).issues[0].pointer == "/parent_variables/a~1b~0c"


@pytest.mark.parametrize(
    "path", ["data.abc\n", "data.a.b", "data.", "data..x", "data.caña", "User.measurements_count"]
)
def test_field_paths_are_matched_whole(path):
    assert codes(program(rule(fld(path), assign(lit(1))))) == [
        ("DSL_FIELD_PATH_NOT_ALLOWED", "/rules/0/when")
    ]


def test_case_names_and_set_data_keys_reject_a_trailing_newline():
    ast = program(
        rule(lit(True), assign(lit(1), "Name\n")),
        pre_rules=[rule(lit(True), {"type": "set_data", "key": "k\n", "value": lit(1)})],
    )
    assert [c for c, _ in codes(ast)] == ["DSL_CASE_NAME_INVALID", "DSL_SET_DATA_KEY_PATTERN"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_literals_are_rejected(value):
    assert codes(program(rule(lit(True), assign(lit(value))))) == [
        ("DSL_LITERAL_NOT_FINITE", "/rules/0/then/0/value")
    ]


def test_integer_literals_are_bounded_by_two_to_the_53():
    assert validate_ast(program(rule(lit(True), assign(lit(2**53))))).ok
    assert codes(program(rule(lit(True), assign(lit(2**53 + 1))))) == [
        ("DSL_LITERAL_OUT_OF_RANGE", "/rules/0/then/0/value")
    ]


def test_list_or_object_in_type_op_or_name_is_reported_not_crashed():
    ast = program(
        rule({"type": ["literal"], "value": True}, assign(lit(1))),
        rule(cmp(["<"], lit(1), lit(2)), assign(lit(1))),
        rule(lit(True), assign({"type": "arith", "op": {}, "left": lit(1), "right": lit(1)})),
        rule(lit(True), assign({"type": "func_call", "name": ["int"], "args": [lit(1)]})),
        rule(lit(True), {"type": ["assign_points"]}),
    )
    assert [c for c, _ in codes(ast)] == [
        "DSL_UNKNOWN_CONDITION_TYPE",
        "DSL_COMPARE_OP_NOT_ALLOWED",
        "DSL_ARITH_OP_NOT_ALLOWED",
        "DSL_FUNC_NAME_NOT_ALLOWED",
        "DSL_UNKNOWN_STATEMENT_TYPE",
    ]


def test_generated_ids_include_section_and_branch_and_never_collide():
    statement = {"type": "set_callback_data", "key": "k", "value": lit(1)}
    ast = program(
        rule(
            lit(False),
            dict(statement),
            else_if=[{"when": lit(True), "then": [dict(statement)]}],
            **{"else": [dict(statement)]},
        ),
        pre_rules=[rule(lit(True), dict(statement))],
        post_rules=[rule(lit(True), dict(statement))],
    )
    report = validate_ast(ast)
    assert report.ok
    ids = report.ids_assigned
    assert ids["/rules/0/then/0"] == "p.program.0.rule.0.set_callback_data.0"
    assert ids["/rules/0/else/0"] == "p.program.0.rule.0.else.set_callback_data.0"
    assert ids["/rules/0/else_if/0/then/0"] == "p.program.0.rule.0.else_if.0.set_callback_data.0"
    assert ids["/pre_rules/0"] == "p.program.0.pre.rule.0"
    assert ids["/post_rules/0"] == "p.program.0.post.rule.0"
    assert len(set(ids.values())) == len(ids)


def test_id_autofill_is_idempotent():
    first = validate_ast(program(rule(lit(True), assign(lit(1))))).ast
    second = validate_ast(first)
    assert second.ast == first
    assert second.ids_assigned == {}


def test_duplicate_explicit_ids_are_rejected():
    ast = program(rule({**lit(True), "id": "dup"}, assign({**lit(1), "id": "dup"})))
    assert codes(ast) == [("DSL_DUPLICATE_ID", "/rules/0/then/0/value")]


def test_node_count_is_each_node_once_and_reported_where_it_overflows():
    ast = program(rule({"type": "and", "args": [lit(True)] * 10}, assign(lit(1))))
    # rule + and + 10 literals + assign + literal = 14 nodes
    assert validate_ast(ast, limits=DslLimits(max_nodes=14)).ok
    issues = validate_ast(ast, limits=DslLimits(max_nodes=13)).issues
    assert [(i.code, i.pointer) for i in issues] == [
        ("DSL_NODE_COUNT_EXCEEDED", "/rules/0/then/0/value")
    ]


def test_validation_stops_at_the_node_cap_so_issues_do_not_grow_with_the_document():
    ast = {"type": "program", "rules": [{}] * 5000}
    issues = validate_ast(ast, limits=DslLimits(max_nodes=10)).issues
    assert len(issues) == 11
    assert issues[-1].code == "DSL_NODE_COUNT_EXCEEDED"
    assert issues[-1].pointer == "/rules/10"


def test_depth_counts_the_rule_as_one_and_reports_the_first_too_deep_node():
    when = lit(True)
    for _ in range(30):
        when = {"type": "not", "arg": when}
    assert validate_ast(program(rule(when, assign(lit(1))))).ok
    deeper = {"type": "not", "arg": when}
    issues = validate_ast(program(rule(deeper, assign(lit(1))))).issues
    assert issues[0].code == "DSL_DEPTH_EXCEEDED"
    assert issues[0].pointer == "/rules/0/when" + "/arg" * 31


def test_parent_variables_are_checked_against_the_parents_declared_variables():
    parent = builtin_get("default")
    ast = program(
        parent_variables={
            "variable_bonus_points": 20,
            "variable_does_not_exist": 3,
            "variable_basic_points": "5",
        }
    )
    assert codes(ast, parent=parent) == [
        ("DSL_PARENT_VARIABLES_UNKNOWN_KEY", "/parent_variables/variable_does_not_exist"),
        ("DSL_PARENT_VARIABLES_BAD_TYPE", "/parent_variables/variable_basic_points"),
    ]
    assert validate_ast(ast).ok


def test_validation_does_not_mutate_the_submitted_ast():
    ast = program(rule(lit(True), assign(lit(1))))
    validate_ast(ast)
    assert "id" not in ast
