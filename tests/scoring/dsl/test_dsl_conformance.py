"""The golden corpus of shared/conformance: every non-quirk case must match at level 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.dsl.conformance import (
    level1_mismatches,
    read_cases,
    run_case,
    run_jsonl,
    summarise,
)

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "conformance"
FILES = ("cases.jsonl", "game-templates.jsonl")


def _cases() -> list:
    if not CORPUS.is_dir():
        return []
    return [case for name in FILES for case in read_cases(CORPUS / name)]


CASES = _cases()
STRICT = [case for case in CASES if not case["quirks"]]
needs_corpus = pytest.mark.skipif(
    not CASES, reason=f"conformance corpus not found at {CORPUS} (shared/ beside the checkout)"
)


@needs_corpus
@pytest.mark.parametrize("case", STRICT, ids=[case["name"] for case in STRICT])
def test_non_quirk_case_matches_at_level_1(case):
    assert level1_mismatches(case, run_case(case)) == []


#: The agreement of today's engine per level-2 aspect; a regression below it fails.
LEVEL_2_FLOOR = {"node_id": 82, "nodes_executed": 157, "points_type": 145, "trace": 130}


def _level_2_applies(case) -> set[str]:
    """Return the level-2 aspects the corpus README says ``case`` is compared on."""
    expected = case["expected"]
    aspects = set()
    error = (expected.get("validation") or {}).get("error") or expected.get("error")
    if error and error.get("node_id") not in (None, "None"):
        aspects.add("node_id")
    if expected["outcome"] == "ok":
        aspects.add("points_type")
        if expected.get("trace") is not None:
            aspects |= {"trace", "nodes_executed"}
    return aspects


@needs_corpus
def test_level_2_agreement_is_reported(capsys):
    report = summarise(CASES)
    totals = report["level2"]
    with capsys.disabled():
        summary = ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in sorted(totals.items()))
        print(f"\nDSL conformance level 2 (informative): {summary}")

    applicable = {aspect: 0 for aspect in LEVEL_2_FLOOR}
    for case in CASES:
        for aspect in _level_2_applies(case):
            applicable[aspect] += 1
    assert {aspect: n for aspect, (_ok, n) in totals.items()} == applicable
    assert all(n > 0 for n in applicable.values())
    agreed = {aspect: ok for aspect, (ok, _n) in totals.items()}
    for aspect, m in applicable.items():
        assert f"{aspect} {agreed[aspect]}/{m}" in summary
    below = {a: agreed[a] for a, floor in LEVEL_2_FLOOR.items() if agreed[a] < floor}
    assert below == {}, f"level-2 agreement fell below {LEVEL_2_FLOOR}"
    assert report["level1"] == (len(STRICT), len(STRICT))


@needs_corpus
def test_the_runner_writes_one_strict_json_line_per_case_in_order(tmp_path):
    out = tmp_path / "results.jsonl"
    assert run_jsonl(CORPUS / "cases.jsonl", out) == sum(
        1 for _ in read_cases(CORPUS / "cases.jsonl")
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    names = [case["name"] for case in read_cases(CORPUS / "cases.jsonl")]
    assert [line["name"] for line in lines] == names
    assert set(lines[0]) == {
        "name",
        "outcome",
        "points",
        "case_name",
        "callback_data",
        "vetoed",
        "parent_called",
        "parent_received_data",
        "error_code",
        "node_id",
        "status",
        "nodes_executed",
        "trace",
    }


@needs_corpus
def test_the_dsl_eval_command_runs_a_corpus_file(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "out.jsonl"
    call_command("dsl_eval", jsonl=str(CORPUS / "game-templates.jsonl"), out=str(out))
    assert len(out.read_text().splitlines()) == len(
        list(read_cases(CORPUS / "game-templates.jsonl"))
    )
