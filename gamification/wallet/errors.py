"""Refusals of wallet operations."""

from __future__ import annotations

from gamification.errors import ConflictError, DomainError, UnprocessableError


class WalletError(DomainError):
    """Base of the wallet's refusals."""


class InsufficientPoints(WalletError, ConflictError):
    code = "INSUFFICIENT_POINTS"


class ConversionNotConfigured(WalletError, ConflictError):
    code = "CONVERSION_RATE_NOT_SET"


class ConversionNotWholeCoins(WalletError, UnprocessableError):
    code = "CONVERSION_NOT_WHOLE_COINS"


class ConversionIdempotencyKeyReused(WalletError, ConflictError):
    code = "IDEMPOTENCY_KEY_REUSED"


class AdjustmentInvalid(WalletError):
    code = "ADJUSTMENT_INVALID"
