"""The designer's and publisher's journey in a real browser (Playwright + Debian's Chromium)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from gamification.models import RealmRole
from gamification.services import api_key_create, realm_member_add
from strategies.models import StrategyDefinition, StrategyStatus
from tests.conftest import browser_required
from tests.factories import GameFactory, RealmFactory, TaskFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
PASSWORD = "S3cret-pass!"

pytestmark = [pytest.mark.browser, browser_required]


def _member(name: str, role: str, realm) -> None:
    realm_member_add(username=name, realm_slug=realm.slug, role=role, password=PASSWORD)


def _login(browser, live_server, username: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def _edit_number_field(page, case_name: str, new_value: str) -> None:
    """Click the points of the block awarding ``case_name`` and type a new value, like a user."""
    find_number = """(caseName) => window.dslEditor.workspace.getAllBlocks(false).find(
            b => b.type === 'dsl_assign_points' && b.getFieldValue('CASE') === caseName
        ).getInputTargetBlock('VALUE')"""
    page.evaluate(
        f"(caseName) => window.dslEditor.workspace.centerOnBlock(({find_number})(caseName).id)",
        case_name,
    )
    # Centering scrolls the workspace; measure the field only once it has settled.
    page.wait_for_timeout(300)
    box = page.evaluate(
        f"""(caseName) => {{
            const r = ({find_number})(caseName).getField('VALUE').getSvgRoot()
                .getBoundingClientRect();
            return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }}""",
        case_name,
    )
    page.mouse.click(box["x"], box["y"])
    page.wait_for_selector(".blocklyHtmlInput")
    page.fill(".blocklyHtmlInput", new_value)
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"(caseName) => String(({find_number})(caseName).getFieldValue('VALUE')) === '{new_value}'",
        arg=case_name,
    )


@pytest.mark.django_db(transaction=True)
def test_a_designer_builds_simulates_and_a_publisher_ships_a_strategy(live_server, chromium):
    browser = chromium
    realm = RealmFactory(slug="browser")
    _, raw_key = api_key_create(realm=realm, name="server")
    _member("designer", RealmRole.DESIGNER, realm)
    _member("publisher", RealmRole.PUBLISHER, realm)

    # The designer starts from a template.
    page = _login(browser, live_server, "designer")
    page.goto(f"{live_server.url}/admin/strategies/strategydefinition/add/")
    page.select_option("#id_realm", str(realm.pk))
    page.fill("#id_name", "speedy")
    page.select_option("#id_starter", "example-speed_bonus")
    page.wait_for_function("window.dslEditor.workspace.getAllBlocks(false).length > 5")
    assert page.input_value("#id_type") == "DSL_FULL"

    # ... edits a rule: the "VeryFast" branch now awards 15 instead of 10 ...
    _edit_number_field(page, "VeryFast", "15")
    # The editor writes the program into the form when Blockly reports the change.
    page.wait_for_function(
        "JSON.parse(document.querySelector('textarea[name=ast_json]').value)"
        ".rules[0].then[1].value.value === 15"
    )
    program = json.loads(page.input_value("textarea[name=ast_json]"))
    assert program["rules"][0]["then"][1]["value"]["value"] == 15
    page.locator("#dsl-editor").screenshot(path=str(SCREENSHOTS / "strategy-editor.png"))

    # ... simulates it (the form prefilled data.duration_s from the rule) ...
    page.wait_for_function("document.getElementById('dsl-sim-data').value.includes('duration_s')")
    page.fill("#dsl-sim-data", '{"duration_s": 30}')
    page.click("#dsl-sim-run")
    page.wait_for_function("document.getElementById('dsl-sim-points').textContent === '15'")
    assert page.text_content("#dsl-sim-case") == "VeryFast"
    taken = page.locator(".dsl-tree-branch.taken").first.text_content()
    assert "data.duration_s < 60" in taken
    page.locator("#dsl-simulate").screenshot(path=str(SCREENSHOTS / "strategy-simulate.png"))
    assert not StrategyDefinition.objects.exists()  # simulation wrote nothing

    # ... and saves the draft.
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist")
    row = StrategyDefinition.objects.get(name="speedy")
    assert (row.status, row.version, row.validation_errors) == (StrategyStatus.DRAFT, 1, [])
    assert row.ast_json["rules"][0]["then"][1]["value"]["value"] == 15
    assert "dsl_assign_points" in row.blockly_xml

    game = GameFactory(realm=realm, external_game_id="run", strategy_id=row.strategy_id)
    TaskFactory(game=game, external_task_id="lap")

    # A publisher publishes it, after reading the blast radius.
    publisher = _login(browser, live_server, "publisher")
    publisher.goto(f"{live_server.url}/admin/strategies/strategydefinition/{row.pk}/versions/")
    publisher.click("#dsl-versions a[href$='/publish/']")
    assert "1 game and 1 task will switch to v1." in publisher.text_content("#dsl-blast-radius")
    publisher.click("#dsl-confirm")
    publisher.wait_for_selector(".messagelist .success")
    row.refresh_from_db()
    assert row.status == StrategyStatus.PUBLISHED

    # The list fits the content box at this width and shows the status as a coloured badge.
    publisher.goto(f"{live_server.url}/admin/strategies/strategydefinition/")
    widths = publisher.evaluate(
        """() => ({table: document.getElementById('result_list').getBoundingClientRect().right,
                   box: document.getElementById('content').getBoundingClientRect().right,
                   page: document.documentElement.scrollWidth,
                   view: window.innerWidth})"""
    )
    assert widths["table"] <= widths["box"], widths
    assert widths["page"] <= widths["view"], widths
    badge = publisher.locator(".field-status_badge .dsl-status-published")
    assert badge.text_content() == "PUBLISHED"
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(212, 237, 218)"
    assert publisher.text_content(".field-games_using") == "1"

    # An award through the API now scores with the new points.
    response = publisher.request.post(
        f"{live_server.url}/api/v1/games/run/tasks/lap/points",
        headers={"X-API-Key": raw_key},
        data={"externalUserId": "alice", "data": {"duration_s": 20}},
    )
    assert response.status == 201, response.text()
    assert (response.json()["points"], response.json()["caseName"]) == (15, "VeryFast")
