"""The raw SQL of the core domain, with table and column names read from the models."""

from __future__ import annotations

from functools import cache

from gamification.models import Game, Task


@cache
def task_for_award() -> str:
    """Return the read of the task to score and its game by realm, game id and task id.

    Parameters: realm id, external game id, external task id. Answers task id, strategy id,
    status, game id and external game id.
    """
    t, g = Task._meta, Game._meta
    task = {name: t.get_field(name).column for name in ("id", "strategy_id", "status", "game")}
    game = {name: g.get_field(name).column for name in ("id", "external_game_id", "realm")}
    external_task_id = t.get_field("external_task_id").column
    return (
        f"SELECT t.{task['id']}, t.{task['strategy_id']}, t.{task['status']}, "
        f"g.{game['id']}, g.{game['external_game_id']} "
        f"FROM {t.db_table} t JOIN {g.db_table} g ON g.{game['id']} = t.{task['game']} "
        f"WHERE g.{game['realm']} = %s AND g.{game['external_game_id']} = %s "
        f"AND t.{external_task_id} = %s"
    )
