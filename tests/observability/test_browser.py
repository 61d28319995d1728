"""The dashboard in a real Chromium: cards, charts, window picker, A/B compare."""

from __future__ import annotations

import os
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from observability.models import StrategyExecutionLog
from tests.conftest import browser_required
from tests.factories import RealmFactory
from tests.observability.conftest import DEFINITION_ID

pytestmark = [pytest.mark.browser, browser_required]

ROOT = Path(__file__).resolve().parents[2]
OTHER_ID = "0190a5b0-0000-7000-8000-000000000002"


def seed(definition_id: str, *, days: int, slow: float, error_share: float) -> None:
    """Seven days of logs as the sampler would keep them (ok at 5 %, every failure)."""
    rng = random.Random(definition_id)
    realm = RealmFactory(slug="demo")
    now = timezone.now()
    rows = []
    for hour in range(days * 24):
        at = now - timedelta(hours=hour, minutes=rng.randint(0, 59))
        for _ in range(rng.randint(3, 8)):
            failed = rng.random() < error_share
            duration = rng.lognormvariate(1.2, 0.6) * slow
            rows.append(
                StrategyExecutionLog(
                    created_at=at,
                    realm=realm,
                    strategy_id=f"custom:{definition_id}",
                    definition_id=definition_id,
                    strategy_version="4",
                    strategy_type="DSL_FULL",
                    external_user_id=f"user-{rng.randint(1, 500)}",
                    status="error" if failed else "ok",
                    error_code=rng.choice(["DSL_ARITH_DIV_BY_ZERO", "DSL_COMPARE_TYPE_MISMATCH"])
                    if failed
                    else None,
                    points=None if failed else rng.choice([0, 5, 10, 10, 20, 50]),
                    case_name=None if failed else rng.choice(["fast", "steady", None]),
                    duration_ms=duration,
                    nodes_executed=rng.randint(8, 40),
                    sampled=not failed,
                    sample_rate=0.05 if not failed else 1.0,
                    data={"time": rng.randint(5, 90)},
                    fields={"user.measurements_count": rng.randint(0, 40)},
                )
            )
    StrategyExecutionLog.objects.bulk_create(rows)


@pytest.fixture
def browser_page(chromium):
    return chromium.new_page(viewport={"width": 1400, "height": 1400})


def login(page, live_server, admin_user) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.django_db(transaction=True)
def test_dashboard_renders_cards_charts_and_switches_windows(live_server, admin_user, browser_page):
    seed(DEFINITION_ID, days=10, slow=1.0, error_share=0.1)
    page = browser_page
    login(page, live_server, admin_user)

    page.goto(
        f"{live_server.url}/admin/observability/strategyexecutionlog/dashboard/{DEFINITION_ID}/"
    )
    assert page.locator(".execlog-card").count() == 8
    assert page.locator("svg.chart").count() == 4
    assert page.locator("svg.chart rect.bar").count() > 5
    day_rows = page.locator(".execlog-card", has_text="Runs (estimated)").inner_text()

    page.check("input[name=window][value='7d']")
    page.wait_for_url("**window=7d**")
    assert page.locator("input[name=window][value='7d']").is_checked()
    week_rows = page.locator(".execlog-card", has_text="Runs (estimated)").inner_text()
    assert week_rows != day_rows
    assert page.locator("svg.chart polyline.line").count() == 2
    error_rate = page.locator(".execlog-card", has_text="Error rate").inner_text()
    assert "%" in error_rate
    # About 0.5 % of runs fail, although about 10 % of the logged rows are failures.
    assert float(error_rate.split("\n")[1].split(" %")[0]) < 1.5
    page.screenshot(path=str(ROOT / "docs" / "img" / "dashboard.png"), full_page=True)

    page.click("text=Browse this strategy's execution logs")
    page.wait_for_url("**strategy=**")
    assert page.locator("#result_list tbody tr").count() == 50


def strategy(name: str) -> str:
    """A custom strategy of the demo realm; return its version's id."""
    from strategies.services import strategy_create
    from tests.factories import strategy_program_full

    realm = RealmFactory(slug="demo")
    row = strategy_create(realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full())
    return str(row.pk)


@pytest.mark.django_db(transaction=True)
def test_compare_page_picks_strategies_by_name(live_server, admin_user, browser_page):
    fast, slow = strategy("fast-bonus"), strategy("slow-bonus")
    seed(fast, days=2, slow=1.0, error_share=0.01)
    seed(slow, days=2, slow=2.0, error_share=0.02)
    page = browser_page
    login(page, live_server, admin_user)

    page.goto(f"{live_server.url}/admin/observability/strategyexecutionlog/dashboard/compare/")
    page.select_option("select[name=a]", label="fast-bonus v1 (draft)")
    page.select_option("select[name=b]", label="slow-bonus, all versions")
    page.click("#compare-form input[type=submit]")
    page.wait_for_selector("#compare-delta")
    assert page.locator(".execlog-panel").count() == 2
    assert page.locator("#compare-delta tbody tr").count() == 10
    error_rate = page.locator("#compare-delta tr", has_text="Error rate").inner_text()
    assert error_rate.count("%") == 3, error_rate
    headings = page.locator(".execlog-panel h2").all_inner_texts()
    assert headings == ["A: fast-bonus v1", "B: slow-bonus, all versions (v1)"]
    a_bars, b_bars = (
        page.locator(f".execlog-panel >> nth={n} >> svg.chart[aria-label^='Points']").evaluate(
            "svg => [...svg.querySelectorAll('text[text-anchor=middle]')].map(t => t.textContent)"
        )
        for n in (0, 1)
    )
    assert a_bars == b_bars
    # Both sides' points run from 0 to 50: ten bins of five whole numbers, the last closed.
    assert a_bars[0] == "0\u20134"
    assert a_bars[-1] == "45\u201350"


@pytest.mark.django_db(transaction=True)
def test_a_strategy_family_dashboard_from_the_admin_index(live_server, admin_user, browser_page):
    from strategies.models import StrategyDefinition
    from strategies.services import strategy_edit, strategy_publish

    first = strategy("speed-bonus")
    v1 = StrategyDefinition.objects.get(pk=first)
    strategy_publish(strategy=v1)
    v2 = strategy_edit(strategy=v1, changes={"description": "faster"}).strategy
    strategy_publish(strategy=v2)
    seed(first, days=7, slow=1.0, error_share=0.05)
    StrategyExecutionLog.objects.filter(
        definition_id=first, created_at__gte=timezone.now() - timedelta(days=3)
    ).update(definition_id=v2.pk, strategy_version="2")
    page = browser_page
    login(page, live_server, admin_user)

    page.click("#observability-strategydashboards a")
    page.click("#dashboard-families a:text-is('speed-bonus')")
    page.check("input[type=radio][value='7d']")
    page.wait_for_url("**window=7d**")
    assert page.locator("h1").inner_text() == "Dashboard: speed-bonus, all versions (v1\u2013v2)"
    assert page.locator("#family-versions tbody tr").count() == 2
    assert page.locator("svg.chart g.marker", has_text="v2").count() == 2
    ticks = page.locator("svg.chart[aria-label^='Runs'] text.tick").all_text_contents()
    assert len(set(ticks)) == len(ticks) == 5

    page.select_option("#version-picker select", label="v1 (archived)")
    page.wait_for_url("**version=1**")
    assert page.locator("h1").inner_text() == "Dashboard: speed-bonus v1"
    assert page.locator("input[type=radio][value='7d']").is_checked()
    assert page.locator("svg.chart g.marker").count() == 0
