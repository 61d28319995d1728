"""The execution-log API: runbook list and detail, metrics and compare, realm-scoped."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.observability.conftest import DEFINITION_ID, log_make

pytestmark = pytest.mark.django_db

BASE = "/api/v1/strategies/custom"
OTHER_ID = "0190a5b0-0000-7000-8000-000000000002"


@pytest.mark.usefixtures("dataset")
def test_executions_list_most_recent_first_with_status_filter(api):
    response = api.get(f"{BASE}/{DEFINITION_ID}/executions")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 8
    stamps = [row["createdAt"] for row in results]
    assert stamps == sorted(stamps, reverse=True)
    assert {"strategyId", "status", "errorCode", "durationMs", "sampled", "sampleRate"} <= set(
        results[0]
    )
    assert "trace" not in results[0]

    failures = api.get(f"{BASE}/{DEFINITION_ID}/executions", {"status": "error"}).json()
    assert {row["externalUserId"] for row in failures["results"]} == {"fail-0", "fail-1"}
    assert all(row["errorCode"] == "DSL_ARITH_DIV_BY_ZERO" for row in failures["results"])

    page = api.get(f"{BASE}/{DEFINITION_ID}/executions", {"limit": 3}).json()
    assert len(page["results"]) == 3
    assert page["next"]
    rest = api.get(f"{BASE}/{DEFINITION_ID}/executions", {"before": page["next"]}).json()
    assert len(rest["results"]) == 5


@pytest.mark.usefixtures("dataset")
def test_executions_accept_the_custom_prefix(api):
    response = api.get(f"{BASE}/custom:{DEFINITION_ID}/executions")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 8


def test_execution_detail_has_input_fields_and_trace(api, realm):
    log = log_make(realm=realm, status="error", error_code="DSL_ARITH_DIV_BY_ZERO")
    response = api.get(f"{BASE}/{DEFINITION_ID}/executions/{log.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(log.pk)
    assert body["data"] == {"time": 12.5}
    assert body["fields"] == {"user.measurements_count": 4}
    assert body["trace"] == [{"nodeId": "n1", "type": "literal", "value": 1}]
    assert body["errorCode"] == "DSL_ARITH_DIV_BY_ZERO"
    assert body["sampled"] is False

    assert api.get(f"{BASE}/{DEFINITION_ID}/executions/{uuid.uuid4()}").status_code == 404
    assert api.get(f"{BASE}/{OTHER_ID}/executions/{log.pk}").status_code == 404


@pytest.mark.usefixtures("dataset")
def test_other_realms_see_nothing(other_api, realm):
    log = log_make(realm=realm)
    assert other_api.get(f"{BASE}/{DEFINITION_ID}/executions").status_code == 404
    assert other_api.get(f"{BASE}/{DEFINITION_ID}/executions/{log.pk}").status_code == 404
    assert other_api.get(f"{BASE}/{DEFINITION_ID}/metrics").status_code == 404


@pytest.mark.usefixtures("dataset")
def test_unknown_strategy_is_404_and_bad_status_is_400(api):
    assert api.get(f"{BASE}/{OTHER_ID}/executions").status_code == 404
    response = api.get(f"{BASE}/{DEFINITION_ID}/executions", {"status": "nope"})
    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"


def test_metrics_are_sampling_corrected(api, dataset):
    since = (dataset - timedelta(days=1)).isoformat()
    until = (dataset + timedelta(minutes=1)).isoformat()
    response = api.get(f"{BASE}/{DEFINITION_ID}/metrics", {"since": since, "until": until})
    assert response.status_code == 200
    body = response.json()
    assert body["rows"] == 7
    assert body["estimatedRuns"] == pytest.approx(83)
    assert body["errorRate"] == pytest.approx(3 / 83)
    assert body["successRate"] == pytest.approx(80 / 83)
    assert body["statusMix"]["ok"] == {"rows": 4, "estimated": 80, "share": pytest.approx(80 / 83)}
    assert body["durationMs"]["p50"] == pytest.approx(3)
    assert body["durationMs"]["p95"] == pytest.approx(4)
    assert body["durationMs"]["p99"] == pytest.approx(6 + (0.99 * 82 - 81) * 494)
    assert body["points"]["avg"] == pytest.approx(10)
    assert body["nodes"]["max"] == 20
    assert body["topErrors"][0] == {
        "errorCode": "DSL_ARITH_DIV_BY_ZERO",
        "count": 2,
        "estimated": 2,
    }
    assert body["topCases"][0]["caseName"] == "fast"
    assert sum(b["rows"] for b in body["durationHistogram"]) == 7
    assert sum(b["rows"] for b in body["pointsHistogram"]) == 4
    assert body["bucket"] == "hour"
    assert sum(point["rows"] for point in body["series"]) == 7
    assert body["window"] == "custom"


@pytest.mark.usefixtures("dataset")
def test_metrics_default_window_is_24h(api):
    body = api.get(f"{BASE}/{DEFINITION_ID}/metrics").json()
    assert body["window"] == "24h"
    assert body["rows"] == 7
    assert api.get(f"{BASE}/{DEFINITION_ID}/metrics", {"window": "30d"}).json()["rows"] == 8


@pytest.mark.usefixtures("dataset")
def test_metrics_reject_bad_windows(api):
    bad = api.get(f"{BASE}/{DEFINITION_ID}/metrics", {"since": "yesterday"})
    assert bad.status_code == 400
    reversed_window = api.get(
        f"{BASE}/{DEFINITION_ID}/metrics",
        {"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"},
    )
    assert reversed_window.status_code == 400


@pytest.mark.usefixtures("dataset")
def test_compare_returns_both_and_deltas(api, realm):
    for i in range(3):
        log_make(
            realm=realm,
            definition_id=OTHER_ID,
            strategy_id=f"custom:{OTHER_ID}",
            duration_ms=10.0 + i,
            external_user_id=f"b-{i}",
        )
    response = api.get(f"{BASE}/compare", {"a": DEFINITION_ID, "b": OTHER_ID})
    assert response.status_code == 200
    body = response.json()
    assert body["a"]["estimatedRuns"] == pytest.approx(83)
    assert body["b"]["estimatedRuns"] == pytest.approx(60)
    assert body["delta"]["estimatedRuns"] == pytest.approx(60 - 83)
    assert body["delta"]["errorRate"] == pytest.approx(0 - 3 / 83)
    assert body["delta"]["durationMsP50"] == pytest.approx(11 - 3)


@pytest.mark.usefixtures("dataset")
def test_compare_needs_both_ids(api):
    response = api.get(f"{BASE}/compare", {"a": DEFINITION_ID})
    assert response.status_code == 400
    assert "b" in response.json()["errors"]


@pytest.mark.usefixtures("dataset")
def test_endpoints_need_an_api_key(client):
    assert client.get(f"{BASE}/{DEFINITION_ID}/executions").status_code in (401, 403)
    assert client.get(f"{BASE}/compare?a={DEFINITION_ID}&b={OTHER_ID}").status_code in (401, 403)
