"""The runbook by realm and role: operators read only their realms' logs, replays and
dashboards; another realm's object is a 404 or the admin's "does not exist" redirect."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from gamification.models import Realm
from gamification.services import realm_member_add
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog
from observability.services import execution_log_dead_letter_create
from strategies.models import StrategyDefinition
from strategies.roles import OPERATORS
from strategies.services import strategy_create
from tests.factories import RealmFactory, is_missing, member_client, strategy_program_full
from tests.observability.conftest import log_make

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:observability_strategyexecutionlog_changelist"
CHANGE = "admin:observability_strategyexecutionlog_change"
REPLAY = "admin:observability_strategyexecutionlog_replay"
DASHBOARD = "admin:observability_dashboard"
DEAD_LETTERS = "admin:observability_executionlogdeadletter_changelist"
DEAD_LETTER = "admin:observability_executionlogdeadletter_change"


@dataclass
class Side:
    realm: Realm
    strategy: StrategyDefinition
    log: StrategyExecutionLog
    builtin_log: StrategyExecutionLog
    letter: ExecutionLogDeadLetter


def side(slug: str) -> Side:
    realm = RealmFactory(slug=slug)
    strategy = strategy_create(
        realm=realm, name=f"bonus-{slug}", type="DSL_FULL", ast_json=strategy_program_full()
    )
    log = log_make(
        realm=realm,
        strategy_id=f"custom:{strategy.pk}",
        definition_id=strategy.pk,
        strategy_version="1",
        external_user_id=f"player-of-{slug}",
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
        reason="invalid_row", detail=f"broken row of {slug}", payload="{}", realm_id=realm.pk
    )
    return Side(realm, strategy, log, builtin_log, letter)


@pytest.fixture
def a() -> Side:
    return side("realm-a")


@pytest.fixture
def b() -> Side:
    return side("realm-b")


@pytest.fixture
def operator_b(b: Side) -> Client:
    return member_client("operator-b", b.realm, "operator")


def test_the_changelist_lists_only_the_operated_realm(a, b, operator_b):
    body = operator_b.get(reverse(CHANGELIST)).content.decode()
    assert "player-of-realm-b" in body
    assert "player-of-realm-a" not in body
    assert "builtin-player-of-realm-a" not in body
    # The realm filter offers only realm B; asking for realm A's rows finds none.
    assert f"?realm={b.realm.pk}" in body
    assert f"?realm={a.realm.pk}" not in body
    narrowed = operator_b.get(reverse(CHANGELIST), {"realm": a.realm.pk}).content.decode()
    assert "player-of-realm-a" not in narrowed


def test_another_realms_log_and_its_replay_do_not_exist(a, b, operator_b):
    assert is_missing(operator_b.get(reverse(CHANGE, args=[a.log.pk])))
    assert is_missing(operator_b.get(reverse(REPLAY, args=[a.log.pk])))
    assert operator_b.get(reverse(CHANGE, args=[b.log.pk])).status_code == 200


def test_another_realms_dead_letters_are_neither_listed_nor_readable(a, b, operator_b):
    body = operator_b.get(reverse(DEAD_LETTERS)).content.decode()
    assert "broken row of realm-b" in body
    assert "broken row of realm-a" not in body
    assert is_missing(operator_b.get(reverse(DEAD_LETTER, args=[a.letter.pk])))
    assert operator_b.get(reverse(DEAD_LETTER, args=[b.letter.pk])).status_code == 200


def test_the_dashboard_index_lists_only_the_operated_realms_strategies(a, b, operator_b):
    body = operator_b.get(reverse("admin:observability_dashboard_index")).content.decode()
    assert reverse(DASHBOARD, args=[str(b.strategy.pk)]) in body
    assert reverse(DASHBOARD, args=[str(a.strategy.pk)]) not in body
    assert "bonus-realm-a" not in body


def test_another_realms_custom_strategy_dashboard_is_a_404(a, b, operator_b):
    assert operator_b.get(reverse(DASHBOARD, args=[str(a.strategy.pk)])).status_code == 404
    assert operator_b.get(reverse(DASHBOARD, args=[f"custom:{a.strategy.pk}"])).status_code == 404
    own = operator_b.get(reverse(DASHBOARD, args=[str(b.strategy.pk)]), {"window": "24h"})
    assert own.status_code == 200
    assert "1 rows logged" in own.content.decode()


def test_the_dashboard_title_names_the_custom_strategy_and_its_version(b, operator_b):
    response = operator_b.get(reverse(DASHBOARD, args=[str(b.strategy.pk)]))
    assert response.context["title"] == "Dashboard: bonus-realm-b v1"
    assert "<h1>Dashboard: bonus-realm-b v1</h1>" in response.content.decode()


@pytest.mark.usefixtures("a", "b")
def test_a_builtin_dashboard_counts_only_the_operated_realms_rows(operator_b):
    url = reverse(DASHBOARD, args=["default"])
    body = operator_b.get(url, {"window": "24h"}).content.decode()
    assert "1 rows logged" in body  # realm A's row of the built-in is not counted


def test_the_realm_parameter_narrows_but_never_widens(a, b):
    both = member_client("operator-ab", a.realm, "operator")
    realm_member_add(username="operator-ab", realm_slug=b.realm.slug, role="operator")
    url = reverse(DASHBOARD, args=["default"])
    assert "2 rows logged" in both.get(url, {"window": "24h"}).content.decode()
    narrowed = both.get(url, {"window": "24h", "realm": a.realm.pk}).content.decode()
    assert "1 rows logged" in narrowed

    only_b = member_client("operator-only-b", b.realm, "operator")
    assert only_b.get(url, {"realm": a.realm.pk}).status_code == 404
    assert only_b.get(url, {"realm": "not-a-number"}).status_code == 404
    assert only_b.get(url, {"realm": 10**9}).status_code == 404
    compare = reverse("admin:observability_compare")
    assert only_b.get(
        compare, {"a": "default", "b": "default", "realm": a.realm.pk}
    ).status_code == (404)


def test_compare_refuses_another_realms_strategy_and_counts_only_operated_rows(a, b, operator_b):
    compare = reverse("admin:observability_compare")
    foreign = operator_b.get(compare, {"a": str(b.strategy.pk), "b": str(a.strategy.pk)})
    assert foreign.status_code == 404
    own = operator_b.get(compare, {"a": str(b.strategy.pk), "b": "default", "window": "24h"})
    assert own.status_code == 200
    panels = own.context["panels"]
    assert [panel["name"] for panel in panels] == ["bonus-realm-b v1", "default"]
    # Each side holds one row of realm B; realm A's rows are outside the comparison.
    assert own.context["delta"].estimated_runs == pytest.approx(1 - 20)


@pytest.mark.parametrize("role", ["designer", "publisher"])
def test_non_operators_are_refused_every_runbook_page(a, role):
    client = member_client(f"{role}-a", a.realm, role)
    for url in [
        reverse(CHANGELIST),
        reverse(CHANGE, args=[a.log.pk]),
        reverse(REPLAY, args=[a.log.pk]),
        reverse("admin:observability_dashboard_index"),
        reverse(DASHBOARD, args=[str(a.strategy.pk)]),
        reverse("admin:observability_compare"),
        reverse(DEAD_LETTERS),
        reverse(DEAD_LETTER, args=[a.letter.pk]),
    ]:
        assert client.get(url).status_code == 403, url


def test_staff_in_the_operators_group_without_a_membership_see_nothing(a, django_user_model):
    user = django_user_model.objects.create_user("ops-no-realm", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    client = Client()
    client.force_login(user)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(REPLAY, args=[a.log.pk])).status_code == 403
    assert client.get(reverse("admin:observability_dashboard_index")).status_code == 403
    assert client.get(reverse(DASHBOARD, args=["default"])).status_code == 403
    assert client.get(reverse(DEAD_LETTERS)).status_code == 403


@pytest.mark.usefixtures("b")
def test_superusers_see_every_realm(a, admin_client):
    body = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "player-of-realm-a" in body
    assert "player-of-realm-b" in body
    assert admin_client.get(reverse(DASHBOARD, args=[str(a.strategy.pk)])).status_code == 200
    index = admin_client.get(reverse("admin:observability_dashboard_index")).content.decode()
    assert "bonus-realm-a" in index
    assert "bonus-realm-b" in index
