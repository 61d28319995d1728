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

import json
import math
import sys
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

MARKER = "$truncated"
FLOAT_MAX = sys.float_info.max
_SMALL_INT = 2**63
#: Characters of a cut string kept as its preview.
PREVIEW_CHARS = 64
#: The separator between two items (", ") or a key and its value (": ").
_SEPARATOR = 2
#: The most bytes one escaped character takes (a character outside the BMP: two \\uXXXX).
_WIDEST_CHAR = 12


@dataclass(frozen=True, slots=True)
class Bounded:
    """A bounded copy of a value, whether anything was cut, and its size.

    ``size`` is an upper bound of ``len(json.dumps(value))`` with the default separators
    and ASCII escapes; compact separators or UTF-8 output are never larger.
    """

    value: Any
    truncated: bool
    size: int = 0


def text_size(text: str) -> int:
    """Return the bytes ``text`` takes as a JSON string: quotes and escapes included."""
    return len(encode_basestring_ascii(text))


def scalar_size(value: Any) -> int:
    """Return an upper bound of the JSON size of None, a boolean or a number."""
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, float):
        # repr of a float is at most 24 characters; NaN and Infinity are shorter.
        return len(repr(value)) if math.isfinite(value) else 9
    if -(2**63) <= value < 2**63:
        return len(repr(value))
    # Digits of a big integer, from its bit length (rendering it costs more than its size).
    return int(value.bit_length() * 0.30103) + 2


def json_bounded(value: Any, *, max_bytes: int, max_depth: int) -> Bounded:
    """Return ``value`` cut to about ``max_bytes`` of JSON and ``max_depth`` levels.

    Sizes count JSON text as ``json.dumps`` writes it by default (``", "``/``": "``
    separators, non-ASCII and control characters escaped), so the returned ``size`` bounds
    every encoding. Markers may take the size a little past ``max_bytes`` (one per level
    of the value that was cut, plus the cut string's preview). Values that are not JSON
    types are rendered with ``str``. Non-finite floats become ``null``.
    """
    state = _Walk(budget=max(0, max_bytes), max_depth=max(0, max_depth))
    result = state.run(value)
    return Bounded(result, state.truncated, max(0, max_bytes) - state.budget)


def _marker_size(marker: dict[str, Any]) -> int:
    return len(json.dumps(marker))


def _is_container(value: Any) -> bool:
    kind = type(value)
    if kind is list or kind is dict or kind is tuple:
        return True
    return isinstance(value, dict | list | tuple)


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return "string"


# A container being copied: (copy, original, items iterator, depth of its children).
_Frame = tuple[Any, Any, Any, int]


class _Walk:
    def __init__(self, *, budget: int, max_depth: int) -> None:
        self.budget = budget
        self.max_depth = max_depth
        self.truncated = False

    def _leaf(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            # The length check first: a string far over the budget is never scanned.
            if len(value) + 2 <= self.budget:
                size = text_size(value)
                if size <= self.budget:
                    self.budget -= size
                    return value
            return self._cut_string(value)
        if kind is float and not math.isfinite(value):
            self.budget -= 4
            return None
        if value is None or kind is bool or kind is int or kind is float:
            self.budget -= scalar_size(value)
            return value
        if isinstance(value, str):
            return self._leaf(str.__str__(value))
        if isinstance(value, bool | int | float):
            return self._leaf(int(value) if isinstance(value, bool | int) else float(value))
        return self._leaf(str(value))

    def _cut_string(self, value: str) -> dict[str, Any]:
        self.truncated = True
        marker: dict[str, Any] = {
            MARKER: "bytes",
            "type": "string",
            "length": len(value),
            "preview": "",
        }
        room = self.budget - _marker_size(marker)
        preview = value[: max(0, min(PREVIEW_CHARS, room))]
        if text_size(preview) - 2 > room:
            preview = value[: max(0, room // _WIDEST_CHAR)]
        marker["preview"] = preview
        self.budget -= _marker_size(marker)
        return marker

    def run(self, root: Any) -> Any:
        if not _is_container(root):
            return self._leaf(root)
        output, children = self._open(root, depth=1)
        if children is None:
            return output
        # The fill methods share the frame's iterator: they leave it to descend into a child
        # and pick up where they stopped once the child is done.
        stack: list[_Frame] = [(output, root, children, 2)]
        while stack:
            container, original, items, depth = stack[-1]
            if type(container) is dict:
                child_frame = self._fill_dict(container, original, items, depth)
            else:
                child_frame = self._fill_list(container, original, items, depth)
            if child_frame is None:
                stack.pop()
            else:
                stack.append(child_frame)
        return output

    def _fill_dict(
        self, container: dict[str, Any], original: Any, items: Any, depth: int
    ) -> _Frame | None:
        """Copy entries until the budget runs out or a child container must be descended."""
        for key, child in items:
            text = key if type(key) is str else str(key)
            cost = len(text) + 2 + 2 * _SEPARATOR
            if cost <= self.budget:
                cost = text_size(text) + 2 * _SEPARATOR
            if cost > self.budget:
                self._close_cut(container, omitted=len(original) - len(container))
                return None
            self.budget -= cost
            if _is_container(child):
                copied, grandchildren = self._open(child, depth=depth)
                container[text] = copied
                if grandchildren is not None:
                    return (copied, child, grandchildren, depth + 1)
            else:
                container[text] = self._leaf(child)
        return None

    def _fill_list(
        self, container: list[Any], original: Any, items: Any, depth: int
    ) -> _Frame | None:
        """Copy items until the budget runs out or a child container must be descended."""
        budget = self.budget
        append = container.append
        for child in items:
            if budget <= 0:
                self.budget = budget
                self._close_cut(container, omitted=len(original) - len(container))
                return None
            # Plain numbers, booleans and null inline: they are most of a big list.
            kind = type(child)
            if kind is int and -_SMALL_INT < child < _SMALL_INT:
                budget -= len(repr(child)) + _SEPARATOR
                append(child)
                continue
            if kind is float and -FLOAT_MAX <= child <= FLOAT_MAX:
                budget -= len(repr(child)) + _SEPARATOR
                append(child)
                continue
            if child is None or kind is bool:
                budget -= 5 + _SEPARATOR
                append(child)
                continue
            self.budget = budget - _SEPARATOR
            if _is_container(child):
                copied, grandchildren = self._open(child, depth=depth)
                append(copied)
                if grandchildren is not None:
                    return (copied, child, grandchildren, depth + 1)
            else:
                append(self._leaf(child))
            budget = self.budget
        self.budget = budget
        return None

    def _open(self, value: Any, *, depth: int) -> tuple[Any, Any]:
        length = len(value)
        if depth > self.max_depth and length:
            self.truncated = True
            marker = {MARKER: "depth", "type": _type_name(value), "length": length}
            self.budget -= _marker_size(marker)
            return marker, None
        self.budget -= 2
        if isinstance(value, dict):
            return {}, iter(value.items())
        return [], iter(value)

    def _close_cut(self, container: Any, *, omitted: int) -> None:
        self.truncated = True
        if isinstance(container, dict):
            note = {"omitted": omitted}
            container[MARKER] = note
            self.budget -= text_size(MARKER) + _marker_size(note) + 2 * _SEPARATOR
        else:
            marker = {MARKER: "bytes", "omitted": omitted}
            container.append(marker)
            self.budget -= _marker_size(marker) + _SEPARATOR
