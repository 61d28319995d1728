"""The core admin by realm and role: games, tasks, players, awards, API keys, realms and
memberships of another realm are neither listed nor readable; API keys are made here."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.urls import reverse
from django.utils import timezone

from gamification.auth import hash_secret
from gamification.models import ApiKey, Award, Realm, RealmMembership
from gamification.services import api_key_create
from tests.factories import (
    GameFactory,
    PlayerFactory,
    RealmFactory,
    TaskFactory,
    is_missing,
    member_client,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def realm_a() -> Realm:
    return RealmFactory(slug="realm-a")


@pytest.fixture
def realm_b() -> Realm:
    return RealmFactory(slug="realm-b")


@pytest.fixture
def rows(realm_a, realm_b):
    """A game, task, player, award and key in each realm, named after it."""
    made = {}
    for realm in (realm_a, realm_b):
        game = GameFactory(realm=realm, external_game_id=f"game-of-{realm.slug}")
        task = TaskFactory(game=game, external_task_id=f"task-of-{realm.slug}")
        player = PlayerFactory(realm=realm, external_user_id=f"player-of-{realm.slug}")
        award = Award.objects.create(
            realm=realm,
            player=player,
            task=task,
            points=3,
            case_name=f"case-of-{realm.slug}",
            strategy_id="default",
            strategy_version="1",
            created_at=timezone.now(),
        )
        key, _ = api_key_create(realm=realm, name=f"key-of-{realm.slug}")
        made[realm.slug] = {
            "game": game,
            "task": task,
            "player": player,
            "award": award,
            "key": key,
        }
    return made


def url(model: str, view: str, *args) -> str:
    return reverse(f"admin:gamification_{model}_{view}", args=args)


# -- games, tasks, players, awards ------------------------------------------------------------

LISTS = [
    ("game", "publisher", "game"),
    ("task", "publisher", "task"),
    ("player", "operator", "player"),
    ("award", "operator", "award"),
    ("apikey", "operator", "key"),
]


@pytest.mark.parametrize(("model", "role", "row"), LISTS)
def test_another_realms_rows_are_neither_listed_nor_readable(rows, realm_b, model, role, row):
    client = member_client(f"{role}-b", realm_b, role)
    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    marker = {"game": "game-of", "task": "task-of", "player": "player-of"}.get(row)
    if marker:
        assert f"{marker}-realm-b" in body
        assert f"{marker}-realm-a" not in body
    assert url(model, "change", rows["realm-b"][row].pk) in body
    assert url(model, "change", rows["realm-a"][row].pk) not in body
    assert is_missing(client.get(url(model, "change", rows["realm-a"][row].pk)))
    assert client.get(url(model, "change", rows["realm-b"][row].pk)).status_code == 200


@pytest.mark.usefixtures("rows")
def test_the_realm_filter_offers_only_the_users_realms(realm_a, realm_b):
    client = member_client("publisher-b", realm_b, "publisher")
    body = client.get(url("game", "changelist")).content.decode()
    assert f"?realm={realm_b.pk}" in body
    assert f"?realm={realm_a.pk}" not in body


def test_a_tasks_game_choices_are_the_users_realms_games(rows, realm_b):
    client = member_client("publisher-b", realm_b, "publisher")
    form = client.get(url("task", "add")).context["adminform"].form
    assert list(form.fields["game"].queryset) == [rows["realm-b"]["game"]]
    response = client.post(
        url("task", "add"),
        {
            "game": rows["realm-a"]["game"].pk,
            "external_task_id": "smuggled",
            "strategy_id": "default",
            "status": "open",
            "params": "{}",
        },
    )
    assert response.status_code == 200
    assert "game" in response.context["adminform"].form.errors
    assert not rows["realm-a"]["game"].tasks.filter(external_task_id="smuggled").exists()


def test_the_game_page_lists_its_tasks_inline_only_for_its_realm(rows, realm_b):
    publisher = member_client("publisher-b", realm_b, "publisher")
    page = publisher.get(url("game", "change", rows["realm-b"]["game"].pk)).content.decode()
    assert "task-of-realm-b" in page
    assert 'name="_save"' in page
    designer = member_client("designer-b", realm_b, "designer")
    read_only = designer.get(url("game", "change", rows["realm-b"]["game"].pk)).content.decode()
    assert "task-of-realm-b" in read_only
    assert 'name="_save"' not in read_only


def test_a_publisher_changes_a_game_of_their_realm_and_is_recorded(rows, realm_b):
    client = member_client("publisher-b", realm_b, "publisher")
    game = rows["realm-b"]["game"]
    response = client.post(
        url("game", "change", game.pk),
        {
            "realm": realm_b.pk,
            "external_game_id": game.external_game_id,
            "platform": "mobile",
            "strategy_id": "default",
            "params": "{}",
            "tasks-TOTAL_FORMS": "1",
            "tasks-INITIAL_FORMS": "1",
            "tasks-0-id": rows["realm-b"]["task"].pk,
            "tasks-0-game": game.pk,
            "tasks-0-external_task_id": "task-of-realm-b",
            "tasks-0-strategy_id": "default",
            "tasks-0-status": "open",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    game.refresh_from_db()
    assert game.platform == "mobile"
    entry = LogEntry.objects.get(object_id=str(game.pk), action_flag=CHANGE)
    assert entry.user.username == "publisher-b"


@pytest.mark.parametrize(("model", "row"), [("player", "player"), ("award", "award")])
def test_players_and_awards_are_for_operators(rows, realm_b, model, row):
    designer = member_client("designer-b", realm_b, "designer")
    assert designer.get(url(model, "changelist")).status_code == 403
    assert designer.get(url(model, "change", rows["realm-b"][row].pk)).status_code == 403


# -- API keys ---------------------------------------------------------------------------------


def test_revoking_another_realms_keys_through_the_list_action_does_nothing(rows, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    foreign = rows["realm-a"]["key"]
    response = client.post(
        url("apikey", "changelist"),
        {"action": "revoke", "_selected_action": [foreign.pk]},
        follow=True,
    )
    assert response.status_code == 200
    foreign.refresh_from_db()
    assert foreign.revoked_at is None
    assert not LogEntry.objects.filter(object_id=str(foreign.pk)).exists()


def test_the_list_action_revokes_own_keys_and_records_who_did(rows, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    own = rows["realm-b"]["key"]
    client.post(url("apikey", "changelist"), {"action": "revoke", "_selected_action": [own.pk]})
    own.refresh_from_db()
    assert own.revoked_at is not None
    entry = LogEntry.objects.get(object_id=str(own.pk), action_flag=CHANGE)
    assert entry.user.username == "operator-b"


def test_the_revoke_button_revokes_and_records_the_actor(rows, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    own = rows["realm-b"]["key"]
    page = client.get(url("apikey", "change", own.pk)).content.decode()
    assert url("apikey", "revoke", own.pk) in page
    assert client.get(url("apikey", "revoke", own.pk)).status_code == 405
    response = client.post(url("apikey", "revoke", own.pk))
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.revoked_at is not None
    assert LogEntry.objects.filter(
        object_id=str(own.pk), action_flag=CHANGE, user__username="operator-b"
    ).exists()
    assert (
        url("apikey", "revoke", own.pk)
        not in client.get(url("apikey", "change", own.pk)).content.decode()
    )


def test_the_revoke_button_of_another_realms_key_is_a_missing_redirect(rows, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    foreign = rows["realm-a"]["key"]
    assert is_missing(client.post(url("apikey", "revoke", foreign.pk)))
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


@pytest.mark.usefixtures("realm_a")
def test_creating_a_key_shows_its_secret_once_and_stores_only_its_hash(realm_b):
    client = member_client("operator-b", realm_b, "operator")
    form = client.get(url("apikey", "add")).context["adminform"].form
    assert list(form.fields["realm"].queryset) == [realm_b]

    response = client.post(
        url("apikey", "add"), {"realm": realm_b.pk, "name": "game server", "rate": "60/minute"}
    )
    assert response.status_code == 200
    raw_key = response.context["raw_key"]
    key = ApiKey.objects.get(name="game server")
    prefix, secret = raw_key.split(".", 1)
    assert key.prefix == prefix
    assert key.realm == realm_b
    assert key.rate == "60/minute"
    assert key.secret_hash == hash_secret(secret)
    body = response.content.decode()
    assert raw_key in body
    assert "Copy it now" in body
    stored = [str(value) for value in ApiKey.objects.filter(pk=key.pk).values().get().values()]
    assert not any(secret in value for value in stored)
    entry = LogEntry.objects.get(object_id=str(key.pk), action_flag=ADDITION)
    assert entry.user.username == "operator-b"

    again = client.get(url("apikey", "change", key.pk)).content.decode()
    assert secret not in again
    assert key.prefix in again


def test_a_key_cannot_be_created_for_a_realm_the_user_does_not_manage(realm_a, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    response = client.post(url("apikey", "add"), {"realm": realm_a.pk, "name": "smuggled"})
    assert response.status_code == 200
    assert "realm" in response.context["adminform"].form.errors
    assert not ApiKey.objects.filter(name="smuggled").exists()
    designer = member_client("designer-b", realm_b, "designer")
    assert designer.get(url("apikey", "add")).status_code == 403


def test_a_key_is_renamed_and_its_rate_changed_but_not_its_realm(rows, realm_a, realm_b):
    client = member_client("operator-b", realm_b, "operator")
    key = rows["realm-b"]["key"]
    response = client.post(
        url("apikey", "change", key.pk),
        {"name": "renamed", "rate": "5/second", "realm": realm_a.pk, "secret_hash": "x" * 64},
    )
    assert response.status_code == 302
    key_after = ApiKey.objects.get(pk=key.pk)
    assert (key_after.name, key_after.rate) == ("renamed", "5/second")
    assert key_after.realm == realm_b
    assert key_after.secret_hash == key.secret_hash
    bad = client.post(url("apikey", "change", key.pk), {"name": "renamed", "rate": "often"})
    assert bad.status_code == 200
    assert "rate" in bad.context["adminform"].form.errors


# -- realms and memberships -------------------------------------------------------------------


@pytest.mark.usefixtures("rows")
def test_members_read_only_their_realms(realm_a, realm_b):
    client = member_client("designer-b", realm_b, "designer")
    body = client.get(url("realm", "changelist")).content.decode()
    assert url("realm", "change", realm_b.pk) in body
    assert url("realm", "change", realm_a.pk) not in body
    assert is_missing(client.get(url("realm", "change", realm_a.pk)))
    page = client.get(url("realm", "change", realm_b.pk)).content.decode()
    assert 'name="_save"' not in page
    assert client.get(url("realm", "add")).status_code == 403
    response = client.post(url("realm", "change", realm_b.pk), {"slug": "taken", "name": "x"})
    assert response.status_code == 403
    realm_b.refresh_from_db()
    assert realm_b.slug == "realm-b"


def test_memberships_are_for_superusers_only(realm_b, admin_client):
    client = member_client("operator-b", realm_b, "operator")
    membership = RealmMembership.objects.get(user__username="operator-b")
    assert client.get(url("realmmembership", "changelist")).status_code == 403
    assert client.get(url("realmmembership", "change", membership.pk)).status_code == 403
    assert client.get(url("realmmembership", "add")).status_code == 403
    assert admin_client.get(url("realmmembership", "changelist")).status_code == 200
    assert "operator-b" in admin_client.get(url("realm", "change", realm_b.pk)).content.decode()


@pytest.mark.usefixtures("rows")
def test_superusers_see_every_realms_rows(admin_client):
    body = admin_client.get(url("game", "changelist")).content.decode()
    assert "game-of-realm-a" in body
    assert "game-of-realm-b" in body
    form = admin_client.get(url("apikey", "add")).context["adminform"].form
    assert {realm.slug for realm in form.fields["realm"].queryset} == {"realm-a", "realm-b"}


# -- binding a game or task to a strategy in the admin ----------------------------------------


def _game_form(game, strategy_id: str) -> dict:
    return {
        "realm": game.realm_id,
        "external_game_id": game.external_game_id,
        "platform": game.platform,
        "strategy_id": strategy_id,
        "params": "{}",
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
    }


def test_a_game_is_not_bound_in_the_admin_to_a_strategy_its_realm_lacks(rows, realm_b):
    client = member_client("publisher-b", realm_b, "publisher")
    game = rows["realm-b"]["game"]
    foreign = "custom:0190a5b0-0000-7000-8000-00000000abcd"

    response = client.post(url("game", "change", game.pk), _game_form(game, foreign))

    assert response.status_code == 200
    assert "No strategy" in response.context["adminform"].form.errors["strategy_id"][0]
    game.refresh_from_db()
    assert game.strategy_id == "default"


def test_a_new_strategy_on_a_game_in_the_admin_moves_the_tasks_that_follow_it(rows, realm_b):
    client = member_client("publisher-b", realm_b, "publisher")
    game, task = rows["realm-b"]["game"], rows["realm-b"]["task"]
    assert task.inherits_strategy

    response = client.post(url("game", "change", game.pk), _game_form(game, "constant_effort"))

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.strategy_id == "constant_effort"
    entry = LogEntry.objects.get(object_id=str(game.pk), action_flag=CHANGE)
    assert entry.user.username == "publisher-b"
