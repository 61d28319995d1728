"""The custom-strategy API: paths, status codes and camelCase bodies, scoped to the realm."""

from __future__ import annotations

import pytest

from gamification.models import Task
from strategies.models import StrategyDefinition, StrategyStatus
from tests.factories import GameFactory, TaskFactory, strategy_program_full

BASE = "/api/v1/strategies/custom"


def _create(api, name="speed", **body):
    body = {"name": name, "type": "DSL_FULL", "astJson": strategy_program_full(), **body}
    response = api.post(BASE, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _publish(api, strategy):
    response = api.post(f"{BASE}/{strategy['id']}/publish")
    assert response.status_code == 200, response.json()
    return response.json()


def test_create_answers_201_with_the_version_one_draft_in_camel_case(api):
    body = _create(api, description="Long sessions", experimentTag="exp-a")
    assert body["version"] == 1
    assert body["status"] == "DRAFT"
    assert body["strategyId"] == f"custom:{body['id']}"
    assert body["astJson"]["id"] == "p.program.0"
    assert body["parentStrategyId"] is None
    assert body["experimentTag"] == "exp-a"
    assert body["publishedAt"] is None
    assert body["apiKeyUsed"].startswith("gk_")
    for key in ("blocklyXml", "createdBy", "createdAt", "updatedAt", "description", "type"):
        assert key in body


def test_create_with_an_invalid_program_answers_400_with_every_issue(api):
    response = api.post(
        BASE,
        {"name": "bad", "type": "DSL_FULL", "astJson": {"type": "program", "rules": [{}]}},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "DSL_VALIDATION_ERROR"
    assert body["detail"]
    assert body["errors"]
    assert {"code", "message", "pointer", "nodeId"} <= set(body["errors"][0])
    assert not StrategyDefinition.objects.exists()


def test_create_checks_the_parent_of_an_extension(api):
    body = {"name": "ext", "type": "DSL_EXTEND", "astJson": {"type": "program", "rules": []}}
    assert api.post(BASE, body, format="json").status_code == 400
    body["parentStrategyId"] = "unknown_builtin"
    assert api.post(BASE, body, format="json").status_code == 400
    body["parentStrategyId"] = "default"
    created = api.post(BASE, body, format="json")
    assert created.status_code == 201
    assert created.json()["parentStrategyId"] == "default"
    full = {"name": "full", "type": "DSL_FULL", "parentStrategyId": "default", "astJson": None}
    assert api.post(BASE, full, format="json").status_code == 400


def test_create_refuses_a_taken_name_with_409(api):
    _create(api)
    response = api.post(BASE, {"name": "speed", "type": "DSL_FULL"}, format="json")
    assert response.status_code == 409


def test_list_filters_by_status_type_and_name_and_paginates(api):
    speed = _create(api)
    _publish(api, speed)
    api.patch(f"{BASE}/{speed['id']}", {"description": "v2"}, format="json")
    _create(api, name="other")
    body = api.get(BASE).json()
    assert body["count"] == 3
    assert len(body["results"]) == 3
    published = api.get(BASE, {"status": "PUBLISHED"}).json()["results"]
    assert [(r["name"], r["version"]) for r in published] == [("speed", 1)]
    assert [r["version"] for r in api.get(BASE, {"name": "speed"}).json()["results"]] == [2, 1]
    assert api.get(BASE, {"type": "DSL_EXTEND"}).json()["count"] == 0
    page = api.get(BASE, {"pageSize": 1}).json()
    assert len(page["results"]) == 1
    assert page["next"]


def test_read_answers_the_version_by_uuid_or_custom_id(api):
    created = _create(api)
    assert api.get(f"{BASE}/{created['id']}").json()["name"] == "speed"
    assert api.get(f"{BASE}/{created['strategyId']}").json()["id"] == created["id"]
    assert api.get(f"{BASE}/not-a-uuid").status_code == 404


def test_patch_of_a_draft_answers_200_in_place(api):
    created = _create(api)
    response = api.patch(
        f"{BASE}/{created['id']}",
        {"astJson": strategy_program_full(points=20), "description": "more"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["version"] == 1
    assert response.json()["description"] == "more"


def test_patch_of_the_published_version_answers_201_with_a_new_draft(api):
    created = _create(api)
    _publish(api, created)
    response = api.patch(
        f"{BASE}/{created['id']}", {"astJson": strategy_program_full(points=20)}, format="json"
    )
    assert response.status_code == 201
    new = response.json()
    assert (new["version"], new["status"]) == (2, "DRAFT")
    assert new["id"] != created["id"]
    old = api.get(f"{BASE}/{created['id']}").json()
    assert old["status"] == "PUBLISHED"
    assert old["astJson"]["rules"][0]["then"][0]["value"]["value"] == 10


def test_patch_of_an_archived_version_answers_409(api):
    created = _create(api)
    api.post(f"{BASE}/{created['id']}/archive")
    response = api.patch(f"{BASE}/{created['id']}", {"description": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "STRATEGY_ARCHIVED"


def test_patch_with_an_invalid_program_answers_400_and_changes_nothing(api):
    created = _create(api)
    response = api.patch(f"{BASE}/{created['id']}", {"astJson": {"rules": []}}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "DSL_VALIDATION_ERROR"
    assert api.get(f"{BASE}/{created['id']}").json()["astJson"] == created["astJson"]


def test_publish_archives_the_sibling_and_reports_the_consumers_that_followed(api, realm):
    v1 = _create(api)
    _publish(api, v1)
    game = GameFactory(realm=realm, strategy_id=v1["strategyId"])
    task = TaskFactory(game=game)
    v2 = api.patch(f"{BASE}/{v1['id']}", {"description": "v2"}, format="json").json()
    body = _publish(api, v2)
    assert body["status"] == "PUBLISHED"
    assert body["publishedAt"]
    assert (body["switchedGames"], body["switchedTasks"]) == (1, 1)
    assert api.get(f"{BASE}/{v1['id']}").json()["status"] == "ARCHIVED"
    assert Task.objects.get(pk=task.pk).strategy_id == v2["strategyId"]


def test_publish_of_an_invalid_draft_answers_400(api, realm):
    from strategies import services

    row = services.strategy_create(
        realm=realm, name="bad", type="DSL_FULL", ast_json={"rules": []}, allow_invalid=True
    )
    response = api.post(f"{BASE}/{row.pk}/publish")
    assert response.status_code == 400
    assert response.json()["code"] == "DSL_VALIDATION_ERROR"
    assert response.json()["errors"][0]["pointer"] == ""


def test_rollback_makes_an_earlier_version_live_again(api):
    v1 = _create(api)
    _publish(api, v1)
    v2 = api.patch(f"{BASE}/{v1['id']}", {"description": "v2"}, format="json").json()
    _publish(api, v2)
    response = api.post(f"{BASE}/{v2['id']}/rollback", {"version": 1}, format="json")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (v1["id"], "PUBLISHED")
    assert api.get(f"{BASE}/{v2['id']}").json()["status"] == "ARCHIVED"
    missing = api.post(f"{BASE}/{v2['id']}/rollback", {"version": 7}, format="json")
    assert missing.status_code == 404
    assert api.post(f"{BASE}/{v2['id']}/rollback", {}, format="json").status_code == 400


def test_versions_lists_the_whole_family_newest_first(api):
    v1 = _create(api)
    _publish(api, v1)
    api.patch(f"{BASE}/{v1['id']}", {"description": "v2"}, format="json")
    body = api.get(f"{BASE}/{v1['id']}/versions").json()
    assert [(v["version"], v["status"]) for v in body] == [(2, "DRAFT"), (1, "PUBLISHED")]


def test_usage_lists_the_games_and_tasks_bound_to_the_family(api, realm):
    v1 = _create(api)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=v1["strategyId"])
    TaskFactory(game=game, external_task_id="t1")
    body = api.get(f"{BASE}/{v1['id']}/usage").json()
    assert (body["gameCount"], body["taskCount"]) == (1, 1)
    assert body["games"][0]["externalGameId"] == "g1"
    assert body["tasks"][0]["externalTaskId"] == "t1"


def test_duplicate_answers_201_with_a_new_family(api):
    v1 = _create(api)
    response = api.post(f"{BASE}/{v1['id']}/duplicate", {"name": "speed-b"}, format="json")
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["version"]) == ("speed-b", 1)
    assert api.post(f"{BASE}/{v1['id']}/duplicate").json()["name"] == "speed copy"


def test_export_then_import_round_trips_a_bundle(api, other_api):
    v1 = _create(api, description="desc", blocklyXml="<xml></xml>")
    bundle = api.get(f"{BASE}/{v1['id']}/export").json()
    assert bundle["astJson"] == v1["astJson"]
    assert bundle["format"] == "gamification.strategy/v1"
    imported = other_api.post(f"{BASE}/import", bundle, format="json")
    assert imported.status_code == 201
    body = imported.json()
    assert (body["name"], body["version"], body["status"]) == ("speed", 1, "DRAFT")
    assert (body["astJson"], body["blocklyXml"]) == (v1["astJson"], "<xml></xml>")
    again = api.post(f"{BASE}/import", bundle, format="json").json()
    assert (again["name"], again["version"]) == ("speed", 2)


def test_import_of_an_invalid_bundle_answers_400(api):
    bundle = {"name": "x", "type": "DSL_FULL", "astJson": {"type": "nope"}}
    response = api.post(f"{BASE}/import", bundle, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "DSL_VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"description": "x"}),
        ("post", "/publish", None),
        ("post", "/archive", None),
        ("post", "/rollback", {"version": 1}),
        ("get", "/versions", None),
        ("get", "/usage", None),
        ("post", "/duplicate", None),
        ("get", "/export", None),
        ("post", "/simulate", {"data": {}}),
    ],
)
def test_every_endpoint_hides_other_realms_strategies(api, other_api, method, suffix, body):
    created = _create(api)
    response = getattr(other_api, method)(f"{BASE}/{created['id']}{suffix}", body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "STRATEGY_NOT_FOUND"
    assert other_api.get(BASE).json()["count"] == 0
    row = StrategyDefinition.objects.get(pk=created["id"])
    assert (row.status, row.description) == (StrategyStatus.DRAFT, "")


def test_endpoints_need_an_api_key(client):
    assert client.get(BASE).status_code in (401, 403)
    assert client.post("/api/v1/strategies/simulate", {}).status_code in (401, 403)


@pytest.mark.usefixtures("api")
def test_the_schema_documents_the_custom_strategy_paths():
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert "/api/v1/strategies/custom/{strategy_id}/rollback" in paths
    assert "/api/v1/strategies/simulate" in paths


def test_float_literals_keep_their_type_through_storage(api):
    program = strategy_program_full()
    program["rules"][0]["then"][0]["value"]["value"] = 2.0
    created = _create(api, astJson=program)
    stored = api.get(f"{BASE}/{created['id']}")
    assert b'"value":2.0' in stored.content.replace(b" ", b"")
