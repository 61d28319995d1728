"""The raw SQL of the core domain, with table and column names read from the models."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import InterfaceError, OperationalError, connection, models

from gamification.models import Game, Task

#: The longest statement, and the most parameters, whose conversion psycopg may cache.
STATEMENT_CACHE_MAX_LENGTH = 32_768
STATEMENT_CACHE_MAX_PARAMS = 256


def psycopg_statement_cache_widen() -> None:
    """Let psycopg cache the conversion of the award's statements, however many CTEs they have.

    On every execute psycopg rewrites a statement's ``%s`` placeholders (to ``$n``, or merges
    the values in, by cursor) with a regular expression, and keeps the result in a cache of
    128 only for statements of at most 4 KB and 50 parameters: a limit meant for
    ORM-generated bulk INSERTs of ever-varying length. The award's write, with its
    leaderboard, wallet, webhook and achievement CTEs, is 4.5 KB and more; parsing it again
    on every award cost a tenth of the worker's CPU per award (measured in-process). The award
    statements are a handful of fixed texts, built once per shape, so caching them is bounded.
    The limits are psycopg's module settings; a test checks that they still take effect.
    """
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_LENGTH = max(
        _queries.MAX_CACHED_STATEMENT_LENGTH, STATEMENT_CACHE_MAX_LENGTH
    )
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(
        _queries.MAX_CACHED_STATEMENT_PARAMS, STATEMENT_CACHE_MAX_PARAMS
    )


#: The CTEs of an award's (or a reversal's) write that change the player's own rows, in the
#: order every such write takes their locks: before the task's stats row (``written_first``).
PLAYER_ROW_CTES = (
    "player_stats",
    "leaderboard_game",
    "leaderboard_task",
    "wallet_ledger",
    "wallet_balance",
)


def written_first(ctes: Sequence[str]) -> str:
    """Return a condition, always true, that runs the data-modifying ``ctes`` to completion,
    in order, before the query it gates reads a row.

    PostgreSQL runs a statement's main query first and the CTEs it does not read after it.
    The task's stats row, which every award of the task updates, is the main query of an
    award's write: it was locked first and held while the rest of the statement ran, so that
    the awards of one task ran their writes one at a time. Gated by this condition (a
    one-time filter over a UNION ALL, whose branches run in order), the main query locks it
    last, and holds it only until the commit; the player's rows, which other awards of the
    task do not touch, are locked before it in the same order by every write.
    """
    branches = " UNION ALL ".join(f"SELECT 1 FROM {name}" for name in ctes)
    return f"(SELECT COUNT(*) FROM ({branches}) AS written) >= 0"


def concrete_field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """Return the field ``name`` of ``model``, one with a column (not a reverse relation)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), f"{model.__name__}.{name} is a reverse relation"
    return field


def column(model: type[models.Model], name: str) -> str:
    """Return the database column of the field ``name`` of ``model``."""
    name_in_db = concrete_field(model, name).column
    assert name_in_db is not None, f"{model.__name__}.{name} has no column"
    return name_in_db


@cache
def task_for_award() -> str:
    """Return the read of the task to score and its game by realm, game id and task id.

    Parameters: realm id, external game id, external task id. Answers task id, strategy id,
    status, game id and external game id.
    """
    t, g = Task._meta, Game._meta
    task = {name: column(Task, name) for name in ("id", "strategy_id", "status", "game")}
    game = {name: column(Game, name) for name in ("id", "external_game_id", "realm")}
    external_task_id = column(Task, "external_task_id")
    return (
        f"SELECT t.{task['id']}, t.{task['strategy_id']}, t.{task['status']}, "
        f"g.{game['id']}, g.{game['external_game_id']} "
        f"FROM {t.db_table} t JOIN {g.db_table} g ON g.{game['id']} = t.{task['game']} "
        f"WHERE g.{game['realm']} = %s AND g.{game['external_game_id']} = %s "
        f"AND t.{external_task_id} = %s"
    )


def read_one(statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run a read and return its first row, on a new connection if the kept one had died.

    Connection health checks are off (each costs a ``SELECT 1`` per request), so a persistent
    connection the server closed while it sat idle (a restart, a failover, an ended backend)
    is only found out by the first statement of a request. A read outside a transaction is
    safe to send again; a connection that was fine, or a database that stays away, still fails.
    """
    reused = connection.connection is not None
    try:
        return _read_one(statement, params)
    except (OperationalError, InterfaceError):
        if not reused or connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
    return _read_one(statement, params)


def _read_one(statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchone()
