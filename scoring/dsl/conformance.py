"""Run golden cases of the conformance corpus (``shared/conformance``) through the engine."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scoring.builtins.base import (
    Analytics,
    AnalyticsRequest,
    BuiltinStrategy,
    ScoringEvent,
    StrategyResult,
)
from scoring.builtins.registry import builtin_get
from scoring.dsl import errors as E
from scoring.dsl.compile import compile_program
from scoring.dsl.limits import DslLimits
from scoring.dsl.run import run_program

_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def decode_floats(value: Any) -> Any:
    """Replace every ``{"$float": ...}`` object by the float it stands for."""
    if isinstance(value, dict):
        if len(value) == 1 and "$float" in value:
            return _FLOATS[value["$float"]]
        return {k: decode_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_floats(v) for v in value]
    return value


def encode_floats(value: Any) -> Any:
    """Inverse of :func:`decode_floats`, so that the output is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"$float": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, dict):
        return {k: encode_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_floats(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class FieldsAnalytics:
    """Analytics answered from a case's ``inputs.fields``; every window reads the recent count."""

    fields: Mapping[str, Any]

    def get(self, path: str) -> Any:
        return self.fields.get(path)

    def recent_count(self, seconds: int) -> int:  # noqa: ARG002 - one count for every window
        return self.fields.get("user.recent_measurements_count", 0)


class StubParent(BuiltinStrategy):
    """The corpus' stand-in parent: ignores its inputs and returns a fixed value."""

    id = "stub"
    version = "0"
    description = "conformance stub"
    variables: ClassVar[dict[str, int]] = {"variable_basic_points": 1, "variable_bonus_points": 1}

    def __init__(self, returns: Any) -> None:
        self.returns = returns

    def analytics_needed(self, variables: Mapping[str, Any]) -> AnalyticsRequest:  # noqa: ARG002 - BuiltinStrategy API
        return AnalyticsRequest()

    def score(
        self,
        *,
        # The stub ignores its inputs; the names are BuiltinStrategy.score's.
        event: ScoringEvent,  # noqa: ARG002
        analytics: Analytics,  # noqa: ARG002
        variables: Mapping[str, Any],  # noqa: ARG002
    ) -> StrategyResult | Any:
        return self.returns


def _parent_for(case: Mapping[str, Any]) -> BuiltinStrategy | None:
    spec = case.get("parent")
    if case.get("mode") != "extend" or not spec:
        return None
    if spec["id"] == "stub":
        if "returns_scalar" in spec:
            return StubParent(decode_floats(spec["returns_scalar"]))
        return StubParent(tuple(decode_floats(spec["returns"])))
    return builtin_get(spec["id"])


def _limits(raw: Mapping[str, Any] | None) -> DslLimits:
    raw = raw or {}
    return DslLimits(
        max_nodes=raw.get("max_nodes", 1000),
        max_depth=raw.get("max_depth", 32),
        timeout_ms=raw.get("timeout_ms", 500),
        runtime_max_nodes=raw.get("runtime_max_nodes"),
        runtime_max_depth=raw.get("runtime_max_depth"),
        # Traces are compared with the reference engine's, which kept them whole.
        trace_bytes=None,
        callback_bytes=None,
    )


def run_case(case: Mapping[str, Any], *, trace: bool = True) -> dict[str, Any]:
    """Run one corpus case and return its result line (strict JSON-ready)."""
    ast = decode_floats(case["ast"])
    inputs = decode_floats(case.get("inputs") or {})
    mode = case.get("mode", "full")
    parent = _parent_for(case)
    out: dict[str, Any] = {
        "name": case["name"],
        "outcome": "ok",
        "points": None,
        "case_name": None,
        "callback_data": {},
        "vetoed": False,
        "parent_called": False,
        "parent_received_data": None,
        "error_code": None,
        "node_id": None,
        "status": "ok",
        "nodes_executed": 0,
        "trace": None,
    }
    validate = case.get("validate", True)
    try:
        program = compile_program(
            ast, limits=_limits(case.get("limits")), parent=parent, validate=validate
        )
    except E.DslError as error:
        out.update(
            outcome="validation_error" if validate else "runtime_error",
            error_code=error.code,
            node_id=error.node_id,
            status=error.status,
        )
        return out
    event = ScoringEvent(
        external_game_id=inputs.get("externalGameId", ""),
        external_task_id=inputs.get("externalTaskId", ""),
        external_user_id=inputs.get("externalUserId", ""),
        data=inputs.get("data") or {},
    )
    fields = inputs.get("fields") or {}
    result = run_program(
        program,
        event=event,
        mode=mode,
        analytics_loader=lambda _request: FieldsAnalytics(fields),
        parent=parent,
        trace=trace,
    )
    out.update(
        vetoed=result.vetoed,
        parent_called=result.parent_called,
        parent_received_data=encode_floats(result.parent_received_data),
        status=result.status,
        nodes_executed=result.nodes_executed,
        trace=encode_floats(result.trace),
    )
    if result.error is not None:
        out.update(outcome="runtime_error", error_code=result.error.code, node_id=result.node_id)
        return out
    out.update(
        points=encode_floats(result.points),
        case_name=result.case_name,
        callback_data=encode_floats(result.callback_data),
    )
    return out


def read_cases(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def run_jsonl(source: Path, target: Path) -> int:
    """Run every case of ``source`` and write one result line per case to ``target``."""
    count = 0
    with target.open("w", encoding="utf-8") as handle:
        for case in read_cases(source):
            handle.write(json.dumps(run_case(case), allow_nan=False) + "\n")
            count += 1
    return count


# -- comparison with the corpus' expectations -----------------------------------------------------
def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def expected_reason(case: Mapping[str, Any]) -> str | None:
    expected = case["expected"]
    error = (expected.get("validation") or {}).get("error") or expected.get("error")
    return error.get("reason") if error else None


def level1_mismatches(case: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    """Return what differs at level 1 (semantic conformance); empty when the case passes."""
    expected = case["expected"]
    problems = []
    if got["outcome"] != expected["outcome"]:
        problems.append(f"outcome {got['outcome']} != {expected['outcome']}")
        return problems
    if expected["outcome"] != "ok":
        reason = E.reason_for_code(got["error_code"]) if got["error_code"] else None
        if reason != expected_reason(case):
            problems.append(f"reason {reason} != {expected_reason(case)}")
        return problems
    for key in ("points", "case_name", "callback_data", "vetoed"):
        want = decode_floats(expected.get(key))
        have = decode_floats(got[key])
        if key == "callback_data":
            want = want or {}
        if not _same(have, want):
            problems.append(f"{key} {have!r} != {want!r}")
    if case.get("mode") == "extend":
        parent = expected.get("parent") or {}
        if got["parent_called"] != parent.get("called"):
            problems.append(f"parent.called {got['parent_called']} != {parent.get('called')}")
        elif parent.get("called") and not _same(
            decode_floats(got["parent_received_data"]), decode_floats(parent.get("received_data"))
        ):
            have, want = got["parent_received_data"], parent.get("received_data")
            problems.append(f"parent.received_data {have} != {want}")
    return problems


def level2_agreement(case: Mapping[str, Any], got: Mapping[str, Any]) -> dict[str, bool]:
    """Return, per level-2 aspect that applies to the case, whether the engine agrees."""
    expected = case["expected"]
    aspects: dict[str, bool] = {}
    error = (expected.get("validation") or {}).get("error") or expected.get("error")
    if error and error.get("node_id") not in (None, "None"):
        aspects["node_id"] = got["node_id"] == error["node_id"]
    if expected["outcome"] == "ok":
        points_type = expected.get("points_type")
        have = decode_floats(got["points"])
        aspects["points_type"] = type(have).__name__ == points_type
        if expected.get("trace") is not None:
            aspects["trace"] = _same(got["trace"], expected["trace"])
            aspects["nodes_executed"] = got["nodes_executed"] == expected.get("nodes_executed")
    return aspects


def summarise(cases: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Run cases and count level-1 passes and level-2 agreement per aspect."""
    total = passed = 0
    level2: dict[str, list[int]] = {}
    failures = []
    for case in cases:
        got = run_case(case)
        problems = level1_mismatches(case, got)
        quirk = bool(case.get("quirks"))
        if not quirk:
            total += 1
            passed += not problems
            if problems:
                failures.append((case["name"], problems))
        for aspect, ok in level2_agreement(case, got).items():
            level2.setdefault(aspect, [0, 0])
            level2[aspect][0] += ok
            level2[aspect][1] += 1
    return {"level1": (passed, total), "level2": level2, "failures": failures}
