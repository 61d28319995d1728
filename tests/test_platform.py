"""Probes, metrics and the OpenAPI document."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "scrape-token-7f3a"


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


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "NOT_AUTHENTICATED"),
        (f"Bearer {TOKEN}x", "AUTHENTICATION_FAILED"),
        (f"Bearer {TOKEN[:-1]}", "AUTHENTICATION_FAILED"),
        (f"Basic {TOKEN}", "AUTHENTICATION_FAILED"),
        ("Bearer", "AUTHENTICATION_FAILED"),
    ],
)
def test_metrics_with_a_token_set_refuse_requests_without_it(settings, authorization, code):
    settings.METRICS_BEARER_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client().get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == code
    assert b"django_http_requests" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_metrics_with_a_token_set_answer_the_bearer_of_it(settings, scheme):
    settings.METRICS_BEARER_TOKEN = TOKEN

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"{scheme} {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"django_http_requests" in response.content


def test_compose_gives_prometheus_the_metrics_token_and_the_web_requires_it():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())

    web_token = compose["services"]["web"]["environment"]["METRICS_BEARER_TOKEN"]
    assert web_token.startswith("${METRICS_BEARER_TOKEN:?")  # compose refuses to start without
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_BEARER_TOKEN"}
    assert compose["services"]["prometheus"]["secrets"] == ["metrics_token"]
    job = next(j for j in prometheus["scrape_configs"] if j["job_name"] == "gamification-web")
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/run/secrets/metrics_token",
    }


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
