"""Checks of a strategy's shape (type and parent) and of its program, shared by every writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.builtins.base import BuiltinStrategy
from scoring.builtins.registry import UnknownBuiltinStrategy, builtin_get
from scoring.dsl.errors import Issue
from scoring.dsl.validate import validate_ast
from scoring.engine import dsl_limits
from scoring.strategy_types import StrategyKind
from strategies.errors import StrategyError

AST_MISSING = "DSL_AST_MISSING"
AUTHORABLE_TYPES = (StrategyKind.DSL_FULL, StrategyKind.DSL_EXTEND)


@dataclass(frozen=True, slots=True)
class ProgramCheck:
    """The outcome of validating a program: the id-filled AST and every issue."""

    ast: Any
    issues: list[Issue] = field(default_factory=list)
    field_paths: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [issue.as_dict() for issue in self.issues]


def strategy_shape_check(*, type: str, parent_strategy_id: str | None) -> str | None:
    """Return the canonical parent id for ``type``, or refuse an impossible combination."""
    if type not in AUTHORABLE_TYPES:
        raise StrategyError(
            f"Type {type!r} cannot be authored; use DSL_FULL or DSL_EXTEND.",
            code="STRATEGY_TYPE_INVALID",
            field="type",
        )
    if type == StrategyKind.DSL_FULL:
        if parent_strategy_id:
            raise StrategyError(
                "A DSL_FULL strategy replaces the built-ins and takes no parentStrategyId.",
                code="STRATEGY_PARENT_FORBIDDEN",
                field="parentStrategyId",
            )
        return None
    if not parent_strategy_id:
        raise StrategyError(
            "A DSL_EXTEND strategy needs the parentStrategyId of the built-in it extends.",
            code="STRATEGY_PARENT_REQUIRED",
            field="parentStrategyId",
        )
    return parent_get(parent_strategy_id).id


def parent_get(parent_strategy_id: str) -> BuiltinStrategy:
    try:
        return builtin_get(parent_strategy_id)
    except UnknownBuiltinStrategy:
        raise StrategyError(
            f"{parent_strategy_id!r} is not a registered built-in strategy.",
            code="STRATEGY_PARENT_UNKNOWN",
            field="parentStrategyId",
        ) from None


def program_check(*, parent_strategy_id: str | None, ast_json: Any) -> ProgramCheck:
    """Validate ``ast_json``; a parent built-in, if any, checks its parent_variables."""
    if ast_json is None:
        return ProgramCheck(
            ast=None, issues=[Issue(AST_MISSING, "The strategy has no program yet.", "", None)]
        )
    parent = parent_get(parent_strategy_id) if parent_strategy_id else None
    report = validate_ast(ast_json, limits=dsl_limits(), parent=parent)
    return ProgramCheck(ast=report.ast, issues=list(report.issues), field_paths=report.field_paths)
