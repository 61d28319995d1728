"""Hostile windows and query strings on the metrics API and the admin dashboards: a date that
parses but names no instant, or one at the edge of what a datetime holds, is a typed 400 (a
problem on the page in the admin), and an odd ``?version=`` or ``?realm=`` is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from gamification.services import api_key_create
from tests.factories import member_client
from tests.observability.test_family_dashboards import Family, family

pytestmark = pytest.mark.django_db

BASE = "/api/v1/strategies/custom"

#: Dates the ISO pattern accepts that name no instant, and instants at the edge of datetime.
IMPOSSIBLE = [
    "2024-02-30T00:00:00",
    "2024-13-01T00:00:00Z",
    "2024-01-01T25:00:00",
    "2024-01-01T00:00:00+99:00",
    "2024-01-01T00:00:00+24:00",
    "2024-02-30",
]
OUT_OF_RANGE = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-05:00",
]


@pytest.fixture
def speed() -> Family:
    return family("studio")


@pytest.fixture
def studio_api(speed: Family) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=api_key_create(realm=speed.realm, name="dash")[1])
    return client


@pytest.mark.parametrize("value", IMPOSSIBLE + OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["since", "until"])
def test_a_window_end_that_is_no_usable_instant_is_a_400_naming_it(studio_api, speed, field, value):
    for path, extra in (
        (f"{BASE}/{speed.v1.pk}/metrics", {}),
        (f"{BASE}/compare", {"a": str(speed.v1.pk), "b": str(speed.v2.pk)}),
    ):
        response = studio_api.get(path, {field: value, **extra})

        assert response.status_code == 400, (path, response.content)
        body = response.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert list(body["errors"]) == [field]


def test_the_window_may_reach_close_to_the_edges_of_the_calendar(studio_api, speed):
    response = studio_api.get(
        f"{BASE}/{speed.v1.pk}/metrics",
        {"since": "0002-01-01T00:00:00Z", "until": "0002-12-31T00:00:00Z"},
    )
    assert response.status_code == 200
    assert (response.json()["rows"], response.json()["bucket"]) == (0, "week")
    late = studio_api.get(f"{BASE}/{speed.v1.pk}/metrics", {"until": "9998-12-31T00:00:00Z"})
    assert late.status_code == 200
    assert late.json()["since"] == "9998-12-30T00:00:00Z"


@pytest.mark.parametrize("value", IMPOSSIBLE + OUT_OF_RANGE)
def test_an_admin_dashboard_shows_a_bad_custom_window_as_a_problem(speed, value):
    operator = member_client("otto", speed.realm, "operator")
    pages = [
        reverse("admin:observability_family_dashboard", args=[speed.v1.pk]),
        reverse("admin:observability_dashboard", args=[str(speed.v2.pk)]),
        reverse("admin:observability_compare")
        + f"?a={speed.v1.pk}&b=family:{speed.v2.pk}&window=custom",
    ]
    for page in pages:
        for field in ("since", "until"):
            response = operator.get(page, {"window": "custom", field: value})

            assert response.status_code == 200, (page, field)
            assert 'class="errornote"' in response.content.decode()


@pytest.mark.parametrize("version", ["²", "abc", "-1", "1" * 5000, "99999999999999999999"])
def test_a_family_dashboard_of_a_version_that_cannot_be_is_a_404(speed, version):
    operator = member_client("otto", speed.realm, "operator")
    page = reverse("admin:observability_family_dashboard", args=[speed.v1.pk])

    response = operator.get(page, {"version": version})

    assert response.status_code == 404
    assert operator.get(page, {"version": "2"}).status_code == 200


@pytest.mark.parametrize("realm", ["²", "abc", "-1", "1" * 5000, "9" * 19, "99999999999999999999"])
def test_a_dashboard_of_a_realm_that_cannot_be_is_a_404(speed, admin_client, realm):
    operator = member_client("otto", speed.realm, "operator")
    for client in (operator, admin_client):
        for page in (
            reverse("admin:observability_dashboard_index"),
            reverse("admin:observability_family_dashboard", args=[speed.v1.pk]),
            reverse("admin:observability_compare"),
        ):
            response = client.get(page, {"realm": realm})

            assert response.status_code == 404, page
            assert client.get(page, {"realm": str(speed.realm.pk)}).status_code == 200
