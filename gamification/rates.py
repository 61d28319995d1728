"""Rate limits of API keys: ``<count>/<period>`` in fixed windows counted in the cache.

One window per key and period; the first request of a window creates its counter with the
window's lifetime. On Redis the count is one ``INCR`` and ``EXPIRE`` in a single round trip;
the local-memory cache of the demo counts in-process. When the cache cannot be reached the
request is let through: a limit protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ValidationError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CACHE_ALIAS = "rate_limits"

_PERIODS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}  # fmt: skip
_RATE = re.compile(r"(?P<count>[1-9][0-9]{0,8})/(?P<period>[a-z]+)")


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    seconds: int


def rate_parse(text: str) -> Rate:
    """Parse ``600/minute`` (periods: second, minute, hour, day, or s, m, h, d)."""
    match = _RATE.fullmatch(text.strip().lower())
    if match is None or match["period"] not in _PERIODS:
        raise ValidationError(
            f"{text!r} is not a rate such as 600/minute (a count, then /second, /minute, "
            "/hour or /day)."
        )
    return Rate(count=int(match["count"]), seconds=_PERIODS[match["period"]])


def rate_validate(text: str) -> None:
    """Model and form validator: an empty value means the default rate."""
    if text:
        rate_parse(text)


def rate_limit_wait(
    *, key_id: int, rate: Rate, now: float | None = None, cost: int = 1
) -> float | None:
    """Count ``cost`` requests of key ``key_id``; return the seconds to wait when over ``rate``.

    A batch of events costs one request per event, so it is refused whole once it would take
    the window over the rate: what it counted stays counted, as a refused request's does.
    """
    moment = time.time() if now is None else now
    window = int(moment // rate.seconds)
    cache_key = f"rate:{key_id}:{rate.seconds}:{window}"
    try:
        count = _count(cache_key, lifetime=rate.seconds + 1, cost=cost)
    except (RedisError, OSError) as error:
        logger.warning("Rate-limit cache unavailable; request let through: %r", error)
        return None
    if count <= rate.count:
        return None
    return max(1.0, math.ceil((window + 1) * rate.seconds - moment))


def _count(cache_key: str, *, lifetime: int, cost: int) -> int:
    cache = caches[CACHE_ALIAS]
    if isinstance(cache, RedisCache):
        # Django's own client for this key, so that one pipeline is one round trip.
        key = cache.make_and_validate_key(cache_key)
        client = cache._cache.get_client(key, write=True)
        pipe = client.pipeline(transaction=False)
        pipe.incrby(key, cost)
        pipe.expire(key, lifetime, nx=True)
        count, _ = pipe.execute()
        return int(count)
    if cache.add(cache_key, cost, lifetime):
        return cost
    try:
        return int(cache.incr(cache_key, cost))
    except ValueError:  # expired between add and incr
        cache.add(cache_key, cost, lifetime)
        return cost
