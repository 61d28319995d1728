from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from gamification.models import ApiKey
from gamification.services import api_key_revoke

pytestmark = pytest.mark.django_db


def test_missing_key_is_a_401_with_a_json_error():
    response = APIClient().get("/api/v1/games")

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("key", ["nonsense", "gk_unknown.secret", ""])
@pytest.mark.usefixtures("realm")
def test_unknown_or_malformed_key_is_a_401(key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)

    response = client.get("/api/v1/games")

    assert response.status_code == 401
    assert response.json()["code"] in {"AUTHENTICATION_FAILED", "NOT_AUTHENTICATED"}


def test_wrong_secret_for_a_known_prefix_is_a_401(api_key_pair):
    api_key, _raw = api_key_pair
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=f"{api_key.prefix}.wrong-secret")

    assert client.get("/api/v1/games").status_code == 401


def test_revoked_key_is_a_401(api, api_key_pair):
    api_key_revoke(api_key=api_key_pair[0])

    response = api.get("/api/v1/games")

    assert response.status_code == 401
    assert response.json() == {
        "code": "AUTHENTICATION_FAILED",
        "detail": "This API key has been revoked.",
    }


def test_keys_are_stored_hashed(api_key_pair):
    api_key, raw = api_key_pair
    stored = ApiKey.objects.get(pk=api_key.pk)

    assert raw.split(".", 1)[1] not in stored.secret_hash
    assert len(stored.secret_hash) == 64


def test_using_a_key_records_when_it_was_last_used(api, api_key_pair):
    api.get("/api/v1/games")

    assert ApiKey.objects.get(pk=api_key_pair[0].pk).last_used_at is not None
