"""Programs and helpers shared by the backtest tests: history-dependent strategies and awards
made through the real award endpoint."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DEFAULT_TWIN = json.loads(
    (Path(__file__).resolve().parents[2] / "scoring/builtins/twins/default.json").read_text()
)


def field(path: str) -> dict:
    return {"type": "field", "path": path}


def literal(value: Any) -> dict:
    return {"type": "literal", "value": value}


def compare(op: str, left: dict, right: dict) -> dict:
    return {"type": "compare", "op": op, "left": left, "right": right}


def arith(op: str, left: dict, right: dict) -> dict:
    return {"type": "arith", "op": op, "left": left, "right": right}


def assign(value: dict, case_name: str) -> dict:
    return {"type": "assign_points", "value": value, "case_name": case_name}


#: task.measurements_count * 100 + user.recent_measurements_count * 10 + user.measurements_count
COUNTS_PROGRAM = {
    "type": "program",
    "rules": [],
    "default": assign(
        arith(
            "+",
            arith(
                "+",
                arith("*", field("task.measurements_count"), literal(100)),
                arith("*", field("user.recent_measurements_count"), literal(10)),
            ),
            field("user.measurements_count"),
        ),
        "Counted",
    ),
}


def rule(when: dict, *then: dict) -> dict:
    return {"type": "rule", "when": when, "then": list(then)}


#: Reads every analytics value: counts, the recent window, mean gaps and the last gaps.
HISTORY_PROGRAM = {
    "type": "program",
    "rules": [
        rule(
            compare("<", field("task.measurements_count"), literal(2)),
            assign(literal(1), "Opening"),
        ),
        rule(
            compare(">=", field("user.recent_measurements_count"), literal(3)),
            assign(
                arith(
                    "+",
                    arith("*", field("user.recent_measurements_count"), literal(2)),
                    field("data.score"),
                ),
                "Streak",
            ),
        ),
        rule(
            {
                "type": "and",
                "args": [
                    compare(">=", field("user.measurements_count"), literal(2)),
                    compare("<", field("user.avg_time"), field("all.avg_time")),
                ],
            },
            assign(literal(7), "Quick"),
        ),
        rule(
            compare(">", field("user.new_last_window_diff"), field("user.last_window_diff")),
            assign(literal(4), "Slowing"),
        ),
    ],
    "default": assign(field("data.score"), "Base"),
}

#: constant_effort with a one-minute window, then the player's count added on top.
CONSTANT_EFFORT_EXTENSION = {
    "type": "program",
    "rules": [],
    "parent_variables": {"variable_constant_effort_interval_minutes": 1},
    "post_rules": [
        rule(
            compare(">", field("user.measurements_count"), literal(0)),
            {
                "type": "set_points",
                "value": arith("+", field("parent.points"), field("user.measurements_count")),
            },
        )
    ],
}

#: The default built-in, its points tripled when the event says so.
DEFAULT_EXTENSION = {
    "type": "program",
    "rules": [],
    "post_rules": [
        rule(
            compare("==", field("data.level"), literal(2)),
            {"type": "set_points", "value": arith("*", field("parent.points"), literal(3))},
            {"type": "set_case_name", "value": literal("Tripled")},
        )
    ],
}


def doubled(program: dict) -> dict:
    """Return ``program`` with every points value it assigns or sets doubled."""
    copied = copy.deepcopy(program)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("assign_points", "set_points"):
                node["value"] = arith("*", node["value"], literal(2))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(copied)
    return copied


def award(api, task, user: str, data: dict) -> dict:
    """Award through the real endpoint; return its answer."""
    response = api.post(
        f"/api/v1/games/{task.game.external_game_id}/tasks/{task.external_task_id}/points",
        {"externalUserId": user, "data": data},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()
