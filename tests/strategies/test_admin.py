"""The designer's admin: list, editor save, versions, diff and lifecycle pages, per role."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from gamification.models import RealmRole
from gamification.services import realm_member_add
from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.roles import DESIGNERS, OPERATORS, PUBLISHERS
from tests.factories import GameFactory, TaskFactory, strategy_program_full

ADMIN = "admin:strategies_strategydefinition"


def _member(username: str, role: str, realm) -> User:
    """A staff user with ``role`` in ``realm`` (the membership puts them in the role's group)."""
    return realm_member_add(username=username, realm_slug=realm.slug, role=role).membership.user


@pytest.fixture
def designer(client, realm):
    client.force_login(_member("dana", RealmRole.DESIGNER, realm))
    return client


@pytest.fixture
def publisher(client, realm):
    client.force_login(_member("paul", RealmRole.PUBLISHER, realm))
    return client


@pytest.fixture
def operator(client, realm):
    client.force_login(_member("olga", RealmRole.OPERATOR, realm))
    return client


def _live(realm, name="speed"):
    row = services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full()
    )
    return services.strategy_publish(strategy=row).strategy


@pytest.mark.usefixtures("db")
def test_the_role_groups_are_seeded_with_their_permissions():
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert {"add_strategydefinition", "simulate_strategydefinition"} <= codenames(DESIGNERS)
    assert "publish_strategydefinition" not in codenames(DESIGNERS)
    assert {
        "publish_strategydefinition",
        "archive_strategydefinition",
        "rollback_strategydefinition",
    } <= codenames(PUBLISHERS)
    assert {"view_dashboard", "view_strategyexecutionlog"} <= codenames(OPERATORS)
    assert "change_strategydefinition" not in codenames(OPERATORS)


def test_the_list_shows_status_version_and_usage(designer, realm):
    row = _live(realm)
    TaskFactory(game=GameFactory(realm=realm, strategy_id=row.strategy_id))
    page = designer.get(reverse(f"{ADMIN}_changelist")).content.decode()
    assert "speed" in page
    assert "v1" in page
    assert "PUBLISHED" in page
    assert '<td class="field-games_using">1</td>' in page
    assert '<td class="field-tasks_using">1</td>' in page


def test_a_designer_creates_a_draft_from_a_template_in_the_admin(designer, realm):
    response = designer.post(
        reverse(f"{ADMIN}_add"),
        {
            "starter": "example-speed_bonus",
            "realm": realm.pk,
            "name": "fast",
            "type": "DSL_FULL",
            "parent_strategy_id": "",
            "description": "",
            "experiment_tag": "",
            "ast_json": "",
            "blockly_xml": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = StrategyDefinition.objects.get(name="fast")
    assert (row.version, row.status, row.created_by.username) == (1, "DRAFT", "dana")
    assert row.ast_json["rules"][0]["then"][1]["case_name"] == "VeryFast"


def test_saving_an_invalid_program_keeps_a_draft_and_shows_where(designer, realm):
    response = designer.post(
        reverse(f"{ADMIN}_add"),
        {
            "realm": realm.pk,
            "name": "broken",
            "type": "DSL_FULL",
            "ast_json": json.dumps({"type": "program", "rules": [{"type": "rule"}]}),
        },
        follow=True,
    )
    row = StrategyDefinition.objects.get(name="broken")
    assert row.status == StrategyStatus.DRAFT
    assert row.validation_errors[0]["pointer"].startswith("/rules/0")
    page = response.content.decode()
    assert "cannot be published" in page
    assert "/rules/0" in page  # the issues reach the editor's config


def test_editing_a_published_version_in_the_admin_saves_a_new_draft(designer, realm):
    row = _live(realm)
    response = designer.post(
        reverse(f"{ADMIN}_change", args=[row.pk]),
        {
            "type": "DSL_FULL",
            "parent_strategy_id": "",
            "description": "faster",
            "experiment_tag": "",
            "ast_json": json.dumps(strategy_program_full(points=30)),
            "blockly_xml": "<xml/>",
        },
    )
    new = StrategyDefinition.objects.get(name="speed", version=2)
    assert response.status_code == 302
    assert response.url == reverse(f"{ADMIN}_change", args=[new.pk])
    assert new.status == StrategyStatus.DRAFT
    assert new.blockly_xml == "<xml/>"
    row.refresh_from_db()
    assert (row.status, row.description) == (StrategyStatus.PUBLISHED, "")


def test_archived_versions_are_read_only_in_the_admin(designer, realm):
    row = _live(realm)
    services.strategy_archive(strategy=row)
    page = designer.get(reverse(f"{ADMIN}_change", args=[row.pk])).content.decode()
    assert 'name="_save"' not in page


def test_a_designer_cannot_publish_archive_or_roll_back(designer, realm):
    draft = services.strategy_create(
        realm=realm, name="d", type="DSL_FULL", ast_json=strategy_program_full()
    )
    for name, args in (
        ("publish", [draft.pk]),
        ("archive", [draft.pk]),
        ("rollback", [draft.pk, 1]),
    ):
        assert designer.get(reverse(f"{ADMIN}_{name}", args=args)).status_code == 403
        assert designer.post(reverse(f"{ADMIN}_{name}", args=args)).status_code == 403
    draft.refresh_from_db()
    assert draft.status == StrategyStatus.DRAFT
    page = designer.get(reverse(f"{ADMIN}_change", args=[draft.pk])).content.decode()
    assert "dsl-publish-link" not in page


def test_a_publisher_confirms_a_publish_seeing_the_blast_radius(publisher, realm):
    v1 = _live(realm)
    game = GameFactory(realm=realm, strategy_id=v1.strategy_id)
    TaskFactory.create_batch(2, game=game)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    url = reverse(f"{ADMIN}_publish", args=[v2.pk])
    page = publisher.get(url).content.decode()
    assert "1 game and 2 tasks will switch to v2." in page
    response = publisher.post(url)
    assert response.status_code == 302
    v2.refresh_from_db()
    assert v2.status == StrategyStatus.PUBLISHED


def test_a_publisher_archives_and_rolls_back_from_the_versions_page(publisher, realm):
    v1 = _live(realm)
    v2 = services.strategy_edit(strategy=v1, changes={"description": "v2"}).strategy
    services.strategy_publish(strategy=v2)
    page = publisher.get(reverse(f"{ADMIN}_versions", args=[v2.pk])).content.decode()
    assert "Roll back to v1" in page
    archive = publisher.get(reverse(f"{ADMIN}_archive", args=[v2.pk])).content.decode()
    assert "will stop scoring" in archive
    publisher.post(reverse(f"{ADMIN}_rollback", args=[v2.pk, 1]))
    assert StrategyDefinition.objects.get(pk=v1.pk).status == StrategyStatus.PUBLISHED
    assert StrategyDefinition.objects.get(pk=v2.pk).status == StrategyStatus.ARCHIVED


def test_publishing_an_invalid_draft_in_the_admin_is_refused_with_the_problems(publisher, realm):
    row = services.strategy_create(
        realm=realm, name="bad", type="DSL_FULL", ast_json={"rules": []}, allow_invalid=True
    )
    response = publisher.post(reverse(f"{ADMIN}_publish", args=[row.pk]), follow=True)
    assert "Cannot publish" in response.content.decode()
    row.refresh_from_db()
    assert row.status == StrategyStatus.DRAFT


@pytest.mark.usefixtures("designer")  # logs the shared client in; the publisher's login follows
def test_the_publish_action_needs_the_publish_permission(publisher, realm):
    row = services.strategy_create(
        realm=realm, name="d", type="DSL_FULL", ast_json=strategy_program_full()
    )
    data = {"action": "publish_selected", "_selected_action": [str(row.pk)]}
    publisher.post(reverse(f"{ADMIN}_changelist"), data)
    row.refresh_from_db()
    assert row.status == StrategyStatus.PUBLISHED


@pytest.mark.usefixtures("realm")
def test_designers_do_not_see_the_publish_action(designer):
    page = designer.get(reverse(f"{ADMIN}_changelist")).content.decode()
    assert "publish_selected" not in page


def test_the_diff_lists_rules_added_removed_and_changed(designer, realm):
    v1 = _live(realm)
    program = strategy_program_full(points=99)
    program["rules"].append(
        {
            "type": "rule",
            "when": {"type": "literal", "value": True},
            "then": [
                {
                    "type": "assign_points",
                    "value": {"type": "literal", "value": 3},
                    "case_name": "X",
                }
            ],
        }
    )
    services.strategy_edit(strategy=v1, changes={"ast_json": program})
    page = designer.get(reverse(f"{ADMIN}_diff", args=[v1.pk]) + "?a=1&b=2").content.decode()
    assert "1 rule(s) added, 0 removed, 1 changed." in page
    assert "award 99 as LongSession" in page


def test_operators_can_read_but_not_edit_or_simulate(operator, realm):
    row = _live(realm)
    assert operator.get(reverse(f"{ADMIN}_changelist")).status_code == 200
    assert operator.get(reverse(f"{ADMIN}_versions", args=[row.pk])).status_code == 200
    assert operator.get(reverse(f"{ADMIN}_add")).status_code == 403
    response = operator.post(
        reverse(f"{ADMIN}_simulate"), json.dumps({}), content_type="application/json"
    )
    assert response.status_code == 403


@pytest.mark.usefixtures("db")
def test_staff_without_a_role_cannot_open_the_strategies(client):
    client.force_login(User.objects.create_user("nobody", password="pw-12345!", is_staff=True))
    assert client.get(reverse(f"{ADMIN}_changelist")).status_code == 403


@pytest.mark.usefixtures("realm")
def test_the_validate_endpoint_returns_issues_with_pointers(designer):
    response = designer.post(
        reverse(f"{ADMIN}_validate"),
        json.dumps({"type": "DSL_FULL", "astText": '{"type": "program", "rules": [{}]}'}),
        content_type="application/json",
    )
    body = response.json()
    assert body["ok"] is False
    assert body["errors"][0]["pointer"].startswith("/rules/0")


@pytest.mark.usefixtures("realm")
def test_simulation_defaults_prefill_the_fields_the_program_reads(designer):
    response = designer.post(
        reverse(f"{ADMIN}_simulate_defaults"),
        json.dumps(
            {
                "type": "DSL_EXTEND",
                "parentStrategyId": "default",
                "astJson": {
                    "type": "program",
                    "rules": [],
                    "post_rules": [
                        {
                            "type": "rule",
                            "when": {
                                "type": "compare",
                                "op": ">",
                                "left": {"type": "field", "path": "data.streak"},
                                "right": {"type": "literal", "value": 3},
                            },
                            "then": [{"type": "return"}],
                        }
                    ],
                },
            }
        ),
        content_type="application/json",
    )
    body = response.json()
    assert body["data"] == {"streak": 3}
    assert body["mockState"]["task.measurements_count"] == 0
    assert body["mockState"]["user.avg_time"] == -1


def test_the_change_page_carries_the_vendored_editor_and_the_starters(designer, realm):
    row = services.strategy_create(
        realm=realm,
        name="ext",
        type="DSL_EXTEND",
        parent_strategy_id="default",
        ast_json={"type": "program", "rules": [], "post_rules": []},
    )
    page = designer.get(reverse(f"{ADMIN}_change", args=[row.pk])).content.decode()
    assert "strategies/vendor/blockly-12.3.1/blockly_compressed.js" in page
    # Nothing is loaded from another host (a random CSRF token may spell "cdn").
    assert not re.search(r"""(?:src|href)=["'](?:https?:)?//""", page)
    assert "example-weekend_bonus" in page
    assert "twin-default" in page
    assert 'id="dsl-simulate"' in page
