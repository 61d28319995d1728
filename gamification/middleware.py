"""The HTTP edge: refuse what the application cannot take, and answer 503 while the database
is away, all in the API's error shape; and keep what only the admin needs off the API."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.middleware.csrf import CsrfViewMiddleware
from whitenoise.middleware import WhiteNoiseMiddleware

from gamification.errors import (
    DomainError,
    InvalidHeader,
    InvalidString,
    PayloadTooLarge,
    database_unavailable,
    error_response,
    service_unavailable_response,
)

#: A NUL or an unpaired UTF-16 surrogate: PostgreSQL stores neither in text, and the driver
#: cannot even encode a surrogate, so a lookup with one fails as a 500.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_WHAT = "a NUL character or an unpaired UTF-16 surrogate"


def _body_length_refused(request: HttpRequest) -> DomainError | None:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = request.META.get("CONTENT_LENGTH") or "0"
    # int() would take " 12", "+12" or "1_2"; a length is digits only, and anything else
    # fails further on (the metrics middleware parses it) as a 500.
    if not raw.isascii() or not raw.isdigit():
        return InvalidHeader(
            "The Content-Length header is not a number of bytes.",
            location="header",
            parameter="Content-Length",
        )
    # No body reaches 10^18 bytes, and int() refuses 4 300 digits.
    length = int(raw) if len(raw) <= 18 else None
    if limit is not None and (length is None or length > limit):
        size = f"{length} bytes" if length is not None else "over 10^18 bytes"
        return PayloadTooLarge(
            f"The request body is {size}; at most {limit} are accepted.", maxBytes=limit
        )
    return None


def _nul_in_url_or_headers(request: HttpRequest) -> DomainError | None:
    # A lookup with either would fail as a 500, so it stops here.
    if _UNSTORABLE.search(request.path_info):
        return InvalidString(f"The URL path holds {_WHAT}.", location="path")
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or _UNSTORABLE.search(query):
        for name, values in request.GET.lists():
            if _UNSTORABLE.search(name) or any(_UNSTORABLE.search(value) for value in values):
                return InvalidString(
                    f"A query parameter holds {_WHAT}.", location="query", parameter=name
                )
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and _UNSTORABLE.search(value):
            return InvalidString(
                f"A header holds {_WHAT}.",
                location="header",
                parameter=key[5:].replace("_", "-").title(),
            )
    return None


class RequestLimitsMiddleware:
    """Refuse a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 ``PAYLOAD_TOO_LARGE``) before
    anything reads it, and a NUL or an unpaired surrogate in the URL path, a query parameter
    or a header (400
    ``INVALID_STRING``) before anything looks it up."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        error = _body_length_refused(request) or _nul_in_url_or_headers(request)
        if error is not None:
            return error_response(error)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Answer 503 ``SERVICE_UNAVAILABLE`` with ``Retry-After`` when a view outside DRF finds
    the database unreachable (DRF views get the same answer from the exception handler)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:  # noqa: ARG002 - Django hook
        if database_unavailable(exception):
            return service_unavailable_response(exception)
        return None


def api_request(request: HttpRequest) -> bool:
    """Whether ``request`` is an API call (authenticated by its key, never by a session)."""
    return request.path_info.startswith(settings.API_PATH_PREFIX)


class SiteOnly:
    """Skip this middleware for requests under ``API_PATH_PREFIX``.

    API calls authenticate with a key (``gamification.auth``), never with a session or a
    CSRF token, send no messages and fetch no static files; building a session, a CSRF check,
    a lazy user and a message store for each of them is pure cost. Pages outside the API (the
    admin, the probes) get the middleware unchanged.
    """

    get_response: Any

    def __call__(self, request: HttpRequest) -> Any:
        if api_request(request):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class SiteStaticFilesMiddleware(SiteOnly, WhiteNoiseMiddleware):
    pass


class SiteSessionMiddleware(SiteOnly, SessionMiddleware):
    pass


class SiteCsrfViewMiddleware(SiteOnly, CsrfViewMiddleware):
    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        if api_request(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class SiteAuthenticationMiddleware(SiteOnly, AuthenticationMiddleware):
    pass


class SiteMessageMiddleware(SiteOnly, MessageMiddleware):
    pass


WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def chunked_body_buffered(application: WsgiApplication) -> WsgiApplication:
    """Wrap a WSGI application so that a chunked request body reaches Django with a length.

    Django reads exactly ``CONTENT_LENGTH`` bytes of a body, so without that header a chunked
    body would be read as empty. When the server has decoded the chunks and says so
    (``wsgi.input_terminated``, as gunicorn does), the body is read up to one byte past the
    request limit and handed on with its length: RequestLimitsMiddleware then refuses a longer
    one with 413, as it refuses a long Content-Length. Nothing more than that is ever read.
    """

    def buffered(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if (
            not environ.get("CONTENT_LENGTH")
            and environ.get("wsgi.input_terminated")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        ):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = environ["wsgi.input"]
            body = stream.read() if limit is None else stream.read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return application(environ, start_response)

    return buffered
