"""Errors of the scoring service and how engine (DSL) errors are shown to API callers."""

from __future__ import annotations

from typing import Any

from rest_framework import status

from gamification.errors import ConflictError, DomainError, UnprocessableError
from scoring.dsl.errors import DslError, DslValidationError


class ScoringError(DomainError):
    """Base of the scoring service's refusals."""


class StrategyNotFound(ScoringError, UnprocessableError):
    code = "STRATEGY_NOT_FOUND"


class StrategyNotPublished(ScoringError, ConflictError):
    code = "STRATEGY_NOT_PUBLISHED"


class TaskClosed(ScoringError, ConflictError):
    code = "TASK_CLOSED"


class IdempotencyKeyReused(ScoringError, ConflictError):
    code = "IDEMPOTENCY_KEY_REUSED"


class StrategyFailed(ScoringError, UnprocessableError):
    """A strategy raised while scoring: the award is refused with the engine's error."""

    def __init__(self, error: DslError) -> None:
        super().__init__(error.message, code=error.code)
        self.error = error

    def as_body(self) -> dict[str, Any]:
        return dsl_error_response_body(self.error)


def dsl_error_response_body(error: DslError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": error.code,
        "detail": error.message,
        "nodeId": error.node_id,
        "pointer": error.pointer,
    }
    if isinstance(error, DslValidationError):
        body["errors"] = [issue.as_dict() for issue in error.issues]
    return body


def dsl_error_status(error: DslError) -> int:
    """Validation problems are bad input (400); failures of a valid program are 422."""
    if isinstance(error, DslValidationError):
        return status.HTTP_400_BAD_REQUEST
    return status.HTTP_422_UNPROCESSABLE_ENTITY
