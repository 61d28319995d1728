"""The backtest API: 202 then a report to poll, typed 400s, realm isolation, the active cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from strategies import services
from strategies.models import Backtest, BacktestStatus
from tests.factories import GameFactory, TaskFactory, strategy_program_full
from tests.strategies.backtest_programs import HISTORY_PROGRAM, award, doubled

BASE = "/api/v1/strategies/custom"


def _live(realm, program=HISTORY_PROGRAM):
    row = services.strategy_create(realm=realm, name="pace", type="DSL_FULL", ast_json=program)
    return services.strategy_publish(strategy=row).strategy


def _post(api, strategy_id, body, capture, *, execute=True):
    with capture(execute=execute):
        return api.post(f"{BASE}/{strategy_id}/backtest", body, format="json")


def _since() -> str:
    return (timezone.now() - timedelta(minutes=5)).isoformat()


def test_a_backtest_answers_202_and_its_report_when_polled(
    realm, api, django_capture_on_commit_callbacks
):
    live = _live(realm)
    task = TaskFactory(game=GameFactory(realm=realm), strategy_id=live.strategy_id)
    answers = [award(api, task, f"p{i % 2}", {"score": i + 1}) for i in range(6)]
    draft = services.strategy_edit(
        strategy=live, changes={"ast_json": doubled(HISTORY_PROGRAM)}
    ).strategy

    response = _post(api, draft.pk, {"since": _since()}, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body == {"id": body["id"], "status": "queued"}
    assert response["Location"] == f"/api/v1/backtests/{body['id']}"
    report = api.get(f"/api/v1/backtests/{body['id']}").json()
    before = sum(a["points"] for a in answers)
    assert report["status"] == "done"
    assert report["progress"] == 1.0
    assert (report["events"], report["eventsTotal"], report["changed"]) == (6, 6, 6)
    assert (report["pointsBefore"], report["pointsAfter"]) == (before, 2 * before)
    assert report["errors"] == {}
    assert report["caseNames"]["before"] == report["caseNames"]["after"]
    assert sum(report["caseNames"]["before"].values()) == 6
    assert [set(m) for m in report["topMovers"]] == [{"externalUserId", "before", "after"}] * 2
    assert report["topMovers"][0]["after"] == 2 * report["topMovers"][0]["before"]
    assert report["strategyId"] == draft.strategy_id
    assert report["strategyVersion"] == 2
    assert report["requestedBy"]["type"] == "apiKey"
    assert report["error"] is None
    assert report["maxEvents"] == 1_000_000
    assert report["finishedAt"] is not None


def test_max_events_and_until_are_kept_as_asked(realm, api, django_capture_on_commit_callbacks):
    live = _live(realm)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    body = {"since": since.isoformat(), "until": "2026-01-02T00:00:00Z", "maxEvents": 10}
    response = _post(api, live.pk, body, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    report = api.get(f"/api/v1/backtests/{response.json()['id']}").json()
    assert (report["since"], report["until"]) == ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert (report["maxEvents"], report["events"], report["status"]) == (10, 0, "done")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "2999-01-01T00:00:00Z"}, "since"),
        ({"since": "2026-01-01T00:00:00Z", "maxEvents": 0}, "maxEvents"),
        ({"since": "2026-01-01T00:00:00Z", "maxEvents": 1_000_001}, "maxEvents"),
        ({"since": "2026-01-01T00:00:00Z", "maxEvents": "many"}, "maxEvents"),
        ({"since": "2026-01-01T00:00:00Z", "maxEvents": 2.5}, "maxEvents"),
    ],
)
def test_an_invalid_window_is_a_typed_400_naming_the_field(
    realm, api, django_capture_on_commit_callbacks, body, field
):
    live = _live(realm)
    response = _post(api, live.pk, body, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["detail"]
    assert list(response.json()["errors"]) == [field]
    assert not Backtest.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(realm, api, django_capture_on_commit_callbacks):
    live = _live(realm)
    response = _post(api, live.pk, ["since"], django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_a_draft_without_a_valid_program_is_refused_before_queuing(
    realm, api, django_capture_on_commit_callbacks
):
    draft = services.strategy_create(
        realm=realm,
        name="broken",
        type="DSL_FULL",
        ast_json={"type": "program", "rules": [{}]},
        allow_invalid=True,
    )
    response = _post(api, draft.pk, {"since": _since()}, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["code"] == "DSL_VALIDATION_ERROR"
    assert response.json()["errors"]
    assert not Backtest.objects.exists()


def test_another_realms_strategy_cannot_be_backtested(
    realm, other_api, django_capture_on_commit_callbacks
):
    live = _live(realm)
    response = _post(other_api, live.pk, {"since": _since()}, django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert response.json()["code"] == "STRATEGY_NOT_FOUND"
    assert not Backtest.objects.exists()


def test_another_realms_backtest_is_not_found_like_a_missing_one(
    realm, api, other_api, django_capture_on_commit_callbacks
):
    live = _live(realm)
    backtest_id = _post(
        api, live.pk, {"since": _since()}, django_capture_on_commit_callbacks
    ).json()["id"]
    foreign = other_api.get(f"/api/v1/backtests/{backtest_id}")
    missing = other_api.get(f"/api/v1/backtests/{Backtest().pk}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == {**missing.json(), "detail": foreign.json()["detail"]}
    assert foreign.json()["code"] == "BACKTEST_NOT_FOUND"
    assert other_api.get("/api/v1/backtests/not-a-uuid").status_code == 404
    assert api.get(f"/api/v1/backtests/{backtest_id}").status_code == 200


def test_backtests_need_an_api_key(realm, django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    live = _live(realm)
    anonymous = APIClient()
    response = _post(anonymous, live.pk, {"since": _since()}, django_capture_on_commit_callbacks)
    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("NOT_AUTHENTICATED", "AUTHENTICATION_FAILED")


def test_a_realm_has_at_most_the_configured_backtests_in_flight(
    realm, api, settings, django_capture_on_commit_callbacks
):
    settings.BACKTEST_MAX_ACTIVE_PER_REALM = 2
    live = _live(realm)
    body = {"since": _since()}
    # Not executed: the two stay queued, as while a worker is busy.
    for _ in range(2):
        assert (
            _post(api, live.pk, body, django_capture_on_commit_callbacks, execute=False).status_code
            == 202
        )
    refused = _post(api, live.pk, body, django_capture_on_commit_callbacks, execute=False)
    assert refused.status_code == 409
    assert refused.json()["code"] == "BACKTEST_LIMIT_REACHED"
    Backtest.objects.update(status=BacktestStatus.DONE)
    assert _post(api, live.pk, body, django_capture_on_commit_callbacks).status_code == 202


def test_a_failed_backtest_says_why(realm, api, django_capture_on_commit_callbacks):
    live = _live(realm, strategy_program_full())
    with django_capture_on_commit_callbacks() as callbacks:
        backtest_id = api.post(
            f"{BASE}/{live.pk}/backtest", {"since": _since()}, format="json"
        ).json()["id"]
    Backtest.objects.filter(pk=backtest_id).update(ast_json={"type": "nope"})
    for callback in callbacks:
        callback()
    report = api.get(f"/api/v1/backtests/{backtest_id}").json()
    assert report["status"] == "failed"
    assert report["error"]["code"] == "DSL_VALIDATION_ERROR"
    assert report["error"]["detail"]


def test_polling_a_running_backtest_shows_its_progress(realm, api):
    live = _live(realm)
    now = timezone.now()
    backtest = Backtest.objects.create(
        realm=realm,
        strategy=live,
        type=live.type,
        ast_json=live.ast_json,
        since=now - timedelta(days=1),
        until=now,
        max_events=100,
        status=BacktestStatus.RUNNING,
        heartbeat_at=now,
        events_total=100,
        progress=0.4,
        result={"events": 40, "changed": 3, "points_before": 40.0, "points_after": 46.0},
    )
    report = api.get(f"/api/v1/backtests/{backtest.pk}").json()
    assert (report["status"], report["progress"], report["events"]) == ("running", 0.4, 40)
    assert (report["changed"], report["pointsAfter"], report["topMovers"]) == (3, 46.0, [])
