"""Operators and their type rules (spec section 5, strict profile Q3/Q5-Q8)."""

from __future__ import annotations

import math

import pytest
from dsl_helpers import arith, assign, cmp, fld, lit, points_of, program, rule, score


def func(name: str, *args: dict) -> dict:
    return {"type": "func_call", "name": name, "args": list(args)}


def value_of(node: dict, data: dict | None = None):
    """Store ``node`` in callback data so any value type can be observed."""
    ast = program(rule(lit(True), {"type": "set_callback_data", "key": "v", "value": node}))
    result = score(ast, data)
    assert result.ok, result.error
    return result.callback_data["v"]


def error_of(node: dict, data: dict | None = None) -> str:
    ast = program(rule(lit(True), {"type": "set_callback_data", "key": "v", "value": node}))
    result = score(ast, data)
    assert result.status == "error"
    return result.error_code


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("+", 2, 2, 4),
        ("+", True, True, 2),
        ("+", "ab", "cd", "abcd"),
        ("-", 5, 7.5, -2.5),
        ("*", "ab", 3, "ababab"),
        ("*", 2, "x", "xx"),
        ("*", "ab", -1, ""),
        ("/", 8, 2, 4.0),
        ("min", 1, 1.0, 1),
        ("min", 1.0, 1, 1.0),
        ("min", True, 1, True),
        ("max", "apple", "Zebra", "apple"),
    ],
)
def test_arith_follows_python_semantics_for_allowed_types(op, left, right, expected):
    result = value_of(arith(op, lit(left), lit(right)))
    assert result == expected
    assert type(result) is type(expected)


def test_int_arithmetic_stays_int_and_division_gives_float():
    assert type(points_of(arith("+", lit(2), lit(2))).points) is int
    assert type(points_of(arith("/", lit(8), lit(2))).points) is float


@pytest.mark.parametrize(
    ("op", "left", "right", "code"),
    [
        ("+", "a", 1, "DSL_ARITH_TYPE_MISMATCH"),
        ("-", "a", "b", "DSL_ARITH_TYPE_MISMATCH"),
        ("*", "a", 1.5, "DSL_ARITH_TYPE_MISMATCH"),
        ("/", 1, None, "DSL_ARITH_TYPE_MISMATCH"),
        ("min", 1, "a", "DSL_ARITH_TYPE_MISMATCH"),
        ("/", 5, 0, "DSL_ARITH_DIV_BY_ZERO"),
        ("/", 5, False, "DSL_ARITH_DIV_BY_ZERO"),
        ("*", 2**40, 2**40, "DSL_ARITH_OVERFLOW"),
        ("*", 1e308, 10, "DSL_ARITH_OVERFLOW"),
        ("*", "x", 10_001, "DSL_VALUE_TOO_LARGE"),
        ("*", "x", 2**52, "DSL_VALUE_TOO_LARGE"),
    ],
)
def test_arith_failures_have_dsl_codes(op, left, right, code):
    assert error_of(arith(op, lit(left), lit(right))) == code


def test_huge_integers_from_data_cannot_overflow_into_host_errors():
    assert error_of(arith("+", fld("data.big"), lit(0.5)), {"big": 10**400}) == "DSL_ARITH_OVERFLOW"
    assert error_of(arith("/", fld("data.big"), lit(1)), {"big": 10**400}) == "DSL_ARITH_OVERFLOW"


def test_concatenating_lists_from_data_is_capped():
    data = {"l": list(range(6000))}
    assert error_of(arith("+", fld("data.l"), fld("data.l")), data) == "DSL_VALUE_TOO_LARGE"
    assert value_of(arith("+", fld("data.a"), fld("data.b")), {"a": [1], "b": [2]}) == [1, 2]


@pytest.mark.parametrize(
    ("op", "left", "right", "expected"),
    [
        ("==", 1, 1.0, True),
        ("==", True, 1, True),
        ("==", "1", 1, False),
        ("==", None, None, True),
        ("!=", None, 0, True),
        ("<", "Zebra", "apple", True),
        ("<", True, 2, True),
        (">=", 2.5, 2, True),
        ("<=", 3, 3, True),
        (">", 1, 2, False),
    ],
)
def test_compare_follows_python_semantics(op, left, right, expected):
    ast = program(rule(cmp(op, lit(left), lit(right)), assign(lit(1), "Yes")))
    assert score(ast).case_name == ("Yes" if expected else None)


@pytest.mark.parametrize(("left", "right"), [("a", 1), (None, 1), (True, "a")])
def test_ordering_across_types_is_a_compare_type_mismatch(left, right):
    ast = program(rule(cmp("<", lit(left), lit(right)), assign(lit(1))))
    result = score(ast)
    assert result.error_code == "DSL_COMPARE_TYPE_MISMATCH"
    assert result.error.params["op"] == "<"
    assert result.error.pointer == "/rules/0/when"


def test_lists_from_data_compare_lexicographically_and_objects_do_not_order():
    assert value_of(fld("data.l"), {"l": [1]}) == [1]
    ast = program(rule(cmp("<", fld("data.a"), fld("data.b")), assign(lit(1), "Yes")))
    assert score(ast, {"a": [1, 2], "b": [1, 3]}).case_name == "Yes"
    assert score(ast, {"a": {"x": 1}, "b": {"x": 2}}).error_code == "DSL_COMPARE_TYPE_MISMATCH"


@pytest.mark.parametrize(
    ("arg", "expected"),
    [(3.7, 3), (-1.5, -1), (True, 1), ("  42  ", 42), ("-7", -7), ("+3", 3)],
)
def test_int_truncates_and_parses_plain_ascii_integers(arg, expected):
    assert value_of(func("int", lit(arg))) == expected


@pytest.mark.parametrize("arg", ["4.2", "0x10", "1_000", "١٢٣", "", "\t5", "9" * 5000, None])
def test_int_rejects_everything_else_with_func_call_failed(arg):
    assert error_of(func("int", lit(arg))) == "DSL_FUNC_CALL_FAILED"


def test_int_of_non_finite_or_huge_values_fails_cleanly():
    assert error_of(func("int", fld("data.x")), {"x": math.inf}) == "DSL_FUNC_CALL_FAILED"
    assert error_of(func("int", fld("data.x")), {"x": math.nan}) == "DSL_FUNC_CALL_FAILED"
    assert error_of(func("int", lit(1e20))) == "DSL_FUNC_CALL_FAILED"


@pytest.mark.parametrize(
    ("args", "expected"), [((5, 0, 10), 5), ((-3, 0, 10), 0), ((30, 0, 10), 10), ((5, 10, 0), 10)]
)
def test_clamp_is_max_of_low_and_min_of_value_and_high(args, expected):
    assert value_of(func("clamp", *map(lit, args))) == expected


def test_clamp_of_mixed_types_fails_with_func_call_failed():
    assert error_of(func("clamp", lit("a"), lit(0), lit(1))) == "DSL_FUNC_CALL_FAILED"


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (False, False),
        (None, False),
        (0, False),
        (0.0, False),
        ("", False),
        ([], False),
        ({}, False),
        ("0", True),
        ("false", True),
        (-2, True),
        ([0], True),
        ({"a": 1}, True),
    ],
)
def test_truthiness_of_bare_field_conditions(value, truthy):
    ast = program(rule(fld("data.x"), assign(lit(1), "Yes")))
    assert score(ast, {"x": value}).case_name == ("Yes" if truthy else None)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("5", "DSL_ASSIGN_POINTS_NOT_NUMBER"),
        (True, "DSL_ASSIGN_POINTS_NOT_NUMBER"),
        (None, "DSL_ASSIGN_POINTS_NOT_NUMBER"),
        (math.nan, "DSL_POINTS_NOT_FINITE"),
        (math.inf, "DSL_POINTS_NOT_FINITE"),
        (2**60, "DSL_POINTS_OUT_OF_RANGE"),
        (1e308, "DSL_POINTS_OUT_OF_RANGE"),
        (-(2.0**53) - 2, "DSL_POINTS_OUT_OF_RANGE"),
    ],
)
def test_points_must_be_finite_bounded_numbers(value, code):
    result = points_of(fld("data.p"), {"p": value})
    assert result.error_code == code
    assert result.error.node_id == "p.program.0.rule.0.assign_points.0"
    assert result.error.pointer == "/rules/0/then/0"


def test_float_points_may_reach_the_integer_bound():
    """Stored awards add up into float columns: past ±2^53 a few would overflow them."""
    for value in (2.0**53, -(2.0**53), 0.5):
        assert points_of(fld("data.p"), {"p": value}).points == value


def test_true_plus_zero_is_an_integer_and_accepted_as_points():
    result = points_of(arith("+", lit(True), lit(0)))
    assert (result.points, type(result.points)) == (1, int)
