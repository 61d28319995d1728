"""A structural diff between two versions of a strategy, and a one-line text for any node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strategies.models import StrategyDefinition

SECTIONS = (("rules", "Rules"), ("pre_rules", "Pre rules"), ("post_rules", "Post rules"))
META_FIELDS = (
    ("type", "Type"),
    ("parent_strategy_id", "Parent"),
    ("description", "Description"),
    ("experiment_tag", "Experiment tag"),
)


def node_text(node: Any) -> str:
    """Return a short human reading of a condition, expression or statement."""
    if not isinstance(node, dict):
        return repr(node)
    kind = node.get("type")
    text = _TEXTS.get(kind) if isinstance(kind, str) else None
    return text(node) if text is not None else str(kind)


def _joined(nodes: Any, separator: str = "; ") -> str:
    return separator.join(node_text(n) for n in nodes or [])


def _literal_text(node: dict[str, Any]) -> str:
    value = node.get("value")
    return f'"{value}"' if isinstance(value, str) else _scalar(value)


def _operation_text(node: dict[str, Any]) -> str:
    kind, op = node.get("type"), node.get("op")
    left, right = node_text(node.get("left")), node_text(node.get("right"))
    if op in ("min", "max"):
        return f"{op}({left}, {right})"
    return f"({left} {op} {right})" if kind == "arith" else f"{left} {op} {right}"


def _logic_text(node: dict[str, Any]) -> str:
    return f" {node.get('type')} ".join(f"({node_text(a)})" for a in node.get("args") or [])


def _rule_text(node: dict[str, Any]) -> str:
    text = f"when {node_text(node.get('when'))} then " + _joined(node.get("then"))
    for branch in node.get("else_if") or []:
        if isinstance(branch, dict):
            text += f" / else if {node_text(branch.get('when'))} then " + _joined(
                branch.get("then")
            )
    if node.get("else"):
        text += " / else " + _joined(node["else"])
    return text


#: How each node type reads, by its ``type``; any other type reads as its name.
_TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "literal": _literal_text,
    "field": lambda node: str(node.get("path")),
    "compare": _operation_text,
    "arith": _operation_text,
    "and": _logic_text,
    "or": _logic_text,
    "not": lambda node: f"not ({node_text(node.get('arg'))})",
    "func_call": lambda node: f"{node.get('name')}({_joined(node.get('args'), ', ')})",
    "assign_points": lambda node: (
        f"award {node_text(node.get('value'))} as {node.get('case_name')}"
    ),
    "set_callback_data": lambda node: (
        f"callback {node.get('key')} = {node_text(node.get('value'))}"
    ),
    "set_data": lambda node: f"data.{node.get('key')} = {node_text(node.get('value'))}",
    "set_points": lambda node: f"points = {node_text(node.get('value'))}",
    "set_case_name": lambda node: f"case name = {node_text(node.get('value'))}",
    "veto": lambda node: f"veto as {node.get('case_name')}",
    "return": lambda _node: "stop",
    "rule": _rule_text,
}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strip_ids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_ids(v) for k, v in node.items() if k != "id"}
    if isinstance(node, list):
        return [_strip_ids(v) for v in node]
    return node


def _changed_pointers(a: Any, b: Any, pointer: str = "") -> list[str]:
    """Return the JSON pointers of the smallest parts that differ (ids ignored)."""
    if isinstance(a, dict) and isinstance(b, dict) and a.get("type") == b.get("type"):
        out: list[str] = []
        for key in sorted(set(a) | set(b) - {"id"}):
            if key == "id":
                continue
            out += _changed_pointers(a.get(key), b.get(key), f"{pointer}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _changed_pointers(x, y, f"{pointer}/{i}")
        return out
    return [] if _strip_ids(a) == _strip_ids(b) else [pointer or "/"]


@dataclass(slots=True)
class Change:
    kind: str  # "added", "removed", "changed"
    section: str
    label: str
    before: str = ""
    after: str = ""
    pointers: list[str] = field(default_factory=list)


def _rules(ast: Any, key: str) -> list[Any]:
    rules = ast.get(key) if isinstance(ast, dict) else None
    return rules if isinstance(rules, list) else []


def _key(rule: Any, index: int) -> str:
    node_id = rule.get("id") if isinstance(rule, dict) else None
    return node_id if isinstance(node_id, str) and node_id else f"#{index}"


def strategy_diff(*, old: StrategyDefinition, new: StrategyDefinition) -> dict[str, Any]:
    """Return what changed from ``old`` to ``new``: fields, and rules added, removed, changed.

    Rules are matched by node id (the editor keeps ids), so a moved rule is not reported as
    removed and added.
    """
    meta = [
        {"field": label, "before": getattr(old, name) or "", "after": getattr(new, name) or ""}
        for name, label in META_FIELDS
        if (getattr(old, name) or "") != (getattr(new, name) or "")
    ]
    changes: list[Change] = []
    for key, title in SECTIONS:
        before = {_key(r, i): (i, r) for i, r in enumerate(_rules(old.ast_json, key))}
        after = {_key(r, i): (i, r) for i, r in enumerate(_rules(new.ast_json, key))}
        for rule_key, (i, rule) in after.items():
            label = f"{title} #{i + 1}"
            if rule_key not in before:
                changes.append(Change("added", title, label, after=node_text(rule)))
                continue
            j, previous = before[rule_key]
            pointers = _changed_pointers(previous, rule, f"/{key}/{i}")
            if pointers:
                changes.append(
                    Change("changed", title, label, node_text(previous), node_text(rule), pointers)
                )
            elif i != j:
                changes.append(
                    Change("moved", title, f"{label} (was #{j + 1})", after=node_text(rule))
                )
        for rule_key, (j, rule) in before.items():
            if rule_key not in after:
                changes.append(
                    Change("removed", title, f"{title} #{j + 1}", before=node_text(rule))
                )
    for key, title in (("default", "Default"), ("parent_variables", "Parent variables")):
        a = old.ast_json.get(key) if isinstance(old.ast_json, dict) else None
        b = new.ast_json.get(key) if isinstance(new.ast_json, dict) else None
        if _strip_ids(a) == _strip_ids(b):
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        text = node_text if key == "default" else str
        changes.append(
            Change(
                kind,
                title,
                title,
                before="" if a is None else text(a),
                after="" if b is None else text(b),
            )
        )
    counts = {k: sum(1 for c in changes if c.kind == k) for k in ("added", "removed", "changed")}
    return {"meta": meta, "changes": changes, "counts": counts, "identical": not (meta or changes)}
