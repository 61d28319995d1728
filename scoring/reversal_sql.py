"""The raw SQL of award reversals, and the recent-window count that leaves reversed awards out.

A reversal is one statement on PostgreSQL, shaped like the award's write (the reversal row
as the source CTE, the player's stats, the eight leaderboard entries and the wallet as CTEs,
the task's stats last), so that it takes its row locks in the same order as concurrent
awards of the same player and task and the two cannot deadlock.
"""

from __future__ import annotations

from functools import cache

from gamification.leaderboards.sql import TRANSACTION_ID, entry_upserts
from gamification.models import (
    Award,
    AwardReversal,
    LedgerEntryKind,
    PlayerTaskStats,
    TaskStats,
)
from gamification.sql import PLAYER_ROW_CTES, column, written_first
from gamification.wallet.sql import wallet_change_ctes

#: The reversal row's columns the statement writes, in order.
REVERSAL_FIELDS = (
    "id",
    "realm",
    "award",
    "player",
    "task",
    "points",
    "award_created_at",
    "reason",
    "reversed_by",
    "reversed_by_key",
    "created_at",
)


@cache
def reversal_store_postgres() -> str:
    """Return the statement that reverses one award, or does nothing when it is reversed.

    Parameters: the ``REVERSAL_FIELDS`` values, then the entry change's
    (``EntryChange.award_write_params()``), then ``wallet_change_params``. Answers the
    transaction's id, or no row when the award was reversed already (by a concurrent
    reversal too: the second waits on the unique index, then inserts nothing).
    """
    r = {name: column(AwardReversal, name) for name in REVERSAL_FIELDS}
    table = AwardReversal._meta.db_table
    a_player, a_task = column(Award, "player"), column(Award, "task")
    a_points, a_created = column(Award, "points"), column(Award, "created_at")
    casts = {"realm": "BIGINT", "player": "BIGINT", "task": "BIGINT", "points": "DOUBLE PRECISION"}
    values = ", ".join(f"CAST(%s AS {casts[name]})" if name in casts else "%s" for name in r)
    # The award table's names, which the wallet's and leaderboards' CTEs read.
    returning = (
        f"{r['player']} AS {a_player}, {r['task']} AS {a_task}, "
        f"{r['points']} AS {a_points}, {r['created_at']} AS {a_created}"
    )
    ps, ts = PlayerTaskStats._meta.db_table, TaskStats._meta.db_table
    ps_count, ps_total = (
        column(PlayerTaskStats, "award_count"),
        column(PlayerTaskStats, "points_total"),
    )
    ps_player, ps_task = column(PlayerTaskStats, "player"), column(PlayerTaskStats, "task")
    ts_count, ts_total = column(TaskStats, "award_count"), column(TaskStats, "points_total")
    ts_task = column(TaskStats, "task")
    entry_source = (
        f"SELECT CAST(%s AS BIGINT) AS game_id, {a_task} AS task_id, {a_player} AS player_id, "
        f"CAST(%s AS VARCHAR(255)) AS external_user_id, {a_points} AS points, -1 AS awards, "
        "CAST(%s AS DATE) AS day_start, CAST(%s AS DATE) AS week_start, "
        "CAST(%s AS DATE) AS month_start FROM reversed"
    )
    game_upsert, task_upsert = entry_upserts("leaderboard_reversal", "postgresql")
    return (
        f"WITH reversed AS (INSERT INTO {table} ({', '.join(r.values())}) VALUES ({values}) "
        f"ON CONFLICT ({r['award']}) DO NOTHING RETURNING {returning}), "
        f"player_stats AS (UPDATE {ps} SET {ps_count} = {ps}.{ps_count} - 1, "
        f"{ps_total} = {ps}.{ps_total} + reversed.{a_points} FROM reversed "
        f"WHERE {ps}.{ps_player} = reversed.{a_player} AND {ps}.{ps_task} = reversed.{a_task} "
        "RETURNING 1), "
        f"leaderboard_reversal AS ({entry_source}), "
        f"leaderboard_game AS ({game_upsert} RETURNING 1), "
        f"leaderboard_task AS ({task_upsert} RETURNING 1)"
        f"{wallet_change_ctes('reversed', LedgerEntryKind.REVERSAL)}"
        f" UPDATE {ts} SET {ts_count} = {ts}.{ts_count} - 1, "
        f"{ts_total} = {ts}.{ts_total} + reversed.{a_points} FROM reversed "
        f"WHERE {ts}.{ts_task} = reversed.{a_task} AND {written_first(PLAYER_ROW_CTES)} "
        f"RETURNING {TRANSACTION_ID}"
    )


@cache
def stats_reverse(vendor: str) -> tuple[str, str]:
    """Return the updates taking one award out of the stats rows (the ORM path's).

    Parameters of each: points (negated), then player id and task id, or task id.
    """
    del vendor  # the same text on every database
    ps, ts = PlayerTaskStats._meta.db_table, TaskStats._meta.db_table
    ps_count, ps_total = (
        column(PlayerTaskStats, "award_count"),
        column(PlayerTaskStats, "points_total"),
    )
    ts_count, ts_total = column(TaskStats, "award_count"), column(TaskStats, "points_total")
    return (
        f"UPDATE {ps} SET {ps_count} = {ps_count} - 1, {ps_total} = {ps_total} + %s "
        f"WHERE {column(PlayerTaskStats, 'player')} = %s "
        f"AND {column(PlayerTaskStats, 'task')} = %s",
        f"UPDATE {ts} SET {ts_count} = {ts_count} - 1, {ts_total} = {ts_total} + %s "
        f"WHERE {column(TaskStats, 'task')} = %s",
    )


def recent_count(*, player: str, task: str | None, vendor: str) -> str:
    """Return the count of a player's awards on a task after a moment, less those reversed:
    a scalar subquery over the SQL expressions ``player`` and ``task``.

    Parameters: the task id when ``task`` is None, then the moment. The awards are an index
    range of ``award_player_task_time`` as before; the reversals a probe of the small
    reversal table by its own index.
    """
    award, reversal = Award._meta.db_table, AwardReversal._meta.db_table
    a_player, a_task = column(Award, "player"), column(Award, "task")
    a_created = column(Award, "created_at")
    r_player, r_task = column(AwardReversal, "player"), column(AwardReversal, "task")
    r_award_at = column(AwardReversal, "award_created_at")
    since = "CAST(%s AS TIMESTAMP WITH TIME ZONE)" if vendor == "postgresql" else "%s"
    window = f"SELECT {since} AS since"
    if task is None:
        window, task = f"SELECT CAST(%s AS BIGINT) AS task_id, {since} AS since", "w.task_id"
    return (
        f"(SELECT (SELECT COUNT(*) FROM {award} a WHERE a.{a_player} = {player} "
        f"AND a.{a_task} = {task} AND a.{a_created} > w.since) - "
        f"(SELECT COUNT(*) FROM {reversal} r WHERE r.{r_player} = {player} "
        f"AND r.{r_task} = {task} AND r.{r_award_at} > w.since) "
        f"FROM ({window}) w)"
    )
