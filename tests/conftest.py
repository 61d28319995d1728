"""Shared fixtures; the suite runs against the PostgreSQL of DATABASE_URL (.ci/with-services)."""

from __future__ import annotations

import os

import pytest
from django.db import connections
from rest_framework.test import APIClient

from gamification.models import ApiKey, Realm
from gamification.services import api_key_create
from tests.factories import RealmFactory


@pytest.fixture
def realm(db) -> Realm:  # noqa: ARG001 - requested for database access
    return RealmFactory(slug="acme")


@pytest.fixture
def api_key_pair(realm: Realm) -> tuple[ApiKey, str]:
    return api_key_create(realm=realm, name="game-server")


@pytest.fixture
def api(api_key_pair: tuple[ApiKey, str]) -> APIClient:
    """An API client authenticated with a key of ``realm``."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_pair[1])
    return client


@pytest.fixture
def other_api(db) -> APIClient:  # noqa: ARG001 - requested for database access
    """An API client of a second realm, which must see nothing of the first."""
    other = RealmFactory(slug="rival")
    _, raw = api_key_create(realm=other, name="rival-server")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


class RecordingSink:
    """Keeps the rows handed to it, for tests that do not install a sink of their own."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def submit(
        self,
        row: dict,
        *,
        realm: str,  # noqa: ARG002 - the sink's signature
        strategy_type: str,  # noqa: ARG002 - the sink's signature
    ) -> None:
        self.rows.append(row)


@pytest.fixture(autouse=True)
def execution_log_rows_kept_in_memory():
    """The process sink persists sampled rows through a database connection of its own,
    outside the test's transaction, so such a row would outlive its test and turn up in a
    later one's counts. Tests that exercise the pipeline install their own sink."""
    from observability.observer import ExecutionObserver, observer_set

    sink = RecordingSink()
    previous = observer_set(ExecutionObserver(sink=sink))  # type: ignore[arg-type]
    yield sink.rows
    observer_set(previous)


class RecordingKicker:
    """Counts the webhook kicks (each after a commit that wrote outbox rows) and sends none."""

    def __init__(self) -> None:
        self.kicks = 0

    def kick(self) -> None:
        self.kicks += 1


@pytest.fixture(autouse=True)
def webhook_kicks():
    """Outbox rows are sent by a thread of the process, through its own database connection
    (or by a worker): tests that want deliveries install a kicker of their own."""
    from gamification.webhooks import webhook_kicker_set

    kicker = RecordingKicker()
    previous = webhook_kicker_set(kicker)
    yield kicker
    webhook_kicker_set(previous)


@pytest.fixture(scope="session", autouse=True)
def execution_log_sink_stopped(django_db_setup):  # noqa: ARG001 - torn down before the test database
    """Stop the execution-log publisher before the test database is dropped: its thread holds
    a database session of its own while it persists rows in-process."""
    yield
    from observability.sink import sink_shutdown

    sink_shutdown()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
browser_required = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"needs Debian's Chromium at {CHROMIUM}"
)


@pytest.fixture
def chromium():
    """Debian's headless Chromium, driven by Playwright's sync API.

    Playwright runs an event loop in the test's thread, so the ORM calls a browser test makes
    run in another async context and Django opens a connection for it; closing it at the end
    keeps the test database droppable.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()
