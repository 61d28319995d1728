"""The audit trail: who created, edited, published, archived and rolled back each version."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.urls import reverse

from gamification.models import RealmRole
from gamification.services import realm_member_add
from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from tests.factories import GameFactory, TaskFactory, strategy_program_full

ADMIN = "admin:strategies_strategydefinition"
BASE = "/api/v1/strategies/custom"


def _draft(realm, name="speed", **fields):
    return services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full(), **fields
    )


def _history(row: StrategyDefinition) -> list[str]:
    entries = LogEntry.objects.filter(object_id=str(row.pk)).order_by("pk")
    return [f"{entry.user.username}: {entry.get_change_message()}" for entry in entries]


@pytest.fixture
def paul(realm) -> User:
    return realm_member_add(
        username="paul", realm_slug=realm.slug, role=RealmRole.PUBLISHER
    ).membership.user


@pytest.fixture
def publisher(client, paul):
    client.force_login(paul)
    return client


# -- the services record the actor ---------------------------------------------------------
def test_a_publish_records_its_publisher_and_the_archiver_of_the_version_it_replaced(
    realm, paul, api_key_pair
):
    key = api_key_pair[0]
    v1 = _draft(realm)
    services.strategy_publish(strategy=v1, actor=paul)
    v1.refresh_from_db()
    assert (v1.published_by, v1.published_by_key, v1.published_at is not None) == (
        paul,
        None,
        True,
    )
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}, actor=paul).strategy
    assert v2.created_by == paul
    switch = services.strategy_publish(strategy=v2, api_key=key)
    v1.refresh_from_db()
    assert (switch.strategy.published_by, switch.strategy.published_by_key) == (None, key)
    assert (v1.status, v1.archived_by, v1.archived_by_key) == (StrategyStatus.ARCHIVED, None, key)
    assert v1.archived_at == switch.strategy.published_at


def test_a_rollback_records_the_publisher_and_forgets_the_old_archive(realm, paul):
    v1 = _draft(realm)
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    services.strategy_publish(strategy=v2)
    switch = services.strategy_rollback(strategy=v2, version=1, actor=paul)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (switch.strategy, switch.previous) == (v1, v2)
    assert (v1.status, v1.published_by, v1.archived_at, v1.archived_by) == (
        StrategyStatus.PUBLISHED,
        paul,
        None,
        None,
    )
    assert (v2.status, v2.archived_by) == (StrategyStatus.ARCHIVED, paul)


def test_archives_and_bulk_transitions_record_their_actor(realm, paul, api_key_pair):
    key = api_key_pair[0]
    archived = services.strategy_archive(strategy=_draft(realm, "a"), api_key=key)
    assert (archived.archived_by, archived.archived_by_key) == (None, key)
    assert archived.archived_at is not None
    b, c = _draft(realm, "b"), _draft(realm, "c")
    services.strategy_publish_drafts(
        strategies=StrategyDefinition.objects.filter(pk__in=[b.pk, c.pk]), actor=paul
    )
    assert set(
        StrategyDefinition.objects.filter(pk__in=[b.pk, c.pk]).values_list("status", "published_by")
    ) == {(StrategyStatus.PUBLISHED, paul.pk)}
    services.strategy_archive_many(
        strategies=StrategyDefinition.objects.filter(pk=b.pk), actor=paul
    )
    b.refresh_from_db()
    assert (b.status, b.archived_by) == (StrategyStatus.ARCHIVED, paul)
    transition = services.strategy_transition(strategy=c, action="archive", api_key=key)
    assert transition.strategy.archived_by_key == key


def test_a_duplicate_and_an_import_record_their_author(realm, paul, api_key_pair):
    key = api_key_pair[0]
    copy = services.strategy_duplicate(strategy=_draft(realm), actor=paul)
    assert (copy.created_by, copy.api_key_used) == (paul, None)
    imported = services.strategy_import(
        realm=realm, bundle={"name": "speed", "type": "DSL_FULL", "ast_json": None}, api_key=key
    )
    assert (imported.version, imported.created_by, imported.api_key_used) == (2, None, key)


# -- the admin writes the History ------------------------------------------------------------
def test_creating_and_editing_in_the_admin_are_in_the_history(publisher, realm):
    response = publisher.post(
        reverse(f"{ADMIN}_add"),
        {"realm": realm.pk, "name": "fast", "type": "DSL_FULL", "starter": "example-speed_bonus"},
    )
    assert response.status_code == 302
    v1 = StrategyDefinition.objects.get(name="fast")
    assert _history(v1) == ["paul: Created v1 as a draft."]
    services.strategy_publish(strategy=v1)
    publisher.post(
        reverse(f"{ADMIN}_change", args=[v1.pk]),
        {"type": "DSL_FULL", "description": "faster", "ast_json": json.dumps(v1.ast_json)},
    )
    v2 = StrategyDefinition.objects.get(name="fast", version=2)
    assert v2.created_by.username == "paul"
    assert _history(v2) == ["paul: Saved as the new draft v2; v1 stays published."]
    publisher.post(
        reverse(f"{ADMIN}_change", args=[v2.pk]),
        {"type": "DSL_FULL", "description": "fastest", "ast_json": json.dumps(v1.ast_json)},
    )
    assert _history(v2)[-1] == "paul: Changed Description."


def test_publish_archive_and_rollback_in_the_admin_are_in_the_history(publisher, realm, paul):
    v1 = _draft(realm)
    game = GameFactory(realm=realm, strategy_id=v1.strategy_id)
    TaskFactory.create_batch(2, game=game)
    publisher.post(reverse(f"{ADMIN}_publish", args=[v1.pk]))
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    publisher.post(reverse(f"{ADMIN}_publish", args=[v2.pk]))
    publisher.post(reverse(f"{ADMIN}_rollback", args=[v2.pk, 1]))
    publisher.post(reverse(f"{ADMIN}_archive", args=[v1.pk]))
    assert _history(v1) == [
        "paul: Published v1 (0 games, 0 tasks switched).",
        "paul: Archived: v2 went live in its place.",
        "paul: Rolled back to v1 (1 game, 2 tasks switched).",
        "paul: Archived v1.",
    ]
    assert _history(v2) == [
        "paul: Published v2 (1 game, 2 tasks switched).",
        "paul: Archived: v1 went live in its place.",
    ]
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.published_by, v1.archived_by, v1.status) == (paul, paul, StrategyStatus.ARCHIVED)
    assert (v2.published_by, v2.archived_by) == (paul, paul)
    page = publisher.get(reverse(f"{ADMIN}_history", args=[v1.pk])).content.decode()
    assert "Rolled back to v1 (1 game, 2 tasks switched)." in page
    versions = publisher.get(reverse(f"{ADMIN}_versions", args=[v1.pk])).content.decode()
    row = versions[versions.index('data-version="2"') :].split("</tr>", 1)[0]
    assert "<td>paul</td>" in row  # published by
    assert " by paul</td>" in row  # archived by


def test_the_list_actions_are_in_the_history(publisher, realm, paul):
    a, b = _draft(realm, "a"), _draft(realm, "b")
    changelist = reverse(f"{ADMIN}_changelist")
    publisher.post(
        changelist, {"action": "publish_selected", "_selected_action": [str(a.pk), str(b.pk)]}
    )
    publisher.post(changelist, {"action": "archive_selected", "_selected_action": [str(a.pk)]})
    assert _history(a) == ["paul: Published v1 (0 games, 0 tasks switched).", "paul: Archived v1."]
    assert _history(b) == ["paul: Published v1 (0 games, 0 tasks switched)."]
    a.refresh_from_db()
    assert (a.published_by, a.archived_by) == (paul, paul)


def test_the_change_page_shows_who_published_and_archived(publisher, realm, paul):
    row = _draft(realm)
    services.strategy_publish(strategy=row, actor=paul)
    services.strategy_archive(strategy=row, actor=paul)
    page = publisher.get(reverse(f"{ADMIN}_change", args=[row.pk])).content.decode()
    for field in ("published_by", "archived_by"):
        box = page[page.index(f'fieldBox field-{field}"') :].split("</div>", 1)[0]
        assert ">paul</a>" in box


# -- the API records the key and tells who did what ------------------------------------------
def test_the_api_records_its_key_on_every_lifecycle_step(api, api_key_pair):
    key = api_key_pair[0]
    created = api.post(
        BASE, {"name": "s", "type": "DSL_FULL", "astJson": strategy_program_full()}, format="json"
    ).json()
    api.post(f"{BASE}/{created['id']}/publish")
    v2 = api.patch(f"{BASE}/{created['id']}", {"description": "v2"}, format="json").json()
    api.post(f"{BASE}/{v2['id']}/publish")
    api.post(f"{BASE}/{v2['id']}/rollback", {"version": 1}, format="json")
    api.post(f"{BASE}/{created['id']}/archive")
    copy = api.post(f"{BASE}/{created['id']}/duplicate").json()
    v1 = StrategyDefinition.objects.get(pk=created["id"])
    assert (v1.api_key_used, v1.published_by_key, v1.archived_by_key) == (key, key, key)
    assert StrategyDefinition.objects.get(pk=v2["id"]).archived_by_key == key
    assert StrategyDefinition.objects.get(pk=copy["id"]).api_key_used == key


def test_the_versions_endpoint_tells_who_created_published_and_archived(
    api, api_key_pair, realm, paul
):
    key = api_key_pair[0]
    v1 = _draft(realm, actor=paul)
    services.strategy_publish(strategy=v1, actor=paul)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}, api_key=key).strategy
    services.strategy_publish(strategy=v2, api_key=key)
    body = api.get(f"{BASE}/{v1.pk}/versions").json()
    by_key = {"type": "apiKey", "name": key.name, "prefix": key.prefix}
    by_paul = {"type": "user", "name": "paul"}
    newest, oldest = body
    assert (newest["version"], newest["status"]) == (2, "PUBLISHED")
    assert (newest["createdBy"], newest["publishedBy"], newest["archivedBy"]) == (
        by_key,
        by_key,
        None,
    )
    assert newest["publishedAt"] is not None
    assert newest["archivedAt"] is None
    assert (oldest["createdBy"], oldest["publishedBy"], oldest["archivedBy"]) == (
        by_paul,
        by_paul,
        by_key,
    )
    assert oldest["archivedAt"] == newest["publishedAt"]


def test_the_versions_endpoint_stays_in_the_keys_realm(api, other_api, realm):
    row = _draft(realm)
    assert api.get(f"{BASE}/{row.pk}/versions").status_code == 200
    response = other_api.get(f"{BASE}/{row.pk}/versions")
    assert (response.status_code, response.json()["code"]) == (404, "STRATEGY_NOT_FOUND")


@pytest.mark.usefixtures("db")
def test_the_schema_documents_the_actor_shape():
    from drf_spectacular.generators import SchemaGenerator

    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    strategy = components["StrategyDefinition"]["properties"]
    for name in ("createdBy", "publishedBy", "archivedBy"):
        assert strategy[name]["readOnly"] is True
        assert strategy[name].get("nullable") is True
    assert {"type", "name", "prefix"} <= set(components["Actor"]["properties"])
    assert components["Actor"]["required"] == ["name", "type"]
    assert strategy["archivedAt"]["format"] == "date-time"
