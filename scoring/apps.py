from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig

if TYPE_CHECKING:
    from gamification.models import Realm


def builtin_strategy_exists(*, realm: Realm, strategy_id: str) -> bool:  # noqa: ARG001
    """Built-ins exist in every realm."""
    from scoring.builtins.registry import UnknownBuiltinStrategy, builtin_get

    try:
        builtin_get(strategy_id)
    except UnknownBuiltinStrategy:
        return False
    return True


class ScoringConfig(AppConfig):
    name = "scoring"

    def ready(self) -> None:
        from gamification.hooks import (
            award_reverser_register,
            badge_condition_compiler_register,
            strategy_exists_register,
        )
        from scoring.conditions import badge_condition_compile
        from scoring.reversals import award_reverse

        strategy_exists_register(kind="builtin", check=builtin_strategy_exists)
        award_reverser_register(reverser=award_reverse)
        badge_condition_compiler_register(badge_condition_compile)
