"""The raw SQL of wallets, with table and column names read from the models.

A wallet changes with the write of what changes it: an award (or a reversal) adds its ledger
entry and its wallet upsert to its own statement as two CTEs over a *source* CTE that
answers ``player_id``, ``points`` and ``at`` columns under the award table's names
(``wallet_change_ctes``). Points enter the ledger rounded to six decimals (NUMERIC), so the
wallet's balance is the exact sum of its entries whatever order concurrent writes take.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from gamification.ids import uuid7
from gamification.models import Award, LedgerEntry, LedgerEntryKind, Wallet
from gamification.sql import column

#: NUMERIC of the ledger's and wallet's points, as in the models.
POINTS_TYPE = "NUMERIC(38, 6)"


def _ledger_columns() -> list[str]:
    return [
        column(LedgerEntry, name)
        for name in ("id", "realm", "player", "kind", "points", "coins", "award", "reason")
    ] + [column(LedgerEntry, name) for name in ("created_at", "actor_user", "actor_key")]


@cache
def wallet_change_ctes(source: str, kind: str, sign: int = 1, rows: bool = False) -> str:
    """Return two CTEs, comma first, that add the points of each row of CTE ``source`` to its
    player's wallet and ledger (PostgreSQL), ``sign`` times them.

    ``source`` answers the award table's player, points and created_at columns. Its
    parameters are ``wallet_change_params``. With ``rows`` (many awards, one per player)
    ``source`` also answers each award's id and its ``ledger_id``, the parameters are
    ``wallet_rows_change_params``, and the wallets are written in player order, so that
    two such writes take their locks in one order.
    """
    assert kind in LedgerEntryKind.values, "a literal of the statement, never input"
    assert sign in (1, -1), "a sign"
    ledger, wallet = LedgerEntry._meta.db_table, Wallet._meta.db_table
    player, points = column(Award, "player"), column(Award, "points")
    at = column(Award, "created_at")
    w = {
        name: column(Wallet, name)
        for name in ("realm", "player", "points_balance", "coins_balance", "updated_at")
    }
    delta = f"ROUND(CAST({'-' if sign < 0 else ''}src.{points} AS {POINTS_TYPE}), 6)"
    entry_id, award_id = ("src.ledger_id", f"src.{column(Award, 'id')}") if rows else ("%s", "%s")
    return (
        f", wallet_ledger AS (INSERT INTO {ledger} ({', '.join(_ledger_columns())}) "
        f"SELECT {entry_id}, CAST(%s AS BIGINT), src.{player}, '{kind}', {delta}, 0, "
        f"{award_id}, %s, src.{at}, %s, %s "
        f"FROM {source} src RETURNING 1), "
        f"wallet_balance AS (INSERT INTO {wallet} ({', '.join(w.values())}) "
        f"SELECT CAST(%s AS BIGINT), src.{player}, {delta}, 0, src.{at} FROM {source} src "
        f"{f'ORDER BY src.{player} ' if rows else ''}"
        f"ON CONFLICT ({w['player']}) DO UPDATE SET "
        f"{w['points_balance']} = {wallet}.{w['points_balance']} + "
        f"excluded.{w['points_balance']}, "
        f"{w['updated_at']} = GREATEST({wallet}.{w['updated_at']}, excluded.{w['updated_at']}) "
        "RETURNING 1)"
    )


def wallet_change_params(
    *,
    award_id: uuid.UUID,
    realm_id: int,
    reason: str = "",
    actor_user_id: int | None = None,
    actor_key_id: int | None = None,
) -> list[Any]:
    """Return the parameters of ``wallet_change_ctes`` for the award ``award_id``."""
    return [uuid7(), realm_id, award_id, reason, actor_user_id, actor_key_id, realm_id]


def wallet_rows_change_params(
    *, realm_id: int, actor_key_id: int | None = None, reason: str = ""
) -> list[Any]:
    """Return the parameters of ``wallet_change_ctes`` with ``rows``, for awards of one
    realm stored by one key."""
    return [realm_id, reason, None, actor_key_id, realm_id]
