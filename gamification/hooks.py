"""What the core asks of the apps above it: whether a strategy id names a strategy, and
how to reverse an award.

The core binds games and tasks to strategy ids but cannot know the strategies: scoring
registers the check of built-in names and strategies the check of ``custom:<uuid>`` ids,
each in its ``AppConfig.ready()``. A kind nobody checks is accepted as well-formed. A
reversal moves the stats and boards scoring keeps, so scoring registers it for the admin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

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


class AwardReverser(Protocol):
    def __call__(self, *, realm: Realm, award_id: str, reason: str, user: Any) -> object:
        """Reverse the award ``award_id`` of ``realm`` as ``user``; raise a DomainError."""
        ...


_reversers: list[AwardReverser] = []


def award_reverser_register(*, reverser: AwardReverser) -> None:
    _reversers[:] = [reverser]


def award_reverser() -> AwardReverser | None:
    return _reversers[0] if _reversers else None
