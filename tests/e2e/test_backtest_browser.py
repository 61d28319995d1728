"""A designer backtests a draft from the admin in a real Chromium and reads the report."""

from __future__ import annotations

import copy
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from rest_framework.test import APIClient

from gamification.services import api_key_create, realm_member_add
from strategies import services
from strategies.backtests import backtest_run
from strategies.models import Backtest
from tests.conftest import browser_required
from tests.factories import GameFactory, RealmFactory, TaskFactory
from tests.strategies.backtest_programs import HISTORY_PROGRAM, award

pytestmark = [pytest.mark.browser, browser_required]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "a-long-pass-phrase"
WIDE = {"width": 1400, "height": 1000}


AWARDS = 40


@pytest.fixture
def studio(db):  # noqa: ARG001 - requested for database access
    """A published strategy with awards made through the award endpoint, a draft that pays
    streaks earlier and quick players more, and a designer of the studio."""
    realm = RealmFactory(slug="studio-a")
    live = services.strategy_create(
        realm=realm, name="pace", type="DSL_FULL", ast_json=HISTORY_PROGRAM
    )
    live = services.strategy_publish(strategy=live).strategy
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=live.strategy_id)
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=api_key_create(realm=realm, name="game-server")[1])
    for index in range(AWARDS):
        award(api, task, f"player-{index % 7 % (1 + index // 8)}", {"score": 1 + index % 4})
        time.sleep(0.003 * (index % 3))
    variant = copy.deepcopy(HISTORY_PROGRAM)
    variant["rules"][1]["when"]["right"]["value"] = 2  # a streak from the 2nd recent award
    variant["rules"][2]["then"][0]["value"]["value"] = 12  # Quick pays 12 instead of 7
    draft = services.strategy_edit(strategy=live, changes={"ast_json": variant}).strategy
    realm_member_add(username="dana", realm_slug="studio-a", role="designer", password=PASSWORD)
    return live, draft


def _login(page, live_server) -> None:
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "dana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


@pytest.mark.django_db(transaction=True)
def test_a_designer_backtests_a_draft_from_the_editor(live_server, chromium, studio):
    _, draft = studio
    page = chromium.new_page(viewport=WIDE)
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/strategies/strategydefinition/{draft.pk}/change/")
    page.click("a.dsl-backtest-link")
    page.wait_for_selector("#dsl-backtest-form")
    # The form starts a week back, in the picker's own format.
    since = datetime.strptime(page.input_value("#id_since"), "%Y-%m-%dT%H:%M:%S")
    week_ago = timezone.now() - timedelta(days=7)
    assert abs(since.replace(tzinfo=UTC) - week_ago) < timedelta(minutes=1)
    page.fill("#id_max_events", "1000")
    page.click("#dsl-backtest-run")

    page.wait_for_selector("#dsl-backtest-result")
    backtest = Backtest.objects.get()
    result = backtest.result
    assert page.locator("#dsl-backtest-status").inner_text() == "done"
    assert page.locator("#dsl-backtest-events").inner_text() == str(AWARDS)
    assert page.locator("#dsl-backtest-changed").inner_text() == str(result["changed"])
    assert 0 < result["changed"] < AWARDS
    assert float(page.locator("#dsl-backtest-before").inner_text()) == result["points_before"]
    assert float(page.locator("#dsl-backtest-after").inner_text()) == result["points_after"]
    assert page.locator("svg.dsl-chart").count() == 2
    assert page.locator("svg.dsl-chart rect.dsl-bar-after").count() > 0
    movers = page.locator("#dsl-backtest-movers tbody tr")
    assert movers.count() == len(result["top_movers"]) > 0
    assert result["top_movers"][0]["external_user_id"] in movers.first.inner_text()
    shift = page.locator("#dsl-backtest-cases").inner_text()
    assert "Streak" in shift
    page.screenshot(path=str(SCREENSHOTS / "backtest.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_the_backtest_page_follows_a_run_until_it_is_done(live_server, chromium, studio):
    _, draft = studio
    backtest = Backtest.objects.create(
        realm=draft.realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=timezone.now() - timedelta(hours=1),
        until=timezone.now(),
        max_events=1000,
    )
    page = chromium.new_page(viewport=WIDE)
    _login(page, live_server)
    page.goto(f"{live_server.url}/admin/strategies/strategydefinition/backtests/{backtest.pk}/")
    assert page.locator("#dsl-backtest-status").inner_text() == "queued"
    assert page.locator("#dsl-backtest-bar").get_attribute("value") == "0.000000"
    assert page.locator("#dsl-backtest-result").count() == 0

    backtest_run(backtest_id=backtest.pk)  # what the worker does meanwhile

    page.wait_for_selector("#dsl-backtest-result", timeout=10_000)
    assert page.locator("#dsl-backtest-status").inner_text() == "done"
    assert page.locator("#dsl-backtest-bar").get_attribute("value") == "1.000000"
