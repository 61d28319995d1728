"""Probes, metrics and the OpenAPI document."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_healthz_and_readyz_answer_ok():
    client = Client()

    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_broker(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "ok"
    assert response.json()["checks"]["broker"] != "ok"


@pytest.mark.django_db
def test_metrics_endpoint_serves_prometheus_text():
    response = Client().get("/metrics")

    assert response.status_code == 200
    assert b"django_http_requests" in response.content


def test_openapi_schema_validates_without_warnings():
    out = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)

    assert "/api/v1/games/{external_game_id}/tasks/{external_task_id}/points" in out.getvalue()


@pytest.mark.django_db
def test_swagger_ui_is_served_locally():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()
    assert b"/static/drf_spectacular_sidecar/" in response.content


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404():
    response = Client().get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
