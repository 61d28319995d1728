"""The execution logs' section of a player's data: the logged runs of the player's events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_datetime

from gamification.models import Player, Realm
from gamification.player_data.core import iso
from gamification.player_data.sections import Erasure, keyset_chunks
from gamification.player_data.selectors import players_erased_find
from observability.models import ExecutionLogDeadLetter, StrategyExecutionLog


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
            external_user_id=erasure.tombstone.external_user_id, **SCRUBBED
        )


#: What an erased player's run keeps of its inputs and of what it did: nothing.
SCRUBBED: dict[str, Any] = {
    "data": {},
    "fields": {},
    "analytics": None,
    "parent_data": None,
    "trace": None,
    "callback_data": None,
    "correlation_id": None,
}


def _moment(value: datetime | str) -> datetime:
    """A row's time: the worker's rows carry it as the ISO text the observer wrote."""
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a time: {value!r}")
    return parsed


def late_rows_scrub(logs: list[StrategyExecutionLog]) -> None:
    """Scrub the rows of runs of players erased since the run (they were still queued).

    One query per batch, for the batch's players; a run after the erasure is of a new player
    of the same id and is kept as it is.
    """
    players = {
        (log.realm_id, log.external_user_id)
        for log in logs
        if log.realm_id is not None and log.external_user_id
    }
    erased = players_erased_find(players=players)
    if not erased:
        return
    for log in logs:
        if log.realm_id is None:
            continue
        found = erased.get((log.realm_id, log.external_user_id))
        if found is not None and _moment(log.created_at) < found.erased_at:
            log.external_user_id = found.tombstone
            for name, value in SCRUBBED.items():
                setattr(log, name, value)


def _letter_rows(payload: str) -> list[Any] | None:
    """The rows of a dead letter's payload (a batch or one row), None when it is no JSON."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else [parsed]


def _names(row: Any, realm: Realm, external_user_id: str) -> bool:
    return (
        isinstance(row, dict)
        and row.get("external_user_id") == external_user_id
        and row.get("realm_id") == realm.pk
    )


class DeadLettersSection:
    """Rows the log worker could not persist keep what the run was given, as text.

    A letter's rows are the player's when they carry the realm's id and the external id; a
    letter of the realm that is not JSON (cut, undecodable) and holds the id loses its
    payload on erasure, since its rows cannot be told apart.
    """

    name = "execution_log_dead_letters"

    def _letters(self, realm: Realm, external_user_id: str) -> Iterator[list[dict[str, Any]]]:
        rows = ExecutionLogDeadLetter.objects.filter(
            Q(realm=realm) | Q(realm__isnull=True), payload__contains=external_user_id
        )
        fields = ("id", "created_at", "reason", "realm_id", "payload")
        yield from keyset_chunks(rows, key=("created_at", "id"), fields=fields)

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:
        for chunk in self._letters(realm, player.external_user_id):
            for letter in chunk:
                rows = _letter_rows(letter["payload"])
                if rows is None and letter["realm_id"] != realm.pk:
                    continue
                yield {
                    "id": str(letter["id"]),
                    "created_at": iso(letter["created_at"]),
                    "reason": letter["reason"],
                    "rows": None
                    if rows is None
                    else [row for row in rows if _names(row, realm, player.external_user_id)],
                    "payload": letter["payload"] if rows is None else None,
                }

    def erase(self, *, erasure: Erasure) -> int:
        changed = 0
        for chunk in self._letters(erasure.realm, erasure.external_user_id):
            for letter in chunk:
                rows = _letter_rows(letter["payload"])
                if rows is None:
                    if letter["realm_id"] != erasure.realm.pk:
                        continue
                    payload = ""
                else:
                    named = [r for r in rows if _names(r, erasure.realm, erasure.external_user_id)]
                    if not named:
                        continue
                    for row in named:
                        row.update(SCRUBBED, external_user_id=erasure.tombstone.external_user_id)
                    payload = json.dumps(rows if len(rows) != 1 else rows[0], default=str)
                ExecutionLogDeadLetter.objects.filter(pk=letter["id"]).update(payload=payload)
                changed += 1
        return changed
