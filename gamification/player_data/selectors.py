"""Reads of player data requests: the player to export, and each section's items."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from gamification.errors import ConflictError, NotFoundError
from gamification.models import Player, PlayerErasureFence, Realm
from gamification.player_data.sections import player_data_sections, player_digest


def player_for_request(*, realm: Realm, external_user_id: str) -> Player:
    """Return the realm's player ``external_user_id``; another realm's is a 404 too."""
    player = Player.objects.filter(realm=realm, external_user_id=external_user_id).first()
    if player is None:
        raise NotFoundError(f"No player {external_user_id!r}.", code="PLAYER_NOT_FOUND")
    return player


def player_export_sections(
    *, realm: Realm, player: Player
) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
    """Yield each section's name and its items, read lazily a chunk at a time."""
    for section in player_data_sections():
        yield section.name, section.export(realm=realm, player=player)


def player_erased_check(*, player_id: int | None) -> None:
    """Raise 409 ``PLAYER_ERASED`` when the player an award was written for is gone.

    An award reads the player, scores, then writes; an erasure in between deletes the row
    and the write fails on its foreign key. Sent again, the award creates a new player.
    """
    if player_id is not None and not Player.objects.filter(pk=player_id).exists():
        raise ConflictError(
            "The player was erased while this award was scored; nothing was stored. Send it "
            "again to award a new player of that id.",
            code="PLAYER_ERASED",
        )


@dataclass(frozen=True, slots=True)
class ErasedPlayer:
    tombstone: str
    erased_at: datetime


def players_erased_find(
    *, players: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], ErasedPlayer]:
    """Return which of ``players`` (realm id, external id) were erased within the fence's
    time; one query for all of them."""
    digests = {
        player_digest(realm_id=realm_id, external_user_id=user): (realm_id, user)
        for realm_id, user in players
    }
    if not digests:
        return {}
    since = timezone.now() - timedelta(seconds=settings.PLAYER_ERASURE_FENCE_SECONDS)
    fences = PlayerErasureFence.objects.filter(digest__in=sorted(digests), erased_at__gte=since)
    found: dict[tuple[int, str], ErasedPlayer] = {}
    for fence in fences.order_by("erased_at"):
        player = digests[fence.digest]
        if player[0] == fence.realm_id:
            found[player] = ErasedPlayer(tombstone=fence.tombstone, erased_at=fence.erased_at)
    return found
