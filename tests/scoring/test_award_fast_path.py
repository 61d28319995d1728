"""The award endpoint's lean path answers every request exactly as DRF's own dispatch does.

Each case sends the same request twice, each time in a savepoint rolled back afterwards:
once to the real endpoint and once, through this module as the URLconf, to the same view
served by DRF's ``APIView.dispatch`` alone. Status, body and headers must be equal, except
for the id and the time of a stored award, which no two awards share.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import path
from prometheus_client import REGISTRY
from rest_framework.views import APIView

from gamification.auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasRealm
from gamification.models import ApiKey, Award, TaskStatus
from gamification.parsers import FiniteJSONParser
from gamification.renderers import JSONRenderer
from gamification.services import api_key_create, api_key_revoke
from scoring.api import TaskPointsView
from strategies import services as strategy_services
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_ratio

pytestmark = pytest.mark.django_db

URL = "/api/v1/games/g1/tasks/t1/points"
AWARD = json.dumps({"externalUserId": "u1", "data": {"score": 3}})


class DrfTaskPointsView(TaskPointsView):
    """The award view as DRF alone dispatches it: what the lean path must answer."""

    dispatch = APIView.dispatch


urlpatterns = [
    path(
        "api/v1/games/<str:external_game_id>/tasks/<str:external_task_id>/points",
        DrfTaskPointsView.as_view(),
        name="task-points",
    )
]


@pytest.fixture
def task(realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id="default")


@pytest.fixture
def key_client(api_key_pair) -> Client:
    return Client(headers={"X-API-Key": api_key_pair[1]})


@pytest.fixture
def initial_calls(monkeypatch) -> list[type]:
    """The views whose ``APIView.initial`` (negotiation, authentication, throttles) ran."""
    calls: list[type] = []
    real_initial = APIView.initial

    def initial(self, request, *args, **kwargs):
        calls.append(type(self))
        return real_initial(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initial", initial)
    return calls


def _send(client: Client, body: str | bytes, *, drf: bool, url: str = URL, **extra: Any):
    urlconf = {"ROOT_URLCONF": __name__} if drf else {}
    with override_settings(**urlconf), transaction.atomic():
        response = client.generic("POST", url, body, **extra)
        transaction.set_rollback(True)
    return response


def _stored_award_neutral(content: bytes) -> bytes:
    content = re.sub(rb'"awardId":"[0-9a-f-]{36}"', b'"awardId":"<id>"', content)
    return re.sub(rb'"createdAt":"[^"]+"', b'"createdAt":"<time>"', content)


def _answer(response) -> tuple[int, bytes, dict[str, str]]:
    return response.status_code, _stored_award_neutral(response.content), dict(response.headers)


def parity(
    client: Client,
    initial_calls: list[type],
    body: str | bytes = AWARD,
    *,
    lean: bool = True,
    content_type: str = "application/json",
    **extra: Any,
):
    """Send ``body`` both ways, assert equal answers and whether the lean path served it."""
    initial_calls.clear()
    response = _send(client, body, drf=False, content_type=content_type, **extra)
    assert initial_calls == ([] if lean else [TaskPointsView])
    reference = _send(client, body, drf=True, content_type=content_type, **extra)
    assert initial_calls[-1] is DrfTaskPointsView
    assert _answer(response) == _answer(reference)
    return response


def _code(response) -> str | None:
    return response.json().get("code") if response.status_code >= 400 else None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param(AWARD, 201, None, id="award"),
        pytest.param('{"externalUserId": " u1 ", "dryRun": true}', 200, None, id="dry run"),
        pytest.param('{"externalUserId":', 400, "PARSE_ERROR", id="invalid JSON"),
        pytest.param('{"externalUserId": "u1", "data": {"x": NaN}}', 400, "PARSE_ERROR", id="NaN"),
        pytest.param(
            '{"externalUserId": "u1", "data": {"x": 1e999}}', 400, "PARSE_ERROR", id="inf"
        ),
        pytest.param(b'{"externalUserId": "\xff"}', 400, "PARSE_ERROR", id="not UTF-8"),
        pytest.param(
            '{"externalUserId": "u1", "data": {"a": ["x\\u0000y"]}}',
            400,
            "INVALID_STRING",
            id="NUL in a value",
        ),
        pytest.param(
            '{"externalUserId": "u1", "data": {"a\\u0000": 1}}',
            400,
            "INVALID_STRING",
            id="NUL in a key",
        ),
        pytest.param(
            '{"externalUserId": "\\ud800"}', 400, "INVALID_STRING", id="lone surrogate escape"
        ),
        pytest.param(
            b'{"externalUserId": "\xed\xa0\x80"}', 400, "INVALID_STRING", id="encoded surrogate"
        ),
        pytest.param(
            '{"externalUserId": "u1", "data": {"\\udfff": 1}}',
            400,
            "INVALID_STRING",
            id="lone surrogate in a key",
        ),
        pytest.param("[]", 400, "VALIDATION_ERROR", id="a list"),
        pytest.param("null", 400, "VALIDATION_ERROR", id="null"),
        pytest.param(
            '{"externalUserId": "", "data": [], "dryRun": "maybe"}',
            400,
            "VALIDATION_ERROR",
            id="invalid fields",
        ),
        pytest.param(
            json.dumps({"externalUserId": "u" * 256}), 400, "VALIDATION_ERROR", id="long user id"
        ),
    ],
)
@pytest.mark.usefixtures("task")
def test_the_lean_path_answers_each_body_as_drf_does(key_client, initial_calls, body, status, code):
    response = parity(key_client, initial_calls, body)

    assert (response.status_code, _code(response)) == (status, code)


@pytest.mark.usefixtures("task")
def test_an_empty_json_body_is_the_same_400(key_client, initial_calls):
    response = parity(
        key_client, initial_calls, b"", CONTENT_TYPE="application/json", CONTENT_LENGTH="0"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"externalUserId": ["This field is required."]}


@pytest.mark.usefixtures("task")
def test_an_empty_body_without_a_content_type_falls_back_to_the_same_400(key_client, initial_calls):
    response = parity(key_client, initial_calls, b"", lean=False)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_bad_string_is_reported_with_its_pointer(key_client, initial_calls, task):  # noqa: ARG001
    body = '{"externalUserId": "u1", "data": {"a": [1, "x\\u0000y"]}}'

    assert parity(key_client, initial_calls, body).json()["pointer"] == "/data/a/1"


@pytest.mark.parametrize(
    ("content_type", "accept"),
    [
        ("application/json; charset=utf-8", None),
        ("application/json;charset=UTF-8", None),
        ("application/json", "*/*"),
        ("application/json", "application/json"),
    ],
)
@pytest.mark.parametrize("body", [AWARD, b'{"externalUserId": "\xff"}'])
@pytest.mark.usefixtures("task")
def test_json_in_utf_8_for_a_json_answer_takes_the_lean_path(
    key_client, initial_calls, content_type, accept, body
):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = parity(key_client, initial_calls, body, content_type=content_type, **headers)

    assert response.status_code in {201, 400}


@pytest.mark.parametrize(
    ("url", "content_type", "accept", "status"),
    [
        (URL, "text/plain", None, 415),
        (URL, "application/x-www-form-urlencoded", None, 415),
        (URL, "application/json; charset=latin-1", None, 201),
        (URL, "application/json", "application/json; indent=4", 201),
        (URL, "application/json", "text/html", 406),
        (URL, "application/json", "", 406),
        (f"{URL}?format=json", "application/json", None, 201),
    ],
)
@pytest.mark.usefixtures("task")
def test_other_requests_fall_back_to_drf(
    key_client, initial_calls, url, content_type, accept, status
):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = parity(
        key_client, initial_calls, AWARD, lean=False, url=url, content_type=content_type, **headers
    )

    assert response.status_code == status


@pytest.mark.usefixtures("task")
def test_an_error_of_a_fallback_request_keeps_drf_rendering(key_client, initial_calls):
    response = parity(
        key_client, initial_calls, "{", lean=False, HTTP_ACCEPT="application/json; indent=4"
    )

    assert response.status_code == 400
    assert response.content.startswith(b'{\n    "code": "PARSE_ERROR"')


@pytest.mark.usefixtures("task")
def test_a_request_without_a_key_falls_back_to_drf_and_gets_its_401(initial_calls):
    response = parity(Client(), initial_calls, lean=False)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"
    assert response["WWW-Authenticate"] == "X-API-Key"


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ("nonsense", "Malformed API key."),
        ("", "Malformed API key."),
        ("gk_unknown.secret", "Unknown API key."),
    ],
)
@pytest.mark.usefixtures("task")
def test_a_bad_key_is_the_same_401(initial_calls, raw, detail):
    response = parity(Client(headers={"X-API-Key": raw}), initial_calls)

    assert response.status_code == 401
    assert response.json() == {"code": "AUTHENTICATION_FAILED", "detail": detail}
    assert response["WWW-Authenticate"] == "X-API-Key"


@pytest.mark.usefixtures("task")
def test_a_wrong_secret_is_the_same_401(initial_calls, api_key_pair):
    client = Client(headers={"X-API-Key": f"{api_key_pair[0].prefix}.wrong"})

    assert parity(client, initial_calls).json()["detail"] == "Unknown API key."


@pytest.mark.usefixtures("task")
def test_a_revoked_key_is_the_same_401(key_client, initial_calls, api_key_pair):
    api_key_revoke(api_key=api_key_pair[0])

    response = parity(key_client, initial_calls)

    assert response.status_code == 401
    assert response.json()["detail"] == "This API key has been revoked."


def _start_of_a_second() -> None:
    """Wait, if need be, so that the next few milliseconds fall in one whole second."""
    fraction = time.time() % 1
    if fraction > 0.5:
        time.sleep(1.01 - fraction)


@pytest.mark.usefixtures("task")
def test_a_key_over_its_rate_gets_the_same_429_with_retry_after(realm, initial_calls):
    _, raw = api_key_create(realm=realm, name="limited", rate="1/day")
    client = Client(headers={"X-API-Key": raw})
    assert _send(client, AWARD, drf=False, content_type="application/json").status_code == 201

    _start_of_a_second()
    response = parity(client, initial_calls)

    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 86400


@pytest.mark.usefixtures("task")
def test_the_key_is_refreshed_and_the_award_stored_as_drf_does(key_client, api_key_pair):
    ApiKey.objects.filter(pk=api_key_pair[0].pk).update(last_used_at=None)

    response = key_client.post(URL, AWARD, content_type="application/json")

    assert response.status_code == 201
    award = Award.objects.get(pk=response.json()["awardId"])
    assert (award.api_key_used_id, award.data) == (api_key_pair[0].pk, {"score": 3})
    assert ApiKey.objects.get(pk=api_key_pair[0].pk).last_used_at is not None


@pytest.mark.usefixtures("task")
def test_an_idempotent_replay_is_the_same_200(key_client, initial_calls):
    first = key_client.post(URL, AWARD, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")

    replay = parity(key_client, initial_calls, HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.content == first.content


@pytest.mark.usefixtures("task")
def test_an_idempotency_key_reused_for_another_player_is_the_same_409(key_client, initial_calls):
    key_client.post(URL, AWARD, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k1")
    body = json.dumps({"externalUserId": "u2"})

    response = parity(key_client, initial_calls, body, HTTP_IDEMPOTENCY_KEY="k1")

    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.usefixtures("task")
def test_a_long_idempotency_key_is_the_same_400(key_client, initial_calls):
    response = parity(key_client, initial_calls, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    assert response.json()["errors"] == {"Idempotency-Key": ["At most 255 characters."]}


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/api/v1/games/nope/tasks/t1/points", "GAME_NOT_FOUND"),
        ("/api/v1/games/g1/tasks/nope/points", "TASK_NOT_FOUND"),
    ],
)
@pytest.mark.usefixtures("task")
def test_an_unknown_game_or_task_is_the_same_404(key_client, initial_calls, url, code):
    response = parity(key_client, initial_calls, url=url)

    assert response.status_code == 404
    assert response.json()["code"] == code


@pytest.mark.usefixtures("task")
def test_another_realms_task_is_the_same_404(initial_calls):
    _, raw = api_key_create(realm=RealmFactory(slug="rival"), name="rival-server")

    response = parity(Client(headers={"X-API-Key": raw}), initial_calls)

    assert response.status_code == 404


def test_a_closed_task_is_the_same_409(key_client, initial_calls, task):
    task.status = TaskStatus.CLOSED
    task.save(update_fields=["status"])

    response = parity(key_client, initial_calls)

    assert response.status_code == 409
    assert response.json()["code"] == "TASK_CLOSED"


@pytest.mark.usefixtures("task")
def test_oversize_event_data_is_the_same_413(key_client, initial_calls, settings):
    settings.DSL_EVENT_DATA_MAX_BYTES = 64
    body = json.dumps({"externalUserId": "u1", "data": {"text": "x" * 100}})

    response = parity(key_client, initial_calls, body)

    assert response.status_code == 413
    assert response.json()["maxBytes"] == 64


@pytest.fixture
def ratio_task(realm):
    program = strategy_program_ratio()
    strategy = strategy_services.strategy_create(
        realm=realm, name="ratio", type="DSL_FULL", ast_json=program
    )
    strategy_services.strategy_publish(strategy=strategy)
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id=f"custom:{strategy.pk}")


@pytest.mark.usefixtures("ratio_task")
def test_a_failing_custom_strategy_is_the_same_422(key_client, initial_calls):
    body = json.dumps({"externalUserId": "u1", "data": {"divisor": 0}})

    response = parity(key_client, initial_calls, body)

    assert response.status_code == 422


def _counted(status: str) -> float:
    labels = {"status": status, "view": "task-points", "method": "POST"}
    return (
        REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", labels)
        or 0.0
    )


@pytest.mark.usefixtures("task")
def test_the_metrics_count_lean_answers_by_view_and_status(key_client, initial_calls):
    before = {status: _counted(status) for status in ("201", "401")}

    assert key_client.post(URL, AWARD, content_type="application/json").status_code == 201
    bad_key = Client(headers={"X-API-Key": "nonsense"})
    assert bad_key.post(URL, AWARD, content_type="application/json").status_code == 401

    assert initial_calls == []
    assert {status: _counted(status) - before[status] for status in before} == {
        "201": 1.0,
        "401": 1.0,
    }


def test_the_view_keeps_the_policies_the_lean_path_reproduces():
    assert TaskPointsView.authentication_classes == [ApiKeyAuthentication]
    assert TaskPointsView.permission_classes == [HasRealm]
    assert TaskPointsView.throttle_classes == [ApiKeyRateThrottle]
    assert TaskPointsView.parser_classes == [FiniteJSONParser]
    assert TaskPointsView.renderer_classes == [JSONRenderer]
    assert TaskPointsView.versioning_class is None
