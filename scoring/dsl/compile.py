"""Compile a validated AST once into a tree of Python closures, cached by content hash.

No ``eval``/``exec`` and no attribute lookups driven by AST strings: every node type,
operator and function is resolved through dict dispatch on allow-listed names at compile
time. Untraced closures are specialised on their operands (a ``compare`` of a field with a
literal is one closure) and allocate nothing; traced closures are a separate tree built on
the first traced run.

Node budget (Q22): every typed node below the program (rules, conditions, expressions,
statements) counts once when it is visited; the program root and ``else_if`` branch objects
are free. A straight-line block (a statement with its value, a comparison with its operands,
a rule with a plain condition) is charged in one step before it runs.

Work budget: an operation whose cost grows with its operands (see ``ops``) is compiled with a
guard only where both operands can be strings, lists or objects, so numeric code pays
nothing. The guard refuses to compare two lists (or two objects) that both hold more than
``max_size`` items (``DSL_VALUE_TOO_LARGE``) and reads the clock after any such operation on
more than ``CLOCK_ITEMS`` items or characters, so that the run stops on time.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, NamedTuple

from scoring.builtins.base import AnalyticsRequest, BuiltinStrategy
from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl import trace as T
from scoring.dsl.limits import DslLimits
from scoring.dsl.ops import (
    COMPARE_RAW,
    FLOAT_MAX,
    SIZED,
    OpFailure,
    Ops,
    items_within,
    type_name,
)
from scoring.dsl.validate import pointer_join, validate_ast

Closure = Callable[["RunState"], Any]

CONST = 0
FIELD = 1
FN = 2

#: Items (or characters) above which a size-dependent operation is followed by a clock read.
CLOCK_ITEMS = 1024
_EQUALITY = frozenset({"==", "!="})


class NodeInfo(NamedTuple):
    id: str | None
    pointer: str
    type: str


class RunState:
    """Mutable state of one event's run; closures read and write it."""

    # ``sizes`` (item counts of the values compared, by id) is created on first use;
    # ``tb``/``tv`` (trace bytes left, a value's share) exist in traced runs only.
    __slots__ = (
        "cap",
        "case",
        "cb",
        "deadline",
        "interval",
        "matched",
        "max_nodes",
        "n",
        "points",
        "received",
        "sizes",
        "tb",
        "trace",
        "tv",
        "v",
        "vetoed",
        "working",
    )
    cap: int
    case: str | None
    cb: dict[str, Any]
    deadline: float
    interval: int
    matched: bool
    max_nodes: int
    n: int
    points: int | float
    received: Any
    sizes: dict[int, tuple[Any, int]]
    tb: int
    trace: list[dict[str, Any]]
    tv: int | None
    v: dict[str, Any]
    vetoed: bool
    working: dict[str, Any]

    def over(self, block: tuple[NodeInfo, ...], before: int) -> None:
        """Handle a passed checkpoint: the node cap, or time to look at the clock."""
        if self.n > self.max_nodes:
            index = min(max(self.max_nodes - before, 0), len(block) - 1)
            info = block[index] if block else None
            raise E.DslLimitError(
                E.RUNTIME_NODE_COUNT_EXCEEDED,
                f"the run visited more than {self.max_nodes} nodes",
                node_id=info.id if info else None,
                pointer=info.pointer if info else None,
                params={"max": self.max_nodes},
            )
        self.check_clock(block[0] if block else None)
        self.cap = min(self.max_nodes, self.n + self.interval)

    def check_clock(self, info: NodeInfo | None = None) -> None:
        """Raise ``DSL_TIMEOUT`` (naming ``info``, the node at work) once the budget is spent."""
        if perf_counter() > self.deadline:
            raise E.DslTimeoutError(
                E.TIMEOUT,
                "the strategy ran out of time",
                node_id=info.id if info else None,
                pointer=info.pointer if info else None,
            )


def _exec_error(info: NodeInfo | None, code: str, message: str, **params: Any) -> E.DslError:
    node_id = info.id if info else None
    cls = E.DslLimitError if code == E.RUNTIME_DEPTH_EXCEEDED else E.DslExecutionError
    return cls(
        code,
        message,
        node_id=node_id,
        pointer=info.pointer if info else None,
        params={"nodeId": node_id, **params} if info else params,
    )


def _op_error(info: NodeInfo, failure: OpFailure) -> E.DslError:
    return _exec_error(info, failure.code, failure.message, **failure.params)


def _compare_error(info: NodeInfo, op: str, a: Any, b: Any) -> E.DslError:
    return _exec_error(
        info,
        E.COMPARE_TYPE_MISMATCH,
        f"cannot compare {spec.kind_name(a)} {op} {spec.kind_name(b)}",
        op=op,
        leftType=type_name(a),
        rightType=type_name(b),
    )


def _missing_field(info: NodeInfo, path: str) -> E.DslError:
    return _exec_error(
        info, E.FIELD_NOT_PRECOMPUTED, f"field {path!r} has no value here", path=path
    )


def _named(value: Any) -> str:
    """Name an operator, function or node type in a message: quoted, else by its kind."""
    return repr(value) if isinstance(value, str) else spec.kind_name(value)


def _raiser(error: E.DslError) -> Closure:
    def fail(_st: RunState) -> Any:
        raise error

    return fail


def _items(st: RunState, value: Any, cap: int) -> int:
    """Return ``items_within(value, cap)``, measured once per value and run."""
    try:
        sizes = st.sizes
    except AttributeError:
        sizes = st.sizes = {}
    seen = sizes.get(id(value))
    # The value is kept with its count, so that its id cannot be reused during the run.
    if seen is not None and seen[0] is value:
        return seen[1]
    count = items_within(value, cap)
    sizes[id(value)] = (value, count)
    return count


def _weight(st: RunState, info: NodeInfo, op: str, a: Any, b: Any, cap: int) -> int:
    """Return how many items comparing ``a`` with ``b`` may visit; refuse when too many.

    Two strings cost their length (the comparison is a memory scan). Two lists, or two
    objects for ``==``/``!=``, cost the smaller one's items at every depth; when both hold
    more than ``cap``, the comparison is refused. Other pairs cost nothing: they are
    decided at once (different types, ordering objects) or item by item by identity.
    """
    ta = type(a)
    if ta is str:
        return len(a) if type(b) is str else 0
    if ta is not type(b) or ta not in SIZED:
        return 0
    if a is b:
        return len(a)
    if ta is dict and op not in _EQUALITY:
        return 0
    left = _items(st, a, cap)
    if left <= cap:
        return left
    right = _items(st, b, cap)
    if right <= cap:
        return right
    raise _exec_error(
        info,
        E.VALUE_TOO_LARGE,
        f"{op} would compare two values of more than {cap} items each",
        op=op,
        max=cap,
    )


def _sized_compare(
    st: RunState,
    raw: Callable[[Any, Any], bool],
    op: str,
    a: Any,
    b: Any,
    info: NodeInfo,
    cap: int,
) -> Any:
    """Compare ``a`` with ``b`` when ``a`` is a string, list or object: the guarded path."""
    weight = _weight(st, info, op, a, b, cap)
    try:
        r = raw(a, b)
    except Exception:  # noqa: BLE001 - host errors become DSL codes
        raise _compare_error(info, op, a, b) from None
    if weight > CLOCK_ITEMS:
        st.check_clock(info)
    return r


def _charge(st: RunState, k: int, block: tuple[NodeInfo, ...]) -> None:
    n = st.n + k
    st.n = n
    if n > st.cap:
        st.over(block, n - k)


def points_error(
    info: NodeInfo, value: Any, not_number_code: str, max_int: int
) -> E.DslError | None:
    """Return why ``value`` cannot be points, or None (one rule for every path, Q13).

    Floats are bounded like integers (Q6): awards add up in float columns (a task's and a
    player's totals, a game's, a dashboard's sums), which two points of 1e308 would overflow.
    """
    t = type(value)
    if t is int or t is float:
        if -max_int <= value <= max_int:
            return None
        if t is float and not -FLOAT_MAX <= value <= FLOAT_MAX:
            return _exec_error(info, E.POINTS_NOT_FINITE, "points must be a finite number")
        return _exec_error(
            info, E.POINTS_OUT_OF_RANGE, f"points must lie within ±{max_int}", max=max_int
        )
    return _exec_error(
        info,
        not_number_code,
        f"points must be a number, got {spec.kind_name(value)}",
        actualType=type_name(value),
    )


@dataclass(slots=True)
class _Expr:
    kind: int
    payload: Any
    block: tuple[NodeInfo, ...]
    #: Whether the value may be a string, list or object of a size the program does not bound.
    sized: bool = True


def _both_sized(*exprs: _Expr) -> bool:
    """Return whether at least two of ``exprs`` may be sized values (a guard is needed)."""
    return sum(e.sized for e in exprs) >= 2


@dataclass(slots=True)
class Sections:
    rules: tuple[Closure, ...] = ()
    default: Closure | None = None
    pre: tuple[Closure, ...] = ()
    post: tuple[Closure, ...] = ()


def _logic_traced(
    node_type: str, fns: tuple[Closure, ...], info: NodeInfo, block: tuple[NodeInfo, ...]
) -> Closure:
    """An ``and`` / ``or`` that records its value and which argument short-circuited."""
    k = len(block)
    nid = info.id
    base = T.entry_cost(nid, node_type)
    put = T.put
    whole = base + 5
    # Each argument with its short-circuit label and what that entry costs.
    shorts = tuple(
        (fn, f"short_circuit:{i}", whole + T.BRANCH_COST + len(f"short_circuit:{i}"))
        for i, fn in enumerate(fns)
    )

    if node_type == "and":

        def traced_and(st: RunState) -> Any:
            _charge(st, k, block)
            for fn, branch, cost in shorts:
                if not fn(st):
                    left = st.tb - cost
                    if left >= 0:
                        st.tb = left
                        st.trace.append(
                            {"nodeId": nid, "type": "and", "value": False, "branch": branch}
                        )
                    else:
                        T.cut(st)
                    return False
            left = st.tb - whole
            if left >= 0:
                st.tb = left
                st.trace.append({"nodeId": nid, "type": "and", "value": True})
            else:
                T.cut(st)
            return True

        return traced_and

    def traced_or(st: RunState) -> Any:
        _charge(st, k, block)
        for i, fn in enumerate(fns):
            if fn(st):
                put(st, base, info, True, f"short_circuit:{i}")
                return True
        put(st, base, info, False)
        return False

    return traced_or


def _logic_plain(node_type: str, fns: tuple[Closure, ...], block: tuple[NodeInfo, ...]) -> Closure:
    k = len(block)
    if node_type == "and":

        def all_of(st: RunState) -> Any:
            n = st.n + k
            st.n = n
            if n > st.cap:
                st.over(block, n - k)
            for fn in fns:  # noqa: SIM110 - a generator costs more on the hot path
                if not fn(st):
                    return False
            return True

        return all_of

    def any_of(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        for fn in fns:  # noqa: SIM110 - a generator costs more on the hot path
            if fn(st):
                return True
        return False

    return any_of


class _Builder:
    def __init__(self, limits: DslLimits, ops: Ops, traced: bool) -> None:
        self.max_depth = limits.run_depth
        self.max_int = limits.max_int
        self.max_size = limits.max_size
        self.trace_value_bytes = limits.trace_value_bytes
        self.ops = ops
        self.traced = traced
        self.paths: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def info(node: dict, pointer: str, node_type: str) -> NodeInfo:
        node_id = node.get("id")
        return NodeInfo(
            node_id if isinstance(node_id, str) and node_id else None, pointer, node_type
        )

    def too_deep(self, depth: int, info: NodeInfo) -> Closure | None:
        if depth > self.max_depth:
            return _raiser(
                _exec_error(
                    info,
                    E.RUNTIME_DEPTH_EXCEEDED,
                    f"node is nested {depth} levels deep (run-time max {self.max_depth})",
                    depth=depth,
                    max=self.max_depth,
                )
            )
        return None

    @staticmethod
    def fn(expr: _Expr) -> Closure:
        if expr.kind == FN:
            return expr.payload
        if expr.kind == CONST:
            value = expr.payload

            def const(_st: RunState) -> Any:
                return value

            return const
        path, info = expr.payload

        def read(st: RunState) -> Any:
            try:
                return st.v[path]
            except KeyError:
                raise _missing_field(info, path) from None

        return read

    # -- expressions -----------------------------------------------------------------------
    def expr(self, node: Any, depth: int, ptr: str, owner: NodeInfo | None) -> _Expr:
        if not isinstance(node, dict):
            return _Expr(
                FN,
                _raiser(_exec_error(owner, E.EXPRESSION_NOT_OBJECT, "expression is not an object")),
                (),
            )
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.EXPRESSION_TYPES:
            info = self.info(node, ptr, "?")
            return _Expr(
                FN,
                _raiser(
                    _exec_error(
                        info,
                        E.UNKNOWN_EXPRESSION_TYPE,
                        f"unknown expression type {_named(node_type)}",
                    )
                ),
                (),
            )
        info = self.info(node, ptr, node_type)
        block = (info,)
        deep = self.too_deep(depth, info)
        if deep:
            return _Expr(FN, deep, block)
        if node_type == "literal":
            return self.literal(node, info)
        if node_type == "field":
            return self.field(node, info)
        if node_type == "arith":
            return self.arith(node, depth, info)
        return self.func_call(node, depth, info)

    def missing(self, node: dict, info: NodeInfo, *keys: str) -> _Expr | None:
        absent = [key for key in keys if key not in node]
        if absent:
            return _Expr(
                FN,
                _raiser(
                    _exec_error(info, E.MISSING_KEY, f"{info.type} needs {absent}", keys=absent)
                ),
                (info,),
            )
        return None

    def literal(self, node: dict, info: NodeInfo) -> _Expr:
        bad = self.missing(node, info, "value")
        if bad:
            return bad
        value = node["value"]
        # A validated literal is a scalar; a string is bounded by the literal cap.
        kind = type(value)
        sized = kind in SIZED and (kind is not str or len(value) > self.max_size)
        if not self.traced:
            return _Expr(CONST, value, (info,), sized)
        shown, size = T.value_cost(value, self.trace_value_bytes)
        cost = T.entry_cost(info.id, "literal") + size
        nid = info.id

        def lit(st: RunState) -> Any:
            left = st.tb - cost
            if left >= 0:
                st.tb = left
                st.trace.append({"nodeId": nid, "type": "literal", "value": shown})
            else:
                T.cut(st)
            return value

        return _Expr(FN, lit, (info,), sized)

    def field(self, node: dict, info: NodeInfo) -> _Expr:
        bad = self.missing(node, info, "path")
        if bad:
            return bad
        path = node["path"]
        if not isinstance(path, str) or not path:
            return _Expr(
                FN,
                _raiser(_exec_error(info, E.FIELD_PATH_NOT_STRING, "field path is not a string")),
                (info,),
            )
        self.paths.add(path)
        if not self.traced:
            return _Expr(FIELD, (path, info), (info,))
        base = T.entry_cost(info.id, "field")
        cost = base + T.NUMBER_BYTES
        put, nid, small = T.put, info.id, T.SMALL_INT

        def read(st: RunState) -> Any:
            try:
                value = st.v[path]
            except KeyError:
                raise _missing_field(info, path) from None
            kind = type(value)
            # Numbers, booleans and null inline (the common case); anything else is cut.
            if (
                kind is float
                or kind is bool
                or value is None
                or (kind is int and -small < value < small)
            ):
                left = st.tb - cost
                if left >= 0:
                    st.tb = left
                    st.trace.append({"nodeId": nid, "type": "field", "value": value})
                else:
                    T.cut(st)
            else:
                put(st, base, info, value)
            return value

        return _Expr(FN, read, (info,))

    def arith(self, node: dict, depth: int, info: NodeInfo) -> _Expr:
        bad = self.missing(node, info, "op", "left", "right")
        if bad:
            return bad
        op = node["op"]
        opf = self.ops.arith.get(op) if isinstance(op, str) else None
        if opf is None:
            shown = op if isinstance(op, str) else type_name(op)
            return _Expr(
                FN,
                _raiser(
                    _exec_error(
                        info, E.ARITH_OP_NOT_ALLOWED, f"{_named(op)} is not an operator", op=shown
                    )
                ),
                (info,),
            )
        left = self.expr(node["left"], depth + 1, info.pointer + "/left", info)
        right = self.expr(node["right"], depth + 1, info.pointer + "/right", info)
        block = (info, *left.block, *right.block)
        # ``-`` and ``/`` only give numbers; the others may give back (or build on) a
        # sized operand. Results of ``+`` and ``*`` are capped, but a list's items are not.
        sized = op not in ("-", "/") and (left.sized or right.sized)
        guarded = _both_sized(left, right)
        if guarded and op == "+":
            opf = self.ops.concat
        ordered = guarded and op in ("min", "max")
        cap = self.max_size
        if self.traced:
            lf, rf = left.payload, right.payload
            base, put = T.entry_cost(info.id, "arith"), T.put
            cost, nid, small = base + T.NUMBER_BYTES, info.id, T.SMALL_INT

            def traced_arith(st: RunState) -> Any:
                a = lf(st)
                b = rf(st)
                weight = _weight(st, info, op, a, b, cap) if ordered else 0
                try:
                    r = opf(a, b)
                except OpFailure as failure:
                    raise _op_error(info, failure) from None
                if weight > CLOCK_ITEMS:
                    st.check_clock(info)
                kind = type(r)
                if kind is float or kind is bool or (kind is int and -small < r < small):
                    left = st.tb - cost
                    if left >= 0:
                        st.tb = left
                        st.trace.append({"nodeId": nid, "type": "arith", "value": r})
                    else:
                        T.cut(st)
                else:
                    put(st, base, info, r)
                return r

            return _Expr(FN, traced_arith, block, sized)
        if left.kind == CONST and right.kind == CONST:
            try:
                return _Expr(CONST, opf(left.payload, right.payload), block, sized)
            except OpFailure:
                pass
        if ordered:
            return _Expr(FN, _ordered_binary(opf, op, left, right, info, cap, self.fn), block)
        return _Expr(FN, _binary(opf, left, right, info, self.fn), block, sized)

    def func_call(self, node: dict, depth: int, info: NodeInfo) -> _Expr:
        bad = self.missing(node, info, "name", "args")
        if bad:
            return bad
        name, args = node["name"], node["args"]
        if not isinstance(name, str) or name not in spec.FUNC_ARITY:
            shown = name if isinstance(name, str) else type_name(name)
            return _Expr(
                FN,
                _raiser(
                    _exec_error(
                        info,
                        E.FUNC_NAME_NOT_ALLOWED,
                        f"{_named(name)} is not a function",
                        name=shown,
                    )
                ),
                (info,),
            )
        arity = spec.FUNC_ARITY[name]
        if not isinstance(args, list) or len(args) != arity:
            actual = len(args) if isinstance(args, list) else "non-list"
            return _Expr(
                FN,
                _raiser(
                    _exec_error(
                        info,
                        E.FUNC_ARITY_MISMATCH,
                        f"{name} takes {arity} arguments",
                        name=name,
                        expected=arity,
                        actual=actual,
                    )
                ),
                (info,),
            )
        compiled = [
            self.expr(arg, depth + 1, f"{info.pointer}/args/{i}", info)
            for i, arg in enumerate(args)
        ]
        block = (info, *(n for c in compiled for n in c.block))
        fns = [self.fn(c) for c in compiled]
        ops = self.ops
        traced = self.traced
        base, put = T.entry_cost(info.id, "func_call"), T.put
        if name == "int":
            (arg,) = fns
            # Trimming a string's spaces costs its length: read the clock after a long one.
            long_text = compiled[0].sized

            def call_int(st: RunState) -> Any:
                x = arg(st)
                try:
                    r = ops.to_int(x)
                except OpFailure as failure:
                    raise _op_error(info, failure) from None
                if long_text and type(x) is str and len(x) > CLOCK_ITEMS:
                    st.check_clock(info)
                if traced:
                    put(st, base, info, r)
                return r

            return _Expr(FN, call_int, block, False)
        v_fn, lo_fn, hi_fn = fns
        ordered = _both_sized(*compiled)
        cap = self.max_size

        def call_clamp(st: RunState) -> Any:
            v = v_fn(st)
            lo = lo_fn(st)
            hi = hi_fn(st)
            weight = 0
            if ordered:
                # clamp compares hi with v, then the smaller of the two with lo.
                weight = max(
                    _weight(st, info, "<", hi, v, cap),
                    _weight(st, info, ">", v, lo, cap),
                    _weight(st, info, ">", hi, lo, cap),
                )
            try:
                r = ops.clamp(v, lo, hi)
            except OpFailure as failure:
                raise _op_error(info, failure) from None
            if weight > CLOCK_ITEMS:
                st.check_clock(info)
            if traced:
                put(st, base, info, r)
            return r

        return _Expr(FN, call_clamp, block, any(c.sized for c in compiled))

    # -- conditions ------------------------------------------------------------------------
    def cond(
        self, node: Any, depth: int, ptr: str, owner: NodeInfo | None, prefix: tuple[NodeInfo, ...]
    ) -> Closure:
        """Compile a condition that charges ``prefix`` (e.g. its rule) along with itself."""
        if not isinstance(node, dict):
            return self.charged_raiser(
                prefix, _exec_error(owner, E.CONDITION_NOT_OBJECT, "condition is not an object")
            )
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.CONDITION_TYPES:
            return self.charged_raiser(
                prefix,
                _exec_error(
                    self.info(node, ptr, "?"),
                    E.UNKNOWN_CONDITION_TYPE,
                    f"unknown condition type {_named(node_type)}",
                ),
            )
        info = self.info(node, ptr, node_type)
        deep = self.too_deep(depth, info)
        if deep:
            return self.charged_raiser((*prefix, info), None, deep)
        if node_type in ("literal", "field", "compare"):
            return self.fixed_cond(node, node_type, depth, info, prefix)
        if node_type == "not":
            if "arg" not in node:
                return self.charged_raiser(
                    (*prefix, info),
                    _exec_error(info, E.MISSING_KEY, "not needs arg", keys=["arg"]),
                )
            arg = self.cond(node["arg"], depth + 1, ptr + "/arg", info, ())
            return self.not_cond(arg, info, prefix)
        args = node.get("args")
        if not isinstance(args, list) or not args:
            return self.charged_raiser(
                (*prefix, info),
                _exec_error(info, E.LOGIC_ARGS_EMPTY, f"{node_type} needs a non-empty args array"),
            )
        fns = tuple(
            self.cond(arg, depth + 1, f"{ptr}/args/{i}", info, ()) for i, arg in enumerate(args)
        )
        return self.logic_cond(node_type, fns, info, prefix)

    def charged_raiser(
        self, block: tuple[NodeInfo, ...], error: E.DslError | None, fail: Closure | None = None
    ) -> Closure:
        k = len(block)
        if fail is None:
            if error is None:
                raise TypeError("charged_raiser needs an error or a failing closure")
            fail = _raiser(error)
        failing = fail

        def charged(st: RunState) -> Any:
            if k:
                _charge(st, k, block)
            return failing(st)

        return charged

    def fixed_cond(
        self, node: dict, node_type: str, depth: int, info: NodeInfo, prefix: tuple[NodeInfo, ...]
    ) -> Closure:
        if node_type == "compare":
            bad = self.missing(node, info, "op", "left", "right")
            if bad:
                return self.charged_raiser(prefix + bad.block, None, bad.payload)
            op = node["op"]
            raw = COMPARE_RAW.get(op) if isinstance(op, str) else None
            if raw is None:
                shown = op if isinstance(op, str) else type_name(op)
                return self.charged_raiser(
                    (*prefix, info),
                    _exec_error(
                        info,
                        E.COMPARE_OP_NOT_ALLOWED,
                        f"{_named(op)} is not a comparison",
                        op=shown,
                    ),
                )
            left = self.expr(node["left"], depth + 1, info.pointer + "/left", info)
            right = self.expr(node["right"], depth + 1, info.pointer + "/right", info)
            block = (*prefix, info, *left.block, *right.block)
            guarded = _both_sized(left, right)
            if self.traced:
                return _traced_compare(
                    raw, op, left.payload, right.payload, info, block, guarded, self.max_size
                )
            if guarded:
                return _sized_compare_closure(raw, op, left, right, info, block, self.max_size)
            return _compare(raw, op, left, right, info, block, self.fn)
        expr = self.literal(node, info) if node_type == "literal" else self.field(node, info)
        block = (*prefix, *expr.block)
        k = len(block)
        if expr.kind == CONST:
            value = expr.payload

            def lit_cond(st: RunState) -> Any:
                n = st.n + k
                st.n = n
                if n > st.cap:
                    st.over(block, n - k)
                return value

            return lit_cond
        if expr.kind == FIELD:
            path, finfo = expr.payload

            def field_cond(st: RunState) -> Any:
                n = st.n + k
                st.n = n
                if n > st.cap:
                    st.over(block, n - k)
                try:
                    return st.v[path]
                except KeyError:
                    raise _missing_field(finfo, path) from None

            return field_cond
        inner = expr.payload

        def generic_cond(st: RunState) -> Any:
            _charge(st, k, block)
            return inner(st)

        return generic_cond

    def not_cond(self, arg: Closure, info: NodeInfo, prefix: tuple[NodeInfo, ...]) -> Closure:
        block = (*prefix, info)
        k = len(block)
        traced, nid = self.traced, info.id
        cost = T.entry_cost(nid, "not") + 5

        def negate(st: RunState) -> Any:
            n = st.n + k
            st.n = n
            if n > st.cap:
                st.over(block, n - k)
            result = not arg(st)
            if traced:
                left = st.tb - cost
                if left >= 0:
                    st.tb = left
                    st.trace.append({"nodeId": nid, "type": "not", "value": result})
                else:
                    T.cut(st)
            return result

        return negate

    def logic_cond(
        self, node_type: str, fns: tuple[Closure, ...], info: NodeInfo, prefix: tuple[NodeInfo, ...]
    ) -> Closure:
        block = (*prefix, info)
        if self.traced:
            return _logic_traced(node_type, fns, info, block)
        return _logic_plain(node_type, fns, block)

    # -- statements ------------------------------------------------------------------------
    def stmt(
        self, node: Any, section: str, depth: int, ptr: str, owner: NodeInfo | None
    ) -> Closure:
        if not isinstance(node, dict):
            return _raiser(_exec_error(owner, E.STATEMENT_NOT_OBJECT, "statement is not an object"))
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.STATEMENT_TYPES:
            shown = node_type if isinstance(node_type, str) else type_name(node_type)
            info = self.info(node, ptr, "?")
            return _raiser(
                _exec_error(
                    info,
                    E.UNKNOWN_STATEMENT,
                    f"unknown statement {_named(node_type)}",
                    nodeType=shown,
                )
            )
        info = self.info(node, ptr, node_type)
        if node_type not in spec.SECTION_STATEMENTS[section]:
            return _raiser(
                _exec_error(
                    info,
                    E.STATEMENT_WRONG_SECTION,
                    f"{node_type} cannot run in {spec.SECTION_LABELS[section]}",
                    section=section,
                )
            )
        deep = self.too_deep(depth, info)
        if deep:
            return self.charged_raiser((info,), None, deep)
        required = spec.NODE_KEYS[node_type][0]
        bad = self.missing(node, info, *sorted(required))
        if bad:
            return self.charged_raiser(bad.block, None, bad.payload)
        if "case_name" in required and not spec.case_name_valid(node["case_name"]):
            return self.charged_raiser(
                (info,), _exec_error(info, E.CASE_NAME_INVALID, "invalid case name")
            )
        if "key" in required:
            key = node["key"]
            if not isinstance(key, str) or not key:
                code = (
                    E.CALLBACK_KEY_INVALID
                    if node_type == "set_callback_data"
                    else E.SET_DATA_KEY_INVALID
                )
                return self.charged_raiser((info,), _exec_error(info, code, "invalid key"))
            if node_type == "set_data" and not spec.SET_DATA_KEY_RE.fullmatch(key):
                return self.charged_raiser(
                    (info,), _exec_error(info, E.SET_DATA_KEY_PATTERN, "invalid key")
                )
        value = None
        block: tuple[NodeInfo, ...] = (info,)
        if "value" in required:
            value = self.expr(node["value"], depth + 1, ptr + "/value", info)
            block = (info, *value.block)
        maker = _STATEMENTS[node_type]
        return maker(self, node, info, value, block)


# -- specialised expression/condition closures ------------------------------------------------
def _binary(
    opf: Callable[[Any, Any], Any],
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    to_fn: Callable[[_Expr], Closure],
) -> Closure:
    if left.kind == FIELD and right.kind == CONST:
        lpath, linfo = left.payload
        rc = right.payload

        def field_const(st: RunState) -> Any:
            try:
                a = st.v[lpath]
            except KeyError:
                raise _missing_field(linfo, lpath) from None
            try:
                return opf(a, rc)
            except OpFailure as failure:
                raise _op_error(info, failure) from None

        return field_const
    if left.kind == FIELD and right.kind == FIELD:
        lpath, linfo = left.payload
        rpath, rinfo = right.payload

        def field_field(st: RunState) -> Any:
            v = st.v
            try:
                a = v[lpath]
            except KeyError:
                raise _missing_field(linfo, lpath) from None
            try:
                b = v[rpath]
            except KeyError:
                raise _missing_field(rinfo, rpath) from None
            try:
                return opf(a, b)
            except OpFailure as failure:
                raise _op_error(info, failure) from None

        return field_field
    lf, rf = to_fn(left), to_fn(right)

    def generic(st: RunState) -> Any:
        a = lf(st)
        b = rf(st)
        try:
            return opf(a, b)
        except OpFailure as failure:
            raise _op_error(info, failure) from None

    return generic


def _ordered_binary(
    opf: Callable[[Any, Any], Any],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    cap: int,
    to_fn: Callable[[_Expr], Closure],
) -> Closure:
    """``min``/``max`` of two operands that may both be sized: compared under the guard."""
    lf, rf = to_fn(left), to_fn(right)

    def ordered(st: RunState) -> Any:
        a = lf(st)
        b = rf(st)
        weight = _weight(st, info, op, a, b, cap) if type(a) in SIZED else 0
        try:
            r = opf(a, b)
        except OpFailure as failure:
            raise _op_error(info, failure) from None
        if weight > CLOCK_ITEMS:
            st.check_clock(info)
        return r

    return ordered


def _sized_compare_closure(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
    cap: int,
) -> Closure:
    """A comparison whose operands may both be strings, lists or objects (``data.a == data.b``).

    Scalars take the plain path after one type test; sized values go through the guard.
    """
    k = len(block)
    sized = SIZED
    if left.kind == FIELD and right.kind == FIELD:
        lpath, linfo = left.payload
        rpath, rinfo = right.payload

        def cmp_fields(st: RunState) -> Any:
            n = st.n + k
            st.n = n
            if n > st.cap:
                st.over(block, n - k)
            v = st.v
            try:
                a = v[lpath]
            except KeyError:
                raise _missing_field(linfo, lpath) from None
            try:
                b = v[rpath]
            except KeyError:
                raise _missing_field(rinfo, rpath) from None
            if type(a) in sized:
                return _sized_compare(st, raw, op, a, b, info, cap)
            try:
                return raw(a, b)
            except Exception:  # noqa: BLE001 - host errors become DSL codes
                raise _compare_error(info, op, a, b) from None

        return cmp_fields
    lf, rf = _Builder.fn(left), _Builder.fn(right)

    def cmp_sized(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        a = lf(st)
        b = rf(st)
        if type(a) in sized:
            return _sized_compare(st, raw, op, a, b, info, cap)
        try:
            return raw(a, b)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, b) from None

    return cmp_sized


def _compare(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
    to_fn: Callable[[_Expr], Closure],
) -> Closure:
    """Build the closure for ``left <op> right``, specialised on where each side comes from."""
    if left.kind == FIELD and right.kind == CONST and op in _FIELD_CONST:
        lpath, linfo = left.payload
        return _FIELD_CONST[op](len(block), block, lpath, linfo, right.payload, info)
    shaped = _COMPARE_SHAPES.get((left.kind, right.kind))
    if shaped is not None:
        return shaped(raw, op, left, right, info, block)
    return _cmp_generic(raw, op, to_fn(left), to_fn(right), info, block)


def _cmp_field_const(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
) -> Closure:
    k = len(block)
    lpath, linfo = left.payload
    rc = right.payload

    def cmp_field_const(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[lpath]
        except KeyError:
            raise _missing_field(linfo, lpath) from None
        try:
            return raw(a, rc)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, rc) from None

    return cmp_field_const


def _cmp_field_field(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
) -> Closure:
    k = len(block)
    lpath, linfo = left.payload
    rpath, rinfo = right.payload

    def cmp_field_field(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        v = st.v
        try:
            a = v[lpath]
        except KeyError:
            raise _missing_field(linfo, lpath) from None
        try:
            b = v[rpath]
        except KeyError:
            raise _missing_field(rinfo, rpath) from None
        try:
            return raw(a, b)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, b) from None

    return cmp_field_field


def _cmp_fn_const(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
) -> Closure:
    k = len(block)
    lf = left.payload
    rc = right.payload

    def cmp_fn_const(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        a = lf(st)
        try:
            return raw(a, rc)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, rc) from None

    return cmp_fn_const


def _cmp_fn_field(
    raw: Callable[[Any, Any], bool],
    op: str,
    left: _Expr,
    right: _Expr,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
) -> Closure:
    k = len(block)
    lf = left.payload
    rpath, rinfo = right.payload

    def cmp_fn_field(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        a = lf(st)
        try:
            b = st.v[rpath]
        except KeyError:
            raise _missing_field(rinfo, rpath) from None
        try:
            return raw(a, b)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, b) from None

    return cmp_fn_field


def _cmp_generic(
    raw: Callable[[Any, Any], bool],
    op: str,
    lf: Closure,
    rf: Closure,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
) -> Closure:
    k = len(block)

    def cmp_generic(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        a = lf(st)
        b = rf(st)
        try:
            return raw(a, b)
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, op, a, b) from None

    return cmp_generic


# (left kind, right kind) -> the builder that reads both sides without a closure call.
_COMPARE_SHAPES: dict[tuple[int, int], Callable[..., Closure]] = {
    (FIELD, CONST): _cmp_field_const,
    (FIELD, FIELD): _cmp_field_field,
    (FN, CONST): _cmp_fn_const,
    (FN, FIELD): _cmp_fn_field,
}


# ``field <op> literal`` is the most common condition; these skip the operator-function call.
def _fc_lt(k: int, block: tuple, path: str, finfo: NodeInfo, rc: Any, info: NodeInfo) -> Closure:
    def cmp(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[path]
        except KeyError:
            raise _missing_field(finfo, path) from None
        try:
            return a < rc
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, "<", a, rc) from None

    return cmp


def _fc_le(k: int, block: tuple, path: str, finfo: NodeInfo, rc: Any, info: NodeInfo) -> Closure:
    def cmp(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[path]
        except KeyError:
            raise _missing_field(finfo, path) from None
        try:
            return a <= rc
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, "<=", a, rc) from None

    return cmp


def _fc_gt(k: int, block: tuple, path: str, finfo: NodeInfo, rc: Any, info: NodeInfo) -> Closure:
    def cmp(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[path]
        except KeyError:
            raise _missing_field(finfo, path) from None
        try:
            return a > rc
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, ">", a, rc) from None

    return cmp


def _fc_ge(k: int, block: tuple, path: str, finfo: NodeInfo, rc: Any, info: NodeInfo) -> Closure:
    def cmp(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[path]
        except KeyError:
            raise _missing_field(finfo, path) from None
        try:
            return a >= rc
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, ">=", a, rc) from None

    return cmp


def _fc_eq(k: int, block: tuple, path: str, finfo: NodeInfo, rc: Any, info: NodeInfo) -> Closure:
    def cmp(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        try:
            a = st.v[path]
        except KeyError:
            raise _missing_field(finfo, path) from None
        try:
            return a == rc
        except Exception:  # noqa: BLE001 - host errors become DSL codes
            raise _compare_error(info, "==", a, rc) from None

    return cmp


_FIELD_CONST: dict[str, Callable[..., Closure]] = {
    "<": _fc_lt,
    "<=": _fc_le,
    ">": _fc_gt,
    ">=": _fc_ge,
    "==": _fc_eq,
}


def _traced_compare(
    raw: Callable[[Any, Any], bool],
    op: str,
    lf: Closure,
    rf: Closure,
    info: NodeInfo,
    block: tuple[NodeInfo, ...],
    guarded: bool,
    cap: int,
) -> Closure:
    k = len(block)
    nid = info.id
    base = T.entry_cost(nid, "compare")

    def traced_cmp(st: RunState) -> Any:
        _charge(st, k, block)
        a = lf(st)
        b = rf(st)
        if guarded and type(a) in SIZED:
            r = _sized_compare(st, raw, op, a, b, info, cap)
        else:
            try:
                r = raw(a, b)
            except Exception:  # noqa: BLE001 - host errors become DSL codes
                raise _compare_error(info, op, a, b) from None
        # A comparison gives a boolean (5 bytes at most).
        left = st.tb - base - 5
        if left >= 0:
            st.tb = left
            st.trace.append({"nodeId": nid, "type": "compare", "value": r})
        else:
            T.cut(st)
        return r

    return traced_cmp


# -- statements ---------------------------------------------------------------------------------
def _value_getter(builder: _Builder, value: _Expr) -> Closure:
    return builder.fn(value)


def _make_points(
    builder: _Builder,
    info: NodeInfo,
    value: _Expr,
    block: tuple[NodeInfo, ...],
    code: str,
    case: Any,
    assign: bool,
) -> Closure:
    k = len(block)
    get = _value_getter(builder, value)
    max_int = builder.max_int
    traced = builder.traced
    # Points are checked numbers within ±2^53: their entry has a fixed cost.
    set_cost = T.entry_cost(info.id, info.type) + T.NUMBER_BYTES
    match_cost = set_cost + T.BRANCH_COST + len("match")
    nid, kind = info.id, info.type

    def set_points(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        p = get(st)
        if type(p) is not int or not -max_int <= p <= max_int:
            error = points_error(info, p, code, max_int)
            if error is not None:
                raise error
        st.points = p
        if assign:
            st.case = case
            st.matched = True
            if traced:
                left = st.tb - match_cost
                if left >= 0:
                    st.tb = left
                    st.trace.append({"nodeId": nid, "type": kind, "value": p, "branch": "match"})
                else:
                    T.cut(st)
            return True
        if traced:
            left = st.tb - set_cost
            if left >= 0:
                st.tb = left
                st.trace.append({"nodeId": nid, "type": kind, "value": p})
            else:
                T.cut(st)
        return None

    return set_points


def _assign_points(
    builder: _Builder, node: dict, info: NodeInfo, value: _Expr, block: tuple
) -> Closure:
    return _make_points(
        builder, info, value, block, E.ASSIGN_POINTS_NOT_NUMBER, node["case_name"], True
    )


def _set_points(
    builder: _Builder, _node: dict, info: NodeInfo, value: _Expr, block: tuple
) -> Closure:
    return _make_points(builder, info, value, block, E.SET_POINTS_NOT_NUMBER, None, False)


def _set_callback_data(
    builder: _Builder, node: dict, info: NodeInfo, value: _Expr, block: tuple
) -> Closure:
    k = len(block)
    key = node["key"]
    get = _value_getter(builder, value)
    traced = builder.traced
    base, put = T.entry_cost(info.id, "set_callback_data"), T.put

    def set_callback(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        r = get(st)
        st.cb[key] = r
        if traced:
            put(st, base, info, r)
        return None

    return set_callback


def _set_data(builder: _Builder, node: dict, info: NodeInfo, value: _Expr, block: tuple) -> Closure:
    k = len(block)
    key = node["key"]
    path = "data." + key
    get = _value_getter(builder, value)
    traced = builder.traced
    base, put = T.entry_cost(info.id, "set_data"), T.put

    def set_data(st: RunState) -> Any:
        n = st.n + k
        st.n = n
        if n > st.cap:
            st.over(block, n - k)
        r = get(st)
        st.working[key] = r
        st.v[path] = r
        if traced:
            put(st, base, info, r)
        return None

    return set_data


def _set_case_name(
    builder: _Builder, _node: dict, info: NodeInfo, value: _Expr, block: tuple
) -> Closure:
    k = len(block)
    get = _value_getter(builder, value)
    traced = builder.traced
    base, put = T.entry_cost(info.id, "set_case_name"), T.put
    valid = spec.case_name_valid

    def set_case(st: RunState) -> Any:
        _charge(st, k, block)
        r = get(st)
        if type(r) is not str:
            raise _exec_error(
                info,
                E.SET_CASE_NAME_NOT_STRING,
                f"a case name must be a string, got {spec.kind_name(r)}",
                actualType=type_name(r),
            )
        if not valid(r):
            raise _exec_error(
                info,
                E.SET_CASE_NAME_INVALID,
                "a case name must be 1 to 200 printable ASCII characters",
            )
        st.case = r
        if traced:
            put(st, base, info, r)
        return None

    return set_case


def _return(builder: _Builder, _node: dict, info: NodeInfo, _value: None, block: tuple) -> Closure:
    traced = builder.traced
    base, put = T.entry_cost(info.id, "return"), T.put

    def halt(st: RunState) -> Any:
        _charge(st, 1, block)
        if traced:
            put(st, base, info, None, "halt")
        return True

    return halt


def _veto(builder: _Builder, node: dict, info: NodeInfo, _value: None, block: tuple) -> Closure:
    traced = builder.traced
    base, put = T.entry_cost(info.id, "veto"), T.put
    case = node["case_name"]

    def veto(st: RunState) -> Any:
        _charge(st, 1, block)
        st.points = 0
        st.case = case
        st.vetoed = True
        if traced:
            put(st, base, info, case, "veto")
        return True

    return veto


_STATEMENTS: dict[str, Callable[..., Closure]] = {
    "assign_points": _assign_points,
    "set_points": _set_points,
    "set_callback_data": _set_callback_data,
    "set_data": _set_data,
    "set_case_name": _set_case_name,
    "return": _return,
    "veto": _veto,
}


# -- rules and sections -------------------------------------------------------------------------
def _body(stmts: list[Closure]) -> Closure:
    if len(stmts) == 1:
        return stmts[0]
    seq = tuple(stmts)

    def body(st: RunState) -> Any:
        for s in seq:
            if s(st):
                return True
        return None

    return body


class _RuleCompiler:
    def __init__(self, builder: _Builder) -> None:
        self.b = builder

    def statements(self, stmts: Any, section: str, ptr: str, owner: NodeInfo) -> Closure:
        if not isinstance(stmts, list) or not stmts:
            return _raiser(
                _exec_error(owner, E.EMPTY_STATEMENT_LIST, "statement list is empty or not a list")
            )
        return _body([self.b.stmt(s, section, 2, f"{ptr}/{i}", owner) for i, s in enumerate(stmts)])

    def rule(self, node: Any, section: str, ptr: str, program: NodeInfo) -> Closure:
        b = self.b
        if not isinstance(node, dict):
            return _raiser(_exec_error(program, E.RULE_NOT_OBJECT, "rule is not an object"))
        info = b.info(node, ptr, "rule")
        if node.get("type") != "rule":
            return _raiser(_exec_error(info, E.WRONG_NODE_TYPE, "expected a rule"))
        deep = b.too_deep(1, info)
        if deep:
            return b.charged_raiser((info,), None, deep)
        if "when" not in node or "then" not in node:
            return b.charged_raiser(
                (info,), _exec_error(info, E.MISSING_KEY, "rule needs when and then")
            )
        when = b.cond(node["when"], 2, ptr + "/when", info, (info,))
        then = self.statements(node["then"], section, ptr + "/then", info)
        branches: list[tuple[Closure, Closure]] = []
        else_if = node.get("else_if")
        if else_if is not None:
            if not isinstance(else_if, list):
                return b.charged_raiser(
                    (info,), _exec_error(info, E.ELSE_IF_NOT_ARRAY, "else_if is not an array")
                )
            for j, branch in enumerate(else_if):
                bptr = f"{ptr}/else_if/{j}"
                binfo = NodeInfo(f"{info.id}.else_if.{j}" if info.id else None, bptr, "else_if")
                if not isinstance(branch, dict) or "when" not in branch:
                    fail = _raiser(
                        _exec_error(binfo, E.ELSE_IF_MISSING_WHEN, "else_if branch without when")
                    )
                    branches.append((fail, fail))
                    continue
                branches.append(
                    (
                        b.cond(branch["when"], 2, bptr + "/when", binfo, ()),
                        self.statements(branch.get("then"), section, bptr + "/then", binfo),
                    )
                )
        otherwise = None
        if node.get("else") is not None:
            otherwise = self.statements(node["else"], section, ptr + "/else", info)
        if b.traced:
            return _traced_rule(info, when, then, tuple(branches), otherwise)
        return _rule(when, then, tuple(branches), otherwise)

    def section(self, rules: Any, section: str, key: str, program: NodeInfo) -> tuple[Closure, ...]:
        if rules is None:
            return ()
        if not isinstance(rules, list):
            code = E.RULES_NOT_ARRAY if key == "rules" else E.SECTION_NOT_ARRAY
            return (
                _raiser(
                    _exec_error(program, code, f"{spec.PROGRAM_KEY_LABELS[key]} must be an array")
                ),
            )
        return tuple(self.rule(r, section, f"/{key}/{i}", program) for i, r in enumerate(rules))


def _rule(
    when: Closure,
    then: Closure,
    branches: tuple[tuple[Closure, Closure], ...],
    otherwise: Closure | None,
) -> Closure:
    if not branches and otherwise is None:

        def simple_rule(st: RunState) -> Any:
            if when(st):
                return then(st)
            return None

        return simple_rule

    def rule(st: RunState) -> Any:
        if when(st):
            return then(st)
        for cond, body in branches:
            if cond(st):
                return body(st)
        if otherwise is not None:
            return otherwise(st)
        return None

    return rule


def _traced_rule(
    info: NodeInfo,
    when: Closure,
    then: Closure,
    branches: tuple[tuple[Closure, Closure], ...],
    otherwise: Closure | None,
) -> Closure:
    base, put = T.entry_cost(info.id, "rule"), T.put
    matched = base + 5 + T.BRANCH_COST + len("match")
    skipped = base + 5 + T.BRANCH_COST + len("skip")
    nid = info.id

    def rule(st: RunState) -> Any:
        if when(st):
            left = st.tb - matched
            if left >= 0:
                st.tb = left
                st.trace.append({"nodeId": nid, "type": "rule", "value": True, "branch": "match"})
            else:
                T.cut(st)
            return then(st)
        for j, (cond, body) in enumerate(branches):
            if cond(st):
                put(st, base, info, True, f"elseif:{j}")
                return body(st)
        if otherwise is not None:
            put(st, base, info, False, "else")
            return otherwise(st)
        left = st.tb - skipped
        if left >= 0:
            st.tb = left
            st.trace.append({"nodeId": nid, "type": "rule", "value": False, "branch": "skip"})
        else:
            T.cut(st)
        return None

    return rule


def _build_sections(
    ast: dict, limits: DslLimits, ops: Ops, traced: bool
) -> tuple[Sections, set[str]]:
    builder = _Builder(limits, ops, traced)
    rc = _RuleCompiler(builder)
    program = builder.info(ast, "", "program")
    sections = Sections(
        rules=rc.section(ast.get("rules"), "rule", "rules", program),
        pre=rc.section(ast.get("pre_rules"), "pre", "pre_rules", program),
        post=rc.section(ast.get("post_rules"), "post", "post_rules", program),
    )
    if ast.get("default") is not None:
        sections.default = builder.stmt(ast["default"], "default", 1, "/default", program)
    return sections, builder.paths


# -- the compiled program -----------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class CompiledProgram:
    """A strategy ready to run many times; everything here is computed once per AST."""

    ast: dict
    content_hash: str
    limits: DslLimits
    validated: bool
    field_paths: frozenset[str]
    analytics_request: AnalyticsRequest
    parent_variables: dict[str, Any]
    parent_key: tuple | None
    sections: Sections
    static_paths: tuple[tuple[str, str], ...]
    data_paths: tuple[tuple[str, str], ...]
    analytics_paths: tuple[str, ...]
    reads_recent: bool
    needs_analytics: bool
    ops: Ops
    ids_assigned: dict[str, str] = field(default_factory=dict)
    #: ``limits.trace_value_bytes``, read once.
    trace_value_bytes: int | None = None
    _traced: Sections | None = None

    @property
    def traced_sections(self) -> Sections:
        if self._traced is None:
            self._traced, _ = _build_sections(self.ast, self.limits, self.ops, traced=True)
        return self._traced


def content_hash(ast: Any) -> str:
    """Return the SHA-256 of the AST's canonical JSON."""
    try:
        text = json.dumps(ast, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except RecursionError:
        raise E.DslValidationError(
            [E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)]
        ) from None
    except (TypeError, ValueError):
        raise E.DslValidationError(
            [E.Issue(E.AST_NOT_JSON, "the strategy is not a JSON document", "", None)]
        ) from None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _parent_key(parent: BuiltinStrategy | None) -> tuple | None:
    if parent is None:
        return None
    return (parent.id, tuple(sorted((k, repr(v)) for k, v in parent.variables.items())))


_CACHE: OrderedDict[tuple, CompiledProgram] = OrderedDict()
_CACHE_SIZE = 512


def compile_program(
    ast: Any,
    *,
    limits: DslLimits | None = None,
    parent: BuiltinStrategy | None = None,
    validate: bool = True,
) -> CompiledProgram:
    """Validate (unless ``validate`` is false) and compile ``ast``; cached by content hash.

    Raises ``DslValidationError`` carrying every issue. ``parent`` (the DSL_EXTEND parent)
    lets ``parent_variables`` be checked against its declared variables.
    """
    limits = limits or DslLimits()
    digest = content_hash(ast)
    key = (digest, limits, _parent_key(parent), validate)
    cached = _CACHE.get(key)
    if cached is not None:
        _CACHE.move_to_end(key)
        return cached
    if validate:
        report = validate_ast(ast, limits=limits, parent=parent)
        report.raise_for_issues()
        filled, ids_assigned = report.ast, report.ids_assigned
    else:
        if not isinstance(ast, dict):
            raise E.DslValidationError(
                [E.Issue(E.ROOT_NOT_OBJECT, "the strategy must be a JSON object", "", None)]
            )
        filled, ids_assigned = ast, {}
    program = _assemble(filled, digest, limits, validate, parent, ids_assigned)
    _CACHE[key] = program
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return program


def _assemble(
    ast: dict,
    digest: str,
    limits: DslLimits,
    validated: bool,
    parent: BuiltinStrategy | None,
    ids_assigned: dict[str, str],
) -> CompiledProgram:
    ops = Ops(limits.max_int, limits.max_size)
    try:
        sections, paths = _build_sections(ast, limits, ops, traced=False)
    except RecursionError:
        raise E.DslValidationError(
            [E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)]
        ) from None
    static = tuple((p, spec.STATIC_PATHS[p]) for p in sorted(paths) if p in spec.STATIC_PATHS)
    data = []
    for p in sorted(paths):
        match = spec.DATA_PATH_RE.fullmatch(p)
        if match:
            data.append((p, match.group(1)))
    analytics = tuple(p for p in sorted(paths) if p in spec.ANALYTICS and p != spec.RECENT_PATH)
    recent = spec.RECENT_PATH in paths
    request = AnalyticsRequest(
        paths=frozenset(analytics),
        recent_windows=frozenset({spec.RECENT_WINDOW}) if recent else frozenset(),
    )
    variables = ast.get("parent_variables")
    return CompiledProgram(
        ast=ast,
        content_hash=digest,
        limits=limits,
        validated=validated,
        field_paths=frozenset(p for p in paths if spec.path_allowed(p)),
        analytics_request=request,
        parent_variables=dict(variables) if isinstance(variables, dict) else {},
        parent_key=_parent_key(parent),
        sections=sections,
        static_paths=static,
        data_paths=tuple(data),
        analytics_paths=analytics,
        reads_recent=recent,
        needs_analytics=not request.is_empty,
        ops=ops,
        ids_assigned=ids_assigned,
        trace_value_bytes=limits.trace_value_bytes,
    )


def clear_cache() -> None:
    _CACHE.clear()


__all__ = [
    "CompiledProgram",
    "DslLimits",
    "NodeInfo",
    "RunState",
    "clear_cache",
    "compile_program",
    "content_hash",
    "pointer_join",
    "points_error",
]
