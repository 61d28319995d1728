"""The award request's hand-written check against AwardRequestSerializer, payload by payload."""

from __future__ import annotations

import json

import pytest
from rest_framework import serializers

from gamification.errors import exception_handler
from scoring import serializers as scoring_serializers
from scoring.serializers import AwardRequestSerializer, award_request_validated
from tests.factories import GameFactory, TaskFactory

URL = "/api/v1/games/g1/tasks/t1/points"

PAYLOADS = [
    {"externalUserId": "u1"},
    {"externalUserId": "u1", "data": {"score": 3, "nested": {"a": [1, None]}}},
    {"externalUserId": "u1", "data": {}, "dryRun": True},
    {"externalUserId": "u1", "dryRun": False, "unknownField": 1},
    {"externalUserId": "  padded  "},
    {"externalUserId": "ünïcødé 🎮"},
    {"externalUserId": "u" * 255},
    {"externalUserId": " " + "u" * 255 + " "},
    {"externalUserId": 42},
    {"externalUserId": 4.5},
    {"externalUserId": "u1", "dryRun": "yes"},
    {"externalUserId": "u1", "dryRun": "true"},
    {"externalUserId": "u1", "dryRun": 1},
    {"externalUserId": "u1", "dryRun": 0.0},
    {},
    {"externalUserId": ""},
    {"externalUserId": "   "},
    {"externalUserId": None},
    {"externalUserId": True},
    {"externalUserId": ["u1"]},
    {"externalUserId": {"id": "u1"}},
    {"externalUserId": "u" * 256},
    {"externalUserId": "u\x00"},
    {"externalUserId": "u\ud800"},
    {"externalUserId": "u1", "data": [1, 2]},
    {"externalUserId": "u1", "data": None},
    {"externalUserId": "u1", "data": "text"},
    {"externalUserId": "u1", "dryRun": None},
    {"externalUserId": "u1", "dryRun": "maybe"},
    {"externalUserId": "u1", "dryRun": 2},
    {"externalUserId": "", "data": 3, "dryRun": "no way"},
    [],
    ["externalUserId"],
    "u1",
    7,
    None,
]


def _serializer_outcome(payload):
    serializer = AwardRequestSerializer(data=payload)
    if serializer.is_valid():
        return ("valid", dict(serializer.validated_data))
    return ("invalid", serializer.errors)


def _validator_outcome(payload):
    try:
        return ("valid", dict(award_request_validated(payload)))
    except serializers.ValidationError as error:
        return ("invalid", error.detail)


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
def test_award_request_validated_agrees_with_the_serializer(payload):
    expected_kind, expected = _serializer_outcome(payload)
    kind, outcome = _validator_outcome(payload)

    assert kind == expected_kind
    assert outcome == expected
    if kind == "invalid":
        # The same messages with the same codes, which is what the 400 body is made of.
        assert serializers.as_serializer_error(serializers.ValidationError(outcome)) == (
            serializers.as_serializer_error(serializers.ValidationError(expected))
        )


def test_a_well_formed_request_is_validated_without_building_the_serializer(monkeypatch):
    built = []

    class CountingSerializer(AwardRequestSerializer):
        def __init__(self, *args, **kwargs):
            built.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(scoring_serializers, "AwardRequestSerializer", CountingSerializer)

    assert award_request_validated({"externalUserId": " u1 ", "data": {"a": 1}}) == {
        "externalUserId": "u1",
        "data": {"a": 1},
        "dryRun": False,
    }
    assert built == []
    with pytest.raises(serializers.ValidationError):
        award_request_validated({"externalUserId": ""})
    assert len(built) == 1


def test_validated_data_is_a_copy_of_the_event_data():
    data = {"score": 1}

    validated = award_request_validated({"externalUserId": "u1", "data": data})

    assert validated["data"] == data
    assert validated["data"] is not data


def _http_body_from_serializer(payload):
    serializer = AwardRequestSerializer(data=payload)
    assert not serializer.is_valid()
    response = exception_handler(serializers.ValidationError(serializer.errors), {})
    return response.status_code, json.loads(json.dumps(response.data))


def _refused_by_parser(payload):
    text = json.dumps(payload)
    return "\\u0000" in text or "\\ud800" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        p
        for p in PAYLOADS
        # The JSON parser answers INVALID_STRING before validation for NUL and surrogates,
        # and a null body never reaches the view as null.
        if _serializer_outcome(p)[0] == "invalid" and p is not None and not _refused_by_parser(p)
    ],
    ids=repr,
)
def test_award_endpoint_answers_the_serializers_400_body(api, realm, payload):
    game = GameFactory(realm=realm, external_game_id="g1")
    TaskFactory(game=game, external_task_id="t1", strategy_id="default")

    response = api.post(URL, payload, format="json")

    assert (response.status_code, response.json()) == _http_body_from_serializer(payload)
