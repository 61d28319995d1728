"""Liveness and readiness probes, the Prometheus endpoint, and Django's error views: in the
API's JSON shape, except the admin's 403 and 404, which are pages for the people using it."""

from __future__ import annotations

import hmac
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django_prometheus.exports import ExportToDjangoView

from gamification.errors import (
    PayloadTooLarge,
    database_unavailable,
    error_response,
    service_unavailable_response,
)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:  # noqa: ARG001 - Django view
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return f"{type(exc).__name__}: {exc}"
    return None


def _broker_ok() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return None
    import redis

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"
    return None


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:  # noqa: ARG001 - Django view
    """The database and, when configured, the broker answer."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(problem is None for problem in checks.values())
    shown = {name: problem or "ok" for name, problem in checks.items()}
    if not settings.CELERY_BROKER_URL:
        shown["broker"] = "not configured (tasks run in-process)"
    body = {"status": "ok" if ready else "unavailable", "checks": shown}
    return JsonResponse(body, status=200 if ready else 503)


def _bearer_token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time: the comparison must not tell how much of a guess was right.
    return hmac.compare_digest(
        credentials.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace")
    )


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Serve Prometheus metrics (every worker's in multiprocess mode), behind a bearer token
    when ``METRICS_BEARER_TOKEN`` is set."""
    token = settings.METRICS_BEARER_TOKEN
    if token and not _bearer_token_matches(request, token):
        supplied = "Authorization" in request.headers
        response = JsonResponse(
            {
                "code": "AUTHENTICATION_FAILED" if supplied else "NOT_AUTHENTICATED",
                "detail": "The metrics need the bearer token of METRICS_BEARER_TOKEN.",
            },
            status=401,
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    return ExportToDjangoView(request)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:  # noqa: ARG001 - Django handler
    """Django's 400 (a suspicious request) in the API's error shape; a body over the limit is
    a 413."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(
            PayloadTooLarge(f"The request body is over the limit of {limit} bytes.", maxBytes=limit)
        )
    return JsonResponse({"code": "BAD_REQUEST", "detail": "The request is malformed."}, status=400)


#: Where the admin is mounted (``gamification.urls``): its error answers are HTML pages.
ADMIN_PREFIX = "/admin/"


def _admin_page(request: HttpRequest) -> bool:
    """A page of the admin, as opposed to one of the JSON endpoints its editor calls."""
    if not request.path.startswith(ADMIN_PREFIX):
        return False
    wants_json = request.content_type == "application/json" or "application/json" in (
        request.headers.get("Accept") or ""
    )
    return not wants_json


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _admin_page(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse(
        {"code": "PERMISSION_DENIED", "detail": "You do not have permission for this."},
        status=403,
    )


def server_error(request: HttpRequest) -> JsonResponse:  # noqa: ARG001 - Django handler
    """Answer unexpected failures in the API's error shape instead of an HTML page.

    Django calls this while it handles the exception, so a database that went away while
    middleware used it (a session saved on the way out) is still told apart: 503.
    """
    exception = sys.exception()
    if database_unavailable(exception):
        return service_unavailable_response(exception)
    return JsonResponse(
        {"code": "INTERNAL_ERROR", "detail": "An unexpected error occurred; it has been logged."},
        status=500,
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _admin_page(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse({"code": "NOT_FOUND", "detail": "No such resource."}, status=404)
