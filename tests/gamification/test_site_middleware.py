"""API calls skip what only the admin's pages need; the admin keeps all of it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import GameFactory, PlayerFactory, TaskFactory

AWARD_URL = "/api/v1/games/g1/tasks/t1/points"


@pytest.fixture
def task(realm):
    game = GameFactory(realm=realm, external_game_id="g1")
    return TaskFactory(game=game, external_task_id="t1", strategy_id="default")


@pytest.fixture
def key_client(api_key_pair) -> Client:
    return Client(HTTP_X_API_KEY=api_key_pair[1])


def _award(client: Client, **headers):
    return client.post(
        AWARD_URL, {"externalUserId": "u1"}, content_type="application/json", headers=headers
    )


def _scrape() -> list:
    text = Client().get("/metrics").content.decode()
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _sample(samples: list, name: str, **labels: str) -> float:
    """Sum the samples of ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for sample in samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_an_api_call_gets_no_session_csrf_user_or_messages(key_client):
    response = _award(key_client)

    assert response.status_code == 201
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert not hasattr(request, "csrf_cookie_needs_reset")
    assert "Set-Cookie" not in response.headers
    assert "csrftoken" not in response.cookies
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_an_api_call_with_session_and_csrf_cookies_is_judged_by_its_key_alone(key_client):
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "not-a-session"
    client.cookies["csrftoken"] = "x" * 32

    response = _award(client, **{"X-API-Key": key_client.defaults["HTTP_X_API_KEY"]})

    assert response.status_code == 201
    assert not response.cookies


@pytest.mark.django_db
def test_an_api_call_without_a_key_is_still_refused(task):  # noqa: ARG001
    response = _award(Client())

    assert response.status_code in (401, 403)
    assert response.json()["code"] in ("NOT_AUTHENTICATED", "AUTHENTICATION_FAILED")


@pytest.mark.django_db
def test_the_admin_keeps_sessions_csrf_and_messages():
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-7f3a-long")
    client = Client(enforce_csrf_checks=True)

    login_page = client.get("/admin/login/")
    assert login_page.status_code == 200
    assert "csrftoken" in login_page.cookies
    assert hasattr(login_page.wsgi_request, "session")
    assert hasattr(login_page.wsgi_request, "_messages")

    refused = client.post("/admin/login/", {"username": "root", "password": "pw-7f3a-long"})
    assert refused.status_code == 403

    token = login_page.cookies["csrftoken"].value
    logged_in = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "pw-7f3a-long", "csrfmiddlewaretoken": token},
    )
    assert logged_in.status_code == 302
    assert "sessionid" in logged_in.cookies
    assert logged_in.headers["X-Frame-Options"] == "DENY"

    index = client.get("/admin/")
    assert index.status_code == 200
    assert index.wsgi_request.user.username == "root"


@pytest.mark.django_db
def test_the_admin_shows_a_message_after_an_action(realm):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-7f3a-long")
    player = PlayerFactory(realm=realm, external_user_id="alice")
    client = Client()
    client.login(username="root", password="pw-7f3a-long")

    response = client.post(
        f"/admin/gamification/player/{player.pk}/delete/", {"post": "yes"}, follow=True
    )

    messages = [str(m) for m in response.context["messages"]]
    assert any("was deleted successfully" in m for m in messages), messages


@pytest.mark.django_db
@pytest.mark.usefixtures("task")
def test_metrics_count_the_award_request(key_client):
    by_view = "django_http_requests_total_by_view_transport_method_total"
    before = _scrape()

    assert _award(key_client).status_code == 201

    after = _scrape()
    assert _sample(after, by_view, view="task-points", method="POST") == (
        _sample(before, by_view, view="task-points", method="POST") + 1
    )
    # The award and one of the two scrapes (each counts its request before it answers and
    # its response after).
    for name in (
        "django_http_requests_before_middlewares_total",
        "django_http_responses_before_middlewares_total",
    ):
        assert _sample(after, name) == _sample(before, name) + 2
    assert _sample(after, "django_http_responses_total_by_status_total", status="201") == (
        _sample(before, "django_http_responses_total_by_status_total", status="201") + 1
    )
    assert _sample(
        after, "django_http_requests_latency_seconds_by_view_method_count", view="task-points"
    ) == (
        _sample(
            before, "django_http_requests_latency_seconds_by_view_method_count", view="task-points"
        )
        + 1
    )


@pytest.mark.django_db
def test_the_api_docs_page_renders_without_a_session():
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert "Set-Cookie" not in response.headers


def test_static_files_are_still_served_outside_the_api(settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True

    response = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")

    assert response.status_code == 200
    assert b"swagger-ui" in b"".join(response.streaming_content)
