"""Demo data of the authoring app: one published custom strategy of each DSL type."""

from __future__ import annotations

from gamification.models import Realm
from strategies import services
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.starters import starter_get

#: (family name, starter) of the demo's custom strategies.
DEMO_STRATEGIES = (
    ("Demo speed bonus", "example-speed_bonus"),
    ("Demo weekend bonus", "example-weekend_bonus"),
)


def demo_strategy_ensure(*, realm: Realm, name: str, starter_key: str) -> StrategyDefinition:
    """Return the published version of a demo family, creating and publishing it once."""
    live = StrategyDefinition.objects.filter(
        realm=realm, name=name, status=StrategyStatus.PUBLISHED
    ).first()
    if live is not None:
        return live
    latest = StrategyDefinition.objects.filter(realm=realm, name=name).order_by("-version").first()
    if latest is None:
        starter = starter_get(starter_key)
        latest = services.strategy_create(
            realm=realm,
            name=name,
            type=starter.type,
            parent_strategy_id=starter.parent_strategy_id,
            ast_json=starter.ast_json,
            description=starter.description,
        )
    if latest.status == StrategyStatus.ARCHIVED:
        return services.strategy_rollback(strategy=latest, version=latest.version).strategy
    return services.strategy_publish(strategy=latest).strategy


def demo_strategies_ensure(*, realm: Realm) -> list[StrategyDefinition]:
    """Return the demo's published custom strategies (DSL_FULL first, then DSL_EXTEND)."""
    return [
        demo_strategy_ensure(realm=realm, name=name, starter_key=key)
        for name, key in DEMO_STRATEGIES
    ]
