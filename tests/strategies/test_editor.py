"""The block editor's requests, read without HTTP."""

from __future__ import annotations

import json

import pytest

from gamification.errors import DomainError
from strategies.editor import editor_request_parse
from strategies.errors import StrategyInvalid


def _parse(body, **kwargs):
    return editor_request_parse(raw=json.dumps(body).encode(), encoding="utf-8", **kwargs)


def test_the_program_text_wins_over_the_program_json():
    body = _parse({"astJson": {"a": 1}, "astText": '{"b": 2}', "parentStrategyId": ""})
    assert (body.ast_json, body.type, body.parent_strategy_id) == ({"b": 2}, "DSL_FULL", None)
    assert _parse({"astText": "  "}).ast_json is None


def test_program_text_that_is_not_json_is_an_invalid_program():
    with pytest.raises(StrategyInvalid) as refused:
        _parse({"astText": "{nope"})
    assert refused.value.errors[0]["code"] == "DSL_AST_NOT_JSON"


def test_simulation_inputs_default_and_the_realm_is_read_only_for_a_simulation():
    body = _parse({"realm": "7", "data": [1], "mockState": {"x": 1}}, simulation=True)
    assert (body.realm_id, body.data, body.mock_state) == (7, {}, {"x": 1})
    assert body.external_user_id == "simulated-user"
    assert _parse({"realm": "abc"}).realm_id is None
    with pytest.raises(DomainError) as refused:
        _parse({"realm": "abc"}, simulation=True)
    assert refused.value.code == "VALIDATION_ERROR"


def test_text_fields_must_be_text():
    with pytest.raises(DomainError) as refused:
        _parse({"externalUserId": 3})
    assert refused.value.detail == "externalUserId must be a string."
