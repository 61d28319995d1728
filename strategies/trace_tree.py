"""The rule tree of a program annotated with a simulation's trace: which branch each rule took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strategies.diff import node_text

SECTIONS = (("pre_rules", "Pre rules"), ("rules", "Rules"), ("post_rules", "Post rules"))


@dataclass(slots=True)
class Branch:
    label: str
    condition: str
    statements: list[str]
    taken: bool = False


@dataclass(slots=True)
class RuleNode:
    node_id: str | None
    pointer: str
    outcome: str  # "match", "elseif:0", "else", "skip" or "not reached"
    branches: list[Branch] = field(default_factory=list)

    @property
    def reached(self) -> bool:
        return self.outcome != "not reached"


@dataclass(slots=True)
class Section:
    title: str
    rules: list[RuleNode]


def _statements(nodes: Any) -> list[str]:
    return [node_text(n) for n in nodes or []] if isinstance(nodes, list) else []


def trace_tree(*, ast: Any, trace: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the program's sections with each rule's branches and the one the run took."""
    outcomes = {
        entry.get("nodeId"): entry.get("branch")
        for entry in trace
        if entry.get("type") == "rule" and entry.get("nodeId")
    }
    executed = {entry.get("nodeId") for entry in trace}
    sections: list[Section] = []
    if not isinstance(ast, dict):
        return {"sections": sections, "default": None}
    for key, title in SECTIONS:
        rules = ast.get(key)
        if not isinstance(rules, list) or not rules:
            continue
        nodes = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            node_id = rule.get("id")
            outcome = outcomes.get(node_id) or "not reached"
            branches = [
                Branch(
                    "when",
                    node_text(rule.get("when")),
                    _statements(rule.get("then")),
                    outcome == "match",
                )
            ]
            for j, branch in enumerate(rule.get("else_if") or []):
                if isinstance(branch, dict):
                    branches.append(
                        Branch(
                            "else if",
                            node_text(branch.get("when")),
                            _statements(branch.get("then")),
                            outcome == f"elseif:{j}",
                        )
                    )
            if rule.get("else"):
                branches.append(Branch("else", "", _statements(rule["else"]), outcome == "else"))
            nodes.append(RuleNode(node_id, f"/{key}/{i}", outcome, branches))
        sections.append(Section(title, nodes))
    default = ast.get("default")
    default_info = None
    if isinstance(default, dict):
        default_info = {"text": node_text(default), "ran": default.get("id") in executed}
    return {"sections": sections, "default": default_info}
