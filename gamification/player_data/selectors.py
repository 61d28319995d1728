"""Reads of player data requests: the player to export, and each section's items."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gamification.errors import ConflictError, NotFoundError
from gamification.models import Player, Realm
from gamification.player_data.sections import player_data_sections


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
