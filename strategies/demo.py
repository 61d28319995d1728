"""Demo data of the authoring app: one published custom strategy of each DSL type."""

from __future__ import annotations

from typing import Any

from gamification.models import Realm
from strategies import services
from strategies.errors import StrategyInvalid
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.starters import starter_get

#: (family name, starter) of the demo's custom strategies.
DEMO_STRATEGIES = (
    ("Demo speed bonus", "example-speed_bonus"),
    ("Demo weekend bonus", "example-weekend_bonus"),
)


def demo_strategy_ensure(*, realm: Realm, name: str, starter_key: str) -> StrategyDefinition:
    """Return the published version of a demo family, (re)publishing it when none is live.

    The demo realm is a playground: when its newest draft cannot be published (someone saved
    an unfinished program), the starter's program is put back into that draft.
    """
    live = StrategyDefinition.objects.filter(
        realm=realm, name=name, status=StrategyStatus.PUBLISHED
    ).first()
    if live is not None:
        return live
    starter = starter_get(starter_key)
    if starter is None:
        raise LookupError(f"No starter {starter_key!r} for the demo strategy {name!r}.")
    program: dict[str, Any] = {
        "type": starter.type,
        "parent_strategy_id": starter.parent_strategy_id,
        "ast_json": starter.ast_json,
        "description": starter.description,
    }
    latest = StrategyDefinition.objects.filter(realm=realm, name=name).order_by("-version").first()
    if latest is None:
        latest = services.strategy_create(realm=realm, name=name, **program)
    elif latest.status == StrategyStatus.ARCHIVED:
        return services.strategy_rollback(strategy=latest, version=latest.version).strategy
    try:
        return services.strategy_publish(strategy=latest).strategy
    except StrategyInvalid:
        latest = services.strategy_edit(strategy=latest, changes=program).strategy
        return services.strategy_publish(strategy=latest).strategy


def demo_strategies_ensure(*, realm: Realm) -> list[StrategyDefinition]:
    """Return the demo's published custom strategies (DSL_FULL first, then DSL_EXTEND)."""
    return [
        demo_strategy_ensure(realm=realm, name=name, starter_key=key)
        for name, key in DEMO_STRATEGIES
    ]
