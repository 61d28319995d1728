"""Errors of the scoring service."""

from __future__ import annotations

from typing import Any

from gamification.errors import ConflictError, DomainError, UnprocessableError
from scoring.dsl.errors import DslError


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
        return self.error.as_body()


class BatchTimeBudgetSpent(ScoringError):
    """A batch ran out of its time budget before this event could start; send it again."""

    code = "BATCH_TIME_BUDGET_SPENT"
    http_status = 503
