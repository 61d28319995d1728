"""Hostile backtest windows: an instant that leaves the calendar once in UTC is refused before
anything is stored, so no stored backtest can break the pages and answers that read it."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone as dj_timezone

from gamification.errors import DomainError
from strategies import backtests, services
from strategies.models import Backtest
from tests.factories import (
    GameFactory,
    PlayerFactory,
    RealmFactory,
    TaskFactory,
    award_history,
    member_client,
    strategy_program_full,
)

pytestmark = pytest.mark.django_db

ADMIN = "admin:strategies_strategydefinition"
BASE = "/api/v1/strategies/custom"
EAST, WEST = timezone(timedelta(hours=5)), timezone(timedelta(hours=-5))


@pytest.fixture
def draft(realm):
    return services.strategy_create(
        realm=realm, name="pace", type="DSL_FULL", ast_json=strategy_program_full()
    )


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        ("0001-01-01T00:00:00+05:00", "", "since"),
        ("0001-01-01T00:00:00+05:00", "2024-01-01T00:00:00", "since"),
        ("2024-01-01T00:00:00", "9999-12-31T23:59:59-05:00", "until"),
    ],
)
def test_the_admin_form_refuses_a_window_beyond_the_calendar_in_utc(
    realm, draft, django_capture_on_commit_callbacks, since, until, field
):
    designer = member_client("dana", realm, "designer")
    url = reverse(f"{ADMIN}_backtest", args=[draft.pk])

    with django_capture_on_commit_callbacks(execute=True):
        response = designer.post(url, {"since": since, "until": until, "max_events": 10})

    assert response.status_code == 200
    assert f"{field} is out of range" in response.content.decode()
    assert not Backtest.objects.exists()
    assert designer.get(url).status_code == 200


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        (datetime(1, 1, 1, tzinfo=EAST), None, "since"),
        (datetime(2024, 1, 1, tzinfo=EAST), datetime(9999, 12, 31, 23, tzinfo=WEST), "until"),
    ],
)
def test_a_backtest_beyond_the_calendar_in_utc_is_refused_naming_the_field(
    draft, since, until, field
):
    with pytest.raises(DomainError) as refused:
        backtests.backtest_request(strategy=draft, since=since, until=until)

    assert (refused.value.code, refused.value.extra) == ("VALIDATION_ERROR", {"field": field})
    assert not Backtest.objects.exists()


def test_a_window_at_the_edges_of_the_calendar_runs_and_reads_back(
    api, draft, django_capture_on_commit_callbacks
):
    body = {"since": "0001-01-01T00:00:00-05:00", "until": "9999-12-31T23:59:59+05:00"}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{BASE}/{draft.pk}/backtest", body, format="json")

    assert response.status_code == 202
    report = api.get(f"/api/v1/backtests/{response.json()['id']}").json()
    assert (report["since"], report["until"]) == ("0001-01-01T05:00:00Z", "9999-12-31T18:59:59Z")
    assert (report["status"], report["events"]) == ("done", 0)


# -- a program slow on every event -----------------------------------------------------------
def _slow_program(rules: int = 160) -> dict:
    """``data.l == data.m`` ``rules`` times: two lists of 9 000 items, equal but for the last."""
    return {
        "type": "program",
        "rules": [
            {
                "type": "rule",
                "when": {
                    "type": "compare",
                    "op": "==",
                    "left": {"type": "field", "path": "data.l"},
                    "right": {"type": "field", "path": "data.m"},
                },
                "then": [
                    {
                        "type": "assign_points",
                        "value": {"type": "literal", "value": n},
                        "case_name": f"R{n}",
                    }
                ],
            }
            for n in range(rules)
        ],
    }


def _slow_backtest(realm, events: int):
    """A draft whose every event takes some 20 ms, over ``events`` stored awards."""
    draft = services.strategy_create(
        realm=realm, name="slow", type="DSL_FULL", ast_json=_slow_program()
    )
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=draft.strategy_id)
    unit = "[[[[[[[[[[0]]]]]]]]]]"
    lists = "[" + ",".join([unit] * 818) + "]"
    data = {"l": json.loads(lists), "m": json.loads(lists)}
    data["m"][-1] = 1
    start = dj_timezone.now() - timedelta(hours=1)
    award_history(
        task=task,
        player=PlayerFactory(realm=realm),
        timestamps=[start + timedelta(seconds=n) for n in range(events)],
        data=data,
    )
    return draft, start


def test_a_backtest_stops_once_its_time_budget_is_spent(
    realm, settings, django_capture_on_commit_callbacks
):
    settings.BACKTEST_TIME_BUDGET_SECONDS = 0.3
    draft, start = _slow_backtest(realm, events=80)

    with django_capture_on_commit_callbacks(execute=True):
        backtest = backtests.backtest_request(strategy=draft, since=start)

    backtest.refresh_from_db()
    assert (backtest.status, backtest.error_code) == ("failed", "BACKTEST_TIME_BUDGET_SPENT")
    assert backtest.finished_at is not None
    ran = re.fullmatch(r"The run spent its 0.3 s after (\d+) events; .*", backtest.error_detail)
    assert ran is not None, backtest.error_detail
    assert int(ran.group(1)) < 80


@pytest.mark.django_db(transaction=True)
def test_a_slow_backtest_beats_its_heartbeat_in_time_and_is_never_taken_for_lost(settings):
    settings.BACKTEST_STALE_SECONDS = 1.0
    settings.BACKTEST_PROGRESS_EVERY = 1_000_000
    realm = RealmFactory(slug="slow")
    draft, start = _slow_backtest(realm, events=150)  # some 3 s of events
    requested: list[Backtest] = []

    def run() -> None:
        try:
            requested.append(backtests.backtest_request(strategy=draft, since=start))
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():
        backtests.backtests_expire()  # the beat's sweep, run as often as it can be
        time.sleep(0.05)
    worker.join()

    backtest = Backtest.objects.get()
    assert (backtest.status, backtest.error_code) == ("done", "")
    assert backtest.result["events"] == 150
