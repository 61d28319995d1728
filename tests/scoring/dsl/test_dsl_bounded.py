"""json_bounded: a copy within its byte budget, cut parts marked, cost set by the budget."""

from __future__ import annotations

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.dsl.bounded import MARKER, json_bounded

TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=80)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=8) | st.dictionaries(TEXT, children, max_size=8),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(value=JSON, max_bytes=st.integers(0, 2_000), max_depth=st.integers(0, 6))
def test_the_reported_size_bounds_every_encoding(value, max_bytes, max_depth):
    bounded = json_bounded(value, max_bytes=max_bytes, max_depth=max_depth)
    for text in (
        json.dumps(bounded.value),
        json.dumps(bounded.value, ensure_ascii=False, separators=(",", ":")),
    ):
        assert len(text.encode("utf-8")) <= bounded.size
    # Markers may pass the budget by a little: one per level cut and a string's preview.
    assert bounded.size <= max_bytes + (max_depth + 1) * 48 + 1_000


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_a_value_within_the_budget_comes_back_whole(value):
    bounded = json_bounded(value, max_bytes=10**9, max_depth=100)
    assert not bounded.truncated
    assert bounded.value == value


def test_cut_parts_are_replaced_by_explicit_markers():
    cut = json_bounded(
        {"a": list(range(1_000)), "b": "x" * 5_000, "c": [[[1]]]}, max_bytes=300, max_depth=2
    )
    assert cut.truncated
    items = cut.value["a"]
    assert items[-1] == {MARKER: "bytes", "omitted": 1_000 - len(items) + 1}
    assert cut.value[MARKER] == {"omitted": 2}
    deep = json_bounded([[[1]]], max_bytes=300, max_depth=2).value
    assert deep == [[{MARKER: "depth", "type": "list", "length": 1}]]
    text = json_bounded("é" * 5_000, max_bytes=200, max_depth=2).value
    assert text["type"] == "string"
    assert text["length"] == 5_000
    assert text["preview"] == "é" * len(text["preview"])


def test_escapes_are_counted_as_written():
    controls = "\x01" * 1_000  # 6 bytes each in JSON
    bounded = json_bounded(controls, max_bytes=2_000, max_depth=2)
    assert bounded.value[MARKER] == "bytes"
    assert len(json.dumps(bounded.value)) <= bounded.size <= 2_000


def test_the_cost_follows_the_budget_not_the_value():
    huge_text = "x" * 20_000_000
    nested = json.loads("[" + ",".join(["[0]"] * 300_000) + "]")
    for value in (huge_text, nested, {str(i): i for i in range(300_000)}):
        started = time.perf_counter()
        bounded = json_bounded(value, max_bytes=4_096, max_depth=8)
        assert time.perf_counter() - started < 0.1
        assert bounded.truncated
        assert bounded.size <= 4_096 + 500
