"""A condition alone, outside a strategy: validated, compiled and run like a rule's ``when``.

Badges use it: a condition over the event's ``data.*`` and a player's state, which the caller
hands in as plain values (``player.points``, ``player.awards``, ``player.level``,
``player.streak`` and ``player.tasks.<externalTaskId>.awards``). The node checks, the
compiled closures, the typed errors with their JSON pointers (relative to the condition) and
the budgets are the strategies' own; only the readable fields differ.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl.compile import Closure, RunState, _Builder, content_hash
from scoring.dsl.limits import DslLimits
from scoring.dsl.ops import Ops
from scoring.dsl.validate import copy_tree
from scoring.dsl.validate_nodes import NodeCapReached, NodeValidator

#: The player's values a condition may read, besides ``PLAYER_TASK_PATH_RE``.
PLAYER_PATHS = frozenset({"player.points", "player.awards", "player.level", "player.streak"})
#: A player's award count on one task of the game, by the task's external id.
PLAYER_TASK_PATH_RE = re.compile(r"player\.tasks\.(.+)\.awards", re.DOTALL)


def condition_path_allowed(path: str) -> bool:
    """Return whether a condition may read ``path``: event data or the player's state."""
    return (
        path in PLAYER_PATHS
        or spec.DATA_PATH_RE.fullmatch(path) is not None
        or PLAYER_TASK_PATH_RE.fullmatch(path) is not None
    )


def condition_task_id(path: str) -> str | None:
    """Return the external task id of a ``player.tasks.<id>.awards`` path, else None."""
    match = PLAYER_TASK_PATH_RE.fullmatch(path)
    return match.group(1) if match else None


class _ConditionValidator(NodeValidator):
    current_section = "condition"

    def field_path(self, path: Any, ptr: str, nid: str) -> None:
        if not isinstance(path, str) or not path:
            super().field_path(path, ptr, nid)
        elif condition_path_allowed(path):
            self.paths.add(path)
        else:
            self.issue(
                E.FIELD_PATH_NOT_ALLOWED,
                f"{path!r} is not a readable field (use data.*, player.points, player.awards, "
                "player.level, player.streak or player.tasks.<externalTaskId>.awards)",
                ptr,
                nid,
                path=path,
            )


@dataclass(frozen=True, slots=True, eq=False)
class CompiledCondition:
    """A validated condition ready to run many times, and the fields it reads."""

    ast: Any
    content_hash: str
    limits: DslLimits
    paths: frozenset[str]
    run: Closure


def condition_validate(condition: Any, *, limits: DslLimits | None = None) -> tuple[Any, list]:
    """Return the id-filled copy of ``condition`` and its issues, in check order."""
    limits = limits or DslLimits()
    try:
        filled = copy_tree(condition)
    except RecursionError:
        return condition, [E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)]
    walker = _ConditionValidator(limits, None)
    try:
        walker.condition(filled, 1, "c", 0, "", "c")
    except NodeCapReached:
        pass
    except RecursionError:
        walker.issues.append(
            E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)
        )
    return filled, walker.issues


_CACHE: OrderedDict[tuple, CompiledCondition] = OrderedDict()
_CACHE_SIZE = 1024


def condition_compile(condition: Any, *, limits: DslLimits | None = None) -> CompiledCondition:
    """Validate and compile ``condition``; cached by content hash.

    Raises ``DslValidationError`` carrying every issue, pointers relative to the condition.
    """
    limits = limits or DslLimits()
    digest = content_hash(condition)
    key = (digest, limits)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    filled, issues = condition_validate(condition, limits=limits)
    if issues:
        raise E.DslValidationError(issues)
    builder = _Builder(limits, Ops(limits.max_int, limits.max_size), traced=False)
    try:
        run = builder.cond(filled, 1, "", None, ())
    except RecursionError:
        raise E.DslValidationError(
            [E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)]
        ) from None
    compiled = CompiledCondition(
        ast=filled,
        content_hash=digest,
        limits=limits,
        paths=frozenset(builder.paths),
        run=run,
    )
    _CACHE[key] = compiled
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return compiled


def condition_holds(
    condition: CompiledCondition,
    *,
    data: Mapping[str, Any],
    values: Mapping[str, Any],
    deadline: float,
) -> bool:
    """Return whether ``condition`` holds (spec 5.5 truthiness) for ``data`` and ``values``.

    ``values`` answers the ``player.*`` paths the condition reads (a task it does not know
    reads 0). ``deadline`` is a ``perf_counter`` time: the run shares the caller's budget.
    Raises the engine's ``DslError`` (with node id and pointer) when the run fails.
    """
    limits = condition.limits
    st = RunState()
    st.n = 0
    st.max_nodes = max_nodes = limits.run_nodes
    st.interval = interval = limits.clock_interval
    st.cap = max_nodes if max_nodes < interval else interval
    st.deadline = deadline
    st.points = 0
    st.case = None
    st.cb = {}
    st.matched = False
    st.vetoed = False
    st.trace = []
    st.received = None
    st.working = {}
    v: dict[str, Any] = {}
    for path in condition.paths:
        match = spec.DATA_PATH_RE.fullmatch(path)
        if match is not None:
            v[path] = data.get(match.group(1))
        elif path in values:
            v[path] = values[path]
        elif PLAYER_TASK_PATH_RE.fullmatch(path) is not None:
            v[path] = 0
    st.v = v
    if perf_counter() > deadline:
        raise E.DslTimeoutError(E.TIMEOUT, "the condition ran out of time")
    try:
        held = bool(condition.run(st))
    except RecursionError:
        raise E.DslLimitError(E.RUNTIME_DEPTH_EXCEEDED, "the condition nests too deeply") from None
    if perf_counter() > deadline:
        raise E.DslTimeoutError(E.TIMEOUT, "the condition ran out of time")
    return held
