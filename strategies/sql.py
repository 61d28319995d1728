"""The raw SQL of backtests, with table and column names read from the models.

A backtest replays the awards of a window with the analytics each event had when it was
scored. Those analytics are running values of the award history (counts, first, last and
previous timestamps, recent-window counts per player and task), so they are rebuilt in one
statement with window functions over the tasks' awards in time order, never one query per
event: ``backtest_history`` below.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from gamification.models import Award, Player
from gamification.sql import column

#: The columns ``backtest_history`` answers before its optional groups, in order.
EVENT_COLUMNS = (
    "created_at",
    "data",
    "points",
    "case_name",
    "task_id",
    "player_id",
    "external_user_id",
)
#: The task-wide running values (``task.*`` and ``all.*`` paths), when asked for.
TASK_COLUMNS = ("task_count", "task_first", "task_last")
#: The player's running values on the task (``user.*`` paths), when asked for.
PLAYER_COLUMNS = ("player_count", "player_first", "player_last", "player_previous")


@dataclass(frozen=True, slots=True)
class HistoryShape:
    """What one backtest's history read computes beside each event's own columns."""

    task_values: bool
    player_values: bool
    #: One count of the player's earlier awards on the task per window, in seconds.
    windows: tuple[int, ...]
    #: True when the window holds more events than the backtest runs: the events end at a
    #: (created_at, id) bound instead of at the window's end.
    bounded: bool


def _tasks_in(vendor: str, task_count: int) -> str:
    """A filter of the award table's task column on the backtest's tasks.

    PostgreSQL takes the ids as one array parameter, whatever their number; SQLite (the
    demo's database) takes one parameter per id.
    """
    a_task = column(Award, "task")
    if vendor == "postgresql":
        return f"a.{a_task} = ANY(%s)"
    return f"a.{a_task} IN ({', '.join(['%s'] * task_count)})"


def tasks_params(vendor: str, task_ids: Sequence[int]) -> list[object]:
    """Return the parameters of ``_tasks_in`` for ``task_ids``."""
    return [list(task_ids)] if vendor == "postgresql" else list(task_ids)


@cache
def backtest_window_count(vendor: str, task_count: int) -> str:
    """Return the count of the tasks' awards in [since, until), counting at most a limit.

    Parameters: the tasks (``tasks_params``), since, until, the limit. An index range scan
    of ``award_task_time`` per task.
    """
    a_created = column(Award, "created_at")
    return (
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {Award._meta.db_table} a "
        f"WHERE {_tasks_in(vendor, task_count)} "
        f"AND a.{a_created} >= %s AND a.{a_created} < %s LIMIT %s) AS w"
    )


@cache
def backtest_window_bound(vendor: str, task_count: int) -> str:
    """Return the (created_at, id) of the n-th award of the tasks in [since, until).

    Parameters: the tasks, since, until, n - 1. Awards are ordered by time, then id, so
    that the bound cuts between two awards even when several share a timestamp.
    """
    a_created, a_id = column(Award, "created_at"), column(Award, "id")
    return (
        f"SELECT a.{a_created}, a.{a_id} FROM {Award._meta.db_table} a "
        f"WHERE {_tasks_in(vendor, task_count)} "
        f"AND a.{a_created} >= %s AND a.{a_created} < %s "
        f"ORDER BY a.{a_created}, a.{a_id} LIMIT 1 OFFSET %s"
    )


def _order_key(vendor: str, created_at: str) -> str:
    """The time order of awards as a window's one ORDER BY term.

    A RANGE frame over a time offset needs a single ordering value it can subtract from.
    PostgreSQL orders by the timestamp and subtracts an interval. SQLite stores Django's
    'YYYY-MM-DD HH:MM:SS[.ffffff]' text, so it orders by whole microseconds since the epoch:
    seconds of the first 19 characters (strftime would round the fraction) plus the fraction.
    """
    if vendor == "postgresql":
        return created_at
    return (
        f"(CAST(strftime('%%s', substr({created_at}, 1, 19)) AS INTEGER) * 1000000 "
        f"+ CAST(substr({created_at} || '.000000', 21, 6) AS INTEGER))"
    )


def _window_offset(vendor: str, seconds: int) -> str:
    """A RANGE offset that keeps the awards strictly after ``seconds`` before the current one.

    The award path counts ``created_at > now - window``; a frame's offset is inclusive, and
    timestamps have microsecond resolution on both databases, so the offset is one
    microsecond short of the window.
    """
    microseconds = int(seconds) * 1_000_000 - 1
    if vendor == "postgresql":
        return f"INTERVAL '{microseconds} microseconds'"
    return str(microseconds)


@cache
def backtest_history(vendor: str, task_count: int, shape: HistoryShape) -> str:
    """Return the one read of a backtest: each event of the window with its analytics.

    Every award of the tasks up to the end of the window takes part in the running values,
    earlier ones included (an event's counts cover the whole history before it); only the
    awards from ``since`` on come out. Each value describes the history *before* the award,
    as the award path read it from the stats rows: ROW_NUMBER() - 1 earlier awards, LAG for
    the last and previous ones, the partition's first row, and COUNT(*) - 1 over a RANGE
    frame for the awards of the last ``window`` seconds.

    Parameters: the tasks, then the end of the history (the bound's created_at, included,
    when ``shape.bounded``; else until, excluded), then since, then when bounded the bound's
    created_at and id. Answers ``EVENT_COLUMNS``, then ``TASK_COLUMNS`` and
    ``PLAYER_COLUMNS`` if asked for, then one count per window. Rows come in no order.
    """
    award, player = Award._meta.db_table, Player._meta.db_table
    a_id, a_created = column(Award, "id"), column(Award, "created_at")
    a_task, a_player = column(Award, "task"), column(Award, "player")
    a_data, a_points = column(Award, "data"), column(Award, "points")
    a_case = column(Award, "case_name")
    p_id, p_user = column(Player, "id"), column(Player, "external_user_id")
    order = _order_key(vendor, f"a.{a_created}")

    values = []
    windows = []
    if shape.task_values:
        values += [
            "ROW_NUMBER() OVER task_order - 1 AS task_count",
            f"MIN(a.{a_created}) OVER task_order AS task_first",
            f"LAG(a.{a_created}) OVER task_order AS task_last",
        ]
        windows.append(f"task_order AS (PARTITION BY a.{a_task} ORDER BY {order})")
    if shape.player_values or shape.windows:
        windows.append(f"player_order AS (PARTITION BY a.{a_task}, a.{a_player} ORDER BY {order})")
    if shape.player_values:
        values += [
            "ROW_NUMBER() OVER player_order - 1 AS player_count",
            f"MIN(a.{a_created}) OVER player_order AS player_first",
            f"LAG(a.{a_created}) OVER player_order AS player_last",
            f"LAG(a.{a_created}, 2) OVER player_order AS player_previous",
        ]
    values += [
        f"COUNT(*) OVER (player_order RANGE BETWEEN {_window_offset(vendor, seconds)} "
        f"PRECEDING AND CURRENT ROW) - 1 AS recent_{index}"
        for index, seconds in enumerate(shape.windows)
    ]
    computed = [value.rsplit(" AS ", 1)[1] for value in values]
    history_end = f"a.{a_created} <= %s" if shape.bounded else f"a.{a_created} < %s"
    events_end = f" AND (h.{a_created}, h.{a_id}) <= (%s, %s)" if shape.bounded else ""
    inner = ", ".join(
        [
            f"a.{a_id}",
            f"a.{a_created}",
            f"a.{a_data}",
            f"a.{a_points}",
            f"a.{a_case}",
            f"a.{a_task}",
            f"a.{a_player}",
            *values,
        ]
    )
    outer = ", ".join(
        [
            f"h.{a_created}",
            f"h.{a_data}",
            f"h.{a_points}",
            f"h.{a_case}",
            f"h.{a_task}",
            f"h.{a_player}",
            f"p.{p_user}",
            *(f"h.{name}" for name in computed),
        ]
    )
    return (
        f"SELECT {outer} FROM (SELECT {inner} FROM {award} a "
        f"WHERE {_tasks_in(vendor, task_count)} AND {history_end}"
        f"{' WINDOW ' + ', '.join(windows) if windows else ''}) AS h "
        f"JOIN {player} p ON p.{p_id} = h.{a_player} "
        f"WHERE h.{a_created} >= %s{events_end}"
    )


@contextmanager
def history_cursor() -> Iterator[Any]:
    """Return a cursor to stream ``backtest_history`` through.

    On PostgreSQL a server-side cursor (off behind PgBouncer, where the whole answer comes at
    once) whose timestamps are loaded by psycopg's own loader: Django's wraps it to set the
    time zone the session already answers in (UTC), and with five timestamps per event that
    wrapper is a tenth of a backtest's time.
    """
    with connection.chunked_cursor() as cursor:
        if connection.vendor == "postgresql":
            from psycopg.types.datetime import TimestamptzLoader

            cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        yield cursor
