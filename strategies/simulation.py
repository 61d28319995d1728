"""Dry runs of a strategy (stored or unsaved) with its real type: nothing is written (Q17)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from gamification import selectors as core_selectors
from gamification.errors import DomainError
from gamification.models import Realm
from gamification.parsers import event_data_check
from scoring.builtins.base import Analytics, AnalyticsRequest, ScoringEvent
from scoring.context import EMPTY_HISTORY, empty_history_analytics, event_history_load
from scoring.dsl.bounded import json_bounded
from scoring.dsl.compile import compile_program
from scoring.dsl.errors import DslValidationError, Issue
from scoring.engine import dsl_limits, strategy_execute
from scoring.strategy_types import ResolvedStrategy, RunOutcome, StrategyKind, run_outcome
from strategies.errors import StrategyInvalid
from strategies.models import StrategyDefinition
from strategies.programs import parent_get, strategy_shape_check

NO_AST = "DSL_NO_AST_TO_SIMULATE"
DEFAULT_USER = "simulated-user"
#: Bytes of JSON the callback data, and the field values, of a simulation answer may take;
#: the trace has its own budget (``DSL_EXECUTION_LOG_TRACE_BYTES``, applied by the engine).
ECHO_BYTES = 16 * 1024
#: Bytes of each echoed string (error message, node id, pointer, case name).
TEXT_BYTES = 1024
ECHO_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Simulation:
    """A dry run: the run's public outcome (echoed text bounded) and what the designer sees.

    ``program_ast`` is the id-filled program that ran, for drawing the trace on the rule
    tree; it is not part of the answer.
    """

    type: str
    parent_strategy_id: str | None
    outcome: RunOutcome
    trace: list[dict[str, Any]]
    fields: dict[str, Any]
    program_ast: Any = None


@dataclass(frozen=True, slots=True)
class SimulationDefaults:
    """Event data and analytics overrides that make a program's every read have a value."""

    data: dict[str, Any]
    mock_state: dict[str, Any]


def _loader(
    *,
    realm: Realm,
    external_user_id: str,
    external_game_id: str | None,
    external_task_id: str | None,
):
    """Return an analytics loader: the real task's history when one is named, else empty."""
    if not external_task_id:
        return empty_history_analytics
    if not external_game_id:
        raise DomainError(
            "externalTaskId needs its externalGameId.",
            code="VALIDATION_ERROR",
            field="externalGameId",
        )
    task = core_selectors.task_get(
        realm=realm, external_game_id=external_game_id, external_task_id=external_task_id
    )
    now = timezone.now()

    def load(request: AnalyticsRequest) -> Analytics:
        return event_history_load(
            task_id=task.pk,
            realm_id=realm.pk,
            external_user_id=external_user_id,
            request=request,
            now=now,
        ).analytics

    return load


def program_resolve(
    *,
    type: str,
    parent_strategy_id: str | None,
    ast_json: Any,
    definition: StrategyDefinition | None,
) -> ResolvedStrategy:
    """Compile a program of any status with its real type; an invalid one is refused."""
    parent_id = strategy_shape_check(type=type, parent_strategy_id=parent_strategy_id)
    if ast_json is None:
        raise StrategyInvalid([Issue(NO_AST, "There is no program to simulate.", "", None)])
    parent = parent_get(parent_id) if parent_id else None
    try:
        program = compile_program(ast_json, limits=dsl_limits(), parent=parent)
    except DslValidationError as error:
        raise StrategyInvalid(error.issues) from None
    return ResolvedStrategy(
        strategy_id=definition.strategy_id if definition else "custom:simulation",
        version=str(definition.version) if definition else "unsaved",
        kind=StrategyKind.DSL_EXTEND if parent is not None else StrategyKind.DSL_FULL,
        builtin=parent,
        program=program,
        definition_id=str(definition.pk) if definition else None,
    )


def simulation_run(
    *,
    realm: Realm,
    type: str,
    parent_strategy_id: str | None,
    ast_json: Any,
    external_user_id: str = DEFAULT_USER,
    data: Mapping[str, Any] | None = None,
    mock_state: Mapping[str, Any] | None = None,
    external_game_id: str | None = None,
    external_task_id: str | None = None,
    definition: StrategyDefinition | None = None,
) -> Simulation:
    """Run a program on one made-up event and return the result with its trace.

    Analytics come from the named task's real history, or from an empty history; ``mock_state``
    overrides any field path. Engine failures are part of the answer, not raised; data over
    ``DSL_EVENT_DATA_MAX_BYTES`` is refused before anything runs, as an award would be.
    """
    event_data_check(data=data or {})
    strategy = program_resolve(
        type=type, parent_strategy_id=parent_strategy_id, ast_json=ast_json, definition=definition
    )
    event = ScoringEvent(
        external_game_id=external_game_id or "simulation",
        external_task_id=external_task_id or "simulation",
        external_user_id=external_user_id or DEFAULT_USER,
        data=dict(data or {}),
    )
    run = strategy_execute(
        strategy=strategy,
        event=event,
        analytics_loader=_loader(
            realm=realm,
            external_user_id=event.external_user_id,
            external_game_id=external_game_id,
            external_task_id=external_task_id,
        ),
        trace=True,
        mock_state=dict(mock_state or {}),
    )
    # Everything that echoes the input is bounded, so the answer stays small whatever the
    # event data: the trace by the engine, the rest here (cut parts carry "$truncated").
    outcome = run_outcome(run)
    outcome["case_name"] = _bounded(outcome["case_name"], TEXT_BYTES)
    outcome["callback_data"] = _bounded(outcome["callback_data"], ECHO_BYTES)
    outcome["error_message"] = _bounded(outcome["error_message"], TEXT_BYTES)
    outcome["error_node_id"] = _bounded(outcome["error_node_id"], TEXT_BYTES)
    outcome["error_pointer"] = _bounded(outcome["error_pointer"], TEXT_BYTES)
    outcome["duration_ms"] = round(outcome["duration_ms"], 3)
    return Simulation(
        type=strategy.kind,
        parent_strategy_id=strategy.parent_strategy_id,
        outcome=outcome,
        trace=list(run.trace or []),
        fields=_bounded(_jsonable(dict(run.fields or {})), ECHO_BYTES),
        program_ast=strategy.program.ast if strategy.program is not None else None,
    )


def _bounded(value: Any, max_bytes: int) -> Any:
    return json_bounded(value, max_bytes=max_bytes, max_depth=ECHO_DEPTH).value


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in values.items()
        if isinstance(v, (str, int, float, bool, type(None), list, dict))
    }


def _nodes(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


def simulation_defaults(
    *, type: str, parent_strategy_id: str | None, ast_json: Any
) -> SimulationDefaults:
    """Return event data and mockState prefilled for every field the program (and parent) reads.

    A ``data.*`` key compared with a literal starts at that literal, so the designer sees the
    threshold; a bare condition starts true. Analytics start at their empty-history values.
    """
    data: dict[str, Any] = {}
    paths: set[str] = set()
    for node in _nodes(ast_json):
        if node.get("type") == "field" and isinstance(node.get("path"), str):
            paths.add(node["path"])
        if node.get("type") == "compare":
            sides = (node.get("left"), node.get("right"))
            for side, other in (sides, sides[::-1]):
                if (
                    isinstance(side, dict)
                    and side.get("type") == "field"
                    and isinstance(side.get("path"), str)
                    and side["path"].startswith("data.")
                    and isinstance(other, dict)
                    and other.get("type") == "literal"
                ):
                    data.setdefault(side["path"][5:], other.get("value"))
    for path in sorted(paths):
        if path.startswith("data."):
            data.setdefault(path[5:], True)
    analytics = {p for p in paths if p in EMPTY_HISTORY}
    if type == StrategyKind.DSL_EXTEND and parent_strategy_id:
        try:
            parent = parent_get(parent_strategy_id)
            needed = parent.analytics_needed(parent.resolve_variables())
            analytics |= set(needed.paths) & set(EMPTY_HISTORY)
            if needed.recent_windows:
                analytics.add("user.recent_measurements_count")
        except DomainError:
            pass
    mock = {path: EMPTY_HISTORY[path] for path in sorted(analytics)}
    return SimulationDefaults(data=data, mock_state=mock)
