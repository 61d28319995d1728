"""Trace entries of spec section 10, built only by traced runs, within a byte budget.

A traced run starts with ``DslLimits.trace_bytes`` to spend (``RunState.tb``). Every entry
is charged its JSON size before it is kept: a value that is a string, list or object is
first cut to ``DslLimits.trace_value_bytes`` by :func:`~scoring.dsl.bounded.json_bounded`.
The first entry that no longer fits ends the recording: the trace then ends with one marker,
``{"$truncated": "bytes", "omitted": N}``, counting the entries left out, so building a
trace costs O(budget) whatever the input and the program.
"""

from __future__ import annotations

from typing import Any, TypedDict

from scoring.dsl.bounded import MARKER, json_bounded, scalar_size, text_size

#: Levels of a value kept in a trace entry.
VALUE_DEPTH = 16
#: Bytes of ``, "branch": ""`` around a branch label (labels are ASCII).
BRANCH_COST = 14
#: Bytes a float takes at most (``repr``); also charged for a boolean, null or small int.
NUMBER_BYTES = 24
#: Integers within ±SMALL_INT take at most NUMBER_BYTES.
SMALL_INT = 10**16
#: Bytes of the trace's own brackets.
BRACKETS = 2
#: Bytes of a cut value above which recording it counts as work: the clock is read after.
CLOCK_BYTES = 1024


class TraceEntry(TypedDict, total=False):
    nodeId: str | None
    type: str
    value: Any
    branch: str


def entry(node_id: str | None, node_type: str, value: Any, branch: str | None = None) -> dict:
    """Return one trace entry; ``branch`` only when the node took one."""
    if branch is None:
        return {"nodeId": node_id, "type": node_type, "value": value}
    return {"nodeId": node_id, "type": node_type, "value": value, "branch": branch}


def entry_cost(node_id: str | None, node_type: str) -> int:
    """Return the JSON bytes of an entry but its value and branch, with its separator.

    ``{"nodeId": ``, ``, "type": ``, ``, "value": ``, ``}`` and ``, ``: 35 bytes.
    """
    return 35 + (4 if node_id is None else text_size(node_id)) + text_size(node_type)


def value_cost(value: Any, cap: int | None) -> tuple[Any, int]:
    """Return ``value`` as a trace keeps it (cut to ``cap`` bytes) and its JSON bytes."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float:
        return value, scalar_size(value)
    if cap is None:
        return value, 0
    bounded = json_bounded(value, max_bytes=cap, max_depth=VALUE_DEPTH)
    return bounded.value, bounded.size


def cut(st: Any) -> None:
    """Stop recording; the trace ends with one marker counting the entries left out."""
    if st.tb < 0:
        st.trace[-1]["omitted"] += 1
        return
    st.tb = -1
    st.trace.append({MARKER: "bytes", "omitted": 1})


def put(st: Any, base: int, info: Any, value: Any, branch: str | None = None) -> None:
    """Record ``value`` for the node ``info`` if it fits in what is left of the budget."""
    left = st.tb
    if left < 0:
        st.trace[-1]["omitted"] += 1
        return
    kind = type(value)
    if (
        kind is float
        or kind is bool
        or value is None
        or (kind is int and -SMALL_INT < value < SMALL_INT)
    ):
        size = NUMBER_BYTES
    elif kind is int:
        size = scalar_size(value)
    elif st.tv is None:
        size = 0
    else:
        bounded = json_bounded(value, max_bytes=min(st.tv, left - base), max_depth=VALUE_DEPTH)
        value, size = bounded.value, bounded.size
        if size > CLOCK_BYTES:
            st.check_clock(info)
    cost = base + size
    if branch is not None:
        cost += BRANCH_COST + len(branch)
    if cost > left:
        cut(st)
        return
    st.tb = left - cost
    if branch is None:
        st.trace.append({"nodeId": info.id, "type": info.type, "value": value})
    else:
        st.trace.append({"nodeId": info.id, "type": info.type, "value": value, "branch": branch})
