"""Batch awards: the awards of a batch stored a set at a time, each as its own write would.

An award's write is one statement that commits on its own; most of its cost on the database
is per statement and per commit, not per row, and every award of a task waits for the one
before it to commit (they all update the task's stats row). A batch therefore stores its
prepared awards in sets: one statement per set (``sql.award_rows_store_postgres``) does
what each award's own write does, for all of them. A set holds at most one award per player
and per Idempotency-Key, so that each award is read and scored exactly as it would be
after the ones before it were stored: its player's stats and key are untouched by the set,
and its task's stats are read with the set's earlier awards added (``TaskAwards``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from gamification.errors import database_conflict, database_unavailable
from gamification.ids import uuid7
from gamification.leaderboards.services import leaderboard_cache_change
from gamification.models import ApiKey
from gamification.selectors import task_for_award
from gamification.wallet.sql import wallet_rows_change_params
from scoring import sql
from scoring.context import TaskAwards
from scoring.errors import BatchTimeBudgetSpent
from scoring.services import AwardOutcome, PreparedAward, award_prepare, award_store


def _alone_may_succeed(exc: Exception) -> bool:
    """Whether a set-based write that failed may succeed award by award: a player another
    request created meanwhile (``_SetNotWhole``), a key or player stored or erased meanwhile,
    or a deadlock with a concurrent write."""
    return isinstance(exc, _SetNotWhole | IntegrityError) or database_conflict(exc)


def _database_gone(exc: BaseException) -> bool:
    """Whether the database failed for the batch, not for one event: unreachable or unusable.

    A conflict with a concurrent request (a deadlock broken) is the event's own 503, as the
    single endpoint answers it; the next events go on.
    """
    return database_unavailable(exc) and not database_conflict(exc)


#: Scores an event again, against what is stored now (no awards of a set counted as if stored).
Rescore = Callable[["BatchEvent"], "AwardOutcome | PreparedAward"]


@dataclass
class AwardSet:
    """Awards of a batch prepared and not stored yet, by their index in the batch."""

    size_max: int
    rescore: Rescore
    prepared: dict[int, tuple[BatchEvent, PreparedAward]] = field(default_factory=dict)
    players: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    unstored: dict[int, TaskAwards] = field(default_factory=dict)

    def admits(self, *, external_user_id: str, idempotency_key: str | None) -> bool:
        """Whether an event of this player and key can be read and scored before the set is
        stored, exactly as it would be after."""
        return (
            len(self.prepared) < self.size_max
            and external_user_id not in self.players
            and (idempotency_key is None or idempotency_key not in self.keys)
        )

    def add(self, *, index: int, event: BatchEvent, prepared: PreparedAward) -> None:
        self.prepared[index] = (event, prepared)
        self.players.add(prepared.external_user_id)
        if prepared.idempotency_key is not None:
            self.keys.add(prepared.idempotency_key)
        task_id, at = prepared.award.task_id, prepared.award.created_at
        before = self.unstored.get(task_id)
        self.unstored[task_id] = (
            before.plus(at) if before else TaskAwards(count=1, first=at, last=at)
        )

    def store(self) -> dict[int, AwardOutcome | Exception]:
        """Store the set's awards and empty it; answer each award's outcome by its index.

        An award's error is its answer (as its own write would raise it). Once the database
        is gone, that error answers the award it happened to and every later one, none of
        which is stored.
        """
        prepared = self.prepared
        self.prepared, self.players, self.keys, self.unstored = {}, set(), set(), {}
        items = [(index, event, award) for index, (event, award) in prepared.items()]
        if len(items) < 2:
            return _stored_alone(items, rescore=self.rescore)
        try:
            transaction_id = _set_write([award for _, _, award in items])
        except Exception as exc:
            if _alone_may_succeed(exc):
                return _stored_alone(items, rescore=self.rescore)
            for _, _, award in items:
                award.observe()
            if _database_gone(exc):
                return dict.fromkeys(prepared, exc)
            raise
        results: dict[int, AwardOutcome | Exception] = {}
        for index, _, award in items:
            award.observe()
            leaderboard_cache_change(change=award.change, transaction_id=transaction_id)
            results[index] = AwardOutcome(
                body=award.rendered, created=True, run=award.run, answer=award.answer
            )
        return results


def _stored_alone(
    items: list[tuple[int, BatchEvent, PreparedAward]], *, rescore: Rescore, stale: bool = False
) -> dict[int, AwardOutcome | Exception]:
    """Store each award with its own write, in order.

    The awards were scored counting the ones before them as stored. Once one is not
    (``stale``: it failed, or replayed a key another request stored meanwhile), each later
    one is scored again before it is stored, against what is stored then, as its own
    request would be; the run observed is then the new one.
    """
    results: dict[int, AwardOutcome | Exception] = {}
    for position, (index, event, award) in enumerate(items):
        try:
            if stale:
                again = rescore(event)
            else:
                award.observe()
                again = award
            outcome = again if isinstance(again, AwardOutcome) else award_store(prepared=again)
        except Exception as exc:  # noqa: BLE001 - the award's answer, as its own request's
            if _database_gone(exc):
                for _, _, later in items[position + 1 :]:
                    later.observe()
                results |= dict.fromkeys((later for later, _, _ in items[position:]), exc)
                break
            results[index], stale = exc, True
            continue
        results[index] = outcome
        stale = stale or not outcome.created
    return results


class _SetNotWhole(Exception):
    """The set-based write would not have stored every award of the set: rolled back."""


def _set_write(prepared: list[PreparedAward]) -> int | None:
    """Store every award of the set in one statement, or none; answer the transaction's id.

    Raise ``_SetNotWhole``, having stored nothing, when the statement would leave an award
    out (its player created by another request since the read): the awards after it were
    scored counting it, and are stored one by one instead, scored again if it fails.
    """
    rows = []
    for award in prepared:
        assert not award.writes_alone, "an award whose write has more parts is stored alone"
        if award.player_id is not None:  # else None: the statement creates the player
            award.award.player_id = award.player_id
        starts = award.change.starts
        adapt = connection.ops.adapt_datefield_value
        rows.append(
            (
                award.award,
                [
                    award.change.game_id,
                    award.external_user_id,
                    adapt(starts.day),
                    adapt(starts.week),
                    adapt(starts.month),
                    uuid7(),
                ],
            )
        )
    first = prepared[0].award
    params = [
        *sql.award_rows_params(rows),
        *wallet_rows_change_params(realm_id=first.realm_id, actor_key_id=first.api_key_used_id),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql.award_rows_store_postgres(), params)
        answered = cursor.fetchall()
        inserted = frozenset(answered[0][1] or ()) if answered else frozenset()
        if inserted != {award.award.id for award in prepared}:
            raise _SetNotWhole
    return answered[0][0]


@dataclass(frozen=True, slots=True)
class BatchEvent:
    """One valid event of a batch."""

    external_task_id: str
    external_user_id: str
    data: Mapping[str, Any]
    idempotency_key: str | None
    dry_run: bool


def _award_prepared(
    *,
    api_key: ApiKey,
    external_game_id: str,
    event: BatchEvent,
    unstored: Mapping[int, TaskAwards],
    observe_later: bool = False,
) -> AwardOutcome | PreparedAward:
    task = task_for_award(
        realm=api_key.realm,
        external_game_id=external_game_id,
        external_task_id=event.external_task_id,
    )
    return award_prepare(
        realm=api_key.realm,
        api_key=api_key,
        task=task,
        external_user_id=event.external_user_id,
        data=event.data,
        idempotency_key=event.idempotency_key,
        dry_run=event.dry_run,
        unstored=unstored,
        observe_later=observe_later,
    )


def _award_step(
    *, api_key: ApiKey, external_game_id: str, awards: AwardSet, index: int, event: BatchEvent
) -> dict[int, AwardOutcome | Exception]:
    """Score one event; answer the outcomes known now: the event's own unless its award
    joins the set, and the set's when the award is stored alone (after the set)."""
    try:
        prepared = _award_prepared(
            api_key=api_key,
            external_game_id=external_game_id,
            event=event,
            unstored=awards.unstored,
            observe_later=True,
        )
    except Exception as exc:  # noqa: BLE001 - the event's answer, as its own request's
        return {index: exc}
    if isinstance(prepared, AwardOutcome):
        return {index: prepared}
    if not prepared.writes_alone:
        awards.add(index=index, event=event, prepared=prepared)
        return {}
    if not awards.prepared:
        return _stored_alone([(index, event, prepared)], rescore=awards.rescore)
    # Scored counting the set's awards as stored: stored after them, or scored again.
    stored = awards.store()
    gone = _first_gone(stored)
    if gone is not None:
        prepared.observe()
        return stored | {index: stored[gone]}
    stale = not all(
        isinstance(outcome, AwardOutcome) and outcome.created for outcome in stored.values()
    )
    return stored | _stored_alone([(index, event, prepared)], rescore=awards.rescore, stale=stale)


def _first_gone(outcomes: Mapping[int, AwardOutcome | Exception]) -> int | None:
    failed = [
        index
        for index, outcome in outcomes.items()
        if isinstance(outcome, Exception) and _database_gone(outcome)
    ]
    return min(failed) if failed else None


def award_batch(
    *, api_key: ApiKey, external_game_id: str, events: Sequence[BatchEvent | Exception]
) -> list[AwardOutcome | Exception]:
    """Score and store the events of a batch in order, each as the single endpoint would on
    its own; answer each event's outcome, or the error that answers it (an event that is an
    error answers itself).

    Scored awards are stored a set at a time (``AwardSet``: at most
    ``AWARD_BATCH_SET_SIZE``, one per player and key, in one statement); an event whose
    player or key is in the set stores the set first. An award whose write does more (a
    webhook, achievements) is stored with its own write.

    Events stop starting once ``AWARD_BATCH_TIME_BUDGET_SECONDS`` are spent: those left
    answer ``BatchTimeBudgetSpent``, having stored nothing. If the database goes away, the
    event it happened to and every later one without an outcome answer its error; when that
    is the first event, the error is raised, for the whole batch to answer it.
    """
    outcomes: dict[int, AwardOutcome | Exception] = {}

    def rescore(event: BatchEvent) -> AwardOutcome | PreparedAward:
        return _award_prepared(
            api_key=api_key, external_game_id=external_game_id, event=event, unstored={}
        )

    awards = AwardSet(size_max=settings.AWARD_BATCH_SET_SIZE, rescore=rescore)
    budget = settings.AWARD_BATCH_TIME_BUDGET_SECONDS
    deadline = time.monotonic() + budget
    left: Exception | None = None
    for index, event in enumerate(events):
        if isinstance(event, Exception):
            outcomes[index] = event
            continue
        if time.monotonic() > deadline:
            left = BatchTimeBudgetSpent(
                f"The batch spent its {budget:g} s before this event could start; "
                "nothing was stored for it. Send it again."
            )
            break
        step = (
            {}
            if awards.admits(
                external_user_id=event.external_user_id, idempotency_key=event.idempotency_key
            )
            else awards.store()
        )
        if _first_gone(step) is None:
            step |= _award_step(
                api_key=api_key,
                external_game_id=external_game_id,
                awards=awards,
                index=index,
                event=event,
            )
        outcomes |= step
        if _first_gone(step) is not None:
            break
    outcomes |= awards.store()
    unavailable = _first_gone(outcomes)
    if unavailable is not None:
        failure = outcomes[unavailable]
        assert isinstance(failure, Exception), "an outcome the database failed is its error"
        if unavailable == 0:
            raise failure
        left = failure
    return [_outcome(outcomes, index=index, left=left) for index in range(len(events))]


def _outcome(
    outcomes: Mapping[int, AwardOutcome | Exception], *, index: int, left: Exception | None
) -> AwardOutcome | Exception:
    outcome = outcomes.get(index, left)
    assert outcome is not None, "an event without an outcome was left by the batch's end"
    return outcome
