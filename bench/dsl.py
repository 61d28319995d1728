"""Benchmark the DSL's per-event path and its validation+compile step; prints its figures.

Run: ``.venv/bin/python bench/dsl.py``. The per-event path is the full one the scoring
service takes: field precompute from given analytics values, the walk and the result.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.dsl.compile import clear_cache, compile_program
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program

TWINS = Path(__file__).resolve().parents[1] / "scoring" / "builtins" / "twins"


class DictAnalytics:
    def __init__(self, values: dict) -> None:
        self.values = values

    def get(self, path: str):
        return self.values.get(path)

    def recent_count(self, seconds: int) -> int:  # noqa: ARG002 - one count for every window
        return self.values.get("user.recent_measurements_count", 0)


TYPICAL = DictAnalytics(
    {
        "task.measurements_count": 40,
        "user.measurements_count": 12,
        "user.avg_time": 30.0,
        "all.avg_time": 25.0,
        "user.last_window_diff": 20.0,
        "user.new_last_window_diff": 35.0,
    }
)


def synthetic_program(target: int = 950) -> dict:
    """A program of about ``target`` nodes: many rules on data fields, one matching late."""
    rules = []
    count = 0
    i = 0
    while count + 11 <= target - 2:
        when = {
            "type": "and",
            "args": [
                {
                    "type": "compare",
                    "op": ">=",
                    "left": {
                        "type": "arith",
                        "op": "+",
                        "left": {"type": "field", "path": "data.x"},
                        "right": {"type": "literal", "value": i},
                    },
                    "right": {"type": "literal", "value": 10_000},
                },
                {"type": "field", "path": "data.flag"},
            ],
        }
        then = [
            {
                "type": "assign_points",
                "value": {"type": "literal", "value": i},
                "case_name": f"R{i}",
            }
        ]
        rules.append({"type": "rule", "when": when, "then": then})
        count += 11
        i += 1
    return {
        "type": "program",
        "rules": rules,
        "default": {
            "type": "assign_points",
            "value": {"type": "literal", "value": 1},
            "case_name": "Default",
        },
    }


def per_eval(fn, number: int) -> float:
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    limits = DslLimits()
    default_ast = json.loads((TWINS / "default.json").read_text())
    synthetic = synthetic_program()
    event = ScoringEvent("g1", "t1", "u1", {"x": 5, "flag": True})

    def loader(_request: AnalyticsRequest) -> DictAnalytics:
        return TYPICAL

    rows = []
    for label, ast, number in (
        ("default twin", default_ast, 50_000),
        ("synthetic", synthetic, 5_000),
    ):
        clear_cache()
        compile_us = per_eval(
            lambda ast=ast: (clear_cache(), compile_program(ast, limits=limits)), 20
        )
        program = compile_program(ast, limits=limits)
        nodes = run_program(program, event=event, analytics_loader=loader).nodes_executed
        size = len(program.ast["rules"])
        plain = per_eval(
            lambda p=program: run_program(p, event=event, analytics_loader=loader), number
        )
        traced = per_eval(
            lambda p=program: run_program(p, event=event, analytics_loader=loader, trace=True),
            max(number // 5, 1),
        )
        rows.append((label, size, nodes, plain, traced, compile_us))
    print(
        f"{'program':14} {'rules':>5} {'visited':>7} {'µs/eval':>9} {'eval/s':>10} "
        f"{'traced µs':>10} {'traced/s':>10} {'validate+compile µs':>20}"
    )
    for label, size, nodes, plain, traced, compile_us in rows:
        print(
            f"{label:14} {size:5d} {nodes:7d} {plain:9.2f} {1e6 / plain:10.0f} "
            f"{traced:10.2f} {1e6 / traced:10.0f} {compile_us:20.1f}"
        )


if __name__ == "__main__":
    main()
