"""The golden corpus of shared/conformance: every non-quirk case must match at level 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.dsl.conformance import (
    level1_mismatches,
    level2_agreement,
    read_cases,
    run_case,
    run_jsonl,
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


@needs_corpus
def test_level_2_agreement_is_reported(capsys):
    totals: dict[str, list[int]] = {}
    for case in CASES:
        for aspect, ok in level2_agreement(case, run_case(case)).items():
            counts = totals.setdefault(aspect, [0, 0])
            counts[0] += ok
            counts[1] += 1
    with capsys.disabled():
        summary = ", ".join(f"{k} {ok}/{n}" for k, (ok, n) in sorted(totals.items()))
        print(f"\nDSL conformance level 2 (informative): {summary}")
    assert totals


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
