"""Hostile backtest windows: an instant that leaves the calendar once in UTC is refused before
anything is stored, so no stored backtest can break the pages and answers that read it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.urls import reverse

from gamification.errors import DomainError
from strategies import backtests, services
from strategies.models import Backtest
from tests.factories import member_client, strategy_program_full

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
