"""Static validation: shape, allow-lists, limits, case names and keys, every problem reported.

The walk is depth-first in the check order of spec section 7.2, so the first issue is the one
the reference validator (which stops at the first problem) would report. Missing ids are
filled in on the way with the collision-free scheme documented in ``docs/dsl.md`` (Q21).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scoring.builtins.base import BuiltinStrategy
from scoring.dsl import errors as E
from scoring.dsl import spec
from scoring.dsl.limits import DslLimits
from scoring.dsl.validate_nodes import SCALARS, NodeCapReached, NodeValidator, type_name


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
            wanted = "an integer" if expected is int else "a number"
            issues.append(
                E.Issue(
                    E.PARENT_VARIABLES_BAD_TYPE,
                    f"{key!r} must be {wanted}, got {spec.kind_name(value)}",
                    ptr,
                    node_id,
                    {"key": key, "expected": expected.__name__, "actual": type_name(value)},
                )
            )
    return issues


class _Validator(NodeValidator):
    """The walk of the program, its sections and rules; the node checks come from the base."""

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
                actual=node_type if isinstance(node_type, str) else type_name(node_type),
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
                self.issue(
                    E.SECTION_NOT_ARRAY,
                    f"{spec.PROGRAM_KEY_LABELS[key]} must be an array or null",
                    "",
                    pid,
                )
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
            self.issue(E.PARENT_VARIABLES_NOT_OBJECT, "parent variables must be an object", "", pid)
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
                actual=node_type if isinstance(node_type, str) else type_name(node_type),
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

    def run(self, ast: Any) -> None:
        self.program(ast)


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
    except NodeCapReached:
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
