"""The execution logs' section of a player's data: the logged runs of the player's events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gamification.models import Player, Realm
from gamification.player_data.core import iso
from gamification.player_data.sections import Erasure, keyset_chunks
from observability.models import StrategyExecutionLog


class ExecutionLogsSection:
    """Every kept run of the player's events; erased, a row keeps its outcome and timing and
    loses what the run was given and did (inputs, fields, analytics, parent data, trace,
    callback data and the correlation id, which may be the game server's idempotency key)."""

    name = "execution_logs"
    FIELDS = (
        "id",
        "created_at",
        "strategy_id",
        "strategy_version",
        "external_game_id",
        "external_task_id",
        "correlation_id",
        "status",
        "error_code",
        "points",
        "case_name",
        "callback_data",
        "data",
        "fields",
        "analytics",
        "parent_data",
        "trace",
    )

    def _rows(self, realm: Realm, external_user_id: str) -> Any:
        return StrategyExecutionLog.objects.filter(realm=realm, external_user_id=external_user_id)

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:
        # Newest first along the (realm, created_at) index; id breaks ties.
        rows = self._rows(realm, player.external_user_id)
        for chunk in keyset_chunks(rows, key=("created_at", "id"), fields=self.FIELDS):
            for row in chunk:
                yield {**row, "id": str(row["id"]), "created_at": iso(row["created_at"])}

    def erase(self, *, erasure: Erasure) -> int:
        return self._rows(erasure.realm, erasure.external_user_id).update(
            external_user_id=erasure.tombstone.external_user_id,
            data={},
            fields={},
            analytics=None,
            parent_data=None,
            trace=None,
            callback_data=None,
            correlation_id=None,
        )
