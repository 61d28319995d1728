"""Writes of player data requests: erase a player, and the audit record of every request."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from gamification.errors import NotFoundError
from gamification.models import (
    ApiKey,
    Player,
    PlayerDataRequest,
    PlayerDataRequestKind,
    PlayerErasureFence,
    PlayerTaskStats,
    Realm,
)
from gamification.player_data.sections import (
    TOMBSTONE_PREFIX,
    Erasure,
    player_data_sections,
    player_digest,
)


def _player_not_found(external_user_id: str) -> NotFoundError:
    return NotFoundError(f"No player {external_user_id!r}.", code="PLAYER_NOT_FOUND")


def player_export_record(
    *, realm: Realm, player: Player, api_key: ApiKey | None = None, user: Any = None
) -> PlayerDataRequest:
    """Record that ``player``'s data is being exported (``rows`` follows once it is sent)."""
    return PlayerDataRequest.objects.create(
        realm=realm,
        kind=PlayerDataRequestKind.EXPORT,
        player=player,
        requested_by_key=api_key,
        requested_by=user,
    )


def player_export_finish(*, request: PlayerDataRequest, rows: dict[str, int]) -> None:
    """Store how many items each section exported, once the whole export was produced."""
    PlayerDataRequest.objects.filter(pk=request.pk).update(rows=rows)


def player_erase(
    *, realm: Realm, external_user_id: str, api_key: ApiKey | None = None, user: Any = None
) -> PlayerDataRequest:
    """Erase the personal data of the realm's player ``external_user_id``, all or nothing.

    A tombstone player (``erased:<uuid>``) takes the player's place: every section moves its
    rows to it and scrubs what the player or their events said, so totals, stats and
    leaderboards stay what they were. The player's row is then deleted, not renamed: an
    award that read it before the erasure and writes after fails on its foreign key instead
    of adding the erased id back. The external id is free again: a later award for it creates
    a new player. The audit record names the tombstone, never the erased id.
    """
    with transaction.atomic():
        # The locks in the order an award takes them: its write upserts the player's stats
        # row first and checks its foreign key to the player at commit. Taking the player's
        # lock first would deadlock with an award in between.
        list(
            PlayerTaskStats.objects.select_for_update(of=("self",))
            .filter(player__realm=realm, player__external_user_id=external_user_id)
            .values_list("pk", flat=True)
        )
        # Awards of the player wait on this lock (their foreign key check), and the erasure
        # waits for those already writing: it sees every award that committed before it.
        player = (
            Player.objects.select_for_update()
            .filter(realm=realm, external_user_id=external_user_id)
            .first()
        )
        if player is None:
            raise _player_not_found(external_user_id)
        tombstone = Player.objects.create(
            realm=realm, external_user_id=f"{TOMBSTONE_PREFIX}{uuid.uuid4()}"
        )
        Player.objects.filter(pk=tombstone.pk).update(created_at=player.created_at)
        erasure = Erasure(
            realm=realm, player=player, tombstone=tombstone, external_user_id=external_user_id
        )
        rows = {section.name: section.erase(erasure=erasure) for section in player_data_sections()}
        PlayerDataRequest.objects.filter(player=player).update(
            player=tombstone, subject=tombstone.external_user_id
        )
        _player_row_delete(player)
        _fence_set(realm=realm, external_user_id=external_user_id, tombstone=tombstone)
        return PlayerDataRequest.objects.create(
            realm=realm,
            kind=PlayerDataRequestKind.ERASE,
            player=tombstone,
            subject=tombstone.external_user_id,
            requested_by_key=api_key,
            requested_by=user,
            rows=rows,
        )


def _player_row_delete(player: Player) -> None:
    """Delete the erased player's row, which nothing refers to any more.

    Not through the ORM's cascade: it would look for the player's leaderboard entries by a
    column no index leads with. A row some section left behind (a model with a foreign key
    to the player and no section) fails the commit on its foreign key, and nothing is erased.
    """
    table = Player._meta.db_table
    column = Player._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [player.pk])


def _fence_set(*, realm: Realm, external_user_id: str, tombstone: Player) -> None:
    """Fence the erased id against late rows, and forget the fences that have run out."""
    now = timezone.now()
    PlayerErasureFence.objects.filter(
        erased_at__lt=now - timedelta(seconds=settings.PLAYER_ERASURE_FENCE_SECONDS)
    ).delete()
    PlayerErasureFence.objects.create(
        realm=realm,
        digest=player_digest(realm_id=realm.pk, external_user_id=external_user_id),
        tombstone=tombstone.external_user_id,
        erased_at=now,
    )
