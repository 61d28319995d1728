"""Reads of custom strategies."""

from __future__ import annotations

from gamification.models import Realm
from scoring.errors import StrategyNotFound


def strategy_resolve_custom(*, realm: Realm, strategy_id: str):
    """Return the PUBLISHED version of the custom strategy family bound as ``strategy_id``."""
    raise StrategyNotFound(f"No strategy {strategy_id!r}.")
