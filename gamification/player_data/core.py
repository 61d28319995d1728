"""The core domain's sections of a player's data: awards, task stats, leaderboard entries and
the webhook deliveries that name the player."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from gamification.leaderboards.cache import cache_game_drop
from gamification.models import (
    Award,
    LeaderboardEntry,
    Player,
    PlayerTaskStats,
    Realm,
    Task,
    WebhookAttempt,
    WebhookEventType,
    WebhookMessage,
)
from gamification.player_data.sections import Erasure, keyset_chunks


def iso(moment: datetime | date | None) -> str | None:
    """Return ``moment`` as the API writes times (UTC with ``Z``), None as None."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class _TaskNames:
    external_game_id: str
    external_task_id: str


def _player_tasks(player: Player) -> dict[int, _TaskNames]:
    """The tasks the player has awards on, by id: every award adds to its task's stats row."""
    rows = PlayerTaskStats.objects.filter(player=player).values_list(
        "task_id", "task__game__external_game_id", "task__external_task_id"
    )
    return {task_id: _TaskNames(game, task) for task_id, game, task in rows}


class AwardsSection:
    """Every award: points stay on erasure, what the event said and the stored answer go.

    An erased award loses ``data`` (the event), ``callback_data`` (a strategy computes it
    from the event), ``response_body`` (the answer names the player) and its idempotency
    key (a game server's key may embed the player's id; the key may then be used again).
    """

    name = "awards"
    FIELDS = (
        "id",
        "task_id",
        "points",
        "case_name",
        "callback_data",
        "data",
        "strategy_id",
        "strategy_version",
        "idempotency_key",
        "response_body",
        "experiment_arm",
        "created_at",
    )

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        # Task by task, so that each chunk is a range of the (player, task, created_at) index.
        for task_id, names in sorted(_player_tasks(player).items()):
            rows = Award.objects.filter(player=player, task_id=task_id)
            for chunk in keyset_chunks(rows, key=("created_at", "id"), fields=self.FIELDS):
                for row in chunk:
                    yield {
                        "award_id": str(row["id"]),
                        "external_game_id": names.external_game_id,
                        "external_task_id": names.external_task_id,
                        "points": row["points"],
                        "case_name": row["case_name"],
                        "callback_data": row["callback_data"],
                        "data": row["data"],
                        "strategy_id": row["strategy_id"],
                        "strategy_version": row["strategy_version"],
                        "idempotency_key": row["idempotency_key"],
                        "stored_answer": (
                            json.loads(row["response_body"]) if row["response_body"] else None
                        ),
                        "experiment_arm": row["experiment_arm"],
                        "created_at": iso(row["created_at"]),
                    }

    def erase(self, *, erasure: Erasure) -> int:
        return Award.objects.filter(player=erasure.player).update(
            player=erasure.tombstone,
            data={},
            callback_data={},
            response_body=None,
            idempotency_key=None,
        )


class TaskStatsSection:
    """The player's running totals per task; they move to the tombstone unchanged."""

    name = "task_stats"

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        rows = PlayerTaskStats.objects.filter(player=player)
        fields = (
            "id",
            "task__game__external_game_id",
            "task__external_task_id",
            "award_count",
            "points_total",
            "first_award_at",
            "last_award_at",
            "previous_award_at",
        )
        for chunk in keyset_chunks(rows, key=("id",), fields=fields):
            for row in chunk:
                yield {
                    "external_game_id": row["task__game__external_game_id"],
                    "external_task_id": row["task__external_task_id"],
                    "award_count": row["award_count"],
                    "points_total": row["points_total"],
                    "first_award_at": iso(row["first_award_at"]),
                    "last_award_at": iso(row["last_award_at"]),
                    "previous_award_at": iso(row["previous_award_at"]),
                }

    def erase(self, *, erasure: Erasure) -> int:
        return PlayerTaskStats.objects.filter(player=erasure.player).update(
            player=erasure.tombstone
        )


def _player_entries(player: Player, tasks: dict[int, _TaskNames]) -> list[QuerySet[Any]]:
    """The player's entries: on its tasks' boards, then on their games' boards.

    No index leads with the player (README, Leaderboards); the boards' unique indexes lead
    with the task or the game, so the player's boards are found through its tasks.
    """
    games = sorted(_games_of(tasks))
    return [
        LeaderboardEntry.objects.filter(task_id__in=sorted(tasks), player=player),
        LeaderboardEntry.objects.filter(game_id__in=games, task__isnull=True, player=player),
    ]


def _games_of(tasks: dict[int, _TaskNames]) -> set[int]:
    return set(Task.objects.filter(pk__in=sorted(tasks)).values_list("game_id", flat=True))


class LeaderboardEntriesSection:
    """The player's entries on every board; erased, they name the tombstone.

    The boards' Redis sets hold the erased id as a member: the sets of the player's games
    are dropped after the erasure commits and built again from the entries when next read.
    """

    name = "leaderboard_entries"
    FIELDS = (
        "id",
        "game__external_game_id",
        "task__external_task_id",
        "period",
        "period_start",
        "points",
        "awards",
    )

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        for rows in _player_entries(player, _player_tasks(player)):
            for chunk in keyset_chunks(rows, key=("id",), fields=self.FIELDS):
                for row in chunk:
                    yield {
                        "external_game_id": row["game__external_game_id"],
                        "external_task_id": row["task__external_task_id"],
                        "period": row["period"],
                        "period_start": row["period_start"].isoformat(),
                        "points": row["points"],
                        "awards": row["awards"],
                    }

    def erase(self, *, erasure: Erasure) -> int:
        # The task stats may have moved to the tombstone already.
        tasks = _player_tasks(erasure.player) | _player_tasks(erasure.tombstone)
        games = _games_of(tasks)
        changed = 0
        for rows in _player_entries(erasure.player, tasks):
            changed += rows.update(
                player=erasure.tombstone, external_user_id=erasure.tombstone.external_user_id
            )
        transaction.on_commit(lambda: [cache_game_drop(game_id=game) for game in sorted(games)])
        return changed


#: The events whose data names the player (``externalUserId``).
PLAYER_EVENT_TYPES = (
    WebhookEventType.AWARD_CREATED,
    WebhookEventType.AWARD_REVERSED,
    WebhookEventType.BADGE_EARNED,
    WebhookEventType.LEVEL_REACHED,
)


def _award_messages(realm: Realm, external_user_id: str) -> QuerySet[WebhookMessage]:
    """The realm's deliveries of ``PLAYER_EVENT_TYPES`` whose body may name ``external_user_id``.

    Bodies are compact JSON, so the id as the body writes it is a substring of every body
    that names it; ``_names`` then checks the field itself.
    """
    written = json.dumps({"externalUserId": external_user_id}, ensure_ascii=False)[1:-1]
    written = written.replace('": ', '":')
    return WebhookMessage.objects.filter(
        endpoint__realm=realm,
        event_type__in=PLAYER_EVENT_TYPES,
        body__contains=written,
    )


def _names(body: dict[str, Any], external_user_id: str) -> bool:
    data = body.get("data")
    return isinstance(data, dict) and data.get("externalUserId") == external_user_id


class WebhookMessagesSection:
    """The realm's deliveries of events naming the player (an award, its reversal, a badge,
    a level), sent or pending.

    Erased, a body names the tombstone, and an ``award.created`` loses the callback data and
    the idempotency key as the award does; a pending delivery is still sent, with that body.
    The receivers' answers kept of its attempts lose their excerpts: a receiver may echo the
    body it was sent, the player's id and callback data with it.
    """

    name = "webhook_messages"
    FIELDS = ("id", "event_id", "endpoint_id", "event_type", "status", "body", "created_at")

    def _matching(self, realm: Realm, external_user_id: str) -> Iterator[list[dict[str, Any]]]:
        rows = _award_messages(realm, external_user_id)
        for chunk in keyset_chunks(rows, key=("id",), fields=self.FIELDS):
            bodies = [{**row, "body": json.loads(row["body"])} for row in chunk]
            yield [row for row in bodies if _names(row["body"], external_user_id)]

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:
        for chunk in self._matching(realm, player.external_user_id):
            yield from (self._item(row) for row in chunk)

    @staticmethod
    def _item(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_id": str(row["event_id"]),
            "webhook_id": str(row["endpoint_id"]),
            "event_type": row["event_type"],
            "status": row["status"],
            "body": row["body"],
            "created_at": iso(row["created_at"]),
        }

    def erase(self, *, erasure: Erasure) -> int:
        changed = 0
        for chunk in self._matching(erasure.realm, erasure.external_user_id):
            scrubbed = [self._scrubbed(row, erasure) for row in chunk]
            WebhookMessage.objects.bulk_update(scrubbed, ["body"], batch_size=500)
            WebhookAttempt.objects.filter(message_id__in=[row["id"] for row in chunk]).exclude(
                response_excerpt=""
            ).update(response_excerpt="")
            changed += len(scrubbed)
        return changed

    @staticmethod
    def _scrubbed(row: dict[str, Any], erasure: Erasure) -> WebhookMessage:
        body = row["body"]
        body["data"] = {**body["data"], "externalUserId": erasure.tombstone.external_user_id}
        if row["event_type"] == WebhookEventType.AWARD_CREATED:
            body["data"].update(callbackData={}, idempotencyKey=None)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return WebhookMessage(id=row["id"], body=text)


CORE_SECTIONS = (
    AwardsSection(),
    TaskStatsSection(),
    LeaderboardEntriesSection(),
    WebhookMessagesSection(),
)
