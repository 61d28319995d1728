"""Every file the strategy editor's page asks for exists: scripts, styles and Blockly's media."""

from __future__ import annotations

import json
import os
import re
from html import unescape

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the test are safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

from strategies import services
from strategies.admin import BLOCKLY_VERSION
from tests.conftest import browser_required
from tests.factories import RealmFactory, strategy_program_full

ADMIN = "admin:strategies_strategydefinition"
STATIC_PREFIX = static("")
REFERENCE = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""")
CONFIG = re.compile(r'<script id="dsl-editor-config" type="application/json">(.*?)</script>', re.S)
# Names of files in Blockly's media folder, as its code spells them (sounds, sprites, cursors).
MEDIA_NAME = re.compile(r"[A-Za-z0-9_-]+\.(?:png|svg|cur|gif|mp3|wav|ogg)\b")
PASSWORD = "S3cret-pass!"
# The values offered by a block's dropdown, and the block types of the current toolbox.
MENU_OF_THE_FIELD_BLOCK = """() => {
    const block = window.dslEditor.workspace.newBlock("dsl_field");
    try { return block.getField("PATH").getOptions(false).map((o) => o[1]); }
    finally { block.dispose(); }
}"""
MENU_OF_THE_PARENT_BLOCK = MENU_OF_THE_FIELD_BLOCK.replace('"dsl_field"', '"dsl_parent_field"')
BLOCK_TYPES = "() => window.dslEditor.workspace.getAllBlocks(false).map((b) => b.type)"
PROGRAM_BLOCK = "window.dslEditor.workspace.getTopBlocks(false)[0]"
LAYOUT_MOVED = f"""() => {{
    {PROGRAM_BLOCK}.moveBy(120, 0);
    return Blockly.Xml.domToText(Blockly.Xml.workspaceToDom(window.dslEditor.workspace));
}}"""
PROGRAM_X = f"() => {PROGRAM_BLOCK}.getRelativeToSurfaceXY().x"
TOOLBOX_BLOCKS = """() => window.dslEditor.workspace.options.languageTree.contents
    .flatMap((category) => (category.contents || []).map((item) => item.type))"""


@pytest.fixture
def superuser_client(client, db):  # noqa: ARG001 - requested for database access
    client.force_login(User.objects.create_superuser("root", password="pw-12345!"))
    return client


@pytest.fixture
def editor_pages(superuser_client, realm) -> dict[str, str]:
    full = services.strategy_create(
        realm=realm, name="full", type="DSL_FULL", ast_json=strategy_program_full()
    )
    extend = services.strategy_create(
        realm=realm,
        name="ext",
        type="DSL_EXTEND",
        parent_strategy_id="default",
        ast_json={"type": "program", "rules": [], "post_rules": []},
    )
    urls = {
        "add": reverse(f"{ADMIN}_add"),
        "full": reverse(f"{ADMIN}_change", args=[full.pk]),
        "extend": reverse(f"{ADMIN}_change", args=[extend.pk]),
    }
    pages = {}
    for name, url in urls.items():
        response = superuser_client.get(url)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    return pages


def _static_paths(page: str) -> set[str]:
    urls = {unescape(url) for url in REFERENCE.findall(page)}
    return {url.removeprefix(STATIC_PREFIX) for url in urls if url.startswith(STATIC_PREFIX)}


def _editor_config(page: str) -> dict:
    found = CONFIG.search(page)
    assert found, "the page carries no editor configuration"
    return json.loads(found.group(1))


def test_every_static_file_the_editor_pages_reference_exists(editor_pages):
    vendored = f"strategies/vendor/blockly-{BLOCKLY_VERSION}/"
    for name, page in editor_pages.items():
        paths = _static_paths(page)
        assert {
            vendored + "blockly_compressed.js",
            vendored + "en.js",
            "strategies/editor.js",
            "strategies/editor.css",
            "gamification/favicon.ico",
        } <= paths, name
        assert [path for path in sorted(paths) if finders.find(path) is None] == [], name


def test_every_media_file_the_vendored_blockly_can_request_exists(editor_pages):
    media_url = _editor_config(editor_pages["full"])["mediaUrl"]
    assert media_url.startswith(STATIC_PREFIX)
    media = media_url.removeprefix(STATIC_PREFIX)
    library = finders.find(f"strategies/vendor/blockly-{BLOCKLY_VERSION}/blockly_compressed.js")
    with open(library, encoding="utf-8") as handle:
        names = set(MEDIA_NAME.findall(handle.read()))
    # Blockly asks for the first sound format the browser plays: Chromium starts with .wav.
    assert {"click.wav", "disconnect.wav", "delete.ogg", "sprites.png", "handdelete.cur"} <= names
    assert [name for name in sorted(names) if finders.find(media + name) is None] == []


def test_every_page_of_the_editor_shares_one_media_folder(editor_pages):
    media_urls = {_editor_config(page)["mediaUrl"] for page in editor_pages.values()}
    assert media_urls == {static(f"strategies/vendor/blockly-{BLOCKLY_VERSION}/media/")}


@browser_required
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_editor_loads_in_a_browser_without_a_failed_request_or_a_warning(live_server, chromium):
    realm = RealmFactory(slug="assets")
    User.objects.create_superuser("root", password=PASSWORD)
    extend = services.strategy_create(
        realm=realm,
        name="ext",
        type="DSL_EXTEND",
        parent_strategy_id="default",
        ast_json={
            "type": "program",
            "rules": [],
            "post_rules": [
                {
                    "type": "rule",
                    "when": {"type": "literal", "value": True},
                    "then": [
                        {"type": "set_points", "value": {"type": "field", "path": "parent.points"}}
                    ],
                }
            ],
        },
    )
    page = chromium.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(15_000)
    failed: list[str] = []
    console: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: failed.append(f"failed {r.url}"))
    page.on("console", lambda m: console.append(m.text) if m.type in ("warning", "error") else None)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}{reverse(f'{ADMIN}_add')}")
    page.wait_for_function(
        "window.dslEditor && window.dslEditor.workspace.getAllBlocks(false).length"
    )
    # Blockly fetches its sounds on the first pointer move; the starter loads blocks.
    page.mouse.move(400, 400)
    page.mouse.move(600, 500)
    page.select_option("#id_starter", "example-speed_bonus")
    page.wait_for_function("window.dslEditor.workspace.getAllBlocks(false).length > 5")
    page.wait_for_load_state("networkidle")
    full_menu = page.evaluate(MENU_OF_THE_FIELD_BLOCK)
    assert "user.avg_time" in full_menu
    assert not {"parent.points", "parent.case_name"} & set(full_menu)
    assert "dsl_parent_field" not in page.evaluate(TOOLBOX_BLOCKS)

    page.goto(f"{live_server.url}{reverse(f'{ADMIN}_change', args=[extend.pk])}")
    page.wait_for_function(
        "window.dslEditor && window.dslEditor.workspace.getAllBlocks(false).length"
    )
    page.mouse.move(400, 400)
    page.wait_for_load_state("networkidle")
    assert "dsl_parent_field" in page.evaluate(TOOLBOX_BLOCKS)
    assert page.evaluate(MENU_OF_THE_PARENT_BLOCK) == ["parent.points", "parent.case_name"]
    assert not {"parent.points", "parent.case_name"} & set(page.evaluate(MENU_OF_THE_FIELD_BLOCK))
    assert "dsl_parent_field" in page.evaluate(BLOCK_TYPES)

    # A layout saved when parent.points was a field block opens as it was, with the parent block
    # (the saved layout is kept whatever order jsonb gave the program's keys).
    layout = page.evaluate(LAYOUT_MOVED)
    assert 'type="dsl_parent_field"' in layout
    extend.blockly_xml = layout.replace('type="dsl_parent_field"', 'type="dsl_field"')
    extend.save(update_fields=["blockly_xml"])
    page.goto(f"{live_server.url}{reverse(f'{ADMIN}_change', args=[extend.pk])}")
    page.wait_for_function(
        "window.dslEditor && window.dslEditor.workspace.getAllBlocks(false).length"
    )
    assert "dsl_parent_field" in page.evaluate(BLOCK_TYPES)
    assert page.evaluate(PROGRAM_X) == 140  # the saved layout was kept, not rebuilt

    assert failed == []
    assert console == []
