"""The DSL twins of the built-ins agree with the Python built-ins on generated histories."""

from __future__ import annotations

import json
from pathlib import Path

from dsl_helpers import DictAnalytics, RecordingLoader
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.builtins.base import ScoringEvent
from scoring.builtins.registry import builtin_get
from scoring.dsl.compile import compile_program
from scoring.dsl.run import run_program

TWINS = Path(__file__).resolve().parents[3] / "scoring" / "builtins" / "twins"
EVENT = ScoringEvent("g1", "t1", "u1", {})

times = st.one_of(
    st.integers(min_value=-1, max_value=10_000),
    st.floats(min_value=-1, max_value=1e6, allow_nan=False),
)
histories = st.fixed_dictionaries(
    {
        "task.measurements_count": st.integers(min_value=0, max_value=50),
        "user.measurements_count": st.integers(min_value=0, max_value=50),
        "user.avg_time": times,
        "all.avg_time": times,
        "user.last_window_diff": times,
        "user.new_last_window_diff": times,
    }
)


def twin(name: str):
    return compile_program(json.loads((TWINS / f"{name}.json").read_text()))


def run_twin(name: str, values: dict):
    result = run_program(twin(name), event=EVENT, analytics_loader=RecordingLoader(values))
    assert result.ok, result.error
    return result


@settings(max_examples=1000, deadline=None)
@given(histories)
def test_default_twin_agrees_with_the_default_builtin(values):
    builtin = builtin_get("default")
    expected = builtin.score(
        event=EVENT, analytics=DictAnalytics(values), variables=builtin.variables
    )
    got = run_twin("default", values)
    assert (got.points, got.case_name) == (expected.points, expected.case_name)
    assert type(got.points) is type(expected.points)


def test_default_twin_covers_every_branch_of_the_builtin():
    base = {"task.measurements_count": 5, "user.measurements_count": 5, "user.last_window_diff": 10}
    cases = {
        "BasicEngagement": {**base, "task.measurements_count": 1},
        "default": {**base, "user.measurements_count": 2},
        "PerformanceBonus": {**base, "user.avg_time": 5, "all.avg_time": 10},
        "IndividualOverGlobal": {
            **base,
            "user.avg_time": 30,
            "all.avg_time": 20,
            "user.new_last_window_diff": 15,
        },
        "PeakPerformerBonus": {
            **base,
            "user.avg_time": 30,
            "all.avg_time": 2,
            "user.new_last_window_diff": 15,
        },
        "GlobalAdvantageAdjustment": {
            **base,
            "user.avg_time": 3,
            "all.avg_time": 2,
            "user.new_last_window_diff": 50,
        },
        "IndividualAdjustment": {
            **base,
            "user.avg_time": 3,
            "all.avg_time": 2,
            "user.new_last_window_diff": 5,
        },
    }
    for case_name, values in cases.items():
        assert run_twin("default", values).case_name == case_name


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_constant_effort_twin_agrees_with_the_builtin_in_integers(recent):
    builtin = builtin_get("constantEffortStrategy")
    values = {"user.recent_measurements_count": recent}
    expected = builtin.score(
        event=EVENT, analytics=DictAnalytics(values), variables=builtin.variables
    )
    got = run_twin("constant_effort", values)
    assert (got.points, got.case_name) == (expected.points, expected.case_name)
    assert type(got.points) is int


def test_constant_effort_twin_has_no_float_truncation_quirk():
    assert run_twin("constant_effort", {"user.recent_measurements_count": 28}).points == 29
    assert run_twin("constant_effort", {"user.recent_measurements_count": 57}).points == 58


def test_twins_read_only_the_analytics_their_builtins_read():
    assert twin("default").analytics_request == builtin_get("default").analytics_needed({})
    assert twin("constant_effort").analytics_request.recent_windows == frozenset({300})
