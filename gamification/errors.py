"""Domain errors of the core app and the one DRF exception handler that maps every error
of the project to the same JSON shape: ``{"code": "...", "detail": "...", ...}``."""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypeGuard, runtime_checkable

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


@runtime_checkable
class HttpMappedError(Protocol):
    """An error that knows its HTTP answer: the domain errors, and the engine's DSL errors,
    which cannot import this module (the engine depends on no app)."""

    http_status: int

    def as_body(self) -> dict[str, Any]: ...


class DomainError(Exception):
    """A business rule refused the request; ``code`` is stable and machine-readable."""

    code = "ERROR"
    http_status: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    def as_body(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra}


class NotFoundError(DomainError):
    code = "NOT_FOUND"
    http_status = status.HTTP_404_NOT_FOUND


class ConflictError(DomainError):
    code = "CONFLICT"
    http_status = status.HTTP_409_CONFLICT


class UnprocessableError(DomainError):
    code = "UNPROCESSABLE"
    http_status = status.HTTP_422_UNPROCESSABLE_ENTITY


class JsonInvalid(DomainError):
    """The body is not a JSON document the API accepts (syntax, numbers, nesting)."""

    code = "PARSE_ERROR"


class InvalidString(DomainError):
    """A string holds a character no column can store: NUL or an unpaired UTF-16 surrogate.

    JSON bodies say where with ``pointer`` (RFC 6901); URLs and headers with ``location``
    and ``parameter``.
    """

    code = "INVALID_STRING"


class InvalidHeader(DomainError):
    """A header the request cannot be read with, such as a Content-Length that is no number."""

    code = "INVALID_HEADER"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


#: What a 503 asks clients to wait before retrying, in seconds.
RETRY_AFTER_SECONDS = 5


def database_unavailable(exc: BaseException | None) -> TypeGuard[OperationalError | InterfaceError]:
    """Whether ``exc`` means the database cannot be reached or used right now.

    OperationalError covers a refused or cut connection, too many clients, a cancelled
    statement and a lock timeout: all worth retrying. InterfaceError is a connection that is
    already unusable.
    """
    return isinstance(exc, OperationalError | InterfaceError)


#: SQLSTATEs with which PostgreSQL ends one transaction for a concurrent one to go on: a
#: deadlock broken, a serialization failure, a lock not available.
_CONFLICT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def database_conflict(exc: BaseException | None) -> bool:
    """Whether ``exc`` is the database ending this transaction to let a concurrent one go on:
    the database is there, and the same request sent again normally succeeds."""
    return isinstance(exc, OperationalError) and (
        getattr(exc.__cause__, "sqlstate", None) in _CONFLICT_SQLSTATES
    )


def _service_unavailable_body(exc: BaseException) -> dict[str, str]:
    detail = (
        "The request conflicted with a concurrent one and was rolled back; send it again."
        if database_conflict(exc)
        else "The database is unavailable; retry later."
    )
    return {"code": "SERVICE_UNAVAILABLE", "detail": detail}


def _log_database_unavailable(exc: BaseException) -> None:
    what = "database conflict" if database_conflict(exc) else "database unavailable"
    logger.warning("%s: %s: %s", what, type(exc).__name__, exc)


def service_unavailable_response(exc: BaseException) -> JsonResponse:
    """The 503 of a view outside DRF whose database went away."""
    _log_database_unavailable(exc)
    return JsonResponse(
        _service_unavailable_body(exc),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def error_response(error: DomainError) -> JsonResponse:
    """A domain error as answered by a view outside DRF (middleware, admin JSON endpoints)."""
    return JsonResponse(error.as_body(), status=error.http_status)


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "NOT_AUTHENTICATED",
    exceptions.AuthenticationFailed: "AUTHENTICATION_FAILED",
    exceptions.PermissionDenied: "PERMISSION_DENIED",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.ParseError: "PARSE_ERROR",
    exceptions.Throttled: "RATE_LIMITED",
    exceptions.ValidationError: "VALIDATION_ERROR",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:  # noqa: ARG001 - DRF handler
    """Render every known error as ``{"code", "detail", ...}`` with its HTTP status."""
    if isinstance(exc, HttpMappedError):
        return Response(exc.as_body(), status=exc.http_status)
    if database_unavailable(exc):
        _log_database_unavailable(exc)
        return Response(
            _service_unavailable_body(exc),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "ERROR")
    if isinstance(exc, exceptions.ValidationError):
        body: dict[str, Any] = {
            "code": code,
            "detail": "The request is invalid; see errors.",
            "errors": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    else:
        body = {"code": code, "detail": str(exc.detail)}
    headers = {}
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait:
        headers["Retry-After"] = str(int(wait))
    return Response(body, status=exc.status_code, headers=headers)
