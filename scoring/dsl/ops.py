"""Operators of the language with the strict profile's guards (spec section 5, Q3/Q5-Q8).

Each function raises ``OpFailure`` (code + params); the compiled node turns it into a
``DslExecutionError`` that names itself.

Most operators cost the same whatever their operands. Those whose cost grows with the size of
a value are comparisons (and ``min``, ``max``, ``clamp``) of two strings, two lists or two
objects, ``+`` and ``*`` on strings and lists, and ``int()`` of a string (it trims spaces).
The compiler guards them only where both operands can be such values (a field, or an
expression built from one); a numeric literal operand makes every operator constant-time.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Callable
from typing import Any

from scoring.dsl import errors as E
from scoring.dsl import spec

FLOAT_MAX = sys.float_info.max
#: Types whose operations may cost in proportion to their size.
SIZED = frozenset({str, list, dict, tuple})


class OpFailure(Exception):
    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.params = params


def type_name(value: Any) -> str:
    """Return Python's name of the type, as GAME's error params carry it (the corpus pins them).

    Messages name the kind the DSL's way instead (``spec.kind_name``).
    """
    return type(value).__name__


class Ops:
    """The operator tables for one set of size limits."""

    def __init__(self, max_int: int, max_size: int) -> None:
        self.max_int = max_int
        self.max_size = max_size
        self.arith: dict[str, Callable[[Any, Any], Any]] = {
            "+": self.add,
            "-": self.sub,
            "*": self.mul,
            "/": self.div,
            "min": self.min,
            "max": self.max,
        }

    def checked(self, op: str, a: Any, b: Any, r: Any) -> Any:
        t = type(r)
        if t is int:
            if -self.max_int <= r <= self.max_int:
                return r
            raise OpFailure(
                E.ARITH_OVERFLOW, f"{op} gives an integer beyond ±{self.max_int}", op=op
            )
        if t is float:
            if -FLOAT_MAX <= r <= FLOAT_MAX:
                return r
            raise OpFailure(E.ARITH_OVERFLOW, f"{op} gives a non-finite number", op=op)
        if t is str or t is list:
            if len(r) <= self.max_size:
                return r
            raise OpFailure(E.VALUE_TOO_LARGE, f"{op} gives more than {self.max_size} items", op=op)
        raise self.mismatch(op, a, b)

    @staticmethod
    def mismatch(op: str, a: Any, b: Any) -> OpFailure:
        return OpFailure(
            E.ARITH_TYPE_MISMATCH,
            f"cannot apply {op} to {spec.kind_name(a)} and {spec.kind_name(b)}",
            op=op,
            leftType=type_name(a),
            rightType=type_name(b),
        )

    def add(self, a: Any, b: Any) -> Any:
        try:
            r = a + b
        except OverflowError:
            raise OpFailure(E.ARITH_OVERFLOW, "+ overflows", op="+") from None
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("+", a, b) from None
        t = type(r)
        if t is float:
            if -FLOAT_MAX <= r <= FLOAT_MAX:
                return r
        elif t is int and -self.max_int <= r <= self.max_int:
            return r
        return self.checked("+", a, b, r)

    def concat(self, a: Any, b: Any) -> Any:
        """``+`` where both operands may be strings or lists: the size is checked first."""
        ta = type(a)
        if (ta is str or ta is list) and type(b) is ta and len(a) + len(b) > self.max_size:
            raise OpFailure(E.VALUE_TOO_LARGE, f"+ gives more than {self.max_size} items", op="+")
        return self.add(a, b)

    def sub(self, a: Any, b: Any) -> Any:
        try:
            r = a - b
        except OverflowError:
            raise OpFailure(E.ARITH_OVERFLOW, "- overflows", op="-") from None
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("-", a, b) from None
        t = type(r)
        if t is float:
            if -FLOAT_MAX <= r <= FLOAT_MAX:
                return r
        elif t is int and -self.max_int <= r <= self.max_int:
            return r
        return self.checked("-", a, b, r)

    def mul(self, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if (ta is str or ta is list) and (tb is int or tb is bool):
            self.repeat_guard(len(a), b)
        elif (tb is str or tb is list) and (ta is int or ta is bool):
            self.repeat_guard(len(b), a)
        try:
            r = a * b
        except OverflowError:
            raise OpFailure(E.ARITH_OVERFLOW, "* overflows", op="*") from None
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("*", a, b) from None
        return self.checked("*", a, b, r)

    def repeat_guard(self, length: int, count: int) -> None:
        if count > 0 and length * count > self.max_size:
            raise OpFailure(E.VALUE_TOO_LARGE, f"* gives more than {self.max_size} items", op="*")

    def div(self, a: Any, b: Any) -> Any:
        try:
            r = a / b
        except ZeroDivisionError:
            raise OpFailure(E.ARITH_DIV_BY_ZERO, "division by zero", op="/") from None
        except OverflowError:
            raise OpFailure(E.ARITH_OVERFLOW, "/ overflows", op="/") from None
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("/", a, b) from None
        return self.checked("/", a, b, r)

    def min(self, a: Any, b: Any) -> Any:
        try:
            return b if b < a else a
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("min", a, b) from None

    def max(self, a: Any, b: Any) -> Any:
        try:
            return b if b > a else a
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise self.mismatch("max", a, b) from None

    def to_int(self, x: Any) -> int:
        t = type(x)
        if t is int or t is bool:
            r = int(x)
        elif t is float:
            if not math.isfinite(x):
                raise OpFailure(E.FUNC_CALL_FAILED, f"int() of {x!r}", name="int")
            r = int(x)
        elif t is str:
            text = x.strip(" ")
            if len(text) > 32 or spec.INT_STRING_RE.fullmatch(text) is None:
                raise OpFailure(
                    E.FUNC_CALL_FAILED,
                    "int() accepts only an optional sign and ASCII digits",
                    name="int",
                )
            r = int(text)
        else:
            raise OpFailure(
                E.FUNC_CALL_FAILED,
                f"int() of {spec.kind_name(x)}",
                name="int",
                argType=type_name(x),
            )
        if -self.max_int <= r <= self.max_int:
            return r
        raise OpFailure(
            E.FUNC_CALL_FAILED, f"int() gives an integer beyond ±{self.max_int}", name="int"
        )

    def clamp(self, v: Any, lo: Any, hi: Any) -> Any:
        try:
            m = hi if hi < v else v
            return m if m > lo else lo
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise OpFailure(
                E.FUNC_CALL_FAILED,
                f"clamp() of {spec.kind_name(v)}, {spec.kind_name(lo)}, {spec.kind_name(hi)}",
                name="clamp",
            ) from None


def items_within(value: Any, cap: int) -> int:
    """Return how many items a list or object holds at every depth, or ``cap + 1`` if more.

    A list counts its elements, an object its keys, and each nested list or object its own
    again; strings and numbers are one item. The walk stops once ``cap`` is passed, so it
    costs O(cap) however large the value is.
    """
    total = 0
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        total += len(node)
        if total > cap:
            return cap + 1
        for item in node.values() if type(node) is dict else node:
            kind = type(item)
            if (kind is list or kind is dict or kind is tuple) and item:
                push(item)
    return total


def _guard(fn: Callable[[Any, Any], bool], op: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        try:
            return fn(a, b)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise OpFailure(
                E.COMPARE_TYPE_MISMATCH,
                f"cannot compare {spec.kind_name(a)} {op} {spec.kind_name(b)}",
                op=op,
                leftType=type_name(a),
                rightType=type_name(b),
            ) from None

    return compare


#: Raw comparison functions (they may raise host errors; call sites guard them).
COMPARE_RAW: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    op: _guard(fn, op) for op, fn in COMPARE_RAW.items()
}
