"""The registry of built-in strategies, addressed by stable public ids."""

from __future__ import annotations

import hashlib
import inspect
from functools import cache

from scoring.builtins.base import BuiltinStrategy
from scoring.builtins.constant_effort import ConstantEffortStrategy
from scoring.builtins.default import DefaultStrategy

_STRATEGIES: dict[str, BuiltinStrategy] = {
    strategy.id: strategy for strategy in (DefaultStrategy(), ConstantEffortStrategy())
}

#: Ids of the reference system that games migrated from it still carry.
ALIASES: dict[str, str] = {"constantEffortStrategy": "constant_effort"}


class UnknownBuiltinStrategy(LookupError):
    """No built-in strategy answers to this id."""


def builtin_get(strategy_id: str) -> BuiltinStrategy:
    """Return the built-in registered under ``strategy_id`` or one of its aliases."""
    try:
        return _STRATEGIES[ALIASES.get(strategy_id, strategy_id)]
    except KeyError:
        raise UnknownBuiltinStrategy(strategy_id) from None


def builtin_exists(strategy_id: str) -> bool:
    return ALIASES.get(strategy_id, strategy_id) in _STRATEGIES


def builtin_list() -> list[BuiltinStrategy]:
    """Return every built-in, ordered by id."""
    return [_STRATEGIES[key] for key in sorted(_STRATEGIES)]


@cache
def builtin_version_hash(strategy_id: str) -> str:
    """Return a short hash of the built-in's source, so a code change shows as a new version."""
    strategy = builtin_get(strategy_id)
    source = inspect.getsource(type(strategy)).encode()
    return hashlib.sha256(source).hexdigest()[:12]
