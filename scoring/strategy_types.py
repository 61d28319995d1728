"""The strategy types every app shares: kinds, a strategy ready to run, and what a run did.

A leaf: it imports only the engine (``scoring.dsl``, ``scoring.builtins``), so models of any
app can use it at load time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

from django.db import models

from scoring.builtins.base import Analytics, BuiltinStrategy, StrategyResult
from scoring.dsl.compile import CompiledProgram
from scoring.dsl.errors import DslError


class StrategyKind(models.TextChoices):
    """How a strategy runs: the one list of strategy types (definitions, logs, metrics)."""

    BUILT_IN = "BUILT_IN", "Built-in"
    DSL_EXTEND = "DSL_EXTEND", "Extends a built-in"
    DSL_FULL = "DSL_FULL", "Full program"


class StrategyArms(Protocol):
    """The arms of an experiment a resolved strategy runs: the app that runs experiments
    decides which one scores a player."""

    def choose(self, *, external_user_id: str) -> ResolvedStrategy:
        """Return the arm that scores ``external_user_id``; its ``experiment_arm`` says which."""
        ...


@dataclass(frozen=True, slots=True)
class ResolvedStrategy:
    """A strategy ready to run: a built-in, or a compiled custom program (with its parent).

    A family under an experiment resolves to its published version with ``arms``; the arm
    chosen for a player is a strategy of its own whose ``experiment_arm`` names it.
    """

    strategy_id: str
    version: str
    kind: str
    builtin: BuiltinStrategy | None = None
    program: CompiledProgram | None = None
    definition_id: str | None = None
    arms: StrategyArms | None = None
    experiment_arm: str | None = None

    @property
    def parent_strategy_id(self) -> str | None:
        if self.kind == StrategyKind.DSL_EXTEND and self.builtin is not None:
            return self.builtin.id
        return None


@dataclass(slots=True)
class StrategyRun:
    """What happened when a strategy scored one event."""

    strategy: ResolvedStrategy
    status: str
    result: StrategyResult | None
    error: DslError | None = None
    duration_ms: float = 0.0
    nodes_executed: int = 0
    trace: list[dict[str, Any]] | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    vetoed: bool = False
    #: False when a DSL_FULL program matched no rule and had no default (0 points, no case).
    matched: bool = True
    #: The analytics the strategy was given (None when it asked for none), kept by reference
    #: so that the run costs nothing more; the observer copies the values of a logged run.
    analytics: Analytics | None = None
    #: The event data a DSL_EXTEND program handed its parent (None when the parent did not run).
    parent_data: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class RunOutcome(TypedDict):
    """The public form of a run: what an award, a simulation, a log row and a replay show."""

    status: str
    points: float | None
    case_name: str | None
    callback_data: dict[str, Any]
    error_code: str | None
    error_message: str | None
    error_node_id: str | None
    error_pointer: str | None
    duration_ms: float
    nodes_executed: int
    matched: bool
    vetoed: bool


def error_code_label(error: BaseException | None, status: str) -> str | None:
    """Return the stable code of a failure, also its metrics label (spec section 9.2)."""
    if status == "ok" and error is None:
        return None
    code = getattr(error, "code", None)
    if code:
        return str(code)
    if status == "timeout":
        return "DSL_TIMEOUT"
    if status == "limit":
        return "DSL_LIMIT_EXCEEDED"
    name = type(error).__name__ if error is not None else ""
    return name if name.startswith("Dsl") else "DSL_UNEXPECTED"


def run_outcome(run: StrategyRun) -> RunOutcome:
    """Return the public form of ``run``; the one place a run result becomes plain data.

    A failed run has no points and no case; its callback data is empty.
    """
    result = run.result if run.error is None and run.status == "ok" else None
    error = run.error
    return RunOutcome(
        status=run.status,
        points=result.points if result is not None else None,
        case_name=result.case_name if result is not None else None,
        callback_data=dict(result.callback_data) if result is not None else {},
        error_code=error_code_label(error, run.status),
        error_message=(
            str(getattr(error, "message", None) or error) if error is not None else None
        ),
        error_node_id=getattr(error, "node_id", None),
        error_pointer=getattr(error, "pointer", None),
        duration_ms=run.duration_ms,
        nodes_executed=run.nodes_executed,
        matched=run.matched,
        vetoed=run.vetoed,
    )
