"""Reverse an award: take its points back from every total, board and wallet they count in.

How a reversed award counts for strategies (the analytics of later events): not at all as an
award. The task's and the player's award counts and points totals drop it, and so do the
recent-window counts (``user.recent_measurements_count`` and a built-in's windows), which
subtract the reversed awards of the window. The first, last and previous award timestamps
are the player's activity and stay as they were: a stats row cannot find the award before the
last one without a scan, so the mean gaps (``user.avg_time``, ``all.avg_time``), which
telescope to (last - first) / (count - 1), divide the same span by one award fewer. The award
row itself stays as scored (the record of the event, which experiments and backtests read),
linked to its reversal.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from gamification.achievements.services import achievements_award_reverse
from gamification.errors import ConflictError, NotFoundError
from gamification.leaderboards.services import (
    entry_change_for_award,
    leaderboard_cache_change,
    leaderboard_entries_change,
)
from gamification.models import (
    ApiKey,
    Award,
    AwardReversal,
    LedgerEntryKind,
    Player,
    Realm,
    WebhookEventType,
)
from gamification.wallet.services import wallet_award_record
from gamification.wallet.sql import wallet_change_params
from gamification.webhooks import webhook_event_emit
from scoring import reversal_sql
from scoring.errors import ScoringError


class AwardAlreadyReversed(ScoringError, ConflictError):
    code = "AWARD_ALREADY_REVERSED"


@dataclass(frozen=True, slots=True)
class ReversalOutcome:
    """The compensating entry of a reversal and where its award counted."""

    reversal: AwardReversal
    external_game_id: str
    external_task_id: str
    external_user_id: str
    badges_taken_back: tuple[str, ...] = ()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _actor(user: Any, api_key: ApiKey | None) -> dict[str, str] | None:
    if user is not None:
        return {"type": "user", "name": user.get_username()}
    if api_key is not None:
        return {"type": "apiKey", "name": api_key.name, "prefix": api_key.prefix}
    return None


def reversal_data(outcome: ReversalOutcome) -> dict[str, Any]:
    """The ``award.reversed`` event's data, also the API's answer: the compensating entry."""
    reversal = outcome.reversal
    return {
        "id": str(reversal.pk),
        "awardId": str(reversal.award_id),
        "reversalOf": str(reversal.award_id),
        "externalGameId": outcome.external_game_id,
        "externalTaskId": outcome.external_task_id,
        "externalUserId": outcome.external_user_id,
        "points": reversal.points,
        "reason": reversal.reason,
        "reversedBy": _actor(reversal.reversed_by, reversal.reversed_by_key),
        "awardCreatedAt": _iso(reversal.award_created_at),
        "createdAt": _iso(reversal.created_at),
        "badgesTakenBack": list(outcome.badges_taken_back),
    }


def _award_get(*, realm: Realm, award_id: str) -> Award:
    try:
        pk = uuid.UUID(award_id)
    except ValueError:
        pk = None
    award = (
        Award.objects.filter(realm=realm, pk=pk).select_related("task__game", "player").first()
        if pk is not None
        else None
    )
    if award is None:
        raise NotFoundError(f"No award {award_id!r}.", code="AWARD_NOT_FOUND")
    return award


def award_reverse(
    *,
    realm: Realm,
    award_id: str,
    reason: str,
    api_key: ApiKey | None = None,
    user: Any = None,
) -> ReversalOutcome:
    """Reverse the award ``award_id`` of ``realm`` once, atomically, recording who and why.

    One transaction moves the player's and the task's stats, the award's eight leaderboard
    entries, the player's wallet (a ``reversal`` ledger entry), takes back the badges the award
    granted and recounts the player's streak, and writes the ``award.reversed`` outbox rows;
    the Redis boards follow after the commit. A second reversal, concurrent or not, is a 409
    ``AWARD_ALREADY_REVERSED``.
    """
    for _ in range(_ERASURE_RETRIES):
        award = _award_get(realm=realm, award_id=award_id)
        try:
            return _award_reverse(
                award=award, realm=realm, reason=reason, api_key=api_key, user=user
            )
        except IntegrityError:
            # An erasure that committed after the award was read moved it to a tombstone
            # and deleted the player this reversal wrote for: read the award again.
            if Player.objects.filter(pk=award.player_id).exists():
                raise
    raise ConflictError(
        "The award's player was erased while it was reversed; send it again.",
        code="PLAYER_ERASED",
    )


#: Reads of the award again when an erasure moved it to a tombstone meanwhile.
_ERASURE_RETRIES = 3


def _award_reverse(
    *, award: Award, realm: Realm, reason: str, api_key: ApiKey | None, user: Any
) -> ReversalOutcome:
    now = timezone.now()
    reversal = AwardReversal(
        realm_id=realm.pk,
        award=award,
        player_id=award.player_id,
        task_id=award.task_id,
        points=-award.points,
        award_created_at=award.created_at,
        reason=reason,
        reversed_by=user if user is not None and user.is_authenticated else None,
        reversed_by_key=api_key,
        created_at=now,
    )
    change = entry_change_for_award(
        timezone=realm.timezone,
        game_id=award.task.game_id,
        task_id=award.task_id,
        external_user_id=award.player.external_user_id,
        points=award.points,
        at=award.created_at,
    )
    change = replace(change, points=-award.points, awards=-1)
    outcome = ReversalOutcome(
        reversal=reversal,
        external_game_id=award.task.game.external_game_id,
        external_task_id=award.task.external_task_id,
        external_user_id=award.player.external_user_id,
    )
    with transaction.atomic():
        if connection.vendor == "postgresql":
            transaction_id = _reversal_store_postgres(reversal, change)
        else:
            transaction_id = None
            _reversal_store(reversal, change)
        taken_back = achievements_award_reverse(award=award)
        outcome = replace(outcome, badges_taken_back=taken_back.badge_ids)
        webhook_event_emit(
            realm=realm,
            type=WebhookEventType.AWARD_REVERSED,
            data=reversal_data(outcome),
            at=now,
        )
    leaderboard_cache_change(change=change, transaction_id=transaction_id)
    return outcome


def _reversal_store_postgres(reversal: AwardReversal, change: Any) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    values = {
        "id": reversal.pk,
        "realm": reversal.realm_id,
        "award": reversal.award_id,
        "player": reversal.player_id,
        "task": reversal.task_id,
        "points": reversal.points,
        "award_created_at": adapt(reversal.award_created_at),
        "reason": reversal.reason,
        "reversed_by": reversal.reversed_by_id,
        "reversed_by_key": reversal.reversed_by_key_id,
        "created_at": adapt(reversal.created_at),
    }
    params = [
        *(values[name] for name in reversal_sql.REVERSAL_FIELDS),
        *change.award_write_params(),
        *wallet_change_params(
            award_id=reversal.award_id,
            realm_id=reversal.realm_id,
            reason=reversal.reason,
            actor_user_id=reversal.reversed_by_id,
            actor_key_id=reversal.reversed_by_key_id,
        ),
    ]
    with connection.cursor() as cursor:
        cursor.execute(reversal_sql.reversal_store_postgres(), params)
        row = cursor.fetchone()
    if row is None:
        raise AwardAlreadyReversed("This award was reversed already.")
    return row[0]


def _reversal_store(reversal: AwardReversal, change: Any) -> None:
    """The ORM path of the demo: the same writes as statements of their own."""
    try:
        with transaction.atomic():
            reversal.save(force_insert=True)
    except IntegrityError:
        raise AwardAlreadyReversed("This award was reversed already.") from None
    player_stats, task_stats = reversal_sql.stats_reverse(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(player_stats, [reversal.points, reversal.player_id, reversal.task_id])
        cursor.execute(task_stats, [reversal.points, reversal.task_id])
    leaderboard_entries_change(change=change, player_id=reversal.player_id)
    wallet_award_record(
        award=reversal.award,
        kind=LedgerEntryKind.REVERSAL,
        at=reversal.created_at,
        reason=reversal.reason,
        actor_user=reversal.reversed_by,
        actor_key=reversal.reversed_by_key,
    )
