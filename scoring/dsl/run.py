"""Run a compiled strategy for one event: precompute, walk, format (spec sections 4 and 6).

One wall-clock budget covers the whole event: the analytics load, both DSL phases and the
parent built-in (Q16).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Literal

from scoring.builtins.base import (
    Analytics,
    AnalyticsRequest,
    BuiltinStrategy,
    ScoringEvent,
    StrategyResult,
)
from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl.bounded import json_bounded
from scoring.dsl.compile import (
    CompiledProgram,
    NodeInfo,
    RunState,
    points_error,
)
from scoring.dsl.trace import BRACKETS
from scoring.dsl.validate import check_parent_variables

Status = Literal["ok", "error", "timeout", "limit"]
AnalyticsLoader = Callable[[AnalyticsRequest], Analytics]

_STATIC_GETTERS: dict[str, Callable[[ScoringEvent], Any]] = {
    "externalGameId": lambda event: event.external_game_id,
    "externalTaskId": lambda event: event.external_task_id,
    "externalUserId": lambda event: event.external_user_id,
}
_PARENT_INFO = NodeInfo(None, "", "parent")


@dataclass(slots=True)
class DslResult:
    """Everything one run decided and what it cost."""

    points: int | float | None
    case_name: str | None
    callback_data: dict[str, Any]
    status: Status = "ok"
    error: E.DslError | None = None
    vetoed: bool = False
    #: Whether an ``assign_points`` ran (DSL_FULL); false means the no-match outcome (Q18).
    matched: bool = False
    parent_called: bool = False
    parent_received_data: dict[str, Any] | None = None
    nodes_executed: int = 0
    duration_ms: float = 0.0
    #: Field values the run read, after its own writes (for the execution log).
    fields: dict[str, Any] = field(default_factory=dict)
    trace: list[dict[str, Any]] | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def error_code(self) -> str | None:
        return self.error.code if self.error else None

    @property
    def node_id(self) -> str | None:
        return self.error.node_id if self.error else None

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise self.error

    def as_strategy_result(self) -> StrategyResult:
        self.raise_for_status()
        assert self.points is not None, "a run without an error has scored"
        return StrategyResult(self.points, self.case_name, self.callback_data)


class _EmptyAnalytics:
    def get(self, path: str) -> Any:  # noqa: ARG002 - Analytics protocol
        return None

    def recent_count(self, seconds: int) -> int:  # noqa: ARG002 - Analytics protocol
        return 0


class _MockedAnalytics:
    """Analytics with ``mockState`` overrides, so a simulated parent sees them too."""

    def __init__(self, base: Analytics, mock: Mapping[str, Any]) -> None:
        self.base = base
        self.mock = mock

    def get(self, path: str) -> Any:
        if path in self.mock:
            return self.mock[path]
        return self.base.get(path)

    def recent_count(self, seconds: int) -> int:
        if spec.RECENT_PATH in self.mock:
            return self.mock[spec.RECENT_PATH]
        return self.base.recent_count(seconds)


def run_program(
    program: CompiledProgram,
    *,
    event: ScoringEvent,
    mode: str = "full",
    analytics_loader: AnalyticsLoader | None = None,
    parent: BuiltinStrategy | None = None,
    mock_state: Mapping[str, Any] | None = None,
    trace: bool = False,
) -> DslResult:
    """Score ``event`` with ``program``; never raises a DslError, the result carries it.

    ``analytics_loader`` is called at most once with everything the event needs (the AST's
    analytics paths and, in extend mode, the parent's). ``mock_state`` maps field paths to
    values that win over computed ones (simulation). Exceptions of the loader propagate.
    """
    start = perf_counter()
    limits = program.limits
    st = RunState()
    st.n = 0
    st.max_nodes = max_nodes = limits.run_nodes
    st.interval = interval = limits.clock_interval
    st.cap = max_nodes if max_nodes < interval else interval
    st.deadline = start + limits.timeout_ms / 1000.0
    st.points = 0
    st.case = None
    st.cb = {}
    st.matched = False
    st.vetoed = False
    # Untraced closures never append; the result says None rather than an empty trace.
    st.trace = []
    if trace:
        budget = limits.trace_bytes
        st.tb = sys.maxsize if budget is None else max(0, budget - BRACKETS)
        st.tv = program.trace_value_bytes
    st.v = {}
    st.received = None
    error = None
    try:
        if limits.timeout_ms <= 0:
            raise E.DslTimeoutError(E.TIMEOUT, "the strategy ran out of time")
        if mode == "full" or mode == "DSL_FULL":
            _run_full(program, st, event, analytics_loader, mock_state, trace)
        elif mode == "extend" or mode == "DSL_EXTEND":
            _run_extend(program, st, event, analytics_loader, parent, mock_state, trace)
        else:
            raise E.DslExecutionError(E.UNKNOWN_MODE, f"unknown strategy mode {mode!r}")
        if st.cb and limits.callback_bytes is not None:
            _check_callback_size(st.cb, limits.callback_bytes)
        end = perf_counter()
        if end > st.deadline:
            raise E.DslTimeoutError(E.TIMEOUT, "the strategy ran out of time")
    except E.DslError as exc:
        end = perf_counter()
        error = exc
    except RecursionError:
        end = perf_counter()
        error = E.DslLimitError(E.RUNTIME_DEPTH_EXCEEDED, "the strategy nests too deeply")
    if error is None:
        return DslResult(
            st.points,
            st.case,
            st.cb,
            "ok",
            None,
            st.vetoed,
            st.matched,
            st.received is not None,
            st.received,
            st.n,
            (end - start) * 1000.0,
            st.v,
            st.trace if trace else None,
        )
    return DslResult(
        None,
        None,
        {},
        error.status,
        error,
        False,
        False,
        st.received is not None,
        st.received,
        st.n,
        (end - start) * 1000.0,
        st.v,
        st.trace if trace else None,
    )


def _precompute(
    program: CompiledProgram,
    st: RunState,
    event: ScoringEvent,
    data: Mapping[str, Any],
    analytics: Analytics | None,
    mock_state: Mapping[str, Any] | None,
) -> None:
    v = st.v
    for path, _ in program.static_paths:
        v[path] = _STATIC_GETTERS[path](event)
    for path, key in program.data_paths:
        v[path] = data.get(key)
    if analytics is not None:
        for path in program.analytics_paths:
            v[path] = analytics.get(path)
        if program.reads_recent:
            v[spec.RECENT_PATH] = analytics.recent_count(spec.RECENT_WINDOW)
    if mock_state:
        v.update(mock_state)


def _load(
    request: AnalyticsRequest,
    loader: AnalyticsLoader | None,
    mock_state: Mapping[str, Any] | None,
    st: RunState,
) -> Analytics | None:
    if request.is_empty:
        return None
    if mock_state:
        paths = request.paths - mock_state.keys()
        windows = request.recent_windows if spec.RECENT_PATH not in mock_state else frozenset()
        request = AnalyticsRequest(paths=paths, recent_windows=windows)
    if request.is_empty:
        analytics: Analytics = _EmptyAnalytics()
    elif loader is None:
        raise E.DslExecutionError(
            E.NO_ANALYTICS_LOADER, "analytics are needed but no loader was given"
        )
    else:
        analytics = loader(request)
        st.check_clock()
    return _MockedAnalytics(analytics, mock_state) if mock_state else analytics


def _event_data(event: ScoringEvent) -> Mapping[str, Any]:
    data = event.data
    return data if isinstance(data, Mapping) else {}


def _run_rules(rules: tuple, st: RunState) -> bool:
    return any(rule(st) for rule in rules)


def _run_full(
    program: CompiledProgram,
    st: RunState,
    event: ScoringEvent,
    loader: AnalyticsLoader | None,
    mock_state: Mapping[str, Any] | None,
    trace: bool,
) -> None:
    sections = program.traced_sections if trace else program.sections
    analytics = None
    if program.needs_analytics:
        analytics = _load(program.analytics_request, loader, mock_state, st)
    data = event.data
    _precompute(
        program, st, event, data if isinstance(data, Mapping) else {}, analytics, mock_state
    )
    st.working = {}
    for rule in sections.rules:
        if rule(st):
            return
    if sections.default is not None:
        sections.default(st)


#: Callback data this small cannot exceed any budget of 49 KiB or more: no walk needed.
_SMALL_CALLBACK_KEYS = 32
_SMALL_CALLBACK_TEXT = 128


def _check_callback_size(callback: dict[str, Any], max_bytes: int) -> None:
    """Refuse callback data over ``max_bytes`` of JSON, at a cost bounded by the budget.

    A program may copy the event's data into many callback keys: without this an award
    would store and answer keys x input bytes.
    """
    if len(callback) <= _SMALL_CALLBACK_KEYS and max_bytes >= 49 * 1024:
        for key, value in callback.items():
            if len(key) > _SMALL_CALLBACK_TEXT:
                break
            if isinstance(value, str):
                if len(value) > _SMALL_CALLBACK_TEXT:
                    break
            elif value is not None and not isinstance(value, bool | int | float):
                break
        else:
            return
    if json_bounded(callback, max_bytes=max_bytes, max_depth=sys.maxsize).truncated:
        raise E.DslLimitError(
            E.VALUE_TOO_LARGE,
            f"the callback data is larger than {max_bytes} bytes of JSON",
            params={"maxBytes": max_bytes},
        )


def _parent_variables(program: CompiledProgram, parent: BuiltinStrategy) -> dict[str, Any]:
    overrides = program.parent_variables
    checked = program.parent_key is not None and program.parent_key[0] == parent.id
    if overrides and not checked:
        issues = check_parent_variables(overrides, parent, pointer="", node_id=None)
        if issues:
            raise E.DslValidationError(issues)
    return parent.resolve_variables(overrides)


def _run_extend(
    program: CompiledProgram,
    st: RunState,
    event: ScoringEvent,
    loader: AnalyticsLoader | None,
    parent: BuiltinStrategy | None,
    mock_state: Mapping[str, Any] | None,
    trace: bool,
) -> None:
    sections = program.traced_sections if trace else program.sections
    if parent is None:
        raise E.DslExecutionError(E.PARENT_REQUIRED, "an extend strategy needs its parent")
    variables = _parent_variables(program, parent)
    request = program.analytics_request | parent.analytics_needed(variables)
    analytics = _load(request, loader, mock_state, st)
    data = _event_data(event)
    _precompute(program, st, event, data, analytics, mock_state)
    st.working = dict(data)
    if sections.pre:
        _run_rules(sections.pre, st)
        if st.vetoed:
            return
    pre_callback = st.cb
    st.check_clock()
    received = dict(st.working)
    st.received = received
    parent_event = ScoringEvent(
        external_game_id=event.external_game_id,
        external_task_id=event.external_task_id,
        external_user_id=event.external_user_id,
        data=dict(received),
    )
    try:
        raw = parent.score(
            event=parent_event,
            analytics=analytics if analytics is not None else _EmptyAnalytics(),
            variables=variables,
        )
    except E.DslError:
        raise
    except Exception as exc:
        raise E.DslExecutionError(
            E.PARENT_FAILED,
            f"the parent strategy {parent.id!r} failed: {type(exc).__name__}",
            params={"parent": parent.id, "exception": type(exc).__name__},
        ) from exc
    st.check_clock()
    points, case_name, callback = _normalise_parent(raw, program.limits.max_int)
    st.points = points
    st.case = case_name
    st.cb = {**pre_callback, **callback}
    st.matched = True
    if sections.post:
        v = st.v
        if not mock_state or "parent.points" not in mock_state:
            v["parent.points"] = points
        if not mock_state or "parent.case_name" not in mock_state:
            v["parent.case_name"] = case_name
        _run_rules(sections.post, st)


def _normalise_parent(raw: Any, max_int: int) -> tuple[int | float, str | None, dict[str, Any]]:
    """Apply spec 6.3 and the one points rule of Q13 to what the parent returned."""
    callback: Any
    if isinstance(raw, StrategyResult):
        points, case_name, callback = raw.points, raw.case_name, raw.callback_data
    elif isinstance(raw, (tuple, list)) and len(raw) in (2, 3):
        points, case_name = raw[0], raw[1]
        callback = raw[2] if len(raw) == 3 else None
    else:
        points, case_name, callback = 0, None, None
    if points is None:
        points = 0
    error = points_error(_PARENT_INFO, points, E.PARENT_POINTS_NOT_NUMBER, max_int)
    if error is not None:
        raise error
    if case_name is not None and not isinstance(case_name, str):
        raise E.DslExecutionError(
            E.PARENT_CASE_NAME_NOT_STRING,
            f"the parent returned a case name that is a {spec.kind_name(case_name)}",
        )
    return points, case_name, dict(callback) if isinstance(callback, Mapping) and callback else {}
