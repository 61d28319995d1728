"""Static validation: shape, allow-lists, limits, case names and keys, every problem reported.

The walk is depth-first in the check order of spec section 7.2, so the first issue is the one
the reference validator (which stops at the first problem) would report. Missing ids are
filled in on the way with the collision-free scheme documented in ``docs/dsl.md`` (Q21).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from scoring.builtins.base import BuiltinStrategy
from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl.limits import DslLimits

SCALARS = (str, int, float, bool, type(None))


def pointer_join(base: str, *parts: str | int) -> str:
    """Append reference tokens to an RFC 6901 pointer."""
    out = base
    for part in parts:
        out += "/" + str(part).replace("~", "~0").replace("/", "~1")
    return out


@dataclass(slots=True)
class ValidationReport:
    """The outcome of validating one AST."""

    ast: Any
    issues: list[E.Issue] = field(default_factory=list)
    ids_assigned: dict[str, str] = field(default_factory=dict)
    field_paths: frozenset[str] = frozenset()
    node_count: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues

    def raise_for_issues(self) -> None:
        if self.issues:
            raise E.DslValidationError(self.issues)


def copy_tree(value: Any) -> Any:
    """Copy dicts and lists recursively, without preserving aliasing (each node gets its id)."""
    if isinstance(value, dict):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    return value


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_parent_variables(
    variables: Mapping[str, Any], parent: BuiltinStrategy, *, pointer: str, node_id: str | None
) -> list[E.Issue]:
    """Check ``parent_variables`` against the names and types the parent declares (Q13)."""
    issues = []
    declared = parent.variables
    for key, value in variables.items():
        ptr = pointer_join(pointer, "parent_variables", key)
        if key not in declared:
            issues.append(
                E.Issue(
                    E.PARENT_VARIABLES_UNKNOWN_KEY,
                    f"{parent.id!r} has no variable {key!r}",
                    ptr,
                    node_id,
                    {"key": key, "parent": parent.id, "known": sorted(declared)},
                )
            )
            continue
        expected = type(declared[key])
        ok = type(value) is int if expected is int else type(value) in (int, float)
        if not ok:
            issues.append(
                E.Issue(
                    E.PARENT_VARIABLES_BAD_TYPE,
                    f"{key!r} must be {expected.__name__}, got {_type_name(value)}",
                    ptr,
                    node_id,
                    {"key": key, "expected": expected.__name__, "actual": _type_name(value)},
                )
            )
    return issues


class _NodeCapReached(Exception):
    """Stop the walk: past the node cap, more issues would only grow with the document."""


class _Validator:
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
            raise _NodeCapReached

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

    # -- program ---------------------------------------------------------------------------
    def program(self, ast: Any) -> None:
        if not isinstance(ast, dict):
            self.issue(E.ROOT_NOT_OBJECT, "the strategy must be a JSON object", "", None)
            return
        pid = self.fill_id(ast, "p.program.0", "")
        node_type = ast.get("type")
        if node_type != "program":
            self.issue(
                E.WRONG_NODE_TYPE,
                "the root node must have type 'program'",
                "",
                pid,
                expected="program",
                actual=node_type if isinstance(node_type, str) else _type_name(node_type),
            )
            return
        missing = self.keys(ast, "program", "", pid)
        if "rules" not in missing:
            rules = ast["rules"]
            if not isinstance(rules, list):
                self.issue(E.RULES_NOT_ARRAY, "'rules' must be an array", "", pid)
            else:
                self.section(rules, "rule", "rules", pid)
        for key, section in (("pre_rules", "pre"), ("post_rules", "post")):
            rules = ast.get(key)
            if rules is None:
                continue
            if not isinstance(rules, list):
                self.issue(E.SECTION_NOT_ARRAY, f"{key!r} must be an array or null", "", pid)
            else:
                self.section(rules, section, key, pid)
        variables = ast.get("parent_variables")
        if variables is not None:
            self.parent_variables(variables, pid)
        default = ast.get("default")
        if default is not None:
            self.statement(default, "default", 1, pid, 0, "/default", pid)

    def parent_variables(self, variables: Any, pid: str) -> None:
        if not isinstance(variables, dict):
            self.issue(
                E.PARENT_VARIABLES_NOT_OBJECT, "'parent_variables' must be an object", "", pid
            )
            return
        clean = {}
        for key, value in variables.items():
            ptr = pointer_join("/parent_variables", key)
            if not isinstance(key, str) or not spec.PARENT_VARIABLE_KEY_RE.fullmatch(key):
                self.issue(
                    E.PARENT_VARIABLES_BAD_KEY,
                    f"parent variable {key!r} must look like variable_<name>",
                    ptr,
                    pid,
                    key=str(key),
                )
                continue
            if not isinstance(value, SCALARS):
                self.issue(
                    E.PARENT_VARIABLES_BAD_VALUE,
                    f"parent variable {key!r} must be a scalar",
                    ptr,
                    pid,
                    key=key,
                )
                continue
            if not self.scalar_in_range(value, ptr, pid):
                continue
            clean[key] = value
        if self.parent is not None:
            self.issues.extend(check_parent_variables(clean, self.parent, pointer="", node_id=pid))

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

    # -- rules -----------------------------------------------------------------------------
    def section(self, rules: list, section: str, key: str, pid: str) -> None:
        prefix = pid if section == "rule" else f"{pid}.{section}"
        for index, rule in enumerate(rules):
            self.rule(rule, section, f"{prefix}.rule.{index}", f"/{key}/{index}", pid)

    def rule(self, rule: Any, section: str, generated: str, ptr: str, pid: str) -> None:
        if not isinstance(rule, dict):
            self.issue(E.RULE_NOT_OBJECT, "every rule must be an object", ptr, pid)
            return
        rid = self.fill_id(rule, generated, ptr)
        self.bump(ptr, rid)
        node_type = rule.get("type")
        if node_type != "rule":
            self.issue(
                E.WRONG_NODE_TYPE,
                "entries of a rule list must have type 'rule'",
                ptr,
                rid,
                expected="rule",
                actual=node_type if isinstance(node_type, str) else _type_name(node_type),
            )
            return
        missing = self.keys(rule, "rule", ptr, rid)
        if not self.depth_ok(1, ptr, rid):
            return
        if "when" not in missing:
            self.condition(rule["when"], 2, rid, 0, ptr + "/when", rid)
        if "then" not in missing:
            self.statements(rule["then"], section, rid, ptr + "/then", rid)
        else_if = rule.get("else_if")
        if else_if is not None:
            if not isinstance(else_if, list):
                self.issue(E.ELSE_IF_NOT_ARRAY, "'else_if' must be an array", ptr, rid)
            else:
                for j, branch in enumerate(else_if):
                    self.branch(branch, section, f"{rid}.else_if.{j}", f"{ptr}/else_if/{j}")
        if "else" in rule and rule["else"] is not None:
            self.statements(rule["else"], section, f"{rid}.else", ptr + "/else", rid)

    def branch(self, branch: Any, section: str, bid: str, ptr: str) -> None:
        if not isinstance(branch, dict):
            self.issue(E.ELSE_IF_ITEM_NOT_OBJECT, "an else_if branch must be an object", ptr, bid)
            return
        extra = set(branch) - spec.BRANCH_KEYS
        if extra:
            self.issue(
                E.ELSE_IF_UNEXPECTED_KEYS,
                f"an else_if branch takes only when, then and id, not {sorted(map(str, extra))}",
                ptr,
                bid,
                keys=sorted(map(str, extra)),
            )
        explicit = branch.get("id")
        if isinstance(explicit, str) and explicit:
            if explicit in self.seen_ids:
                self.issue(E.DUPLICATE_ID, f"id {explicit!r} is already used", ptr, explicit)
            else:
                self.seen_ids[explicit] = ptr
        if "when" not in branch:
            self.issue(E.ELSE_IF_MISSING_WHEN, "an else_if branch needs 'when'", ptr, bid)
        else:
            self.condition(branch["when"], 2, bid, 0, ptr + "/when", bid)
        if "then" not in branch:
            self.issue(E.EMPTY_STATEMENT_LIST, "an else_if branch needs a 'then' list", ptr, bid)
        else:
            self.statements(branch["then"], section, bid, ptr + "/then", bid)

    def statements(self, stmts: Any, section: str, prefix: str, ptr: str, owner: str) -> None:
        if not isinstance(stmts, list) or not stmts:
            self.issue(
                E.EMPTY_STATEMENT_LIST,
                "a statement list must be a non-empty array",
                ptr,
                owner,
            )
            return
        for k, stmt in enumerate(stmts):
            self.statement(stmt, section, 2, prefix, k, f"{ptr}/{k}", owner)

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
                f"{_shown(node_type)} is not a condition (use and, or, not, compare, "
                "literal or field)",
                ptr,
                owner,
                type=_shown(node_type),
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
                        f"{_shown(op)} is not a comparison operator",
                        ptr,
                        nid,
                        op=_shown(op),
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
                f"{_shown(node_type)} is not an expression (use literal, field, arith or "
                "func_call)",
                ptr,
                owner,
                type=_shown(node_type),
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
                        f"{_shown(op)} is not an arithmetic operator",
                        ptr,
                        nid,
                        op=_shown(op),
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
                f"{path!r} can only be read in post_rules",
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
                f"{_shown(name)} is not a function (use int or clamp)",
                ptr,
                nid,
                name=_shown(name),
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
                    f"{_shown(node_type)} is not a statement type",
                    ptr,
                    owner,
                    type=_shown(node_type),
                )
            return
        generated = f"{parent_id}.{node_type}.{index}"
        if node_type not in spec.SECTION_STATEMENTS[section]:
            current = node.get("id")
            shown_id = current if isinstance(current, str) and current else generated
            self.issue(
                E.STATEMENT_WRONG_SECTION,
                f"{node_type} is not allowed in {section} statements "
                f"(allowed: {', '.join(sorted(spec.SECTION_STATEMENTS[section]))})",
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

    def run(self, ast: Any) -> None:
        self.program(ast)


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else _type_name(value)


class _SectionTracker(_Validator):
    """Keep ``current_section`` right for conditions as well as statement values."""

    def section(self, rules: list, section: str, key: str, pid: str) -> None:
        saved, self.current_section = self.current_section, section
        super().section(rules, section, key, pid)
        self.current_section = saved


def validate_ast(
    ast: Any, *, limits: DslLimits | None = None, parent: BuiltinStrategy | None = None
) -> ValidationReport:
    """Validate ``ast`` and return a report with every issue and the id-filled copy."""
    limits = limits or DslLimits()
    try:
        filled = copy_tree(ast)
    except RecursionError:
        issue = E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)
        return ValidationReport(ast=ast, issues=[issue])
    walker = _SectionTracker(limits, parent)
    try:
        walker.run(filled)
    except _NodeCapReached:
        pass
    except RecursionError:
        walker.issues.append(
            E.Issue(E.DEPTH_EXCEEDED, "the document is nested too deeply", "", None)
        )
    return ValidationReport(
        ast=filled,
        issues=walker.issues,
        ids_assigned=walker.ids_assigned,
        field_paths=frozenset(walker.paths),
        node_count=walker.count,
    )
