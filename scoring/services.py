"""Award points: resolve the task's strategy, run it, store the award and its stats."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gamification.models import ApiKey, Award, Player, Realm, Task
from scoring.builtins.base import ScoringEvent
from scoring.context import analytics_load
from scoring.engine import StrategyRun, strategy_execute, strategy_resolve
from scoring.errors import IdempotencyKeyReused, StrategyFailed, TaskClosed


@dataclass(frozen=True, slots=True)
class AwardOutcome:
    """The answer to an award request: the exact JSON body and whether a row was created."""

    body: bytes
    created: bool
    run: StrategyRun | None = None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _render(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _award_replay(*, realm: Realm, idempotency_key: str, task: Task, external_user_id: str):
    row = (
        Award.objects.filter(realm=realm, idempotency_key=idempotency_key)
        .values_list("response_body", "task_id", "player__external_user_id")
        .first()
    )
    if row is None:
        return None
    body, task_id, user_id = row
    if task_id != task.pk or user_id != external_user_id:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for another task or player."
        )
    return AwardOutcome(body=body.encode(), created=False)


def award_stats_record(*, player_id: int, task_id: int, points: float, now: datetime) -> None:
    """Add one award to the running stats, in the caller's transaction.

    An upsert is one statement on both backends and holds the row lock only for the rest of
    the transaction; the task-wide row is touched last because every player of the task
    contends for it. Awards committed out of order keep first/last correct.
    """
    greatest, least = ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")
    at = connection.ops.adapt_datetimefield_value(now)
    player_stats = "gamification_playertaskstats"
    task_stats = "gamification_taskstats"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {player_stats} "
            "(player_id, task_id, award_count, points_total, first_award_at, last_award_at, "
            "previous_award_at) VALUES (%s, %s, 1, %s, %s, %s, NULL) "
            "ON CONFLICT (player_id, task_id) DO UPDATE SET "
            f"award_count = {player_stats}.award_count + 1, "
            f"points_total = {player_stats}.points_total + excluded.points_total, "
            f"first_award_at = {least}({player_stats}.first_award_at, excluded.first_award_at), "
            f"previous_award_at = CASE WHEN excluded.last_award_at >= {player_stats}.last_award_at "
            f"THEN {player_stats}.last_award_at ELSE "
            f"{greatest}(COALESCE({player_stats}.previous_award_at, excluded.last_award_at), "
            "excluded.last_award_at) END, "
            f"last_award_at = {greatest}({player_stats}.last_award_at, excluded.last_award_at)",
            [player_id, task_id, points, at, at],
        )
        cursor.execute(
            f"INSERT INTO {task_stats} "
            "(task_id, award_count, points_total, first_award_at, last_award_at) "
            "VALUES (%s, 1, %s, %s, %s) "
            "ON CONFLICT (task_id) DO UPDATE SET "
            f"award_count = {task_stats}.award_count + 1, "
            f"points_total = {task_stats}.points_total + excluded.points_total, "
            f"first_award_at = {least}({task_stats}.first_award_at, excluded.first_award_at), "
            f"last_award_at = {greatest}({task_stats}.last_award_at, excluded.last_award_at)",
            [task_id, points, at, at],
        )


def award_points(
    *,
    realm: Realm,
    api_key: ApiKey | None,
    task: Task,
    external_user_id: str,
    data: Mapping[str, Any],
    idempotency_key: str | None = None,
    dry_run: bool = False,
) -> AwardOutcome:
    """Score one event on ``task`` and store the award atomically.

    A known ``idempotency_key`` replays the stored answer without running the strategy; when
    concurrent duplicates race, the unique constraint lets exactly one insert win and the
    others replay the winner's answer.
    """
    if idempotency_key and not dry_run:
        replay = _award_replay(
            realm=realm,
            idempotency_key=idempotency_key,
            task=task,
            external_user_id=external_user_id,
        )
        if replay is not None:
            return replay
    if task.status != "open":
        raise TaskClosed(f"Task {task.external_task_id!r} is {task.status} and takes no awards.")

    strategy = strategy_resolve(realm=realm, strategy_id=task.strategy_id)
    player = Player.objects.filter(realm=realm, external_user_id=external_user_id).first()
    now = timezone.now()
    event = ScoringEvent(
        external_game_id=task.game.external_game_id,
        external_task_id=task.external_task_id,
        external_user_id=external_user_id,
        data=data,
    )
    run = strategy_execute(
        strategy=strategy,
        event=event,
        analytics_loader=lambda request: analytics_load(
            task_id=task.pk, player_id=player.pk if player else None, request=request, now=now
        ),
    )
    if run.error is not None:
        raise StrategyFailed(run.error)
    result = run.result
    body: dict[str, Any] = {
        "points": result.points,
        "caseName": result.case_name,
        "callbackData": dict(result.callback_data),
        "strategyId": task.strategy_id,
        "strategyVersion": strategy.version,
        "externalUserId": external_user_id,
        "playerCreated": player is None,
        "awardId": None,
        "createdAt": None,
    }
    if dry_run:
        body["dryRun"] = True
        return AwardOutcome(body=_render(body), created=False, run=run)

    try:
        with transaction.atomic():
            player_created = False
            if player is None:
                player, player_created = Player.objects.get_or_create(
                    realm=realm, external_user_id=external_user_id
                )
            award = Award(
                realm=realm,
                player=player,
                task=task,
                points=result.points,
                case_name=result.case_name,
                callback_data=dict(result.callback_data),
                data=dict(data),
                strategy_id=task.strategy_id,
                strategy_version=str(strategy.version),
                idempotency_key=idempotency_key,
                api_key_used=api_key,
                created_at=now,
            )
            body["playerCreated"] = player_created
            body["awardId"] = str(award.pk)
            body["createdAt"] = _iso(now)
            rendered = _render(body)
            if idempotency_key:
                award.response_body = rendered.decode()
            award.save(force_insert=True)
            award_stats_record(player_id=player.pk, task_id=task.pk, points=result.points, now=now)
    except IntegrityError:
        if not idempotency_key:
            raise
        replay = _award_replay(
            realm=realm,
            idempotency_key=idempotency_key,
            task=task,
            external_user_id=external_user_id,
        )
        if replay is None:
            raise
        return replay
    return AwardOutcome(body=rendered, created=True, run=run)
