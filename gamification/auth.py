"""API-key authentication for game servers: ``X-API-Key: <prefix>.<secret>``."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from gamification.models import ApiKey, Realm
from gamification.rates import Rate, rate_limit_wait, rate_parse

HEADER = "X-API-Key"
#: How long a process trusts a key it has already checked. Revoking a key through
#: ``api_key_revoke`` takes effect at once in that process and within this delay elsewhere.
KEY_CACHE_SECONDS = 10.0
_key_cache: dict[str, tuple[float, ApiKey]] = {}
#: last_used_at is refreshed at most this often, so that authenticating is not a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _api_key_lookup(prefix: str) -> ApiKey | None:
    """Return the key with this public prefix, from a short-lived per-process cache."""
    cached = _key_cache.get(prefix)
    now = time.monotonic()
    if cached is not None and cached[0] > now:
        return cached[1]
    api_key = ApiKey.objects.select_related("realm").filter(prefix=prefix).first()
    if api_key is not None:
        _key_cache[prefix] = (now + KEY_CACHE_SECONDS, api_key)
    return api_key


def api_key_cache_forget(prefix: str) -> None:
    _key_cache.pop(prefix, None)


@dataclass(frozen=True, slots=True)
class ApiClient:
    """The authenticated caller: a game server acting for one realm."""

    api_key: ApiKey

    @property
    def realm(self) -> Realm:
        return self.api_key.realm

    is_authenticated = True
    is_anonymous = False


def api_key_authenticated(*, raw: str) -> ApiKey:
    """Return the live key an ``X-API-Key`` value names, or raise AuthenticationFailed.

    The key's ``last_used_at`` is refreshed at most once a LAST_USED_RESOLUTION.
    ``ApiKeyAuthentication`` and the award endpoint's lean path both authenticate with it.
    """
    prefix, _, secret = raw.strip().partition(".")
    if not prefix or not secret:
        raise exceptions.AuthenticationFailed("Malformed API key.")
    api_key = _api_key_lookup(prefix)
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(secret)):
        raise exceptions.AuthenticationFailed("Unknown API key.")
    if api_key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        raw = request.headers.get(HEADER)
        if raw is None:
            return None
        api_key = api_key_authenticated(raw=raw)
        return ApiClient(api_key), api_key

    def authenticate_header(self, request: Request) -> str:  # noqa: ARG002 - DRF hook
        return HEADER


class HasRealm(permissions.BasePermission):
    """Allow callers authenticated with an API key (every query is then scoped to its realm)."""

    def has_permission(self, request: Request, view: object) -> bool:  # noqa: ARG002 - DRF hook
        return isinstance(request.auth, ApiKey)


def request_realm(request: Request) -> Realm:
    return request_api_key(request).realm


def request_api_key(request: Request) -> ApiKey:
    """The caller's key; ``HasRealm`` admitted only requests authenticated with one."""
    return cast(ApiKey, request.auth)


_default_rate: tuple[str | None, Rate | None] = (None, None)


def _rate_of(api_key: ApiKey) -> Rate | None:
    global _default_rate
    if api_key.rate:
        return rate_parse(api_key.rate)
    text = settings.API_KEY_DEFAULT_RATE
    if _default_rate[0] != text:
        _default_rate = (text, rate_parse(text) if text else None)
    return _default_rate[1]


def api_key_rate_wait(*, api_key: ApiKey, cost: int = 1) -> float | None:
    """Count ``cost`` requests of ``api_key``; return the seconds to wait when over its rate.

    ``ApiKeyRateThrottle`` and the award endpoint's lean path both limit with it; a batch of
    awards counts its further events with it.
    """
    rate = _rate_of(api_key)
    if rate is None:
        return None
    return rate_limit_wait(key_id=api_key.pk, rate=rate, cost=cost)


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """The key's own rate, else ``API_KEY_DEFAULT_RATE``; no rate means no limit.

    Over the limit DRF answers 429 (``RATE_LIMITED``) with ``Retry-After``.
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: object) -> bool:  # noqa: ARG002 - DRF hook
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        self._wait = api_key_rate_wait(api_key=api_key)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
