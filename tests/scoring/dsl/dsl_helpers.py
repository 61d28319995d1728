"""Builders and runners shared by the DSL tests (pure Python: no database)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.dsl.compile import compile_program
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import DslResult, run_program


class DictAnalytics:
    """Analytics answered from a dict; records every request it was built for."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, path: str) -> Any:
        return self.values.get(path)

    def recent_count(self, seconds: int) -> int:  # noqa: ARG002 - one count for every window
        return self.values.get("user.recent_measurements_count", 0)


class RecordingLoader:
    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.analytics = DictAnalytics(values)
        self.requests: list[AnalyticsRequest] = []

    def __call__(self, request: AnalyticsRequest) -> DictAnalytics:
        self.requests.append(request)
        return self.analytics


def lit(value: Any) -> dict:
    return {"type": "literal", "value": value}


def fld(path: str) -> dict:
    return {"type": "field", "path": path}


def cmp(op: str, left: dict, right: dict) -> dict:
    return {"type": "compare", "op": op, "left": left, "right": right}


def arith(op: str, left: dict, right: dict) -> dict:
    return {"type": "arith", "op": op, "left": left, "right": right}


def assign(value: dict, case_name: str = "Case") -> dict:
    return {"type": "assign_points", "value": value, "case_name": case_name}


def rule(when: dict, *then: dict, **extra: Any) -> dict:
    return {"type": "rule", "when": when, "then": list(then), **extra}


def program(*rules: dict, **extra: Any) -> dict:
    return {"type": "program", "rules": list(rules), **extra}


def score(
    ast: dict,
    data: Mapping[str, Any] | None = None,
    *,
    fields: Mapping[str, Any] | None = None,
    mode: str = "full",
    parent: Any = None,
    limits: DslLimits | None = None,
    trace: bool = False,
    mock_state: Mapping[str, Any] | None = None,
    loader: RecordingLoader | None = None,
) -> DslResult:
    compiled = compile_program(ast, limits=limits or DslLimits(), parent=parent)
    return run_program(
        compiled,
        event=ScoringEvent("g1", "t1", "u1", data if data is not None else {}),
        mode=mode,
        analytics_loader=loader or RecordingLoader(fields),
        parent=parent,
        trace=trace,
        mock_state=mock_state,
    )


def points_of(value_node: dict, data: Mapping[str, Any] | None = None) -> DslResult:
    """Run a one-rule program that assigns ``value_node``."""
    return score(program(rule(lit(True), assign(value_node))), data)
