"""Award points: resolve the task's strategy, run it, store the award and its stats."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gamification.achievements import awards as achievements
from gamification.achievements import sql as achievement_sql
from gamification.errors import NotFoundError
from gamification.ids import uuid7
from gamification.leaderboards.services import (
    EntryChange,
    entry_change_for_award,
    leaderboard_cache_change,
    leaderboard_entries_change,
)
from gamification.models import ApiKey, Award, Game, Player, Realm, Task, WebhookEventType
from gamification.parsers import event_data_check
from gamification.player_data.selectors import player_erased_check
from gamification.selectors import task_for_award_update
from gamification.sql import read_one
from gamification.strategy_ids import strategy_id_is_custom
from gamification.wallet.services import wallet_award_record
from gamification.wallet.sql import wallet_change_params
from gamification.webhooks import (
    WebhookEvent,
    award_created_data,
    webhook_delivery_kick,
    webhook_event_build,
    webhook_event_store,
)
from scoring import sql
from scoring.answers import AwardAnswer
from scoring.builtins.base import AnalyticsRequest, ScoringEvent
from scoring.context import (
    EventHistory,
    EventStats,
    TaskAwards,
    analytics_request_normalise,
    event_analytics,
    event_history_load,
    event_stats_parse,
)
from scoring.engine import strategy_execute, strategy_resolve
from scoring.errors import IdempotencyKeyReused, StrategyFailed, TaskClosed
from scoring.hooks import custom_strategy_prefetch, run_observer
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
    *, realm: Realm, idempotency_key: str, task_id: int, external_user_id: str
) -> AwardOutcome | None:
    row = (
        Award.objects.filter(realm=realm, idempotency_key=idempotency_key)
        .values_list("response_body", "task_id", "player__external_user_id")
        .first()
    )
    if row is None:
        return None
    return _replayed(row, task_id=task_id, external_user_id=external_user_id)


def award_stats_record(*, player_id: int, task_id: int, points: float, now: datetime) -> None:
    """Add one award to the running stats, in the caller's transaction."""
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for statement in sql.stats_upserts(sql.ONE_AWARD, connection.vendor):
            cursor.execute(statement, [player_id, task_id, points, at])


def _award_store_postgres(
    award: Award,
    change: EntryChange,
    webhook: WebhookEvent | None,
    achieved: achievements.AchievementWrite | None = None,
) -> int:
    """Insert the award and update both stats rows and its leaderboard entries in one
    statement (atomic on its own); return its transaction's id.

    Data-modifying CTEs make the write one round trip without BEGIN/COMMIT: the request's
    only write is this statement, so it needs no explicit transaction. ``webhook`` adds the
    award's outbox rows to the same statement.
    """
    params = [
        *sql.award_insert_params(award),
        *change.award_write_params(),
        *wallet_change_params(
            award_id=award.id, realm_id=award.realm_id, actor_key_id=award.api_key_used_id
        ),
    ]
    if webhook is not None:
        params += sql.webhook_outbox_params(event=webhook, realm_id=award.realm_id)
    if achieved is not None:
        params += achieved.params()
    shape = achieved.shape if achieved is not None else None
    with connection.cursor() as cursor:
        cursor.execute(sql.award_store_postgres(webhook is not None, shape), params)
        transaction_id = cursor.fetchone()[0]
    achievements.achievements_written(achieved)
    if webhook is not None:
        transaction.on_commit(webhook_delivery_kick)
    return transaction_id


def _award_store(
    award: Award,
    change: EntryChange,
    *,
    webhook: WebhookEvent | None = None,
    achieved: achievements.AchievementWrite | None = None,
) -> int | None:
    """Store the award with its stats and entries; return the transaction id on PostgreSQL."""
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:  # a savepoint keeps the caller's transaction usable
            with transaction.atomic():
                return _award_store_postgres(award, change, webhook, achieved)
        return _award_store_postgres(award, change, webhook, achieved)
    with transaction.atomic():
        award.save(force_insert=True)
        award_stats_record(
            player_id=award.player_id,
            task_id=award.task_id,
            points=award.points,
            now=award.created_at,
        )
        leaderboard_entries_change(change=change, player_id=award.player_id)
        wallet_award_record(award=award, actor_key_id=award.api_key_used_id)
        if webhook is not None:
            webhook_event_store(realm_id=award.realm_id, event=webhook)
        achievements.achievements_store(write=achieved, award=award)
    return None


def _player_ensure(*, realm: Realm, external_user_id: str) -> tuple[int, bool]:
    player, created = Player.objects.get_or_create(realm=realm, external_user_id=external_user_id)
    return player.pk, created


def _award_store_new_player_postgres(
    award: Award,
    *,
    external_user_id: str,
    change: EntryChange,
    webhook: WebhookEvent | None = None,
    achieved: achievements.AchievementWrite | None = None,
) -> int | None:
    """Create the player, insert the award and update both stats rows and its entries in one
    statement; return its transaction's id.

    Return None, having written nothing, when the player exists after all (created by a
    concurrent request since the read).
    """
    params = [
        award.realm_id,
        external_user_id,
        connection.ops.adapt_datetimefield_value(award.created_at),
        *sql.award_insert_params_without_player(award),
        *change.award_write_params(),
        *wallet_change_params(
            award_id=award.id, realm_id=award.realm_id, actor_key_id=award.api_key_used_id
        ),
    ]
    if webhook is not None:
        params += sql.webhook_outbox_params(event=webhook, realm_id=award.realm_id)
    if achieved is not None:
        params += achieved.params()
    shape = achieved.shape if achieved is not None else None
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(sql.award_store_new_player_postgres(webhook is not None, shape), params)
        row = cursor.fetchone()
        if row is not None and webhook is not None:
            transaction.on_commit(webhook_delivery_kick)
        if row is not None:
            achievements.achievements_written(achieved)
        return None if row is None else row[0]


@dataclass(frozen=True, slots=True)
class _AwardRead:
    """What the award's one read found: the task as stored now, the event's stats, and the
    answer stored under the Idempotency-Key, if any."""

    game_id: int
    task_id: int
    strategy_id: str
    status: str
    stats: EventStats
    replay: tuple[str | None, int, str] | None
    prefetched: tuple[Any, ...] | None
    award_webhooks: bool = False
    achievements: achievements.AchievementState | None = None


#: The recent windows each strategy id read at its last award in this process. The award read
#: happens before the run, and only the run knows which windows it reads (a DSL program or a
#: built-in's variables decide): the read fetches the ones read last time, and a run asking for
#: another (the first award after a change) costs one read more. Stats values are always read.
_WINDOWS_READ: dict[str, frozenset[int]] = {}
_WINDOWS_READ_SIZE = 1024


def _award_read(
    *,
    realm: Realm,
    task: Task,
    external_user_id: str,
    now: datetime,
    idempotency_key: str | None,
) -> _AwardRead:
    windows = sorted(_WINDOWS_READ.get(task.strategy_id, frozenset()))
    prefetch = custom_strategy_prefetch() if strategy_id_is_custom(task.strategy_id) else None
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [adapt(now - timedelta(seconds=seconds)) for seconds in windows]
    params += [realm.pk, external_user_id, task.game.external_game_id, task.external_task_id]
    if prefetch is not None:
        params += prefetch.join_params(strategy_id=task.strategy_id)
    if idempotency_key is not None:
        params.append(idempotency_key)
    achievement_plan = achievements.read_plan(game_id=task.game_id)
    params += achievement_plan.params
    achievement_columns = achievement_sql.read_columns(achievement_plan.shape, connection.vendor)
    statement = sql.award_read(
        len(windows),
        idempotency_key is not None,
        prefetch.join if prefetch is not None else "",
        prefetch.columns if prefetch is not None else (),
        connection.vendor,
        achievement_columns,
        achievement_sql.read_join(achievement_plan.shape, connection.vendor),
    )
    row = read_one(statement, params)
    assert row is not None, "the award read answers one row, even for a missing task"
    game_id, task_id, strategy_id, status = row[:4]
    if game_id is None:
        raise NotFoundError(f"No game {task.game.external_game_id!r}.", code="GAME_NOT_FOUND")
    if task_id is None:
        raise NotFoundError(
            f"No task {task.external_task_id!r} in this game.", code="TASK_NOT_FOUND"
        )
    stats = event_stats_parse(row[4:], windows)
    offset = len(sql.AWARD_READ_COLUMNS) + len(windows)
    award_webhooks = bool(row[offset])
    offset += 1
    replay = None
    if idempotency_key is not None:
        body, replay_task_id, replay_user_id = row[offset : offset + len(sql.REPLAY_COLUMNS)]
        offset += len(sql.REPLAY_COLUMNS)
        if replay_task_id is not None:
            replay = (body, replay_task_id, replay_user_id)
    # Values read for another strategy id than the task has now would validate nothing.
    achieved_values = row[len(row) - len(achievement_columns) :]
    prefetched = (
        tuple(row[offset : len(row) - len(achievement_columns)]) if prefetch is not None else None
    )
    return _AwardRead(
        game_id=game_id,
        task_id=task_id,
        strategy_id=strategy_id,
        status=status,
        stats=stats,
        replay=replay,
        prefetched=prefetched if strategy_id == task.strategy_id else None,
        award_webhooks=award_webhooks,
        achievements=achievements.state_parse(
            game_id=task.game_id,
            realm_id=realm.pk,
            player_id=stats.player_id,
            plan=achievement_plan,
            values=achieved_values,
        ),
    )


def _windows_remember(
    *, strategy_id: str, requests: list[AnalyticsRequest], merge: bool = False
) -> None:
    """Remember the windows a run of ``strategy_id`` read; ``merge`` adds them to those known.

    The two arms of an experiment share the bound id and may read different windows: keeping
    the union lets one read serve both.
    """
    windows = frozenset().union(
        *(analytics_request_normalise(request).recent_windows for request in requests)
    )
    if merge:
        windows |= _WINDOWS_READ.get(strategy_id, frozenset())
    if _WINDOWS_READ.get(strategy_id) == windows:
        return
    if len(_WINDOWS_READ) >= _WINDOWS_READ_SIZE:
        _WINDOWS_READ.clear()
    _WINDOWS_READ[strategy_id] = windows


def _replayed(
    replay: tuple[str | None, int, str], *, task_id: int, external_user_id: str
) -> AwardOutcome:
    body, replay_task_id, replay_user_id = replay
    if replay_task_id != task_id or replay_user_id != external_user_id:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for another task or player."
        )
    assert body is not None, "an award stored under an Idempotency-Key keeps its answer"
    return AwardOutcome(body=body.encode(), created=False)


def _award_webhook(
    award: Award, *, wanted: bool, task: Task, external_user_id: str, player_created: bool
) -> WebhookEvent | None:
    """The award's ``award.created`` for the outbox rows its write adds, if ``wanted``."""
    if not wanted:
        return None
    data = award_created_data(
        award=award,
        external_game_id=task.game.external_game_id,
        external_task_id=task.external_task_id,
        external_user_id=external_user_id,
        player_created=player_created,
    )
    return webhook_event_build(type=WebhookEventType.AWARD_CREATED, data=data, at=award.created_at)


def _award_achievements(
    *,
    read: _AwardRead,
    realm: Realm,
    task: Task,
    award_id: uuid.UUID,
    external_user_id: str,
    points: float | None,
    data: Mapping[str, Any],
    at: datetime,
    spent_ms: float,
) -> achievements.AchievementOutcome | None:
    """Decide the award's level, streak and badges, for a game that defines any."""
    if read.achievements is None or points is None:
        return None
    return achievements.achievements_evaluate(
        state=read.achievements,
        realm_id=realm.pk,
        game_id=read.game_id,
        award_id=award_id,
        external_game_id=task.game.external_game_id,
        external_task_id=task.external_task_id,
        external_user_id=external_user_id,
        points=points,
        data=data,
        at=at,
        timezone=realm.timezone,
        deadline=achievements.deadline_after(spent_ms=spent_ms),
    )


def _observed_already() -> None:
    """A prepared award's ``observe`` when its run was observed as it ran."""


@dataclass(frozen=True, slots=True)
class PreparedAward:
    """An award scored and not yet stored: what its write needs and what it will answer.

    ``player_id`` is None for a player the write creates (PostgreSQL only). ``observe``
    hands its run to the observer (metrics, the sampled execution log) when that was left
    for later (``award_prepare``'s ``observe_later``), and does nothing otherwise.
    """

    realm: Realm
    task: Task
    external_user_id: str
    idempotency_key: str | None
    award: Award
    answer: AwardAnswer
    rendered: bytes
    run: StrategyRun
    change: EntryChange
    webhook: WebhookEvent | None
    achieved: achievements.AchievementWrite | None
    player_id: int | None
    observe: Callable[[], None] = _observed_already

    @property
    def writes_alone(self) -> bool:
        """Whether its write has parts a set-based write of many awards leaves out (a
        webhook's outbox rows, achievements) or is not PostgreSQL's one statement."""
        return (
            self.webhook is not None
            or self.achieved is not None
            or connection.vendor != "postgresql"
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
    """Score one event on ``task`` and store the award with its stats atomically.

    A known ``idempotency_key`` replays the stored answer without running the strategy; when
    concurrent duplicates race, the unique constraint lets exactly one insert win and the
    others replay the winner's answer. Data over ``DSL_EVENT_DATA_MAX_BYTES`` is refused first.

    On PostgreSQL an award is two statements: one read (the task as stored now, the player,
    the stats, the recent counts the strategy read last time, the published version of a
    custom strategy and the answer stored under the key, and whether a webhook listens) and
    one write (player, award, stats, leaderboard entries, and the webhook's outbox rows when
    one listens). The leaderboards' Redis sets, if any, follow after the commit.
    """
    prepared = award_prepare(
        realm=realm,
        api_key=api_key,
        task=task,
        external_user_id=external_user_id,
        data=data,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )
    if isinstance(prepared, AwardOutcome):
        return prepared
    return award_store(prepared=prepared)


def award_prepare(
    *,
    realm: Realm,
    api_key: ApiKey | None,
    task: Task,
    external_user_id: str,
    data: Mapping[str, Any],
    idempotency_key: str | None = None,
    dry_run: bool = False,
    unstored: Mapping[int, TaskAwards] | None = None,
    observe_later: bool = False,
) -> AwardOutcome | PreparedAward:
    """Read and score one event as ``award_points`` does, and stop before the write.

    Answer the outcome itself for what stores nothing (a replay, a dry run). ``unstored``
    holds, per task id, the awards prepared before this one and not stored yet (a batch's
    set-based write): the task's stats are read as if they were. With ``observe_later`` the
    run of an award is observed only by its ``PreparedAward.observe``: a batch that scores
    the event again, after an award it counted was not stored, observes the new run instead.
    """
    event_data_check(data=data)
    now = timezone.now()
    read = _award_read(
        realm=realm,
        task=task,
        external_user_id=external_user_id,
        now=now,
        idempotency_key=idempotency_key if not dry_run else None,
    )
    stored = (read.game_id, read.task_id, read.strategy_id, read.status)
    if stored != (task.game_id, task.pk, task.strategy_id, task.status):
        task = Task(
            id=read.task_id,
            game=Game(id=read.game_id, realm=realm, external_game_id=task.game.external_game_id),
            external_task_id=task.external_task_id,
            strategy_id=read.strategy_id,
            status=read.status,
        )
        task_for_award_update(realm=realm, task=task)
    if read.replay is not None:
        return _replayed(read.replay, task_id=read.task_id, external_user_id=external_user_id)
    if read.status != "open":
        raise TaskClosed(f"Task {task.external_task_id!r} is {read.status} and takes no awards.")
    unstored_awards = unstored.get(read.task_id) if unstored else None
    stats = read.stats.with_task_awards(unstored_awards) if unstored_awards else read.stats

    strategy = strategy_resolve(
        realm=realm,
        strategy_id=read.strategy_id,
        prefetched=read.prefetched,
        external_user_id=external_user_id,
    )
    event = ScoringEvent(
        external_game_id=task.game.external_game_id,
        external_task_id=task.external_task_id,
        external_user_id=external_user_id,
        data=data,
    )
    requests: list[AnalyticsRequest] = []
    reread: list[EventHistory] = []

    def analytics_loader(request: AnalyticsRequest):
        requests.append(request)
        if stats.covers(request):
            return event_analytics(stats, request=request, now=now)
        history = event_history_load(
            task_id=read.task_id,
            realm_id=realm.pk,
            external_user_id=external_user_id,
            request=request,
            now=now,
            unstored=unstored_awards,
        )
        reread.append(history)
        return history.analytics

    award_id: uuid.UUID = uuid7()
    observer = run_observer()
    traced = observer.trace_wanted()
    run = strategy_execute(
        strategy=strategy, event=event, analytics_loader=analytics_loader, trace=traced
    )
    if requests or run.error is None:
        _windows_remember(
            strategy_id=read.strategy_id,
            requests=requests,
            merge=strategy.experiment_arm is not None,
        )

    def observe() -> None:
        observer.run_observe(
            run=run,
            traced=traced,
            realm=realm,
            event=event,
            api_key=api_key,
            correlation_id=idempotency_key or str(award_id),
        )

    if run.error is not None or dry_run or not observe_later:
        observe()
    if run.error is not None:
        raise StrategyFailed(run.error)
    player_id = reread[-1].player_id if reread else read.stats.player_id
    player_created = player_id is None
    # PostgreSQL creates a new player in the award's one write; SQLite first.
    if not dry_run and player_id is None and connection.vendor != "postgresql":
        player_id, player_created = _player_ensure(realm=realm, external_user_id=external_user_id)
    outcome = run_outcome(run)
    achieved = _award_achievements(
        read=read,
        realm=realm,
        task=task,
        award_id=award_id,
        external_user_id=external_user_id,
        points=outcome["points"],
        data=data,
        at=now,
        spent_ms=run.duration_ms,
    )
    answer = AwardAnswer(
        points=outcome["points"],
        case_name=outcome["case_name"],
        callback_data=outcome["callback_data"],
        strategy_id=read.strategy_id,
        strategy_version=strategy.version,
        external_user_id=external_user_id,
        player_created=player_created,
        award_id=None if dry_run else award_id,
        created_at=None if dry_run else now,
        dry_run=dry_run,
        experiment_arm=strategy.experiment_arm,
        achievements=achieved.answer if achieved is not None else None,
    )
    rendered = award_render(answer)
    if dry_run:
        return AwardOutcome(body=rendered, created=False, run=run, answer=answer)
    assert answer.points is not None, "a run without an error has scored"
    award = Award(
        id=award_id,
        realm_id=realm.pk,
        task_id=read.task_id,
        points=answer.points,
        case_name=answer.case_name,
        callback_data=answer.callback_data,
        data=dict(data),
        strategy_id=read.strategy_id,
        strategy_version=str(strategy.version),
        idempotency_key=idempotency_key,
        response_body=rendered.decode() if idempotency_key else None,
        api_key_used_id=api_key.pk if api_key else None,
        created_at=now,
        experiment_arm=strategy.experiment_arm,
    )
    webhook = _award_webhook(
        award,
        wanted=read.award_webhooks,
        task=task,
        external_user_id=external_user_id,
        player_created=player_created,
    )
    change = entry_change_for_award(
        timezone=realm.timezone,
        game_id=read.game_id,
        task_id=read.task_id,
        external_user_id=external_user_id,
        points=answer.points,
        at=now,
    )
    return PreparedAward(
        realm=realm,
        task=task,
        external_user_id=external_user_id,
        idempotency_key=idempotency_key,
        award=award,
        answer=answer,
        rendered=rendered,
        run=run,
        change=change,
        webhook=webhook,
        achieved=achieved.write if achieved is not None else None,
        player_id=player_id,
        observe=observe if observe_later else _observed_already,
    )


def award_store(*, prepared: PreparedAward) -> AwardOutcome:
    """Store a prepared award with its stats, entries and wallet change; answer it.

    A player created meanwhile by another request is the player of the award after all (the
    answer then says so); a key stored meanwhile replays that award's answer.
    """
    award, answer, rendered = prepared.award, prepared.answer, prepared.rendered
    webhook, write, change = prepared.webhook, prepared.achieved, prepared.change
    realm, task, external_user_id = prepared.realm, prepared.task, prepared.external_user_id
    idempotency_key = prepared.idempotency_key
    try:
        if prepared.player_id is not None:
            award.player_id = prepared.player_id
            transaction_id = _award_store(award, change, webhook=webhook, achieved=write)
        else:
            transaction_id = _award_store_new_player_postgres(
                award,
                external_user_id=external_user_id,
                change=change,
                webhook=webhook,
                achieved=write,
            )
            if transaction_id is None:
                award.player_id, player_created = _player_ensure(
                    realm=realm, external_user_id=external_user_id
                )
                answer = replace(answer, player_created=player_created)
                rendered = award_render(answer)
                award.response_body = rendered.decode() if idempotency_key else None
                webhook = _award_webhook(
                    award,
                    wanted=webhook is not None,
                    task=task,
                    external_user_id=external_user_id,
                    player_created=player_created,
                )
                transaction_id = _award_store(award, change, webhook=webhook, achieved=write)
    except IntegrityError:
        player_erased_check(player_id=award.player_id)
        if not idempotency_key:
            raise
        replay = _award_replay(
            realm=realm,
            idempotency_key=idempotency_key,
            task_id=award.task_id,
            external_user_id=external_user_id,
        )
        if replay is None:
            raise
        return replay
    leaderboard_cache_change(change=change, transaction_id=transaction_id)
    return AwardOutcome(body=rendered, created=True, run=prepared.run, answer=answer)
