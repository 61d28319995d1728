"""The backtest pages of the strategies admin: designers of the realm run them, others do not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from strategies import backtests, services
from strategies.models import Backtest
from tests.factories import GameFactory, RealmFactory, TaskFactory, is_missing, member_client
from tests.strategies.backtest_programs import HISTORY_PROGRAM, award, doubled

ADMIN = "admin:strategies_strategydefinition"


@pytest.fixture
def family(realm, api):
    """A published version with awards on its task, and a draft that doubles its points."""
    live = services.strategy_create(
        realm=realm, name="pace", type="DSL_FULL", ast_json=HISTORY_PROGRAM
    )
    live = services.strategy_publish(strategy=live).strategy
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=live.strategy_id)
    for index in range(5):
        award(api, task, f"player-{index % 2}", {"score": index + 1})
    draft = services.strategy_edit(
        strategy=live, changes={"ast_json": doubled(HISTORY_PROGRAM)}
    ).strategy
    return live, draft


def _form(since=None, until="", max_events=1000):
    since = since or (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    return {"since": since, "until": until, "max_events": max_events}


def test_a_designer_runs_a_backtest_from_the_form_and_reads_its_report(
    realm, family, django_capture_on_commit_callbacks
):
    _, draft = family
    client = member_client("dana", realm, "designer")
    url = reverse(f"{ADMIN}_backtest", args=[draft.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert b'id="dsl-backtest-form"' in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, _form())

    backtest = Backtest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(f"{ADMIN}_backtest_detail", args=[backtest.pk])
    assert backtest.requested_by.username == "dana"
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    content = detail.content.decode()
    backtest.refresh_from_db()
    result = backtest.result
    assert 'dsl-status-done">done<' in content
    assert f'id="dsl-backtest-events">{result["events"]}<' in content
    assert f'id="dsl-backtest-changed">{result["changed"]}<' in content
    assert content.count('<svg class="dsl-chart"') == 2
    assert 'id="dsl-backtest-movers"' in content
    assert "backtest.js" not in content  # finished: nothing to poll
    status = client.get(reverse(f"{ADMIN}_backtest_status", args=[backtest.pk])).json()
    assert status["status"] == "done"
    assert status["pointsAfter"] == 2 * status["pointsBefore"] > 0
    # The form lists the family's backtests.
    assert str(backtest.pk) in client.get(url).content.decode()


def test_a_running_backtest_page_polls_its_status(realm, family):
    _, draft = family
    client = member_client("dana", realm, "designer")
    backtest = Backtest.objects.create(
        realm=realm,
        strategy=draft,
        type=draft.type,
        ast_json=draft.ast_json,
        since=timezone.now() - timedelta(days=1),
        until=timezone.now(),
        max_events=10,
        status="running",
        heartbeat_at=timezone.now(),
        progress=0.25,
        events_total=8,
        result={"events": 2},
    )
    content = client.get(reverse(f"{ADMIN}_backtest_detail", args=[backtest.pk])).content.decode()
    assert "backtest.js" in content
    assert 'data-finished="false"' in content
    assert 'value="0.250000"' in content
    assert "25 % (2 of 8 events)" in content


def test_the_editor_and_the_versions_page_offer_the_backtest_to_designers_only(realm, family):
    live, draft = family
    designer = member_client("dana", realm, "designer")
    operator = member_client("otto", realm, "operator")
    change = reverse(f"{ADMIN}_change", args=[draft.pk])
    versions = reverse(f"{ADMIN}_versions", args=[live.pk])
    assert reverse(f"{ADMIN}_backtest", args=[draft.pk]) in designer.get(change).content.decode()
    listed = designer.get(versions).content.decode()
    for version in (live, draft):
        assert reverse(f"{ADMIN}_backtest", args=[version.pk]) in listed
    assert "dsl-backtest-link" not in operator.get(change).content.decode()
    assert "dsl-backtest-link" not in operator.get(versions).content.decode()


def test_people_who_do_not_design_in_the_realm_cannot_backtest(
    realm, family, django_capture_on_commit_callbacks
):
    _, draft = family
    with django_capture_on_commit_callbacks(execute=True):
        backtest = backtests.backtest_request(
            strategy=draft, since=timezone.now() - timedelta(hours=1)
        )
    operator = member_client("otto", realm, "operator")
    form = reverse(f"{ADMIN}_backtest", args=[draft.pk])
    assert operator.get(form).status_code == 403
    assert operator.post(form, _form()).status_code == 403
    assert operator.get(reverse(f"{ADMIN}_backtest_detail", args=[backtest.pk])).status_code == 403
    assert operator.get(reverse(f"{ADMIN}_backtest_status", args=[backtest.pk])).status_code == 403
    assert Backtest.objects.count() == 1


def test_another_realms_strategy_and_backtests_are_missing_for_a_designer(
    realm, family, django_capture_on_commit_callbacks
):
    _, draft = family
    with django_capture_on_commit_callbacks(execute=True):
        backtest = backtests.backtest_request(
            strategy=draft, since=timezone.now() - timedelta(hours=1)
        )
    rival = member_client("rita", RealmFactory(slug="rival"), "designer")
    assert is_missing(rival.get(reverse(f"{ADMIN}_backtest", args=[draft.pk])))
    assert is_missing(rival.post(reverse(f"{ADMIN}_backtest", args=[draft.pk]), _form()))
    assert is_missing(rival.get(reverse(f"{ADMIN}_backtest_detail", args=[backtest.pk])))
    assert rival.get(reverse(f"{ADMIN}_backtest_status", args=[backtest.pk])).status_code == 404
    missing = reverse(f"{ADMIN}_backtest_detail", args=[Backtest().pk])
    assert is_missing(member_client("dana", realm, "designer").get(missing))
    assert Backtest.objects.count() == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (_form(since="2026-01-02T00:00:00", until="2026-01-01T00:00:00"), "until must be after"),
        (_form(since="2999-01-01T00:00:00"), "since must be in the past"),
        (_form(max_events=0), "greater than or equal to 1"),
        (_form(max_events=10_000_000), "less than or equal to"),
        (_form(since="someday"), "Enter a valid date/time"),
    ],
)
def test_an_invalid_form_is_shown_again_with_its_error(realm, family, form, message):
    _, draft = family
    client = member_client("dana", realm, "designer")
    response = client.post(reverse(f"{ADMIN}_backtest", args=[draft.pk]), form)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Backtest.objects.exists()


def test_a_draft_with_problems_cannot_be_backtested(realm):
    draft = services.strategy_create(
        realm=realm,
        name="broken",
        type="DSL_FULL",
        ast_json={"type": "program", "rules": [{}]},
        allow_invalid=True,
    )
    client = member_client("dana", realm, "designer")
    response = client.post(reverse(f"{ADMIN}_backtest", args=[draft.pk]), _form())
    assert response.status_code == 200
    assert "Cannot backtest: the program has problems" in response.content.decode()
    assert not Backtest.objects.exists()
