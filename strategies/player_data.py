"""The backtests' section of a player's data: the reports whose top movers name the player."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gamification.models import Player, Realm
from gamification.player_data.core import iso
from gamification.player_data.sections import Erasure, keyset_chunks
from strategies.models import Backtest


def _mentions(realm: Realm, external_user_id: str) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield the realm's backtests (as dicts) whose report names the player, with its index.

    A realm has few backtests (each is asked for by a person), so the reports are read in
    chunks and searched here rather than by a JSON query each database spells its own way.
    """
    rows = Backtest.objects.filter(realm=realm, result__isnull=False)
    fields = ("id", "strategy_id", "created_at", "result")
    for chunk in keyset_chunks(rows, key=("id",), fields=fields):
        for row in chunk:
            movers = (row["result"] or {}).get("top_movers") or []
            for index, mover in enumerate(movers):
                if isinstance(mover, dict) and mover.get("external_user_id") == external_user_id:
                    yield row, index


class BacktestMentionsSection:
    """A backtest's top movers name players; erased, they name the tombstone."""

    name = "backtest_mentions"

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:
        for row, index in _mentions(realm, player.external_user_id):
            mover = row["result"]["top_movers"][index]
            yield {
                "backtest_id": str(row["id"]),
                "strategy_id": str(row["strategy_id"]),
                "created_at": iso(row["created_at"]),
                "before": mover.get("before"),
                "after": mover.get("after"),
            }

    def erase(self, *, erasure: Erasure) -> int:
        changed: dict[Any, dict[str, Any]] = {}
        for row, index in _mentions(erasure.realm, erasure.external_user_id):
            result = changed.setdefault(row["id"], row["result"])
            result["top_movers"][index]["external_user_id"] = erasure.tombstone.external_user_id
        for backtest_id, result in changed.items():
            Backtest.objects.filter(pk=backtest_id).update(result=result)
        return len(changed)
