"""Badge conditions for the core: the DSL's condition compiler behind the core's hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from gamification.hooks import BadgeCondition, ConditionFailed, ConditionInvalid
from scoring.dsl import errors as E
from scoring.dsl.condition import (
    CompiledCondition,
    condition_compile,
    condition_holds,
    condition_task_id,
)
from scoring.dsl.limits import DslLimits


def _limits() -> DslLimits:
    """The strategies' own static and run-time limits."""
    return DslLimits(
        max_nodes=settings.DSL_MAX_NODES,
        max_depth=settings.DSL_MAX_DEPTH,
        timeout_ms=settings.DSL_EXECUTION_TIMEOUT_MS,
    )


class _Run:
    __slots__ = ("compiled",)

    def __init__(self, compiled: CompiledCondition) -> None:
        self.compiled = compiled

    def __call__(
        self, *, data: Mapping[str, Any], values: Mapping[str, Any], deadline: float
    ) -> bool:
        try:
            return condition_holds(self.compiled, data=data, values=values, deadline=deadline)
        except E.DslError as error:
            raise ConditionFailed(error.code, error.pointer) from None


def badge_condition_compile(condition: Any) -> BadgeCondition:
    """Validate and compile a badge condition (cached by content hash in the engine)."""
    try:
        compiled = condition_compile(condition, limits=_limits())
    except E.DslValidationError as error:
        raise ConditionInvalid([issue.as_dict() for issue in error.issues]) from None
    task_ids = frozenset(
        task_id for task_id in map(condition_task_id, compiled.paths) if task_id is not None
    )
    return BadgeCondition(ast=compiled.ast, task_ids=task_ids, holds=_Run(compiled))
