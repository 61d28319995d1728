"""The strategies admin scoped by realm and role: another realm's versions do not exist."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from gamification.models import Realm, RealmRole
from gamification.services import realm_member_add
from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from tests.factories import GameFactory, RealmFactory, strategy_program_full

ADMIN = "admin:strategies_strategydefinition"


def _member(username: str, realm: Realm, role: str) -> User:
    return realm_member_add(username=username, realm_slug=realm.slug, role=role).membership.user


def _login(client, user: User):
    client.force_login(user)
    return client


def _family(realm: Realm, name: str) -> tuple[StrategyDefinition, StrategyDefinition]:
    """An archived v1 and a published v2 of ``name`` in ``realm``, and a game bound to it."""
    v1 = services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full()
    )
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    services.strategy_publish(strategy=v2)
    GameFactory(realm=realm, strategy_id=v1.strategy_id)
    v1.refresh_from_db()
    v2.refresh_from_db()
    return v1, v2


def _draft(realm: Realm, name: str) -> StrategyDefinition:
    return services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full()
    )


def _simulate(client, realm_id, **extra):
    body = {"type": "DSL_FULL", "astJson": strategy_program_full(), "realm": realm_id, **extra}
    return client.post(
        reverse(f"{ADMIN}_simulate"), json.dumps(body), content_type="application/json"
    )


def _config(page: str) -> dict:
    start = page.index('<script id="dsl-editor-config" type="application/json">')
    text = page[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(text)


def _statuses(*rows: StrategyDefinition) -> list[str]:
    return [StrategyDefinition.objects.get(pk=row.pk).status for row in rows]


@pytest.fixture
def beta(db) -> Realm:  # noqa: ARG001 - requested for database access
    return RealmFactory(slug="beta")


@pytest.fixture
def acme_rows(realm):
    """Realm A ("acme"): a family with an archived v1 and a live v2, and a draft."""
    v1, v2 = _family(realm, "acme-speed")
    return {"v1": v1, "v2": v2, "draft": _draft(realm, "acme-draft")}


@pytest.fixture
def beta_publisher(client, beta):
    return _login(client, _member("bea", beta, RealmRole.PUBLISHER))


# -- another realm's rows do not exist --------------------------------------------------------
def test_the_list_shows_none_of_another_realms_rows(beta_publisher, beta, acme_rows, realm):
    _draft(beta, "beta-own")
    page = beta_publisher.get(reverse(f"{ADMIN}_changelist")).content.decode()
    assert "beta-own" in page
    assert "acme-" not in page
    filtered = beta_publisher.get(reverse(f"{ADMIN}_changelist"), {"realm": realm.pk})
    assert "acme-" not in filtered.content.decode()
    # The realm filter offers only the realms the user has a role in.
    assert f"?realm={beta.pk}" in page
    assert f"?realm={realm.pk}" not in page
    assert acme_rows["v2"].status == StrategyStatus.PUBLISHED


@pytest.mark.parametrize(
    ("view", "row", "extra"),
    [
        ("versions", "v2", []),
        ("diff", "v2", []),
        ("publish", "draft", []),
        ("archive", "v2", []),
        ("rollback", "v2", [1]),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_realms_custom_pages_are_404(beta_publisher, acme_rows, view, row, extra, method):
    url = reverse(f"{ADMIN}_{view}", args=[acme_rows[row].pk, *extra])
    assert getattr(beta_publisher, method)(url).status_code == 404
    assert _statuses(acme_rows["v1"], acme_rows["v2"], acme_rows["draft"]) == [
        StrategyStatus.ARCHIVED,
        StrategyStatus.PUBLISHED,
        StrategyStatus.DRAFT,
    ]


@pytest.mark.parametrize("view", ["change", "history"])
def test_another_realms_contrib_pages_are_not_found(beta_publisher, acme_rows, view):
    foreign = beta_publisher.get(reverse(f"{ADMIN}_{view}", args=[acme_rows["draft"].pk]))
    missing = beta_publisher.get(reverse(f"{ADMIN}_{view}", args=[uuid.uuid4()]))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert "acme-draft" not in foreign.content.decode()


def test_saving_another_realms_version_changes_nothing(beta_publisher, acme_rows):
    draft = acme_rows["draft"]
    response = beta_publisher.post(
        reverse(f"{ADMIN}_change", args=[draft.pk]),
        {"type": "DSL_FULL", "description": "taken over", "ast_json": "", "blockly_xml": ""},
    )
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.description == ""


def test_creating_in_another_realm_is_refused_by_the_realm_picker(beta_publisher, realm):
    response = beta_publisher.post(
        reverse(f"{ADMIN}_add"),
        {"realm": realm.pk, "name": "intruder", "type": "DSL_FULL", "ast_json": ""},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not StrategyDefinition.objects.filter(name="intruder").exists()


@pytest.mark.usefixtures("acme_rows")
def test_list_actions_with_another_realms_ids_do_nothing_to_them(beta_publisher, beta, acme_rows):
    own = _draft(beta, "beta-own")
    changelist = reverse(f"{ADMIN}_changelist")
    beta_publisher.post(
        changelist,
        {
            "action": "publish_selected",
            "_selected_action": [str(acme_rows["draft"].pk), str(own.pk)],
        },
    )
    beta_publisher.post(
        changelist, {"action": "archive_selected", "_selected_action": [str(acme_rows["v2"].pk)]}
    )
    assert _statuses(acme_rows["draft"], acme_rows["v2"], own) == [
        StrategyStatus.DRAFT,
        StrategyStatus.PUBLISHED,
        StrategyStatus.PUBLISHED,
    ]


def test_a_simulation_in_another_realm_is_refused_like_one_that_does_not_exist(
    beta_publisher, beta, realm
):
    GameFactory(realm=realm, external_game_id="acme-game")
    refused = _simulate(beta_publisher, realm.pk, externalGameId="acme-game")
    missing = _simulate(beta_publisher, realm.pk + 1000)
    assert (refused.status_code, missing.status_code) == (404, 404)
    assert refused.json()["code"] == missing.json()["code"] == "REALM_NOT_FOUND"
    assert "acme" not in refused.content.decode()
    assert _simulate(beta_publisher, beta.pk).status_code == 200


@pytest.mark.usefixtures("realm")
def test_a_simulation_naming_no_realm_runs_in_the_only_one_else_is_refused(client, beta):
    person = _member("bea", beta, RealmRole.DESIGNER)
    _login(client, person)
    assert _simulate(client, None).status_code == 200  # beta: not acme, which is not theirs
    _member("bea", RealmFactory(slug="gamma"), RealmRole.DESIGNER)
    response = _simulate(client, None)
    assert (response.status_code, response.json()["code"]) == (400, "REALM_REQUIRED")


# -- roles --------------------------------------------------------------------------------------
def test_a_designer_edits_and_simulates_but_cannot_publish(client, realm, acme_rows):
    designer = _login(client, _member("dana", realm, RealmRole.DESIGNER))
    draft = acme_rows["draft"]
    page = designer.get(reverse(f"{ADMIN}_change", args=[draft.pk])).content.decode()
    config = _config(page)
    assert (config["readOnly"], config["canSimulate"], config["realmId"]) == (False, True, realm.pk)
    assert "dsl-publish-link" not in page
    assert "publish_selected" not in designer.get(reverse(f"{ADMIN}_changelist")).content.decode()
    for view, args in (("publish", [draft.pk]), ("rollback", [acme_rows["v2"].pk, 1])):
        assert designer.post(reverse(f"{ADMIN}_{view}", args=args)).status_code == 403
    designer.post(
        reverse(f"{ADMIN}_changelist"),
        {"action": "publish_selected", "_selected_action": [str(draft.pk)]},
    )
    assert _statuses(draft) == [StrategyStatus.DRAFT]
    assert _simulate(designer, realm.pk).status_code == 200


def test_an_operator_reads_the_editor_but_cannot_edit_validate_or_simulate(
    client, realm, acme_rows
):
    operator = _login(client, _member("olga", realm, RealmRole.OPERATOR))
    draft = acme_rows["draft"]
    response = operator.get(reverse(f"{ADMIN}_change", args=[draft.pk]))
    assert response.status_code == 200
    config = _config(response.content.decode())
    assert (config["readOnly"], config["canSimulate"]) == (True, False)
    assert 'name="_save"' not in response.content.decode()
    saved = operator.post(
        reverse(f"{ADMIN}_change", args=[draft.pk]),
        {"type": "DSL_FULL", "description": "x", "ast_json": ""},
    )
    assert saved.status_code == 403
    assert operator.get(reverse(f"{ADMIN}_add")).status_code == 403
    assert operator.get(reverse(f"{ADMIN}_versions", args=[draft.pk])).status_code == 200
    assert operator.get(reverse(f"{ADMIN}_history", args=[draft.pk])).status_code == 200
    program = json.dumps({"type": "DSL_FULL", "astJson": strategy_program_full()})
    for view in ("validate", "simulate_defaults"):
        response = operator.post(
            reverse(f"{ADMIN}_{view}"), program, content_type="application/json"
        )
        assert response.status_code == 403
    assert _simulate(operator, realm.pk).status_code == 403
    assert operator.post(reverse(f"{ADMIN}_publish", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert (draft.description, draft.status) == ("", StrategyStatus.DRAFT)


def test_a_publisher_publishes_archives_and_rolls_back(client, realm, acme_rows):
    publisher = _login(client, _member("paul", realm, RealmRole.PUBLISHER))
    v1, v2, draft = acme_rows["v1"], acme_rows["v2"], acme_rows["draft"]
    assert publisher.post(reverse(f"{ADMIN}_publish", args=[draft.pk])).status_code == 302
    assert publisher.post(reverse(f"{ADMIN}_rollback", args=[v2.pk, 1])).status_code == 302
    assert _statuses(v1, v2, draft) == [
        StrategyStatus.PUBLISHED,
        StrategyStatus.ARCHIVED,
        StrategyStatus.PUBLISHED,
    ]
    assert publisher.post(reverse(f"{ADMIN}_archive", args=[v1.pk])).status_code == 302
    assert _statuses(v1) == [StrategyStatus.ARCHIVED]


def test_a_publisher_in_one_realm_and_designer_in_another_publishes_only_in_the_first(
    client, realm, beta
):
    person = _member("pia", realm, RealmRole.PUBLISHER)
    _member("pia", beta, RealmRole.DESIGNER)
    _login(client, person)
    acme, acme_live = _draft(realm, "acme-a"), _family(realm, "acme-b")[1]
    beta_draft, beta_live = _draft(beta, "beta-a"), _family(beta, "beta-b")[1]

    assert client.get(reverse(f"{ADMIN}_publish", args=[beta_draft.pk])).status_code == 403
    assert client.post(reverse(f"{ADMIN}_archive", args=[beta_live.pk])).status_code == 403
    beta_page = client.get(reverse(f"{ADMIN}_change", args=[beta_draft.pk])).content.decode()
    assert "dsl-publish-link" not in beta_page
    assert _config(beta_page)["canSimulate"] is True
    versions = client.get(reverse(f"{ADMIN}_versions", args=[beta_live.pk])).content.decode()
    assert "/archive/" not in versions

    changelist = reverse(f"{ADMIN}_changelist")
    response = client.post(
        changelist,
        {"action": "publish_selected", "_selected_action": [str(acme.pk), str(beta_draft.pk)]},
        follow=True,
    )
    assert "not published; you are not a publisher in realm beta" in response.content.decode()
    response = client.post(
        changelist,
        {"action": "archive_selected", "_selected_action": [str(acme_live.pk), str(beta_live.pk)]},
        follow=True,
    )
    assert "not archived; you are not a publisher in realm beta" in response.content.decode()
    assert _statuses(acme, acme_live, beta_draft, beta_live) == [
        StrategyStatus.PUBLISHED,
        StrategyStatus.ARCHIVED,
        StrategyStatus.DRAFT,
        StrategyStatus.PUBLISHED,
    ]
    assert client.post(reverse(f"{ADMIN}_publish", args=[beta_draft.pk])).status_code == 403


def test_a_designer_in_one_realm_and_operator_in_another_simulates_only_in_the_first(
    client, realm, beta
):
    person = _member("dora", beta, RealmRole.DESIGNER)
    _member("dora", realm, RealmRole.OPERATOR)
    _login(client, person)
    acme = _draft(realm, "acme-a")
    config = _config(client.get(reverse(f"{ADMIN}_change", args=[acme.pk])).content.decode())
    assert (config["readOnly"], config["canSimulate"]) == (True, False)
    assert _simulate(client, realm.pk).json()["code"] == "REALM_NOT_FOUND"
    assert _simulate(client, beta.pk).status_code == 200


# -- the realm picker on create ---------------------------------------------------------------
def test_the_only_realm_a_person_designs_in_is_preselected(client, realm, beta):
    person = _member("solo", realm, RealmRole.DESIGNER)
    _member("solo", beta, RealmRole.OPERATOR)
    page = _login(client, person).get(reverse(f"{ADMIN}_add")).content.decode()
    assert f'<option value="{realm.pk}" selected>acme</option>' in page
    assert f'<option value="{beta.pk}"' not in page


def test_a_person_designing_in_several_realms_must_pick_one_of_theirs(client, realm, beta):
    person = _member("multi", realm, RealmRole.DESIGNER)
    _member("multi", beta, RealmRole.PUBLISHER)
    RealmFactory(slug="gamma")
    _login(client, person)
    page = client.get(reverse(f"{ADMIN}_add")).content.decode()
    select = page[page.index('<select name="realm"') :].split("</select>", 1)[0]
    assert "required" in select
    assert "selected" in select.split("<option", 2)[1]  # the empty choice, nothing picked
    assert select.count("<option") == 3  # the empty choice, acme and beta; never gamma
    assert "gamma" not in select
    response = client.post(reverse(f"{ADMIN}_add"), {"name": "n", "type": "DSL_FULL"})
    assert "This field is required" in response.content.decode()
    assert not StrategyDefinition.objects.exists()


# -- superusers -------------------------------------------------------------------------------
def test_a_superuser_sees_and_acts_in_every_realm(client, realm, beta, acme_rows):
    beta_draft = _draft(beta, "beta-a")
    admin = User.objects.create_superuser("root", password="pw-12345!")
    _login(client, admin)
    page = client.get(reverse(f"{ADMIN}_changelist")).content.decode()
    assert "acme-speed" in page
    assert "beta-a" in page
    assert f"?realm={realm.pk}" in page
    assert f"?realm={beta.pk}" in page
    for view, pk in (("change", acme_rows["v2"].pk), ("versions", beta_draft.pk)):
        assert client.get(reverse(f"{ADMIN}_{view}", args=[pk])).status_code == 200
    assert _simulate(client, realm.pk).status_code == 200
    assert _simulate(client, beta.pk).status_code == 200
    client.post(
        reverse(f"{ADMIN}_changelist"),
        {
            "action": "publish_selected",
            "_selected_action": [str(acme_rows["draft"].pk), str(beta_draft.pk)],
        },
    )
    assert _statuses(acme_rows["draft"], beta_draft) == [
        StrategyStatus.PUBLISHED,
        StrategyStatus.PUBLISHED,
    ]
    add = client.get(reverse(f"{ADMIN}_add")).content.decode()
    assert f'<option value="{realm.pk}">acme</option>' in add
    assert f'<option value="{beta.pk}">beta</option>' in add
