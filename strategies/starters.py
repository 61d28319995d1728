"""Starting points of a new strategy: empty, a built-in's AST twin, an example, an extension."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from scoring.builtins.registry import builtin_list
from scoring.strategy_types import StrategyKind

TWINS_DIR = Path(__file__).resolve().parent.parent / "scoring" / "builtins" / "twins"
STARTERS_DIR = Path(__file__).resolve().parent / "starters"


@dataclass(frozen=True, slots=True)
class Starter:
    key: str
    title: str
    description: str
    type: str
    parent_strategy_id: str | None
    ast_json: dict[str, Any]


@cache
def starter_list() -> tuple[Starter, ...]:
    """Return every starting point, the empty programs first."""
    starters = [
        Starter(
            "empty-full",
            "Empty program",
            "Write every rule yourself (DSL_FULL).",
            StrategyKind.DSL_FULL,
            None,
            {"type": "program", "rules": []},
        )
    ]
    for builtin in builtin_list():
        starters.append(
            Starter(
                f"extend-{builtin.id}",
                f"Extend {builtin.id}",
                f"Run the built-in {builtin.id!r}, with pre and post rules around it.",
                StrategyKind.DSL_EXTEND,
                builtin.id,
                {"type": "program", "rules": [], "pre_rules": [], "post_rules": []},
            )
        )
    for path in sorted(TWINS_DIR.glob("*.json")):
        starters.append(
            Starter(
                f"twin-{path.stem}",
                f"Copy of {path.stem} (template)",
                f"The built-in {path.stem!r} written as rules, ready to change.",
                StrategyKind.DSL_FULL,
                None,
                json.loads(path.read_text()),
            )
        )
    for path in sorted(STARTERS_DIR.glob("*.json")):
        raw = json.loads(path.read_text())
        starters.append(
            Starter(
                f"example-{path.stem}",
                raw["name"],
                raw.get("description", ""),
                raw["type"],
                raw.get("parentStrategyId"),
                raw["astJson"],
            )
        )
    return tuple(starters)


def starter_get(key: str) -> Starter | None:
    return next((s for s in starter_list() if s.key == key), None)
