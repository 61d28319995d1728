"""Bound a JSON value in bytes and depth, replacing what is cut by an explicit marker.

Whatever leaves a run for storage or display (a trace, the event data of an execution-log
row, a simulate response) goes through :func:`json_bounded`, so that its cost is
proportional to the budget and never to the input: a 2 MB list compared in a loop, or a
document nested 990 deep, comes out as a few kilobytes and a handful of levels.

The walk is iterative (a deep value cannot exhaust the interpreter's stack) and stops
reading once the byte budget is spent. A cut part is replaced by a marker object::

    {"$truncated": "depth", "type": "list", "length": 3}
    {"$truncated": "bytes", "type": "string", "length": 120000, "preview": "abc..."}
    {"$truncated": "bytes", "omitted": 17}      (the last item of a cut list)
    "$truncated": {"omitted": 4}                (a key of a cut object)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MARKER = "$truncated"
#: Characters of a cut string kept as its preview.
PREVIEW_CHARS = 64


@dataclass(frozen=True, slots=True)
class Bounded:
    """A bounded copy of a value and whether anything was cut."""

    value: Any
    truncated: bool


def _scalar_size(value: Any) -> int:
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int | float):
        return len(repr(value)) if (not isinstance(value, float) or math.isfinite(value)) else 4
    return 2


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return "string"


def json_bounded(value: Any, *, max_bytes: int, max_depth: int) -> Bounded:
    """Return ``value`` cut to about ``max_bytes`` of JSON and ``max_depth`` levels.

    Sizes are estimated as JSON text (a string counts its UTF-8 length; escapes are not
    counted, so the real encoding can be somewhat larger). Values that are not JSON types
    are rendered with ``str``. Non-finite floats become ``null``.
    """
    state = _Walk(budget=max(0, max_bytes), max_depth=max(0, max_depth))
    result = state.run(value)
    return Bounded(result, state.truncated)


class _Walk:
    def __init__(self, *, budget: int, max_depth: int) -> None:
        self.budget = budget
        self.max_depth = max_depth
        self.truncated = False

    def _leaf(self, value: Any) -> Any:
        if isinstance(value, str):
            size = len(value.encode("utf-8", "surrogatepass")) + 2
            if size <= self.budget:
                self.budget -= size
                return value
            self.truncated = True
            preview = value[: min(PREVIEW_CHARS, max(0, self.budget - 80))]
            self.budget = max(0, self.budget - 80 - len(preview))
            return {MARKER: "bytes", "type": "string", "length": len(value), "preview": preview}
        if isinstance(value, float) and not math.isfinite(value):
            self.budget -= 4
            return None
        if value is None or isinstance(value, bool | int | float):
            self.budget -= _scalar_size(value)
            return value
        return self._leaf(str(value))

    def run(self, root: Any) -> Any:
        if not isinstance(root, dict | list | tuple):
            return self._leaf(root)
        output, children = self._open(root, depth=1)
        if children is None:
            return output
        # Each frame: (container out, the original, its items iterator, children's depth).
        stack: list[tuple[Any, Any, Any, int]] = [(output, root, children, 2)]
        while stack:
            container, original, items, depth = stack[-1]
            try:
                key, child = next(items)
            except StopIteration:
                stack.pop()
                continue
            if self.budget <= 0:
                self._close_cut(container, omitted=len(original) - len(container))
                stack.pop()
                continue
            if isinstance(container, dict):
                key = key if isinstance(key, str) else str(key)
                self.budget -= len(key.encode("utf-8", "surrogatepass")) + 4
            else:
                self.budget -= 1
            if isinstance(child, dict | list | tuple):
                copied, grandchildren = self._open(child, depth=depth)
                self._put(container, key, copied)
                if grandchildren is not None:
                    stack.append((copied, child, grandchildren, depth + 1))
            else:
                self._put(container, key, self._leaf(child))
        return output

    def _open(self, value: Any, *, depth: int) -> tuple[Any, Any]:
        length = len(value)
        if depth > self.max_depth and length:
            self.truncated = True
            self.budget -= 48
            return {MARKER: "depth", "type": _type_name(value), "length": length}, None
        self.budget -= 2
        if isinstance(value, dict):
            return {}, iter(value.items())
        return [], iter(enumerate(value))

    @staticmethod
    def _put(container: Any, key: Any, value: Any) -> None:
        if isinstance(container, dict):
            container[key] = value
        else:
            container.append(value)

    def _close_cut(self, container: Any, *, omitted: int) -> None:
        self.truncated = True
        if isinstance(container, dict):
            container[MARKER] = {"omitted": omitted}
        else:
            container.append({MARKER: "bytes", "omitted": omitted})
