"""Two studios on one installation, in a real Chromium: each person sees their own realm only."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from gamification.services import realm_member_add
from observability.models import StrategyExecutionLog
from strategies import services
from tests.conftest import browser_required
from tests.factories import RealmFactory, strategy_program_full

pytestmark = [pytest.mark.browser, browser_required]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "a-long-pass-phrase"
WIDE = {"width": 1400, "height": 1000}


def _logs(strategy, *, count: int) -> None:
    now = timezone.now()
    StrategyExecutionLog.objects.bulk_create(
        StrategyExecutionLog(
            created_at=now - timedelta(minutes=7 * i, seconds=i),
            realm=strategy.realm,
            strategy_id=strategy.strategy_id,
            definition_id=strategy.pk,
            strategy_version=str(strategy.version),
            strategy_type=strategy.type,
            external_game_id="runner",
            external_task_id="sprint",
            external_user_id=f"player-{i % 17}",
            status="error" if i % 9 == 0 else "ok",
            error_code="DSL_ARITH_DIV_BY_ZERO" if i % 9 == 0 else None,
            points=None if i % 9 == 0 else (1, 5, 10)[i % 3],
            case_name=None if i % 9 == 0 else ("fast", "steady", "slow")[i % 3],
            duration_ms=0.2 + (i % 13) / 7,
            nodes_executed=12 + i % 5,
            sampled=i % 9 != 0,
            sample_rate=1.0,
            data={"minutes": 20 + i % 30},
            fields={"user.measurements_count": i % 40},
        )
        for i in range(count)
    )


@pytest.fixture
def studios(db):  # noqa: ARG001 - requested for database access
    realm_a, realm_b = RealmFactory(slug="studio-a"), RealmFactory(slug="studio-b")
    live_a = services.strategy_create(
        realm=realm_a, name="a-speed-bonus", type="DSL_FULL", ast_json=strategy_program_full()
    )
    live_a = services.strategy_publish(strategy=live_a).strategy
    draft_b = services.strategy_create(
        realm=realm_b, name="b-combo-points", type="DSL_FULL", ast_json=strategy_program_full(5)
    )
    _logs(live_a, count=120)
    _logs(draft_b, count=40)
    realm_member_add(username="bea", realm_slug="studio-b", role="designer", password=PASSWORD)
    realm_member_add(username="otto", realm_slug="studio-a", role="operator", password=PASSWORD)
    return live_a, draft_b


def _login(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def _status(page, url: str) -> int:
    response = page.goto(url)
    assert response is not None, url
    return response.status


def _no_horizontal_scroll(page) -> None:
    widths = page.evaluate(
        "() => ({page: document.documentElement.scrollWidth, view: window.innerWidth,"
        " content: [...document.querySelectorAll('#content-main, #changelist .results')]"
        ".map(e => e.scrollWidth - e.clientWidth)})"
    )
    assert widths["page"] <= widths["view"], widths
    assert all(overflow <= 1 for overflow in widths["content"]), widths


@pytest.mark.django_db(transaction=True)
def test_a_designer_of_one_studio_sees_only_its_strategies(live_server, chromium, studios):
    live_a, draft_b = studios
    page = chromium.new_page(viewport=WIDE)
    _login(page, live_server, "bea")

    page.goto(f"{live_server.url}/admin/strategies/strategydefinition/")
    names = page.locator("#result_list tbody tr").all_inner_texts()
    assert len(names) == 1
    assert draft_b.name in names[0]
    assert live_a.name not in page.content()
    _no_horizontal_scroll(page)

    editor = f"{live_server.url}/admin/strategies/strategydefinition/%s/change/"
    assert _status(page, editor % live_a.pk) == 404
    assert "Not found" in page.locator("h1").inner_text()
    assert _status(page, editor % draft_b.pk) == 200
    page.wait_for_selector("#dsl-editor")

    assert _status(page, f"{live_server.url}/admin/observability/strategyexecutionlog/") == 403


@pytest.mark.django_db(transaction=True)
def test_an_operator_sees_the_dashboards_and_logs_of_their_studio_only(
    live_server, chromium, studios
):
    live_a, draft_b = studios
    page = chromium.new_page(viewport=WIDE)
    _login(page, live_server, "otto")
    base = f"{live_server.url}/admin/observability/strategyexecutionlog"

    page.goto(f"{base}/dashboard/")
    index = page.locator("#content").inner_text()
    assert live_a.name in index
    assert draft_b.name not in index
    assert _status(page, f"{base}/dashboard/{draft_b.pk}/") == 404

    page.goto(f"{base}/dashboard/{live_a.pk}/?window=7d")
    assert page.locator("svg.chart").count() >= 2
    assert live_a.name in page.locator("h1").inner_text()
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-operator.png"), full_page=True)

    page.goto(f"{base}/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 50
    assert "studio-b" not in page.locator("#result_list").inner_text()
    assert live_a.name in rows.first.inner_text()
    _no_horizontal_scroll(page)
    page.screenshot(path=str(SCREENSHOTS / "runbook.png"), full_page=False)
