"""A hostile review of the admin's realm scoping: every way in to another realm's rows.

Realm A holds the target rows; the attacker holds roles in realm B only (or in both, with
other roles). Another realm's object must look exactly like a missing one: the same status
and the same page, through the contrib views, the custom URLs, list actions, autocomplete,
query strings and posted foreign keys.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gamification.access import object_realm_id
from gamification.models import ApiKey, Award, Game, Player, Realm, Task
from gamification.services import api_key_create, realm_member_add, realm_member_remove
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog
from observability.services import execution_log_dead_letter_create
from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.roles import PUBLISHERS
from tests.factories import (
    GameFactory,
    PlayerFactory,
    RealmFactory,
    TaskFactory,
    award_history,
    strategy_program_full,
)
from tests.observability.conftest import log_make

pytestmark = pytest.mark.django_db

STRATEGY = "admin:strategies_strategydefinition"
MISSING_UUID = "0190a5b0-dead-7000-8000-00000000beef"


@dataclass
class Rows:
    realm: Realm
    game: Game
    task: Task
    player: Player
    award: Award
    key: ApiKey
    v1: StrategyDefinition
    v2: StrategyDefinition
    v3: StrategyDefinition
    draft: StrategyDefinition
    log: StrategyExecutionLog
    builtin_log: StrategyExecutionLog
    letter: ExecutionLogDeadLetter


def rows_of(slug: str, *, versions: int = 2) -> Rows:
    """A realm's rows, each named after the realm, and a family of ``versions`` versions."""
    realm = RealmFactory(slug=slug)
    family = [
        services.strategy_create(
            realm=realm, name="speed", type="DSL_FULL", ast_json=strategy_program_full(7)
        )
    ]
    services.strategy_publish(strategy=family[0])
    for n in range(1, versions):
        edited = services.strategy_edit(
            strategy=family[-1], changes={"description": f"{slug} v{n + 1}"}
        ).strategy
        services.strategy_publish(strategy=edited)
        family.append(edited)
    for row in family:
        row.refresh_from_db()
    draft = services.strategy_create(
        realm=realm, name=f"draft-of-{slug}", type="DSL_FULL", ast_json=strategy_program_full()
    )
    game = GameFactory(
        realm=realm, external_game_id=f"game-of-{slug}", strategy_id=family[-1].strategy_id
    )
    task = TaskFactory(game=game, external_task_id=f"task-of-{slug}")
    player = PlayerFactory(realm=realm, external_user_id=f"player-of-{slug}")
    award = Award.objects.create(
        realm=realm,
        player=player,
        task=task,
        points=3,
        case_name=f"case-of-{slug}",
        strategy_id=f"strategy-of-{slug}",
        strategy_version="1",
        created_at=timezone.now(),
    )
    key, _ = api_key_create(realm=realm, name=f"key-of-{slug}")
    log = log_make(
        realm=realm,
        strategy_id=family[-1].strategy_id,
        definition_id=family[-1].pk,
        strategy_version=str(family[-1].version),
        external_user_id=f"log-player-of-{slug}",
    )
    builtin_log = log_make(
        realm=realm,
        strategy_id="default",
        definition_id=None,
        strategy_version="builtin",
        strategy_type="BUILTIN",
        external_user_id=f"builtin-player-of-{slug}",
        sampled=False,
        sample_rate=1.0,
    )
    letter = execution_log_dead_letter_create(
        reason="invalid_row", detail=f"letter-of-{slug}", payload="{}", realm_id=realm.pk
    )
    v3 = family[2] if versions > 2 else family[-1]
    return Rows(
        realm, game, task, player, award, key, family[0], family[1], v3, draft, log,
        builtin_log, letter,
    )  # fmt: skip


@pytest.fixture
def a() -> Rows:
    """The victim realm; its family has three versions, so v3 exists only here."""
    return rows_of("realm-a", versions=3)


@pytest.fixture
def b() -> Rows:
    return rows_of("realm-b")


def member(username: str, realm: Realm, role: str) -> User:
    return realm_member_add(username=username, realm_slug=realm.slug, role=role).membership.user


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def logged_in(username: str, realm: Realm, role: str) -> Client:
    return client_of(member(username, realm, role))


def same_as_missing(foreign, missing) -> bool:
    """Whether two answers are indistinguishable: status, redirect target and body."""
    return (
        foreign.status_code == missing.status_code
        and foreign.get("Location") == missing.get("Location")
        and foreign.content == missing.content
    )


def admin_url(model: str, view: str, *args) -> str:
    return reverse(f"admin:{model}_{view}", args=args)


#: Each scoped model, the role that may read it, and which row of a realm it is.
SCOPED = [
    ("gamification_realm", "operator", "realm"),
    ("gamification_game", "publisher", "game"),
    ("gamification_task", "publisher", "task"),
    ("gamification_player", "operator", "player"),
    ("gamification_award", "operator", "award"),
    ("gamification_apikey", "operator", "key"),
    ("strategies_strategydefinition", "publisher", "v2"),
    ("observability_strategyexecutionlog", "operator", "log"),
    ("observability_executionlogdeadletter", "operator", "letter"),
]


def missing_pk(row) -> str:
    return MISSING_UUID if isinstance(row.pk, uuid.UUID) else str(10**9)


# -- the contrib pages: change, history, delete ------------------------------------------------
@pytest.mark.parametrize(("model", "role", "row"), SCOPED)
@pytest.mark.parametrize("view", ["change", "history", "delete"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_realms_contrib_pages_answer_like_a_missing_object(
    a, b, model, role, row, view, method
):
    client = logged_in(f"{role}-b", b.realm, role)
    target = getattr(a, row)
    foreign = getattr(client, method)(admin_url(model, view, target.pk))
    missing = getattr(client, method)(admin_url(model, view, missing_pk(target)))
    assert foreign.status_code in (403, 404)
    assert same_as_missing(foreign, missing)
    assert type(target).objects.filter(pk=target.pk).exists()


def test_the_view_on_site_shortcut_answers_like_a_missing_object(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")
    for target in (a.game, a.v2, a.key):
        content_type = ContentType.objects.get_for_model(type(target))
        foreign = client.get(reverse("admin:view_on_site", args=[content_type.pk, target.pk]))
        missing = client.get(
            reverse("admin:view_on_site", args=[content_type.pk, missing_pk(target)])
        )
        assert foreign.status_code == 404
        assert same_as_missing(foreign, missing)


# -- lists: query strings and search -----------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "role"),
    [
        ("gamification_game", "publisher"),
        ("gamification_task", "publisher"),
        ("gamification_award", "operator"),
        ("gamification_apikey", "operator"),
        ("strategies_strategydefinition", "publisher"),
        ("strategies_strategyexperiment", "publisher"),
        ("observability_strategyexecutionlog", "operator"),
        ("observability_executionlogdeadletter", "operator"),
    ],
)
@pytest.mark.parametrize("value", ["²", "1" * 5000, "9" * 25])
def test_a_realm_filter_value_int_cannot_read_is_ignored_like_any_other(a, b, model, role, value):
    """str.isdigit() admits superscripts and 5 000 digits, both of which int() refuses."""
    client = logged_in(f"{role}-b", b.realm, role)
    unfiltered = client.get(admin_url(model, "changelist")).context["cl"]

    response = client.get(admin_url(model, "changelist"), {"realm": value})

    assert response.status_code == 200
    changelist = response.context["cl"]
    lookup = getattr(changelist.model_admin, "realm_lookup", "realm")
    realms = {object_realm_id(row, lookup=lookup) for row in changelist.result_list}
    assert a.realm.pk not in realms
    assert changelist.result_count in (0, unfiltered.result_count)


@pytest.mark.parametrize(
    ("model", "role", "query"),
    [
        ("gamification_game", "publisher", {"realm__id__exact": "{a}"}),
        ("gamification_game", "publisher", {"realm": "{a}"}),
        ("gamification_game", "publisher", {"q": "game-of-realm-a"}),
        ("gamification_task", "publisher", {"game__realm": "{a}"}),
        ("gamification_task", "publisher", {"game__realm__id__exact": "{a}"}),
        ("gamification_task", "publisher", {"game__id__exact": "{game}"}),
        ("gamification_task", "publisher", {"q": "game-of-realm-a"}),
        ("gamification_award", "operator", {"strategy_id": "strategy-of-realm-a"}),
        ("gamification_award", "operator", {"player__realm": "{a}"}),
        ("gamification_apikey", "operator", {"realm__id__exact": "{a}"}),
        ("strategies_strategydefinition", "publisher", {"realm__id__exact": "{a}"}),
        ("strategies_strategydefinition", "publisher", {"q": "draft-of-realm-a"}),
        ("observability_strategyexecutionlog", "operator", {"strategy": "{custom}"}),
        ("observability_strategyexecutionlog", "operator", {"q": "{log}"}),
        ("observability_strategyexecutionlog", "operator", {"realm__id__exact": "{a}"}),
        ("observability_executionlogdeadletter", "operator", {"realm": "{a}"}),
    ],
)
def test_query_strings_never_widen_a_list_to_another_realm(a, b, model, role, query):
    client = logged_in(f"{role}-b", b.realm, role)
    values = {
        "a": a.realm.pk,
        "game": a.game.pk,
        "custom": a.v3.strategy_id,
        "log": a.log.pk,
    }
    params = {key: value.format(**values) for key, value in query.items()}
    response = client.get(admin_url(model, "changelist"), params)
    if response.status_code == 400:  # a lookup the admin does not allow at all
        return
    assert response.status_code == 200
    changelist = response.context["cl"]
    lookup = getattr(changelist.model_admin, "realm_lookup", "realm")
    realms = {object_realm_id(row, lookup=lookup) for row in changelist.result_list}
    assert a.realm.pk not in realms
    assert realms <= {b.realm.pk}


def test_the_awards_strategy_filter_offers_only_the_users_realms_values(a, b):  # noqa: ARG001 - realm A's rows must exist
    client = logged_in("operator-b", b.realm, "operator")
    body = client.get(admin_url("gamification_award", "changelist")).content.decode()
    assert "strategy-of-realm-b" in body
    assert "strategy-of-realm-a" not in body


# -- autocomplete ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "field", "role"),
    [
        ("gamification.task", "game", "publisher"),
        ("gamification.award", "player", "operator"),
        ("gamification.award", "task", "operator"),
        ("gamification.game", "realm", "publisher"),
        ("gamification.game", "api_key_used", "operator"),
        ("gamification.realmmembership", "realm", "operator"),
        ("gamification.realmmembership", "user", "operator"),
        ("strategies.strategydefinition", "realm", "designer"),
        ("strategies.strategydefinition", "created_by", "designer"),
        ("observability.strategyexecutionlog", "realm", "operator"),
    ],
)
def test_autocomplete_offers_nothing_of_another_realm(a, b, source, field, role):
    member("victim", a.realm, "publisher")
    client = logged_in(f"{role}-b", b.realm, role)
    app_label, model_name = source.split(".")
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field, "term": ""},
    )
    assert response.status_code in (200, 403)
    body = response.content.decode()
    assert "realm-a" not in body
    assert "victim" not in body


# -- list actions ------------------------------------------------------------------------------
def test_list_actions_across_every_row_touch_only_the_users_realm(a, b):
    publisher = logged_in("publisher-b", b.realm, "publisher")
    changelist = admin_url(STRATEGY.split(":")[1], "changelist")
    for action in ("publish_selected", "archive_selected"):
        publisher.post(
            changelist,
            {"action": action, "select_across": "1", "_selected_action": [str(a.draft.pk)]},
        )
    for game_action in ({"post": "yes"}, {}):
        publisher.post(
            admin_url("gamification_game", "changelist"),
            {
                "action": "delete_selected",
                "select_across": "1",
                "_selected_action": [str(a.game.pk)],
                **game_action,
            },
        )
    operator = logged_in("operator-b", b.realm, "operator")
    operator.post(
        admin_url("gamification_apikey", "changelist"),
        {"action": "revoke", "select_across": "1", "_selected_action": [str(a.key.pk)]},
    )
    assert StrategyDefinition.objects.get(pk=a.draft.pk).status == StrategyStatus.DRAFT
    assert StrategyDefinition.objects.get(pk=a.v3.pk).status == StrategyStatus.PUBLISHED
    assert Game.objects.filter(pk=a.game.pk).exists()
    assert ApiKey.objects.get(pk=a.key.pk).revoked_at is None
    assert StrategyDefinition.objects.get(pk=b.draft.pk).status == StrategyStatus.ARCHIVED
    assert ApiKey.objects.get(pk=b.key.pk).revoked_at is not None


def test_a_designer_in_one_realm_and_publisher_in_another_deletes_nothing_of_the_first(a, b):
    user = member("mixed", a.realm, "designer")
    realm_member_add(username="mixed", realm_slug=b.realm.slug, role="publisher")
    client = client_of(user)
    response = client.post(
        admin_url("gamification_game", "changelist"),
        {
            "action": "delete_selected",
            "select_across": "1",
            "_selected_action": [str(a.game.pk)],
            "post": "yes",
        },
    )
    assert response.status_code in (200, 302, 403)
    assert Game.objects.filter(pk=a.game.pk).exists()
    assert Task.objects.filter(pk=a.task.pk).exists()


# -- posted foreign keys -----------------------------------------------------------------------
def test_a_task_is_not_added_to_another_realms_game(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")
    response = client.post(
        admin_url("gamification_task", "add"),
        {
            "game": a.game.pk,
            "external_task_id": "planted",
            "strategy_id": "default",
            "inherits_strategy": "on",
            "status": "open",
            "params": "{}",
        },
    )
    assert response.status_code == 200  # the form again, with the game refused
    assert not Task.objects.filter(external_task_id="planted").exists()


def test_a_task_is_not_moved_to_another_realms_game(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")
    client.post(
        admin_url("gamification_task", "change", b.task.pk),
        {
            "game": a.game.pk,
            "external_task_id": b.task.external_task_id,
            "strategy_id": "default",
            "status": "open",
            "params": "{}",
        },
    )
    assert Task.objects.get(pk=b.task.pk).game_id == b.game.pk


def test_a_game_form_does_not_change_another_realms_tasks_through_its_inline(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")
    client.post(
        admin_url("gamification_game", "change", b.game.pk),
        {
            "realm": b.realm.pk,
            "external_game_id": b.game.external_game_id,
            "platform": "web",
            "strategy_id": b.game.strategy_id,
            "params": "{}",
            "tasks-TOTAL_FORMS": "1",
            "tasks-INITIAL_FORMS": "1",
            "tasks-MIN_NUM_FORMS": "0",
            "tasks-MAX_NUM_FORMS": "1000",
            "tasks-0-id": str(a.task.pk),
            "tasks-0-game": str(b.game.pk),
            "tasks-0-external_task_id": "hijacked",
            "tasks-0-strategy_id": "default",
            "tasks-0-status": "closed",
        },
    )
    task = Task.objects.get(pk=a.task.pk)
    assert (task.external_task_id, task.game_id) == ("task-of-realm-a", a.game.pk)


def test_a_strategy_is_not_created_in_another_realm(a, b):
    client = logged_in("designer-b", b.realm, "designer")
    client.post(
        admin_url("strategies_strategydefinition", "add"),
        {
            "realm": a.realm.pk,
            "name": "planted",
            "type": "DSL_FULL",
            "ast_json": json.dumps(strategy_program_full()),
        },
    )
    assert not StrategyDefinition.objects.filter(name="planted").exists()


def test_a_game_moved_to_another_realm_keeps_no_binding_to_the_old_realms_strategy(a, b):
    user = member("both", a.realm, "publisher")
    realm_member_add(username="both", realm_slug=b.realm.slug, role="publisher")
    client = client_of(user)
    response = client.post(
        admin_url("gamification_game", "change", a.game.pk),
        {
            "realm": b.realm.pk,
            "external_game_id": a.game.external_game_id,
            "platform": "web",
            "strategy_id": a.game.strategy_id,
            "params": "{}",
            "tasks-TOTAL_FORMS": "0",
            "tasks-INITIAL_FORMS": "0",
            "tasks-MIN_NUM_FORMS": "0",
            "tasks-MAX_NUM_FORMS": "1000",
        },
    )
    game = Game.objects.get(pk=a.game.pk)
    assert game.realm_id == a.realm.pk, response.content.decode()[:2000]


def test_a_task_moved_to_another_realms_game_keeps_no_binding_to_the_old_realm(a, b):
    user = member("both", a.realm, "publisher")
    realm_member_add(username="both", realm_slug=b.realm.slug, role="publisher")
    a.task.strategy_id = a.v3.strategy_id
    a.task.save()
    client_of(user).post(
        admin_url("gamification_task", "change", a.task.pk),
        {
            "game": b.game.pk,
            "external_task_id": a.task.external_task_id,
            "strategy_id": a.v3.strategy_id,
            "status": "open",
            "params": "{}",
        },
    )
    task = Task.objects.get(pk=a.task.pk)
    assert (task.game_id, task.strategy_id) == (a.game.pk, a.v3.strategy_id)


# -- the editor's JSON endpoints ---------------------------------------------------------------
def _simulate(client, **body):
    payload = {"type": "DSL_FULL", "astJson": strategy_program_full(), **body}
    return client.post(
        reverse(f"{STRATEGY}_simulate"), json.dumps(payload), content_type="application/json"
    )


def test_simulating_in_another_realm_answers_like_a_missing_realm(a, b):
    client = logged_in("designer-b", b.realm, "designer")
    foreign = _simulate(client, realm=a.realm.pk)
    missing = _simulate(client, realm=10**9)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "REALM_NOT_FOUND"
    assert "realm-a" not in foreign.content.decode()


def test_simulation_does_not_read_another_realms_task_history(a, b):
    award_history(task=a.task, player=a.player, timestamps=[timezone.now()] * 3)
    client = logged_in("designer-b", b.realm, "designer")
    foreign = _simulate(
        client,
        realm=b.realm.pk,
        externalGameId=a.game.external_game_id,
        externalTaskId=a.task.external_task_id,
        externalUserId=a.player.external_user_id,
    )
    missing = _simulate(
        client,
        realm=b.realm.pk,
        externalGameId="no-such-game",
        externalTaskId="no-such-task",
        externalUserId=a.player.external_user_id,
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"]


def test_an_operator_may_neither_simulate_nor_validate(b):
    client = logged_in("operator-b", b.realm, "operator")
    assert _simulate(client, realm=b.realm.pk).status_code == 403
    validate = client.post(
        reverse(f"{STRATEGY}_validate"),
        json.dumps({"type": "DSL_FULL", "astJson": strategy_program_full()}),
        content_type="application/json",
    )
    assert validate.status_code == 403


# -- versions, diff, rollback ------------------------------------------------------------------
def test_diff_and_rollback_reach_no_version_of_another_realms_family(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")
    versions = client.get(reverse(f"{STRATEGY}_versions", args=[b.v2.pk])).context["versions"]
    assert {row.realm_id for row in versions} == {b.realm.pk}  # both families are "speed"
    diff = client.get(reverse(f"{STRATEGY}_diff", args=[b.v2.pk]), {"a": 1, "b": 3})
    assert diff.status_code == 302
    assert "realm-a" not in client.get(diff["Location"]).content.decode()
    client.post(reverse(f"{STRATEGY}_rollback", args=[b.v2.pk, 3]))
    assert StrategyDefinition.objects.get(pk=a.v3.pk).status == StrategyStatus.PUBLISHED
    assert StrategyDefinition.objects.get(pk=b.v2.pk).status == StrategyStatus.PUBLISHED


# -- the runbook -------------------------------------------------------------------------------
def test_another_realms_replay_answers_like_a_missing_log(a, b):
    client = logged_in("operator-b", b.realm, "operator")
    replay = "admin:observability_strategyexecutionlog_replay"
    foreign = client.get(reverse(replay, args=[a.log.pk]))
    missing = client.get(reverse(replay, args=[MISSING_UUID]))
    assert foreign.status_code == 404
    assert same_as_missing(foreign, missing)


def test_another_realms_dashboard_answers_like_a_missing_strategy(a, b):
    client = logged_in("operator-b", b.realm, "operator")
    dashboard = "admin:observability_dashboard"
    foreign = client.get(reverse(dashboard, args=[a.v3.strategy_id]))
    missing = client.get(reverse(dashboard, args=[f"custom:{MISSING_UUID}"]))
    assert foreign.status_code == 404
    assert same_as_missing(foreign, missing)


def test_compare_answers_for_another_realms_strategy_like_a_missing_one(a, b):
    client = logged_in("operator-b", b.realm, "operator")
    compare = reverse("admin:observability_compare")
    foreign = client.get(compare, {"a": a.v3.strategy_id, "b": "default"})
    missing = client.get(compare, {"a": f"custom:{MISSING_UUID}", "b": "default"})
    assert foreign.status_code == 404
    assert same_as_missing(foreign, missing)


def test_a_builtin_dashboard_and_compare_count_only_the_operated_realms_runs(a, b):
    client = logged_in("operator-b", b.realm, "operator")
    for response in (
        client.get(reverse("admin:observability_dashboard", args=["default"])),
        client.get(reverse("admin:observability_compare"), {"a": "default", "b": "default"}),
        client.get(
            reverse("admin:observability_dashboard", args=["default"]), {"realm": a.realm.pk}
        ),
    ):
        body = response.content.decode()
        assert response.status_code in (200, 404)
        assert "realm-a" not in body
    superuser = User.objects.create_superuser("root", password="x")
    both = client_of(superuser).get(reverse("admin:observability_dashboard", args=["default"]))
    one = client.get(reverse("admin:observability_dashboard", args=["default"]))
    assert both.context["panels"][0] != one.context["panels"][0]


def test_a_null_realm_dead_letter_is_for_superusers_only(b):
    letter = execution_log_dead_letter_create(
        reason="unreadable_batch", detail="no realm", payload="garbage", realm_id=None
    )
    client = logged_in("operator-b", b.realm, "operator")
    url = admin_url("observability_executionlogdeadletter", "change", letter.pk)
    assert client.get(url).status_code == 404
    superuser = User.objects.create_superuser("root", password="x")
    assert client_of(superuser).get(url).status_code == 200


# -- who the user is, request by request -------------------------------------------------------
def test_mixed_roles_grant_each_capability_only_in_its_own_realm(a, b):
    user = member("mixed", a.realm, "designer")
    realm_member_add(username="mixed", realm_slug=b.realm.slug, role="operator")
    client = client_of(user)
    # Designer in A: reads A's strategies, cannot publish them or read A's logs and keys.
    assert (
        client.get(admin_url("strategies_strategydefinition", "change", a.v3.pk)).status_code == 200
    )
    assert client.post(reverse(f"{STRATEGY}_publish", args=[a.draft.pk])).status_code == 403
    assert (
        client.get(admin_url("observability_strategyexecutionlog", "change", a.log.pk)).status_code
        == 404
    )
    assert client.get(admin_url("gamification_apikey", "change", a.key.pk)).status_code == 404
    # Operator in B: reads B's logs, cannot simulate in B or edit B's strategies.
    assert (
        client.get(admin_url("observability_strategyexecutionlog", "change", b.log.pk)).status_code
        == 200
    )
    assert _simulate(client, realm=b.realm.pk).status_code == 404
    page = client.get(admin_url("strategies_strategydefinition", "change", b.draft.pk))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    # The operator's dashboards are B's only.
    foreign_dashboard = reverse("admin:observability_dashboard", args=[a.v3.strategy_id])
    assert client.get(foreign_dashboard).status_code == 404


def test_a_publisher_in_one_realm_and_operator_in_another_changes_only_the_first(a, b):
    user = member("mixed", a.realm, "publisher")
    realm_member_add(username="mixed", realm_slug=b.realm.slug, role="operator")
    client = client_of(user)
    form = {
        "realm": b.realm.pk,
        "external_game_id": "renamed",
        "platform": "web",
        "strategy_id": "default",
        "params": "{}",
        "tasks-TOTAL_FORMS": "0",
        "tasks-INITIAL_FORMS": "0",
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
    }
    assert client.post(admin_url("gamification_game", "change", b.game.pk), form).status_code == 403
    assert Game.objects.get(pk=b.game.pk).external_game_id == "game-of-realm-b"
    assert client.post(reverse(f"{STRATEGY}_archive", args=[b.v2.pk])).status_code == 403


def test_a_removed_membership_takes_effect_on_the_next_request(a, b):
    user = member("leaver", a.realm, "publisher")
    client = client_of(user)
    url = admin_url("gamification_game", "change", a.game.pk)
    assert client.get(url).status_code == 200
    realm_member_add(username="leaver", realm_slug=b.realm.slug, role="publisher")
    realm_member_remove(username="leaver", realm_slug=a.realm.slug)
    assert client.get(url).status_code == 404
    games = client.get(admin_url("gamification_game", "changelist"))
    assert "game-of-realm-a" not in games.content.decode()


def test_a_deactivated_user_is_sent_to_the_login_page(a):
    user = member("gone", a.realm, "publisher")
    client = client_of(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(admin_url("gamification_game", "change", a.game.pk))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_a_role_group_without_a_membership_reads_nothing(a):
    user = User.objects.create_user("grouped", is_staff=True)
    user.groups.add(Group.objects.get(name=PUBLISHERS))
    client = client_of(user)
    game = client.get(admin_url("gamification_game", "change", a.game.pk))
    assert game.status_code in (403, 404)
    strategies = client.get(admin_url("strategies_strategydefinition", "changelist"))
    assert "realm-a" not in strategies.content.decode()
    assert _simulate(client).status_code in (403, 404)


def test_the_index_shows_no_recent_action_on_a_realm_the_user_left(a, b):
    user = member("leaver", a.realm, "publisher")
    realm_member_add(username="leaver", realm_slug=b.realm.slug, role="publisher")
    client = client_of(user)
    client.post(reverse(f"{STRATEGY}_publish", args=[a.draft.pk]))
    assert LogEntry.objects.filter(user=user, object_id=str(a.draft.pk)).exists()
    assert "draft-of-realm-a" in client.get(reverse("admin:index")).content.decode()
    realm_member_remove(username="leaver", realm_slug=a.realm.slug)
    assert "draft-of-realm-a" not in client.get(reverse("admin:index")).content.decode()


# -- ids of another realm named in bodies and query strings ------------------------------------
def _editor_post(client, view: str, **body):
    payload = {"type": "DSL_EXTEND", "astJson": {"type": "program", "rules": []}, **body}
    return client.post(
        reverse(f"{STRATEGY}_{view}"), json.dumps(payload), content_type="application/json"
    )


@pytest.mark.parametrize("view", ["validate", "simulate_defaults"])
def test_the_editor_answers_another_realms_parent_like_a_missing_one(a, b, view):
    client = logged_in("designer-b", b.realm, "designer")
    foreign = _editor_post(client, view, parentStrategyId=a.v3.strategy_id)
    missing = _editor_post(client, view, parentStrategyId=f"custom:{MISSING_UUID}")
    assert foreign.status_code == missing.status_code
    assert foreign.content.replace(str(a.v3.pk).encode(), b"") == missing.content.replace(
        MISSING_UUID.encode(), b""
    )


def test_a_game_bound_to_another_realms_strategy_is_refused_like_a_missing_one(a, b):
    client = logged_in("publisher-b", b.realm, "publisher")

    def add(strategy_id: str):
        return client.post(
            admin_url("gamification_game", "add"),
            {
                "realm": b.realm.pk,
                "external_game_id": "planted",
                "platform": "web",
                "strategy_id": strategy_id,
                "params": "{}",
                "tasks-TOTAL_FORMS": "0",
                "tasks-INITIAL_FORMS": "0",
                "tasks-MIN_NUM_FORMS": "0",
                "tasks-MAX_NUM_FORMS": "1000",
            },
        )

    foreign, missing = add(a.v3.strategy_id), add(f"custom:{MISSING_UUID}")
    assert foreign.status_code == missing.status_code == 200
    errors = [r.context["adminform"].form.errors["strategy_id"] for r in (foreign, missing)]
    assert errors[0] == [e.replace(MISSING_UUID, str(a.v3.pk)) for e in errors[1]]
    assert not Game.objects.filter(external_game_id="planted").exists()


def test_a_log_naming_another_realms_version_shows_and_replays_nothing_of_it(a, b):
    forged = log_make(
        realm=b.realm,
        strategy_id=a.v3.strategy_id,
        definition_id=a.v3.pk,
        strategy_version="3",
        external_user_id="forged",
    )
    client = logged_in("operator-b", b.realm, "operator")
    listing = client.get(admin_url("observability_strategyexecutionlog", "changelist"))
    page = client.get(admin_url("observability_strategyexecutionlog", "change", forged.pk))
    replay = client.get(
        reverse("admin:observability_strategyexecutionlog_replay", args=[forged.pk])
    )
    for response in (listing, page, replay):
        assert response.status_code == 200
        assert "speed v3" not in response.content.decode()
    assert replay.context["columns"] is not None


@pytest.mark.parametrize("term", ["not-a-uuid", "0190a5b0", "realm-a"])
def test_searching_the_runbook_for_a_malformed_id_is_an_empty_list(b, term):
    client = logged_in("operator-b", b.realm, "operator")
    for model in ("observability_strategyexecutionlog", "observability_executionlogdeadletter"):
        response = client.get(admin_url(model, "changelist"), {"q": term})
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert list(response.context["cl"].result_list) == []
