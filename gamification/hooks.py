"""What the core asks of the apps above it: whether a strategy id names a strategy, and
how to reverse an award, and how a badge condition compiles.

The core binds games and tasks to strategy ids but cannot know the strategies: scoring
registers the check of built-in names and strategies the check of ``custom:<uuid>`` ids,
each in its ``AppConfig.ready()``. A kind nobody checks is accepted as well-formed. A
reversal moves the stats and boards scoring keeps, so scoring registers it for the admin;
scoring registers the compiler of badge conditions (the DSL's) the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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


class BadgeConditionRun(Protocol):
    def __call__(
        self, *, data: Mapping[str, Any], values: Mapping[str, Any], deadline: float
    ) -> bool:
        """Whether the condition holds; raises ``ConditionFailed`` when its run fails."""
        ...


@dataclass(frozen=True, slots=True, eq=False)
class BadgeCondition:
    """A compiled badge condition: its id-filled AST, the tasks it counts on, its run."""

    ast: Any
    task_ids: frozenset[str]
    holds: BadgeConditionRun


class ConditionInvalid(Exception):
    """The condition does not validate: ``issues`` as the engine reports them (with pointers)."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(issues[0]["message"] if issues else "invalid condition")
        self.issues = issues


class ConditionFailed(Exception):
    """The condition's run failed (a type mismatch, the budget spent): ``code`` and ``pointer``."""

    def __init__(self, code: str, pointer: str | None) -> None:
        super().__init__(code)
        self.code = code
        self.pointer = pointer


class BadgeConditionCompiler(Protocol):
    def __call__(self, condition: Any) -> BadgeCondition:
        """Validate and compile ``condition``; raises ``ConditionInvalid``."""
        ...


_condition_compiler: list[BadgeConditionCompiler] = []


def badge_condition_compiler_register(compiler: BadgeConditionCompiler) -> None:
    _condition_compiler[:] = [compiler]


def badge_condition_compile(condition: Any) -> BadgeCondition:
    """Compile a badge condition with the registered compiler (scoring's DSL)."""
    assert _condition_compiler, "scoring registers the badge condition compiler when ready"
    return _condition_compiler[0](condition)
