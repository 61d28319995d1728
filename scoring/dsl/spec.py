"""Allow-lists and patterns of the scoring DSL (spec sections 3, 4 and 7)."""

from __future__ import annotations

import re

from scoring.builtins.base import ANALYTICS_PATHS, RECENT_WINDOW_SECONDS

CONDITION_TYPES = frozenset({"and", "or", "not", "compare", "literal", "field"})
EXPRESSION_TYPES = frozenset({"literal", "field", "arith", "func_call"})
STATEMENT_TYPES = frozenset(
    {
        "assign_points",
        "set_callback_data",
        "return",
        "set_data",
        "veto",
        "set_points",
        "set_case_name",
    }
)
#: Types that exist in the language but are not statements (``not_a_statement``).
NON_STATEMENT_TYPES = CONDITION_TYPES | EXPRESSION_TYPES | {"rule", "program"}

COMPARE_OPS = frozenset({"<", "<=", "==", "!=", ">=", ">"})
ARITH_OPS = frozenset({"+", "-", "*", "/", "min", "max"})
FUNC_ARITY: dict[str, int] = {"int": 1, "clamp": 3}

SECTIONS = ("rule", "default", "pre", "post")
SECTION_STATEMENTS: dict[str, frozenset[str]] = {
    "rule": frozenset({"assign_points", "set_callback_data", "return"}),
    "default": frozenset({"assign_points", "set_callback_data", "return"}),
    "pre": frozenset({"set_callback_data", "return", "set_data", "veto"}),
    "post": frozenset({"set_callback_data", "return", "set_points", "set_case_name"}),
}

#: Required and optional keys of every typed node, besides ``type`` and ``id``.
NODE_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "program": (
        frozenset({"rules"}),
        frozenset({"default", "pre_rules", "post_rules", "parent_variables"}),
    ),
    "rule": (frozenset({"when", "then"}), frozenset({"else_if", "else"})),
    "and": (frozenset({"args"}), frozenset()),
    "or": (frozenset({"args"}), frozenset()),
    "not": (frozenset({"arg"}), frozenset()),
    "compare": (frozenset({"op", "left", "right"}), frozenset()),
    "literal": (frozenset({"value"}), frozenset()),
    "field": (frozenset({"path"}), frozenset()),
    "arith": (frozenset({"op", "left", "right"}), frozenset()),
    "func_call": (frozenset({"name", "args"}), frozenset()),
    "assign_points": (frozenset({"value", "case_name"}), frozenset()),
    "set_callback_data": (frozenset({"key", "value"}), frozenset()),
    "return": (frozenset(), frozenset()),
    "set_data": (frozenset({"key", "value"}), frozenset()),
    "veto": (frozenset({"case_name"}), frozenset()),
    "set_points": (frozenset({"value"}), frozenset()),
    "set_case_name": (frozenset({"value"}), frozenset()),
}
BRANCH_KEYS = frozenset({"when", "then", "id"})

#: Static paths and the ``ScoringEvent`` attribute that answers each.
STATIC_PATHS: dict[str, str] = {
    "externalGameId": "external_game_id",
    "externalTaskId": "external_task_id",
    "externalUserId": "external_user_id",
}
PARENT_PATHS = frozenset({"parent.points", "parent.case_name"})
RECENT_PATH = "user.recent_measurements_count"
RECENT_WINDOW = RECENT_WINDOW_SECONDS
ANALYTICS = ANALYTICS_PATHS

# All patterns are used with ``fullmatch`` (Q1: no trailing-newline hole).
DATA_PATH_RE = re.compile(r"data\.([A-Za-z0-9_]+)")
SET_DATA_KEY_RE = re.compile(r"[A-Za-z0-9_]+")
CASE_NAME_RE = re.compile(r"[ -~]{1,200}")
PARENT_VARIABLE_KEY_RE = re.compile(r"variable_[A-Za-z0-9_]+")
INT_STRING_RE = re.compile(r"[+-]?[0-9]+")


def path_allowed(path: str) -> bool:
    """Return whether ``path`` is on the field whitelist of section 4."""
    return (
        path in STATIC_PATHS
        or path in ANALYTICS
        or path in PARENT_PATHS
        or DATA_PATH_RE.fullmatch(path) is not None
    )


def case_name_valid(value: object) -> bool:
    return isinstance(value, str) and CASE_NAME_RE.fullmatch(value) is not None


#: What the editor's blocks call each section; messages use these words, pointers keep the keys.
SECTION_LABELS: dict[str, str] = {
    "rule": "rules (DSL_FULL)",
    "default": "default (DSL_FULL)",
    "pre": "pre rules (before the parent)",
    "post": "post rules (after the parent)",
}
PROGRAM_KEY_LABELS: dict[str, str] = {
    "rules": SECTION_LABELS["rule"],
    "default": SECTION_LABELS["default"],
    "pre_rules": SECTION_LABELS["pre"],
    "post_rules": SECTION_LABELS["post"],
    "parent_variables": "parent variables",
}

#: The kinds of value of spec section 2, most specific first (``bool`` is an ``int``).
_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (str, "string"),
    ((list, tuple), "list"),
    (dict, "object"),
)


def kind_name(value: object) -> str:
    """Return the DSL's name for the kind of ``value``, as messages show it (never Python's)."""
    for kinds, name in _KINDS:
        if isinstance(value, kinds):
            return name
    return "unsupported value"


def shown(value: object) -> str:
    """Show a node's ``type``, ``op`` or ``name`` in a message: itself, else the kind it is."""
    return value if isinstance(value, str) else kind_name(value)
