"""Hostile input at the HTTP edge: every bad request is a typed 4xx (or a 503 while the
database is away) in the API's error shape, and nothing is written."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections, connection
from django.test import Client, RequestFactory

from gamification.auth import api_key_cache_forget
from gamification.health import bad_request, server_error
from gamification.models import Award, Game, Player, Task
from gamification.services import api_key_create
from strategies import services as strategy_services
from strategies.models import BUNDLE_FORMAT, StrategyDefinition
from tests.factories import GameFactory, RealmFactory, TaskFactory, strategy_program_full
from tests.observability.conftest import TcpProxy, test_database_url

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
GAME, TASK = "quiz", "level-1"
POINTS = f"/api/v1/games/{GAME}/tasks/{TASK}/points"
CUSTOM = "/api/v1/strategies/custom"
ADMIN = "/admin/strategies/strategydefinition"

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (.ci/with-services)"
)


@pytest.fixture
def task(realm) -> Task:
    return TaskFactory(game=GameFactory(realm=realm, external_game_id=GAME), external_task_id=TASK)


@pytest.fixture
def draft(realm) -> StrategyDefinition:
    return strategy_services.strategy_create(
        realm=realm, name="speed", type="DSL_FULL", ast_json=strategy_program_full()
    )


@pytest.fixture
def superuser_client(client: Client, db) -> Client:  # noqa: ARG001 - requested for database access
    """The test client logged in as a superuser (no password: nothing to hash)."""
    client.force_login(User.objects.create_superuser("root", "root@example.com", None))
    return client


@pytest.fixture
def strategy_executions(monkeypatch) -> list[Any]:
    """Every strategy run of the award and simulate paths, recorded and let through."""
    import scoring.services
    import strategies.simulation

    calls: list[Any] = []
    for module in (scoring.services, strategies.simulation):
        real = module.strategy_execute

        def spy(*args: Any, _real: Callable = real, **kwargs: Any) -> Any:
            calls.append(kwargs.get("event"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, "strategy_execute", spy)
    return calls


def _state() -> dict[str, list[dict[str, Any]]]:
    """Every row the API could write, to compare before and after a refused request."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Award, Player, Game, Task, StrategyDefinition)
    }


def _program(case_name: Any = "ShortSession") -> dict[str, Any]:
    program = strategy_program_full()
    program["default"]["case_name"] = case_name
    return program


def _send(client: Client, method: str, path: str, body: Any) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body)  # ensure_ascii: \u escapes
    return client.generic(method, path, raw, content_type="application/json")


# Every JSON endpoint: (method, path, body with ``leaf`` placed, pointer of the leaf, client).
Endpoint = tuple[str, Callable[[StrategyDefinition], str], Callable[[Any], Any], str, str]
ENDPOINTS: dict[str, Endpoint] = {
    "award": (
        "POST",
        lambda _s: POINTS,
        lambda leaf: {"externalUserId": "alice", "data": {"level": leaf}},
        "/data/level",
        "api",
    ),
    "award dry run": (
        "POST",
        lambda _s: POINTS,
        lambda leaf: {"externalUserId": "alice", "dryRun": True, "data": {"level": leaf}},
        "/data/level",
        "api",
    ),
    "game create": (
        "POST",
        lambda _s: "/api/v1/games",
        lambda leaf: {"externalGameId": "arcade", "params": {"theme": leaf}},
        "/params/theme",
        "api",
    ),
    "game patch": (
        "PATCH",
        lambda _s: f"/api/v1/games/{GAME}",
        lambda leaf: {"params": {"theme": leaf}},
        "/params/theme",
        "api",
    ),
    "task create": (
        "POST",
        lambda _s: f"/api/v1/games/{GAME}/tasks",
        lambda leaf: {"externalTaskId": "level-2", "params": {"theme": leaf}},
        "/params/theme",
        "api",
    ),
    "task bulk create": (
        "POST",
        lambda _s: f"/api/v1/games/{GAME}/tasks/bulk",
        lambda leaf: {
            "tasks": [
                {"externalTaskId": "level-2"},
                {"externalTaskId": "level-3", "params": {"theme": leaf}},
            ]
        },
        "/tasks/1/params/theme",
        "api",
    ),
    "task patch": (
        "PATCH",
        lambda _s: f"/api/v1/games/{GAME}/tasks/{TASK}",
        lambda leaf: {"params": {"theme": leaf}},
        "/params/theme",
        "api",
    ),
    "strategy create": (
        "POST",
        lambda _s: CUSTOM,
        lambda leaf: {"name": "sprint", "type": "DSL_FULL", "astJson": _program(leaf)},
        "/astJson/default/case_name",
        "api",
    ),
    "strategy patch": (
        "PATCH",
        lambda s: f"{CUSTOM}/{s.pk}",
        lambda leaf: {"astJson": _program(leaf)},
        "/astJson/default/case_name",
        "api",
    ),
    "strategy duplicate": (
        "POST",
        lambda s: f"{CUSTOM}/{s.pk}/duplicate",
        lambda leaf: {"name": leaf},
        "/name",
        "api",
    ),
    "strategy import": (
        "POST",
        lambda _s: f"{CUSTOM}/import",
        lambda leaf: {"name": "imported", "type": "DSL_FULL", "astJson": _program(leaf)},
        "/astJson/default/case_name",
        "api",
    ),
    "strategy simulate": (
        "POST",
        lambda s: f"{CUSTOM}/{s.pk}/simulate",
        lambda leaf: {"data": {"level": leaf}},
        "/data/level",
        "api",
    ),
    "unsaved simulate": (
        "POST",
        lambda _s: "/api/v1/strategies/simulate",
        lambda leaf: {"type": "DSL_FULL", "astJson": _program(), "data": {"level": leaf}},
        "/data/level",
        "api",
    ),
    "admin validate": (
        "POST",
        lambda _s: f"{ADMIN}/validate/",
        lambda leaf: {"type": "DSL_FULL", "astJson": _program(leaf)},
        "/astJson/default/case_name",
        "admin",
    ),
    "admin simulate": (
        "POST",
        lambda _s: f"{ADMIN}/simulate/",
        lambda leaf: {"type": "DSL_FULL", "astJson": _program(), "data": {"level": leaf}},
        "/data/level",
        "admin",
    ),
    "admin simulate defaults": (
        "POST",
        lambda _s: f"{ADMIN}/simulate/defaults/",
        lambda leaf: {"type": "DSL_FULL", "astJson": _program(leaf)},
        "/astJson/default/case_name",
        "admin",
    ),
}
BAD_STRINGS = {
    "NUL": "a\x00b",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "x\udfffy",
    "reversed pair": "\ude00\ud83d",
}


@pytest.fixture
def endpoint_client(request, api, task, draft):  # noqa: ARG001 - the paths name the task
    """Return a function sending a body to an endpoint of ENDPOINTS with the right client."""

    def send(name: str, leaf: Any, *, data: Any = None) -> Any:
        method, path, body, _, kind = ENDPOINTS[name]
        client = api if kind == "api" else request.getfixturevalue("superuser_client")
        payload = body(leaf)
        if data is not None:
            payload["data"] = data
        return _send(client, method, path(draft), payload)

    return send


@pytest.mark.parametrize("name", ENDPOINTS)
def test_the_endpoint_requests_succeed_with_clean_strings(endpoint_client, name):
    response = endpoint_client(name, "plain text")

    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("bad", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_bad_string_value_is_a_400_with_its_pointer_and_writes_nothing(
    endpoint_client, name, bad
):
    before = _state()

    response = endpoint_client(name, bad)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_STRING"
    assert body["pointer"] == ENDPOINTS[name][3]
    assert body["detail"]
    assert _state() == before


@pytest.mark.parametrize("bad", BAD_STRINGS.values(), ids=BAD_STRINGS.keys())
@pytest.mark.parametrize("name", ENDPOINTS)
def test_a_bad_object_key_is_a_400_pointing_at_its_member_and_writes_nothing(
    endpoint_client, name, bad
):
    before = _state()

    response = endpoint_client(name, {"fine": 1, bad: 2})

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_STRING"
    # The pointer names the key itself (escaped in the JSON text when it is a surrogate).
    assert body["pointer"] == f"{ENDPOINTS[name][3]}/{bad}"
    assert _state() == before


@pytest.mark.usefixtures("task")
def test_a_valid_surrogate_pair_is_an_emoji_and_is_stored(api):
    response = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": {"mood": "😀"}})

    assert response.status_code == 201, response.content
    assert Award.objects.get().data == {"mood": "😀"}


@pytest.mark.usefixtures("task")
def test_an_escaped_backslash_before_u0000_is_plain_text_and_is_stored(api):
    text = "C:\\u0000\\ud800"  # a backslash, then letters: no NUL, no surrogate

    response = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": {"path": text}})

    assert response.status_code == 201, response.content
    assert Award.objects.get().data == {"path": text}


@pytest.mark.usefixtures("task")
def test_an_encoded_surrogate_in_the_raw_bytes_is_refused_like_an_escape(api):
    raw = '{"externalUserId": "alice", "data": {"level": "\ud800"}}'.encode(
        "utf-8", "surrogatepass"
    )

    response = _send(api, "POST", POINTS, raw)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["pointer"]) == (
        "INVALID_STRING",
        "/data/level",
    )
    assert not Award.objects.exists()


@pytest.mark.usefixtures("task")
def test_pointer_tokens_escape_tilde_and_slash(api):
    body = {"externalUserId": "alice", "data": {"a/b~c": {"x\x00": 1}}}

    response = _send(api, "POST", POINTS, body)

    assert response.json()["pointer"] == "/data/a~1b~0c/x\x00"


@pytest.mark.usefixtures("task")
def test_the_first_bad_string_in_document_order_is_reported(api):
    body = {"externalUserId": "alice", "data": {"a": [{"b": "ok"}, {"c": "\x00"}], "d": "\x00"}}

    response = _send(api, "POST", POINTS, body)

    assert response.json()["pointer"] == "/data/a/1/c"


def _nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.usefixtures("task")
def test_data_nested_980_deep_still_scores(api):
    data = {"x": _nested(980, 1)}

    response = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": data})

    assert response.status_code == 201, response.content
    assert Award.objects.get().data == data


@pytest.mark.usefixtures("task")
def test_a_bad_string_at_the_bottom_of_deep_data_is_found_without_recursion(api):
    data = {"x": _nested(980, "a\x00")}

    response = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": data})

    assert response.status_code == 400
    assert response.json()["pointer"] == "/data/x" + "/0" * 980
    assert not Award.objects.exists()


# -- URL path segments, query parameters and headers -----------------------------------------


@pytest.mark.parametrize(
    ("path", "location", "parameter"),
    [
        (f"/api/v1/games/{GAME}/players/a%00b/points", "path", None),
        ("/api/v1/games/a%00b", "path", None),
        (f"/api/v1/games/{GAME}/tasks/%00/points", "path", None),
        ("/api/v1/no-such-route/%00", "path", None),
        ("/api/v1/games?platform=%00", "query", "platform"),
        (f"/api/v1/games/{GAME}/tasks?status=open&strategyId=x%00y", "query", "strategyId"),
        (f"{CUSTOM}?name=a%00", "query", "name"),
        ("/api/v1/games?%00=1", "query", "\x00"),
    ],
)
@pytest.mark.usefixtures("task")
def test_a_nul_in_the_url_is_a_400_before_any_lookup(api, path, location, parameter):
    response = api.get(path)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["location"]) == ("INVALID_STRING", location)
    assert body.get("parameter") == parameter


@pytest.mark.usefixtures("task")
def test_an_encoded_percent_sign_is_not_a_nul(api):
    response = api.get("/api/v1/games/a%2500b")

    assert response.status_code == 404
    assert response.json()["code"] == "GAME_NOT_FOUND"


@pytest.mark.usefixtures("task")
def test_a_nul_in_a_header_is_a_400_and_writes_nothing(api):
    response = api.post(
        POINTS, {"externalUserId": "alice"}, format="json", HTTP_IDEMPOTENCY_KEY="a\x00b"
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["location"], body["parameter"]) == (
        "INVALID_STRING",
        "header",
        "Idempotency-Key",
    )
    assert not Award.objects.exists()


@pytest.mark.usefixtures("task")
def test_an_unpaired_surrogate_in_a_header_is_a_400_and_writes_nothing(api):
    response = api.post(
        POINTS, {"externalUserId": "alice"}, format="json", HTTP_IDEMPOTENCY_KEY="a\ud800"
    )

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["location"], body["parameter"]) == (
        "INVALID_STRING",
        "header",
        "Idempotency-Key",
    )
    assert not Award.objects.exists()


def test_a_nul_in_the_admin_search_is_a_400(superuser_client):
    response = superuser_client.get(f"{ADMIN}/?q=%00")

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_STRING"


# -- event data over DSL_EVENT_DATA_MAX_BYTES ------------------------------------------------


def _data_of_size(size: int) -> dict[str, str]:
    """Event data whose compact JSON encoding is exactly ``size`` bytes (UTF-8)."""
    data = {"blob": "é" * ((size - len('{"blob":""}')) // 2)}
    if len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()) < size:
        data["blob"] += "a"
    assert len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()) == size
    return data


def test_the_event_data_limit_defaults_to_64_kib(settings):
    assert settings.DSL_EVENT_DATA_MAX_BYTES == 65536


@pytest.mark.usefixtures("task")
def test_event_data_at_the_limit_scores(api):
    data = _data_of_size(65536)

    response = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": data})

    assert response.status_code == 201
    assert Award.objects.get().data == data


@pytest.mark.parametrize(
    "name", ["award", "award dry run", "strategy simulate", "unsaved simulate", "admin simulate"]
)
def test_event_data_over_the_limit_is_a_413_before_anything_runs(
    endpoint_client, strategy_executions, name
):
    before = _state()

    response = endpoint_client(name, "x", data=_data_of_size(65537))

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["maxBytes"] == 65536
    assert strategy_executions == []
    assert _state() == before


@pytest.mark.usefixtures("task")
def test_the_event_data_limit_follows_the_setting(api, settings):
    settings.DSL_EVENT_DATA_MAX_BYTES = 100

    small = _send(api, "POST", POINTS, {"externalUserId": "a", "data": _data_of_size(100)})
    large = _send(api, "POST", POINTS, {"externalUserId": "b", "data": _data_of_size(101)})

    assert (small.status_code, large.status_code) == (201, 413)
    assert Award.objects.count() == 1


# -- request bodies over the request limit ---------------------------------------------------

TEN_MB = b'{"externalUserId": "alice", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'


def test_the_request_limit_defaults_to_1_mib(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("api", POINTS),
        ("api", f"{CUSTOM}/import"),
        ("anonymous", "/api/v1/games"),
        ("admin", f"{ADMIN}/validate/"),
        ("admin", f"{ADMIN}/add/"),
    ],
)
@pytest.mark.usefixtures("task")
def test_a_body_over_the_limit_is_a_json_413_before_anything_reads_it(
    api, superuser_client, who, path
):
    client = {"api": api, "anonymous": Client(), "admin": superuser_client}[who]
    before = _state()

    response = client.generic("POST", path, TEN_MB, content_type="application/json")

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["maxBytes"] == 1024 * 1024
    assert _state() == before


@pytest.mark.parametrize("length", ["abc", "-1", "+12", " 12", "1_2", "١٢"])
@pytest.mark.usefixtures("task")
def test_a_content_length_that_is_no_number_is_a_json_400(api, length):
    before = _state()
    body = json.dumps({"externalUserId": "alice"})

    response = api.generic(
        "POST", POINTS, body, content_type="application/json", CONTENT_LENGTH=length
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "INVALID_HEADER",
        "detail": "The Content-Length header is not a number of bytes.",
        "location": "header",
        "parameter": "Content-Length",
    }
    assert _state() == before


@pytest.mark.usefixtures("task")
def test_a_content_length_of_thousands_of_digits_is_a_json_413(api):
    """int() refuses more than 4 300 digits: the length is refused as too large, unread."""
    before = _state()

    response = api.generic(
        "POST", POINTS, "{}", content_type="application/json", CONTENT_LENGTH="1" * 5000
    )

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["maxBytes"] == 1024 * 1024
    assert _state() == before


def test_the_request_limit_follows_the_setting(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    document = json.dumps({"externalGameId": "arcade"})
    at_limit = document + " " * (4096 - len(document))

    accepted = api.generic("POST", "/api/v1/games", at_limit, content_type="application/json")
    refused = api.generic("POST", "/api/v1/games", at_limit + " ", content_type="application/json")

    assert (accepted.status_code, refused.status_code) == (201, 413)
    assert list(Game.objects.values_list("external_game_id", flat=True)) == ["arcade"]


def _large_program(max_nodes: int) -> dict[str, Any]:
    """A valid DSL_FULL program of nearly ``max_nodes`` nodes (11 per rule)."""
    rules = []
    for i in range((max_nodes - 4) // 11):
        rules.append(
            {
                "type": "rule",
                "when": {
                    "type": "and",
                    "args": [
                        {
                            "type": "compare",
                            "op": ">=",
                            "left": {
                                "type": "arith",
                                "op": "+",
                                "left": {"type": "field", "path": "data.minutes"},
                                "right": {"type": "literal", "value": i},
                            },
                            "right": {"type": "literal", "value": 10_000},
                        },
                        {"type": "field", "path": "data.flag"},
                    ],
                },
                "then": [
                    {
                        "type": "assign_points",
                        "value": {"type": "literal", "value": i},
                        "case_name": f"Rule number {i}",
                    }
                ],
            }
        )
    program = _program()
    program["rules"] = rules
    return program


def _blockly_xml(node: dict[str, Any]) -> str:
    """About what the block editor writes for ``node``: one block per node, 20-char ids."""
    parts = []
    for key, value in node.items():
        if isinstance(value, dict):
            parts.append(f'<value name="{key.upper()}">{_blockly_xml(value)}</value>')
        elif isinstance(value, list):
            inner = "".join(f"<next>{_blockly_xml(v)}</next>" for v in value)
            parts.append(f'<statement name="{key.upper()}">{inner}</statement>')
        elif key != "type":
            parts.append(f'<field name="{key.upper()}">{value}</field>')
    block_id = os.urandom(15).hex()[:20]
    return f'<block type="dsl_{node["type"]}" id="{block_id}">{"".join(parts)}</block>'


def test_importing_a_program_at_the_node_limit_with_its_blocks_fits_the_request_limit(
    api, settings
):
    program = _large_program(settings.DSL_MAX_NODES)
    bundle = {
        "format": BUNDLE_FORMAT,
        "name": "largest",
        "description": "d" * 2000,
        "type": "DSL_FULL",
        "astJson": program,
        "blocklyXml": f'<xml xmlns="https://developers.google.com/blockly/xml">'
        f"{_blockly_xml(program)}</xml>",
    }
    body = json.dumps(bundle, indent=2)

    response = api.generic("POST", f"{CUSTOM}/import", body, content_type="application/json")

    assert response.status_code == 201, response.content[:300]
    assert response.json()["validationErrors"] == []
    # Well inside the limit: the largest legitimate request leaves room to spare.
    assert 100_000 < len(body) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 4


@contextmanager
def _test_database_connection_kept() -> Iterator[None]:
    """Keep the test's connection (and its transaction) across a WSGI call, as the test
    client does: Django closes connections at the start and end of every request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _wsgi_call(path: str, body: bytes, **environ: Any) -> tuple[int, dict[str, str], bytes]:
    """POST through the project's WSGI application, as a server hands it a request."""
    from gamification.wsgi import application

    base = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], _exc_info: Any = None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    with _test_database_connection_kept():
        chunks = application({**base, **environ}, start_response)
        try:
            content = b"".join(chunks)
        finally:
            chunks.close()
    return answer["status"], answer["headers"], content


# What gunicorn hands over for "Transfer-Encoding: chunked": no CONTENT_LENGTH, decoded input.
CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


def test_a_chunked_body_within_the_limit_is_read(api_key_pair):
    body = json.dumps({"externalGameId": "arcade"}).encode()

    status, _, content = _wsgi_call(
        "/api/v1/games", body, HTTP_X_API_KEY=api_key_pair[1], **CHUNKED
    )

    assert status == 201, content
    assert Game.objects.filter(external_game_id="arcade").exists()


def test_a_chunked_body_over_the_limit_is_a_json_413(api_key_pair, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"externalGameId": "arcade", "pad": "x" * 5000}).encode()

    status, headers, content = _wsgi_call(
        "/api/v1/games", body, HTTP_X_API_KEY=api_key_pair[1], **CHUNKED
    )

    assert status == 413
    assert headers["Content-Type"] == "application/json"
    assert json.loads(content)["code"] == "PAYLOAD_TOO_LARGE"
    assert not Game.objects.exists()


def test_a_declared_length_over_the_limit_is_a_413_through_the_wsgi_application(api_key_pair):
    status, _, content = _wsgi_call(
        "/api/v1/games", TEN_MB, HTTP_X_API_KEY=api_key_pair[1], CONTENT_LENGTH=str(len(TEN_MB))
    )

    assert status == 413
    assert json.loads(content)["code"] == "PAYLOAD_TOO_LARGE"


def _free_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _other_sessions() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


def _end_sessions_opened_since(before: set[int], timeout: float = 10) -> None:
    """End the sessions a subprocess or the proxy opened, so that the test database can be
    dropped at the end of the run (the proxy cuts its client side only)."""
    deadline = time.monotonic() + timeout
    while (extra := _other_sessions() - before) and time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [list(extra)])
        time.sleep(0.1)


@pytest.fixture
def gunicorn_url(transactional_db, tmp_path) -> Iterator[tuple[str, int]]:  # noqa: ARG001
    """The project under gunicorn (its own config) on the test database; limit 64 KiB."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "SECRET_KEY": "test-only-secret-key",
        "ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "REQUEST_MAX_BYTES": "65536",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_BROKER_URL", None)
    before = _other_sessions()
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "gamification.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
                time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        server.terminate()
        server.wait(15)
        log.close()
        _end_sessions_opened_since(before)


def _post_over_http(
    address: tuple[str, int], path: str, chunks: list[bytes], headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@postgresql_only
@pytest.mark.services
def test_gunicorn_reads_a_chunked_body_and_refuses_one_over_the_limit(gunicorn_url):
    realm = RealmFactory(slug="served")
    _, key = api_key_create(realm=realm, name="server")
    headers = {"X-API-Key": key, "Content-Type": "application/json"}

    small = _post_over_http(
        gunicorn_url, "/api/v1/games", [b'{"externalGameId":', b' "arcade"}'], headers
    )
    large = _post_over_http(
        gunicorn_url,
        "/api/v1/games",
        [b'{"externalGameId": "big", "pad": "'] + [b"x" * 8192] * 12 + [b'"}'],
        headers,
    )

    assert small[0] == 201, small
    assert large[0] == 413, large
    assert json.loads(large[2])["code"] == "PAYLOAD_TOO_LARGE"
    assert list(Game.objects.values_list("external_game_id", flat=True)) == ["arcade"]


# -- the database goes away ------------------------------------------------------------------


def _proxy_up(proxy: TcpProxy, timeout: float = 5) -> None:
    """Bring the proxy back once its previous listener (polled every 0.2 s) has let go."""
    time.sleep(0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            proxy.up()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def database_proxy(transactional_db) -> Iterator[TcpProxy]:  # noqa: ARG001 - real commits
    """Route the test's database connection through a loopback proxy the test can take down."""
    settings_dict = connection.settings_dict
    original = settings_dict["HOST"], settings_dict["PORT"]
    before = _other_sessions()
    proxy = TcpProxy(int(original[1]))
    proxy.up()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    try:
        yield proxy
    finally:
        proxy.down()
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = original
        _end_sessions_opened_since(before)


def _assert_service_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.json()["detail"]
    assert int(response["Retry-After"]) > 0


@postgresql_only
@pytest.mark.services
@pytest.mark.usefixtures("task")
def test_the_api_answers_503_while_the_database_is_away_and_recovers(
    database_proxy, api, api_key_pair
):
    assert api.get("/api/v1/games").status_code == 200  # the key is now cached
    database_proxy.down()

    in_view = _send(api, "POST", POINTS, {"externalUserId": "alice", "data": {}})
    api_key_cache_forget(api_key_pair[0].prefix)
    in_authentication = api.get("/api/v1/games")  # the key lookup is the first query

    _assert_service_unavailable(in_view)
    _assert_service_unavailable(in_authentication)
    _proxy_up(database_proxy)
    close_old_connections()  # what Django does at the end of every request
    assert api.get("/api/v1/games").status_code == 200
    assert not Award.objects.exists()


@postgresql_only
@pytest.mark.services
def test_an_admin_endpoint_answers_503_while_the_database_is_away(database_proxy, superuser_client):
    body = {"type": "DSL_FULL", "astJson": _program()}
    assert _send(superuser_client, "POST", f"{ADMIN}/validate/", body).status_code == 200
    database_proxy.down()

    response = _send(superuser_client, "POST", f"{ADMIN}/validate/", body)

    _assert_service_unavailable(response)


@postgresql_only
@pytest.mark.services
@pytest.mark.usefixtures("transactional_db", "task")
def test_a_database_refusing_connections_is_a_503(api, api_key_pair):
    settings_dict = connection.settings_dict
    original = settings_dict["PORT"]
    connection.close()
    settings_dict["PORT"] = _free_port()  # nobody listens there
    api_key_cache_forget(api_key_pair[0].prefix)
    try:
        response = api.get(f"/api/v1/games/{GAME}/points")
    finally:
        connection.close()
        settings_dict["PORT"] = original

    _assert_service_unavailable(response)


def test_the_500_handler_tells_a_database_error_raised_outside_a_view_apart(rf):
    request = rf.get("/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        during = server_error(request)
    other = server_error(request)

    assert (during.status_code, json.loads(during.content)["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert int(during["Retry-After"]) > 0
    assert (other.status_code, json.loads(other.content)["code"]) == (500, "INTERNAL_ERROR")


# -- Django's own 400 and 403 ----------------------------------------------------------------


def test_a_disallowed_host_is_a_json_400():
    response = Client().get("/healthz", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"


def test_too_many_form_fields_is_a_json_400(client):
    fields = "&".join(f"f{i}=1" for i in range(1500))

    response = client.post(
        "/admin/login/", fields, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "BAD_REQUEST"


def test_request_data_too_big_is_a_json_413(settings):
    response = bad_request(RequestFactory().post("/"), RequestDataTooBig("too big"))

    assert response.status_code == 413
    assert json.loads(response.content) == {
        "code": "PAYLOAD_TOO_LARGE",
        "detail": f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
        "bytes.",
        "maxBytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    }


def test_a_forbidden_admin_endpoint_is_a_json_403(client):
    client.force_login(User.objects.create_user("viewer", is_staff=True))

    response = _send(client, "POST", f"{ADMIN}/validate/", {"astJson": _program()})

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


# -- the admin's JSON endpoints --------------------------------------------------------------

ADMIN_VIEWS = ["validate/", "simulate/", "simulate/defaults/"]


@pytest.mark.parametrize("view", ADMIN_VIEWS)
@pytest.mark.parametrize(
    "raw",
    [
        '{"astJson": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "{not json",
        "[1, 2]",
        '{"astJson": {"x": 1e999}}',
        '{"astJson": NaN}',
    ],
    ids=["100000 deep", "malformed", "not an object", "overflowing number", "NaN"],
)
def test_an_unreadable_admin_body_is_a_json_400(superuser_client, view, raw):
    response = superuser_client.generic(
        "POST", f"{ADMIN}/{view}", raw, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "PARSE_ERROR"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "realm_value", ["abc", [1], {"id": 1}, True, 1.5, -1, 2**63, "1e3", "\u0661", "1" * 5000]
)
@pytest.mark.usefixtures("realm")
def test_a_malformed_realm_is_a_json_400(superuser_client, realm_value):
    body = {"type": "DSL_FULL", "astJson": _program(), "realm": realm_value}

    response = _send(superuser_client, "POST", f"{ADMIN}/simulate/", body)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("VALIDATION_ERROR", "realm")


def test_the_realm_may_be_the_select_text_or_a_number(superuser_client, realm):
    RealmFactory(slug="first-realm")  # not the realm asked for
    for value in (str(realm.pk), realm.pk):
        body = {"astJson": _program(), "realm": value, "data": {"minutes": 45}}

        response = _send(superuser_client, "POST", f"{ADMIN}/simulate/", body)

        assert response.status_code == 200, response.content
        assert response.json()["points"] == 10


@pytest.mark.parametrize(
    "field", ["type", "parentStrategyId", "externalUserId", "externalGameId", "externalTaskId"]
)
@pytest.mark.parametrize("view", ADMIN_VIEWS)
@pytest.mark.usefixtures("realm")
def test_an_admin_text_field_of_another_type_is_a_json_400(superuser_client, view, field):
    body = {"astJson": _program(), field: {"not": "text"}}

    response = _send(superuser_client, "POST", f"{ADMIN}/{view}", body)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("VALIDATION_ERROR", field)


def test_a_bad_string_in_the_program_text_points_into_the_program(superuser_client):
    body = {"type": "DSL_FULL", "astText": json.dumps(_program("a\x00"))}

    response = _send(superuser_client, "POST", f"{ADMIN}/validate/", body)

    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_STRING"
    assert (response.json()["field"], response.json()["pointer"]) == (
        "astText",
        "/default/case_name",
    )


def test_program_text_nested_too_deeply_is_a_program_problem(superuser_client):
    body = {"type": "DSL_FULL", "astText": "[" * 100_000 + "]" * 100_000}

    response = _send(superuser_client, "POST", f"{ADMIN}/validate/", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "DSL_AST_NOT_JSON"


@pytest.mark.parametrize(
    "ast_text",
    [
        json.dumps(_program("a\x00")),
        json.dumps(_program("\ud800")),
        '{"type": "program", "rules": [], "x": 1e999}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["NUL", "lone surrogate", "overflowing number", "100000 deep"],
)
def test_the_admin_form_refuses_a_program_no_column_can_store(superuser_client, realm, ast_text):
    response = superuser_client.post(
        f"{ADMIN}/add/",
        {"realm": realm.pk, "name": "broken", "type": "DSL_FULL", "ast_json": ast_text},
    )

    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["ast_json"]
    assert not StrategyDefinition.objects.exists()
