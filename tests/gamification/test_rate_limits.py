"""Rate limits per API key: 429 RATE_LIMITED with Retry-After once the key's rate is spent."""

from __future__ import annotations

import io
import os

import pytest
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from gamification.models import ApiKey
from gamification.rates import CACHE_ALIAS, Rate, rate_limit_wait, rate_parse
from gamification.services import api_key_create
from tests.factories import RealmFactory

pytestmark = pytest.mark.django_db

#: A day-long window, so that no test straddles a window boundary.
RATE = "3/day"


def client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


def statuses(client: APIClient, n: int) -> list[int]:
    return [client.get("/api/v1/games").status_code for _ in range(n)]


@pytest.fixture
def redis_cache(settings):
    """The rate-limit cache on a real Redis (a database of its own, emptied around the test)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs TEST_REDIS_URL (make test starts Redis)")
    settings.CACHES = {
        **settings.CACHES,
        CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url.rsplit("/", 1)[0] + "/7",
        },
    }
    caches[CACHE_ALIAS].clear()
    yield caches[CACHE_ALIAS]
    caches[CACHE_ALIAS].clear()


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("600/minute", Rate(600, 60)),
        ("10/s", Rate(10, 1)),
        ("5/hour", Rate(5, 3600)),
        ("1/day", Rate(1, 86400)),
        (" 20/MIN ", Rate(20, 60)),
    ],
)
def test_rates_parse(text, rate):
    assert rate_parse(text) == rate


@pytest.mark.parametrize("text", ["", "600", "0/minute", "-1/minute", "600/week", "x/minute"])
def test_malformed_rates_are_refused(text):
    with pytest.raises(ValidationError, match="not a rate"):
        rate_parse(text)


@pytest.mark.usefixtures("redis_cache")
def test_over_its_rate_a_key_gets_429_with_retry_after_on_redis():
    _, raw = api_key_create(realm=RealmFactory(slug="limited"), name="server", rate=RATE)
    client = client_for(raw)

    assert statuses(client, 3) == [200, 200, 200]
    response = client.get("/api/v1/games")

    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 86400


def test_the_local_memory_cache_of_the_demo_limits_as_well():
    _, raw = api_key_create(realm=RealmFactory(slug="demo-limited"), name="server", rate=RATE)

    assert statuses(client_for(raw), 4) == [200, 200, 200, 429]


@pytest.mark.usefixtures("redis_cache")
def test_each_key_has_its_own_count():
    realm = RealmFactory(slug="two-keys")
    _, first = api_key_create(realm=realm, name="a", rate=RATE)
    _, second = api_key_create(realm=realm, name="b", rate=RATE)

    assert statuses(client_for(first), 4) == [200, 200, 200, 429]
    assert statuses(client_for(second), 1) == [200]


@pytest.mark.usefixtures("redis_cache")
def test_the_default_rate_applies_to_keys_without_their_own(settings):
    settings.API_KEY_DEFAULT_RATE = "2/day"
    realm = RealmFactory(slug="defaulted")
    _, plain = api_key_create(realm=realm, name="plain")
    _, own = api_key_create(realm=realm, name="own", rate=RATE)

    assert statuses(client_for(plain), 3) == [200, 200, 429]
    assert statuses(client_for(own), 4) == [200, 200, 200, 429]


def test_without_any_rate_a_key_is_not_limited():
    _, raw = api_key_create(realm=RealmFactory(slug="free"), name="server")

    assert set(statuses(client_for(raw), 20)) == {200}


def test_an_unreachable_cache_lets_requests_through(settings):
    settings.CACHES = {
        **settings.CACHES,
        CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        },
    }

    assert rate_limit_wait(key_id=1, rate=Rate(1, 60)) is None
    assert rate_limit_wait(key_id=1, rate=Rate(1, 60)) is None


def test_the_wait_is_what_is_left_of_the_window():
    assert rate_limit_wait(key_id=-1, rate=Rate(1, 60), now=600.0) is None
    assert rate_limit_wait(key_id=-1, rate=Rate(1, 60), now=615.5) == 45.0


def test_create_api_key_takes_a_rate_and_refuses_a_bad_one():
    call_command(
        "create_api_key", realm="rated", name="s", rate="600/minute",
        stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    assert ApiKey.objects.get(realm__slug="rated").rate == "600/minute"

    with pytest.raises(CommandError, match="--rate"):
        call_command(
            "create_api_key", realm="rated", rate="lots",
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert ApiKey.objects.filter(realm__slug="rated").count() == 1
