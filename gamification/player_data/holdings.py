"""The core's sections of what a player holds beyond awards: the wallet and its ledger, the
reversals of their awards, their badges and their streaks.

Each moves to the tombstone unchanged where it is a total (balances, streaks, badges: what
the player earned stays counted), and loses what names the player: a conversion's stored
answer and its Idempotency-Key (a game server's key may embed the player's id). A ledger
entry's and a reversal's ``reason`` is an operator's or a game server's record of why, kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gamification.models import (
    AwardReversal,
    LedgerEntry,
    Player,
    PlayerBadge,
    PlayerGameStats,
    Realm,
    Wallet,
)
from gamification.player_data.core import iso
from gamification.player_data.sections import Erasure, keyset_chunks


def _amount(value: Any) -> float:
    return float(value)


class WalletSection:
    """The player's balances (one row at most)."""

    name = "wallet"

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        for wallet in Wallet.objects.filter(player=player).values(
            "points_balance", "coins_balance", "updated_at"
        ):
            yield {
                "points_balance": _amount(wallet["points_balance"]),
                "coins_balance": wallet["coins_balance"],
                "updated_at": iso(wallet["updated_at"]),
            }

    def erase(self, *, erasure: Erasure) -> int:
        return Wallet.objects.filter(player=erasure.player).update(player=erasure.tombstone)


class LedgerEntriesSection:
    """Every entry of the player's ledger, oldest first, along its (player, time) index."""

    name = "ledger_entries"
    FIELDS = (
        "id",
        "kind",
        "points",
        "coins",
        "award_id",
        "reason",
        "idempotency_key",
        "request",
        "created_at",
    )

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        rows = LedgerEntry.objects.filter(player=player)
        for chunk in keyset_chunks(rows, key=("created_at", "id"), fields=self.FIELDS):
            for row in chunk:
                yield {
                    "entry_id": str(row["id"]),
                    "kind": row["kind"],
                    "points": _amount(row["points"]),
                    "coins": row["coins"],
                    "award_id": str(row["award_id"]) if row["award_id"] else None,
                    "reason": row["reason"],
                    "idempotency_key": row["idempotency_key"],
                    "request": row["request"],
                    "created_at": iso(row["created_at"]),
                }

    def erase(self, *, erasure: Erasure) -> int:
        return LedgerEntry.objects.filter(player=erasure.player).update(
            player=erasure.tombstone, idempotency_key=None, request=None, response_body=None
        )


class AwardReversalsSection:
    """The reversals of the player's awards: the points taken back, why and when."""

    name = "award_reversals"
    FIELDS = ("id", "award_id", "points", "reason", "award_created_at", "created_at")

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        # Through the awards' (player, ...) index and the reversals' unique award key.
        rows = AwardReversal.objects.filter(award__player=player)
        for chunk in keyset_chunks(rows, key=("id",), fields=self.FIELDS):
            for row in chunk:
                yield {
                    "reversal_id": str(row["id"]),
                    "award_id": str(row["award_id"]),
                    "points": row["points"],
                    "reason": row["reason"],
                    "award_created_at": iso(row["award_created_at"]),
                    "created_at": iso(row["created_at"]),
                }

    def erase(self, *, erasure: Erasure) -> int:
        # The awards may have moved to the tombstone already.
        awards_of = (erasure.player.pk, erasure.tombstone.pk)
        return AwardReversal.objects.filter(
            award__player__in=awards_of, player=erasure.player
        ).update(player=erasure.tombstone)


class BadgesSection:
    """The badges the player holds, per game, with the award that earned each."""

    name = "badges"
    FIELDS = ("id", "game__external_game_id", "badge__badge_id", "award_id", "earned_at")

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        rows = PlayerBadge.objects.filter(player=player)
        for chunk in keyset_chunks(rows, key=("id",), fields=self.FIELDS):
            for row in chunk:
                yield {
                    "external_game_id": row["game__external_game_id"],
                    "badge_id": row["badge__badge_id"],
                    "award_id": str(row["award_id"]) if row["award_id"] else None,
                    "earned_at": iso(row["earned_at"]),
                }

    def erase(self, *, erasure: Erasure) -> int:
        return PlayerBadge.objects.filter(player=erasure.player).update(player=erasure.tombstone)


class GameStatsSection:
    """The player's streaks, per game."""

    name = "game_stats"
    FIELDS = (
        "id",
        "game__external_game_id",
        "current_streak",
        "longest_streak",
        "streak_period_start",
    )

    def export(self, *, realm: Realm, player: Player) -> Iterator[dict[str, Any]]:  # noqa: ARG002
        rows = PlayerGameStats.objects.filter(player=player)
        for chunk in keyset_chunks(rows, key=("id",), fields=self.FIELDS):
            for row in chunk:
                yield {
                    "external_game_id": row["game__external_game_id"],
                    "current_streak": row["current_streak"],
                    "longest_streak": row["longest_streak"],
                    "streak_period_start": iso(row["streak_period_start"]),
                }

    def erase(self, *, erasure: Erasure) -> int:
        return PlayerGameStats.objects.filter(player=erasure.player).update(
            player=erasure.tombstone
        )


HOLDINGS_SECTIONS = (
    WalletSection(),
    LedgerEntriesSection(),
    AwardReversalsSection(),
    BadgesSection(),
    GameStatsSection(),
)
