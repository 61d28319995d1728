"""Reads of wallets: balances, the rate in force and the ledger, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from gamification.models import LedgerEntry, Player, Wallet

#: How many entries a wallet's read shows before its paginated ledger.
LATEST_ENTRIES = 10


@dataclass(frozen=True, slots=True)
class WalletView:
    external_user_id: str
    points_balance: Decimal
    coins_balance: int
    conversion_rate: Decimal | None
    updated_at: datetime | None
    latest_entries: list[LedgerEntry]


def ledger_entries(*, player: Player, kind: str | None = None) -> QuerySet[LedgerEntry]:
    """The player's ledger, newest first (one index range), with who made each entry."""
    rows = LedgerEntry.objects.filter(player=player).select_related("actor_user", "actor_key")
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-created_at", "-id")


def wallet_read(*, player: Player) -> WalletView:
    """The player's balances (zero before anything was earned), the realm's rate and the
    latest entries."""
    wallet = Wallet.objects.filter(player=player).first()
    rate = (
        Player.objects.filter(pk=player.pk).values_list("realm__conversion_rate", flat=True).first()
    )
    return WalletView(
        external_user_id=player.external_user_id,
        points_balance=wallet.points_balance if wallet is not None else Decimal(0),
        coins_balance=wallet.coins_balance if wallet is not None else 0,
        conversion_rate=rate,
        updated_at=wallet.updated_at if wallet is not None else None,
        latest_entries=list(ledger_entries(player=player)[:LATEST_ENTRIES]),
    )
