"""What the core asks of the apps above it: whether a strategy id names a strategy.

The core binds games and tasks to strategy ids but cannot know the strategies: scoring
registers the check of built-in names and strategies the check of ``custom:<uuid>`` ids,
each in its ``AppConfig.ready()``. A kind nobody checks is accepted as well-formed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from gamification.models import Realm

StrategyIdKind = Literal["builtin", "custom"]


class StrategyExists(Protocol):
    def __call__(self, *, realm: Realm, strategy_id: str) -> bool:
        """Whether ``strategy_id`` names a strategy ``realm`` may bind to."""
        ...


_checks: dict[str, StrategyExists] = {}


def strategy_exists_register(*, kind: StrategyIdKind, check: StrategyExists) -> None:
    _checks[kind] = check


def strategy_exists_check(kind: StrategyIdKind) -> StrategyExists | None:
    return _checks.get(kind)
