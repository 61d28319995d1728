"""Award points: resolve the task's strategy, run it, store the award and its stats."""

from __future__ import annotations

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
from scoring import sql
from scoring.answers import AwardAnswer
from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.context import EventHistory, event_history_load
from scoring.engine import strategy_execute, strategy_resolve
from scoring.errors import IdempotencyKeyReused, StrategyFailed, TaskClosed
from scoring.hooks import run_observer
from scoring.renderers import award_render
from scoring.strategy_types import StrategyRun, run_outcome


@dataclass(frozen=True, slots=True)
class AwardOutcome:
    """The answer to an award request: its JSON body and whether a row was created.

    ``answer`` is None on a replay, which answers the stored body and runs nothing.
    """

    body: bytes
    created: bool
    run: StrategyRun | None = None
    answer: AwardAnswer | None = None


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
    assert body is not None, "an award stored under an Idempotency-Key keeps its answer"
    return AwardOutcome(body=body.encode(), created=False)


def award_stats_record(*, player_id: int, task_id: int, points: float, now: datetime) -> None:
    """Add one award to the running stats, in the caller's transaction."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for statement in sql.stats_upserts(sql.ONE_AWARD, connection.vendor):
            cursor.execute(statement, [player_id, task_id, points, at])


def _award_store_postgres(award: Award) -> None:
    """Insert the award and update both stats rows in one statement (atomic on its own).

    Data-modifying CTEs make the write one round trip without BEGIN/COMMIT: the request's
    only write is this statement, so it needs no explicit transaction.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql.award_store_postgres(), sql.award_insert_params(award))


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
    player_created = player_id is None
    if not dry_run and player_id is None:
        player_id, player_created = _player_ensure(realm=realm, external_user_id=external_user_id)
    outcome = run_outcome(run)
    answer = AwardAnswer(
        points=outcome["points"],
        case_name=outcome["case_name"],
        callback_data=outcome["callback_data"],
        strategy_id=task.strategy_id,
        strategy_version=strategy.version,
        external_user_id=external_user_id,
        player_created=player_created,
        award_id=None if dry_run else award_id,
        created_at=None if dry_run else now,
        dry_run=dry_run,
    )
    rendered = award_render(answer)
    if dry_run:
        return AwardOutcome(body=rendered, created=False, run=run, answer=answer)
    assert player_id is not None, "the player exists once the award is not a dry run"
    assert answer.points is not None, "a run without an error has scored"
    award = Award(
        id=award_id,
        realm_id=realm.pk,
        player_id=player_id,
        task_id=task.pk,
        points=answer.points,
        case_name=answer.case_name,
        callback_data=answer.callback_data,
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
    return AwardOutcome(body=rendered, created=True, run=run, answer=answer)
