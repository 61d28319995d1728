"""Fixtures of the core domain's tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

import pytest
from django.utils import timezone


@pytest.fixture
def clock(monkeypatch) -> Callable[[datetime], None]:
    """Set the time every ``timezone.now()`` answers (awards and reads), until the test ends."""

    def set_to(moment: datetime) -> None:
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return set_to


@pytest.fixture
def leaderboard_redis(settings):
    """The leaderboard cache on a real Redis (a database of its own, emptied around the test);
    yields a client of that database."""
    import redis

    from gamification.leaderboards import cache

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs TEST_REDIS_URL (make test starts Redis)")
    location = url.rsplit("/", 1)[0] + "/6"
    settings.CACHES = {
        **settings.CACHES,
        cache.CACHE_ALIAS: {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "test",
        },
    }
    settings.LEADERBOARD_CACHE_RETRY_SECONDS = 0
    client = redis.Redis.from_url(location)
    client.flushdb()
    cache.cache_state_reset()
    yield client
    cache.cache_state_reset()
    client.flushdb()
    client.close()
