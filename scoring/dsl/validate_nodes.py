"""The checks of one node each: conditions, expressions and statements, and the walk's state.

``scoring.dsl.validate`` walks the program and its rules and calls into these checks; they
report into the walker's issue list in the same depth-first order (spec section 7.2).
"""

from __future__ import annotations

import math
from collections.abc import Set as AbstractSet
from typing import Any

from scoring.builtins.base import BuiltinStrategy
from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl.limits import DslLimits

SCALARS = (str, int, float, bool, type(None))


def type_name(value: Any) -> str:
    return type(value).__name__


def shown(value: Any) -> str:
    return value if isinstance(value, str) else type_name(value)


class NodeCapReached(Exception):
    """Stop the walk: past the node cap, more issues would only grow with the document."""


class NodeValidator:
    """The walk's state and helpers, and the checks of conditions, expressions and statements."""

    def __init__(self, limits: DslLimits, parent: BuiltinStrategy | None) -> None:
        self.limits = limits
        self.parent = parent
        self.issues: list[E.Issue] = []
        self.ids_assigned: dict[str, str] = {}
        self.seen_ids: dict[str, str] = {}
        self.count = 0
        self.count_reported = False
        self.paths: set[str] = set()

    # -- helpers ---------------------------------------------------------------------------
    def issue(
        self, code: str, message: str, pointer: str, node_id: str | None, **params: Any
    ) -> None:
        if node_id is not None and "nodeId" not in params:
            params = {"nodeId": node_id, **params}
        self.issues.append(E.Issue(code, message, pointer, node_id, params))

    def fill_id(self, node: dict, generated: str, pointer: str) -> str:
        current = node.get("id")
        if isinstance(current, str) and current:
            node_id = current
        else:
            node_id = generated
            node["id"] = generated
            self.ids_assigned[pointer] = generated
        if node_id in self.seen_ids:
            self.issue(
                E.DUPLICATE_ID,
                f"id {node_id!r} is already used at {self.seen_ids[node_id] or '(root)'}",
                pointer,
                node_id,
                other=self.seen_ids[node_id],
            )
        else:
            self.seen_ids[node_id] = pointer
        return node_id

    def bump(self, pointer: str, node_id: str) -> None:
        self.count += 1
        if self.count > self.limits.max_nodes and not self.count_reported:
            self.count_reported = True
            self.issue(
                E.NODE_COUNT_EXCEEDED,
                f"the strategy has more than {self.limits.max_nodes} nodes",
                pointer,
                node_id,
                max=self.limits.max_nodes,
            )
            raise NodeCapReached

    def depth_ok(self, depth: int, pointer: str, node_id: str) -> bool:
        if depth > self.limits.max_depth:
            self.issue(
                E.DEPTH_EXCEEDED,
                f"node is nested {depth} levels deep (max {self.limits.max_depth})",
                pointer,
                node_id,
                depth=depth,
                max=self.limits.max_depth,
            )
            return False
        return True

    def keys(self, node: dict, kind: str, pointer: str, node_id: str | None) -> AbstractSet[str]:
        """Report missing and unexpected keys; return the missing ones."""
        required, optional = spec.NODE_KEYS[kind]
        present = set(node) - {"type", "id"}
        missing = required - present
        extra = present - required - optional
        if missing:
            self.issue(
                E.MISSING_KEY,
                f"{kind} needs {', '.join(sorted(missing))}",
                pointer,
                node_id,
                keys=sorted(missing),
            )
        if extra:
            self.issue(
                E.UNEXPECTED_KEYS,
                f"{kind} does not take {', '.join(sorted(map(str, extra)))}",
                pointer,
                node_id,
                keys=sorted(map(str, extra)),
            )
        return missing

    def scalar_in_range(self, value: Any, pointer: str, node_id: str | None) -> bool:
        if type(value) is float and not math.isfinite(value):
            self.issue(E.LITERAL_NOT_FINITE, "NaN and Infinity are not allowed", pointer, node_id)
            return False
        if type(value) is int and abs(value) > self.limits.max_int:
            self.issue(
                E.LITERAL_OUT_OF_RANGE,
                f"integers must lie within ±{self.limits.max_int}",
                pointer,
                node_id,
                max=self.limits.max_int,
            )
            return False
        if type(value) is str and len(value) > self.limits.max_size:
            self.issue(
                E.VALUE_TOO_LARGE,
                f"strings are limited to {self.limits.max_size} characters",
                pointer,
                node_id,
                max=self.limits.max_size,
            )
            return False
        return True

    # -- conditions and expressions --------------------------------------------------------
    def condition(
        self, node: Any, depth: int, parent_id: str, index: int, ptr: str, owner: str
    ) -> None:
        if not isinstance(node, dict):
            self.issue(E.CONDITION_NOT_OBJECT, "a condition must be an object", ptr, owner)
            return
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.CONDITION_TYPES:
            self.issue(
                E.UNKNOWN_CONDITION_TYPE,
                f"{spec.shown(node_type)} is not a condition (use and, or, not, compare, "
                "literal or field)",
                ptr,
                owner,
                type=shown(node_type),
            )
            return
        if node_type in ("literal", "field"):
            self.expression(node, depth, parent_id, index, ptr, owner)
            return
        nid = self.fill_id(node, f"{parent_id}.{node_type}.{index}", ptr)
        self.bump(ptr, nid)
        if not self.depth_ok(depth, ptr, nid):
            return
        missing = self.keys(node, node_type, ptr, nid)
        if node_type in ("and", "or"):
            if "args" in missing:
                return
            args = node["args"]
            if not isinstance(args, list) or not args:
                self.issue(
                    E.LOGIC_ARGS_EMPTY, f"{node_type} needs a non-empty 'args' array", ptr, nid
                )
                return
            for i, arg in enumerate(args):
                self.condition(arg, depth + 1, nid, i, f"{ptr}/args/{i}", nid)
        elif node_type == "not":
            if "arg" not in missing:
                self.condition(node["arg"], depth + 1, nid, 0, ptr + "/arg", nid)
        else:
            if "op" not in missing:
                op = node["op"]
                if not isinstance(op, str) or op not in spec.COMPARE_OPS:
                    self.issue(
                        E.COMPARE_OP_NOT_ALLOWED,
                        f"{spec.shown(op)} is not a comparison operator",
                        ptr,
                        nid,
                        op=shown(op),
                    )
            self.operands(node, missing, depth, nid, ptr)

    def operands(
        self, node: dict, missing: AbstractSet[str], depth: int, nid: str, ptr: str
    ) -> None:
        for index, side in enumerate(("left", "right")):
            if side not in missing:
                self.expression(node[side], depth + 1, nid, index, f"{ptr}/{side}", nid)

    def expression(
        self, node: Any, depth: int, parent_id: str, index: int, ptr: str, owner: str
    ) -> None:
        if not isinstance(node, dict):
            self.issue(E.EXPRESSION_NOT_OBJECT, "an expression must be an object", ptr, owner)
            return
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.EXPRESSION_TYPES:
            self.issue(
                E.UNKNOWN_EXPRESSION_TYPE,
                f"{spec.shown(node_type)} is not an expression "
                "(use literal, field, arith or func_call)",
                ptr,
                owner,
                type=shown(node_type),
            )
            return
        nid = self.fill_id(node, f"{parent_id}.{node_type}.{index}", ptr)
        self.bump(ptr, nid)
        if not self.depth_ok(depth, ptr, nid):
            return
        missing = self.keys(node, node_type, ptr, nid)
        if node_type == "literal":
            if "value" not in missing:
                value = node["value"]
                if not isinstance(value, SCALARS):
                    self.issue(
                        E.LITERAL_NOT_SCALAR,
                        "a literal must be a string, number, boolean or null",
                        ptr,
                        nid,
                    )
                else:
                    self.scalar_in_range(value, ptr, nid)
        elif node_type == "field":
            if "path" not in missing:
                self.field_path(node["path"], ptr, nid)
        elif node_type == "arith":
            if "op" not in missing:
                op = node["op"]
                if not isinstance(op, str) or op not in spec.ARITH_OPS:
                    self.issue(
                        E.ARITH_OP_NOT_ALLOWED,
                        f"{spec.shown(op)} is not an arithmetic operator",
                        ptr,
                        nid,
                        op=shown(op),
                    )
            self.operands(node, missing, depth, nid, ptr)
        else:
            self.func_call(node, missing, depth, nid, ptr)

    def field_path(self, path: Any, ptr: str, nid: str) -> None:
        if not isinstance(path, str) or not path:
            self.issue(E.FIELD_PATH_NOT_STRING, "a field path must be a non-empty string", ptr, nid)
            return
        if not spec.path_allowed(path):
            self.issue(
                E.FIELD_PATH_NOT_ALLOWED,
                f"{path!r} is not a readable field",
                ptr,
                nid,
                path=path,
            )
            return
        if path in spec.PARENT_PATHS and self.current_section != "post":
            self.issue(
                E.PARENT_FIELD_OUTSIDE_POST,
                f"{path!r} can only be read in {spec.SECTION_LABELS['post']}",
                ptr,
                nid,
                path=path,
                context=self.current_section,
            )
            return
        self.paths.add(path)

    def func_call(
        self, node: dict, missing: AbstractSet[str], depth: int, nid: str, ptr: str
    ) -> None:
        name = node.get("name")
        arity = spec.FUNC_ARITY.get(name) if isinstance(name, str) else None
        name_ok = arity is not None
        if "name" not in missing and not name_ok:
            self.issue(
                E.FUNC_NAME_NOT_ALLOWED,
                f"{spec.shown(name)} is not a function (use int or clamp)",
                ptr,
                nid,
                name=shown(name),
            )
        if "args" in missing:
            return
        args = node["args"]
        if not isinstance(args, list):
            if name_ok:
                self.issue(
                    E.FUNC_ARITY_MISMATCH,
                    f"{name} needs an array of {arity} arguments",
                    ptr,
                    nid,
                    name=name,
                    expected=arity,
                    actual="non-list",
                )
            return
        if name_ok and len(args) != arity:
            self.issue(
                E.FUNC_ARITY_MISMATCH,
                f"{name} takes {arity} arguments, got {len(args)}",
                ptr,
                nid,
                name=name,
                expected=arity,
                actual=len(args),
            )
        for i, arg in enumerate(args):
            self.expression(arg, depth + 1, nid, i, f"{ptr}/args/{i}", nid)

    # -- statements ------------------------------------------------------------------------
    current_section = "rule"

    def statement(
        self, node: Any, section: str, depth: int, parent_id: str, index: int, ptr: str, owner: str
    ) -> None:
        if not isinstance(node, dict):
            self.issue(E.STATEMENT_NOT_OBJECT, "a statement must be an object", ptr, owner)
            return
        node_type = node.get("type")
        if not isinstance(node_type, str) or node_type not in spec.STATEMENT_TYPES:
            if isinstance(node_type, str) and node_type in spec.NON_STATEMENT_TYPES:
                self.issue(
                    E.NOT_A_STATEMENT,
                    f"{node_type!r} is not a statement",
                    ptr,
                    owner,
                    type=node_type,
                )
            else:
                self.issue(
                    E.UNKNOWN_STATEMENT_TYPE,
                    f"{spec.shown(node_type)} is not a statement type",
                    ptr,
                    owner,
                    type=shown(node_type),
                )
            return
        generated = f"{parent_id}.{node_type}.{index}"
        if node_type not in spec.SECTION_STATEMENTS[section]:
            current = node.get("id")
            shown_id = current if isinstance(current, str) and current else generated
            self.issue(
                E.STATEMENT_WRONG_SECTION,
                f"{node_type} is not allowed in {spec.SECTION_LABELS[section]} "
                f"(allowed there: {', '.join(sorted(spec.SECTION_STATEMENTS[section]))})",
                ptr,
                shown_id,
                type=node_type,
                section=section,
            )
        nid = self.fill_id(node, generated, ptr)
        self.bump(ptr, nid)
        if not self.depth_ok(depth, ptr, nid):
            return
        missing = self.keys(node, node_type, ptr, nid)
        has_case_name = "case_name" in spec.NODE_KEYS[node_type][0] and "case_name" not in missing
        if has_case_name and not spec.case_name_valid(node["case_name"]):
            self.issue(
                E.CASE_NAME_INVALID,
                "a case name must be 1 to 200 printable ASCII characters",
                ptr,
                nid,
            )
        if node_type == "set_callback_data" and "key" not in missing:
            key = node["key"]
            if not isinstance(key, str) or not key:
                self.issue(E.CALLBACK_KEY_INVALID, "the key must be a non-empty string", ptr, nid)
        if node_type == "set_data" and "key" not in missing:
            key = node["key"]
            if not isinstance(key, str) or not key:
                self.issue(E.SET_DATA_KEY_INVALID, "the key must be a non-empty string", ptr, nid)
            elif not spec.SET_DATA_KEY_RE.fullmatch(key):
                self.issue(
                    E.SET_DATA_KEY_PATTERN,
                    "a set_data key may only use letters, digits and _",
                    ptr,
                    nid,
                    key=key,
                )
        if "value" in spec.NODE_KEYS[node_type][0] and "value" not in missing:
            saved, self.current_section = self.current_section, section
            self.expression(node["value"], depth + 1, nid, 0, ptr + "/value", nid)
            self.current_section = saved
