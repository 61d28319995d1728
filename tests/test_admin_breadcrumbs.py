"""The admin's custom pages show the admin's own breadcrumbs: home, app, model, object, page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.urls import reverse

from strategies import services
from tests.factories import strategy_program_full
from tests.observability.conftest import log_make

pytestmark = pytest.mark.django_db

STRATEGY = "admin:strategies_strategydefinition"
LOG = "admin:observability_strategyexecutionlog"
# Django's admin base: the crumbs are an <ol class="breadcrumbs"> inside the Breadcrumbs nav.
NAV = re.compile(
    r'<nav aria-label="Breadcrumbs">\s*<ol class="breadcrumbs">(.*?)</ol>\s*</nav>', re.S
)
ITEM = re.compile(r"<li( aria-current=\"page\")?>(.*?)</li>", re.S)
LINK = re.compile(r'<a href="([^"]+)">(.*?)</a>', re.S)


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("root", password="pw-12345!"))
    return client


def _crumbs(client, url: str) -> list[tuple[str | None, str]]:
    """Return the page's breadcrumbs as (link or None for the current page, text)."""
    response = client.get(url)
    assert response.status_code == 200, url
    nav = NAV.search(response.content.decode())
    assert nav, f"{url} has no standard breadcrumbs"
    crumbs = []
    for current, body in ITEM.findall(nav.group(1)):
        link = LINK.fullmatch(body.strip())
        if current:
            assert link is None
            crumbs.append((None, unescape(body.strip())))
        else:
            assert link, body
            crumbs.append((unescape(link.group(1)), unescape(link.group(2).strip())))
    return crumbs


def _strategy_trail(strategy) -> list[tuple[str | None, str]]:
    return [
        (reverse("admin:index"), "Home"),
        (
            reverse("admin:app_list", args=["strategies"]),
            apps.get_app_config("strategies").verbose_name,
        ),
        (reverse(f"{STRATEGY}_changelist"), "Strategy definitions"),
        (reverse(f"{STRATEGY}_change", args=[strategy.pk]), str(strategy)),
    ]


def _log_trail() -> list[tuple[str | None, str]]:
    return [
        (reverse("admin:index"), "Home"),
        (
            reverse("admin:app_list", args=["observability"]),
            apps.get_app_config("observability").verbose_name,
        ),
        (reverse(f"{LOG}_changelist"), "Strategy execution logs"),
    ]


def _published(realm):
    row = services.strategy_create(
        realm=realm, name="speed", type="DSL_FULL", ast_json=strategy_program_full()
    )
    return services.strategy_publish(strategy=row).strategy


def test_the_versions_diff_and_confirmation_pages_lead_back_to_the_strategy(staff, realm):
    v1 = _published(realm)
    v2 = services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=9)}
    ).strategy
    versions = reverse(f"{STRATEGY}_versions", args=[v1.pk])

    assert _crumbs(staff, versions) == [*_strategy_trail(v1), (None, "Versions")]
    diff = reverse(f"{STRATEGY}_diff", args=[v2.pk]) + "?a=1&b=2"
    assert _crumbs(staff, diff) == [
        *_strategy_trail(v2),
        (reverse(f"{STRATEGY}_versions", args=[v2.pk]), "Versions"),
        (None, "v1 → v2"),
    ]
    publish = reverse(f"{STRATEGY}_publish", args=[v2.pk])
    assert _crumbs(staff, publish) == [
        *_strategy_trail(v2),
        (reverse(f"{STRATEGY}_versions", args=[v2.pk]), "Versions"),
        (None, "Publish v2"),
    ]
    archive = reverse(f"{STRATEGY}_archive", args=[v1.pk])
    assert _crumbs(staff, archive)[-1] == (None, "Archive v1")


def test_the_replay_and_dashboard_pages_lead_back_to_the_execution_logs(staff, realm):
    strategy = _published(realm)
    log = log_make(
        realm=realm,
        strategy_id=strategy.strategy_id,
        definition_id=strategy.pk,
        strategy_version="1",
    )
    dashboards = (reverse("admin:observability_dashboard_index"), "Dashboards")

    assert _crumbs(staff, reverse(f"{LOG}_replay", args=[log.pk])) == [
        *_log_trail(),
        (reverse(f"{LOG}_change", args=[log.pk]), str(log.pk)),
        (None, "Replay"),
    ]
    assert _crumbs(staff, dashboards[0]) == [*_log_trail(), (None, "Dashboards")]
    dashboard = reverse("admin:observability_dashboard", args=[str(strategy.pk)])
    assert _crumbs(staff, dashboard) == [*_log_trail(), dashboards, (None, f"{strategy.name} v1")]
    compare = reverse("admin:observability_compare")
    assert _crumbs(staff, compare) == [*_log_trail(), dashboards, (None, "Compare")]
