"""Refusals of the strategy authoring service, each with a stable code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gamification.errors import ConflictError, DomainError, NotFoundError


class StrategyError(DomainError):
    """Base of the authoring service's refusals (400 unless a subclass says otherwise)."""


class StrategyInvalid(StrategyError):
    """The program does not validate: every issue with its JSON pointer and node id."""

    code = "DSL_VALIDATION_ERROR"

    def __init__(self, issues: Iterable[Any], detail: str | None = None) -> None:
        errors = [issue.as_dict() if hasattr(issue, "as_dict") else dict(issue) for issue in issues]
        first = errors[0]["message"] if errors else "The program is invalid."
        super().__init__(detail or f"The program is invalid: {first}", errors=errors)
        self.errors = errors


class StrategyDefinitionNotFound(StrategyError, NotFoundError):
    code = "STRATEGY_NOT_FOUND"


class StrategyVersionNotFound(StrategyError, NotFoundError):
    code = "STRATEGY_VERSION_NOT_FOUND"


class StrategyArchived(StrategyError, ConflictError):
    """Archived versions are read-only."""

    code = "STRATEGY_ARCHIVED"


class StrategyNameTaken(StrategyError, ConflictError):
    code = "STRATEGY_NAME_TAKEN"


class StrategyStateConflict(StrategyError, ConflictError):
    """The requested transition does not apply to the version's current status."""

    code = "STRATEGY_STATUS_CONFLICT"


class ExperimentError(StrategyError):
    """Base of the refusals of experiments (400 unless a subclass says otherwise)."""


class ExperimentNotFound(ExperimentError, NotFoundError):
    code = "EXPERIMENT_NOT_FOUND"


class ExperimentConflict(ExperimentError, ConflictError):
    """The family's state does not allow the step: ``code`` says why."""

    code = "EXPERIMENT_CONFLICT"


class BacktestNotFound(StrategyError, NotFoundError):
    code = "BACKTEST_NOT_FOUND"


class BacktestLimitReached(StrategyError, ConflictError):
    """The realm has as many backtests queued or running as it may have at once."""

    code = "BACKTEST_LIMIT_REACHED"
