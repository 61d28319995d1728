"""Award points: resolve the task's strategy, run it, store the award and its stats."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gamification.ids import uuid7
from gamification.models import ApiKey, Award, Player, Realm, Task
from gamification.parsers import event_data_check
from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.context import EventHistory, event_history_load
from scoring.engine import strategy_execute, strategy_resolve
from scoring.errors import IdempotencyKeyReused, StrategyFailed, TaskClosed
from scoring.hooks import run_observer
from scoring.strategy_types import StrategyRun

_PLAYER_STATS = "gamification_playertaskstats"
_TASK_STATS = "gamification_taskstats"


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


def _award_replay(
    *, realm: Realm, idempotency_key: str, task: Task, external_user_id: str
) -> AwardOutcome | None:
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


def _stats_upserts(source: str) -> tuple[str, str]:
    """Return the two upserts that add the awards of ``source`` to the running stats.

    ``source`` yields rows of (player_id, task_id, points, at). Awards committed out of order
    keep first/last correct; the task-wide row comes last because every player contends for it.
    """
    greatest, least = ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")
    player_stats = (
        f"INSERT INTO {_PLAYER_STATS} (player_id, task_id, award_count, points_total, "
        "first_award_at, last_award_at, previous_award_at) "
        f"SELECT player_id, task_id, 1, points, at, at, NULL FROM ({source}) AS src WHERE true "
        "ON CONFLICT (player_id, task_id) DO UPDATE SET "
        f"award_count = {_PLAYER_STATS}.award_count + 1, "
        f"points_total = {_PLAYER_STATS}.points_total + excluded.points_total, "
        f"first_award_at = {least}({_PLAYER_STATS}.first_award_at, excluded.first_award_at), "
        f"previous_award_at = CASE WHEN excluded.last_award_at >= {_PLAYER_STATS}.last_award_at "
        f"THEN {_PLAYER_STATS}.last_award_at ELSE "
        f"{greatest}(COALESCE({_PLAYER_STATS}.previous_award_at, excluded.last_award_at), "
        "excluded.last_award_at) END, "
        f"last_award_at = {greatest}({_PLAYER_STATS}.last_award_at, excluded.last_award_at)"
    )
    task_stats = (
        f"INSERT INTO {_TASK_STATS} "
        "(task_id, award_count, points_total, first_award_at, last_award_at) "
        f"SELECT task_id, 1, points, at, at FROM ({source}) AS src WHERE true "
        "ON CONFLICT (task_id) DO UPDATE SET "
        f"award_count = {_TASK_STATS}.award_count + 1, "
        f"points_total = {_TASK_STATS}.points_total + excluded.points_total, "
        f"first_award_at = {least}({_TASK_STATS}.first_award_at, excluded.first_award_at), "
        f"last_award_at = {greatest}({_TASK_STATS}.last_award_at, excluded.last_award_at)"
    )
    return player_stats, task_stats


_ONE_AWARD = (
    "SELECT CAST(%s AS BIGINT) AS player_id, CAST(%s AS BIGINT) AS task_id, "
    "CAST(%s AS DOUBLE PRECISION) AS points, %s AS at"
)


def award_stats_record(*, player_id: int, task_id: int, points: float, now: datetime) -> None:
    """Add one award to the running stats, in the caller's transaction."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for statement in _stats_upserts(_ONE_AWARD):
            cursor.execute(statement, [player_id, task_id, points, at])


def _award_store_postgres(award: Award) -> None:
    """Insert the award and update both stats rows in one statement (atomic on its own).

    Data-modifying CTEs make the write one round trip without BEGIN/COMMIT: the request's
    only write is this statement, so it needs no explicit transaction.
    """
    player_stats, task_stats = _stats_upserts(
        "SELECT player_id, task_id, points, created_at AS at FROM inserted"
    )
    sql = (
        "WITH inserted AS (INSERT INTO gamification_award (id, realm_id, player_id, task_id, "
        "points, case_name, callback_data, data, strategy_id, strategy_version, idempotency_key, "
        "response_body, api_key_used_id, created_at) VALUES "
        "(%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s) "
        "RETURNING player_id, task_id, points, created_at), "
        f"player_stats AS ({player_stats} RETURNING 1) "
        f"{task_stats}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                award.pk,
                award.realm_id,
                award.player_id,
                award.task_id,
                award.points,
                award.case_name,
                json.dumps(award.callback_data),
                json.dumps(award.data),
                award.strategy_id,
                award.strategy_version,
                award.idempotency_key,
                award.response_body,
                award.api_key_used_id,
                award.created_at,
            ],
        )


def _award_store(award: Award) -> None:
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:  # a savepoint keeps the caller's transaction usable
            with transaction.atomic():
                _award_store_postgres(award)
        else:
            _award_store_postgres(award)
        return
    with transaction.atomic():
        award.save(force_insert=True)
        award_stats_record(
            player_id=award.player_id,
            task_id=award.task_id,
            points=award.points,
            now=award.created_at,
        )


def _player_ensure(*, realm: Realm, external_user_id: str) -> tuple[int, bool]:
    player, created = Player.objects.get_or_create(realm=realm, external_user_id=external_user_id)
    return player.pk, created


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
    """Score one event on ``task`` and store the award with its stats atomically.

    A known ``idempotency_key`` replays the stored answer without running the strategy; when
    concurrent duplicates race, the unique constraint lets exactly one insert win and the
    others replay the winner's answer. Data over ``DSL_EVENT_DATA_MAX_BYTES`` is refused first.
    """
    event_data_check(data=data)
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
    now = timezone.now()
    event = ScoringEvent(
        external_game_id=task.game.external_game_id,
        external_task_id=task.external_task_id,
        external_user_id=external_user_id,
        data=data,
    )
    loaded: list[EventHistory] = []

    def analytics_loader(request: AnalyticsRequest):
        history = event_history_load(
            task_id=task.pk,
            realm_id=realm.pk,
            external_user_id=external_user_id,
            request=request,
            now=now,
        )
        loaded.append(history)
        return history.analytics

    award_id: uuid.UUID = uuid7()
    observer = run_observer()
    traced = observer.trace_wanted()
    run = strategy_execute(
        strategy=strategy, event=event, analytics_loader=analytics_loader, trace=traced
    )
    observer.run_observe(
        run=run,
        traced=traced,
        realm=realm,
        event=event,
        api_key=api_key,
        correlation_id=idempotency_key or str(award_id),
    )
    if run.error is not None:
        raise StrategyFailed(run.error)
    if not loaded:  # the strategy read no analytics: the player still has to be looked up
        analytics_loader(AnalyticsRequest())
    player_id = loaded[0].player_id
    result = run.result
    body: dict[str, Any] = {
        "points": result.points,
        "caseName": result.case_name,
        "callbackData": dict(result.callback_data),
        "strategyId": task.strategy_id,
        "strategyVersion": strategy.version,
        "externalUserId": external_user_id,
        "playerCreated": player_id is None,
        "awardId": None,
        "createdAt": None,
    }
    if dry_run:
        body["dryRun"] = True
        return AwardOutcome(body=_render(body), created=False, run=run)

    player_created = False
    if player_id is None:
        player_id, player_created = _player_ensure(realm=realm, external_user_id=external_user_id)
    body["playerCreated"] = player_created
    body["awardId"] = str(award_id)
    body["createdAt"] = _iso(now)
    rendered = _render(body)
    award = Award(
        id=award_id,
        realm_id=realm.pk,
        player_id=player_id,
        task_id=task.pk,
        points=result.points,
        case_name=result.case_name,
        callback_data=dict(result.callback_data),
        data=dict(data),
        strategy_id=task.strategy_id,
        strategy_version=str(strategy.version),
        idempotency_key=idempotency_key,
        response_body=rendered.decode() if idempotency_key else None,
        api_key_used_id=api_key.pk if api_key else None,
        created_at=now,
    )
    try:
        _award_store(award)
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
