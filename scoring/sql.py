"""Every raw SQL statement of scoring, with table and column names read from the models.

The award path runs a handful of fixed statements per request; building them from
``Model._meta`` keeps them in step with the models, and caching them keeps that free.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db import models

from gamification.achievements.sql import WriteShape, write_ctes
from gamification.leaderboards.sql import TRANSACTION_ID, award_entry_ctes, entry_upserts
from gamification.models import (
    Award,
    Game,
    LedgerEntryKind,
    Player,
    PlayerTaskStats,
    Task,
    TaskStats,
    WebhookEventType,
)
from gamification.sql import PLAYER_ROW_CTES, concrete_field, written_first
from gamification.sql import column as _column
from gamification.wallet.sql import wallet_change_ctes
from gamification.webhook_sql import webhook_outbox_insert, webhook_subscribed
from scoring.reversal_sql import recent_count

if TYPE_CHECKING:
    from gamification.webhooks import WebhookEvent

#: The fields the award INSERT writes, in column order: every concrete field of Award.
AWARD_INSERT_FIELDS = (
    "id",
    "realm",
    "player",
    "task",
    "points",
    "case_name",
    "callback_data",
    "data",
    "strategy_id",
    "strategy_version",
    "idempotency_key",
    "response_body",
    "api_key_used",
    "created_at",
    "experiment_arm",
)

#: One award as a row source for the stats upserts: (player_id, task_id, points, at).
ONE_AWARD = (
    "SELECT CAST(%s AS BIGINT) AS player_id, CAST(%s AS BIGINT) AS task_id, "
    "CAST(%s AS DOUBLE PRECISION) AS points, %s AS at"
)


def _table(model: type[models.Model]) -> str:
    return model._meta.db_table


def _as(column: str, alias: str) -> str:
    return column if column == alias else f"{column} AS {alias}"


def award_insert_columns() -> list[str]:
    """Return the columns the award INSERT writes, in order."""
    return [_column(Award, name) for name in AWARD_INSERT_FIELDS]


@cache
def _award_insert_attributes() -> tuple[tuple[str, bool], ...]:
    fields = [concrete_field(Award, name) for name in AWARD_INSERT_FIELDS]
    return tuple((field.attname, isinstance(field, models.JSONField)) for field in fields)


def award_insert_params(award: Award) -> list[Any]:
    """Return the values of ``award`` for the award INSERT, JSON fields as JSON text."""
    return [
        json.dumps(getattr(award, attname)) if is_json else getattr(award, attname)
        for attname, is_json in _award_insert_attributes()
    ]


@cache
def stats_upserts(
    source: str, vendor: str, rows: bool = False, after: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Return the two upserts that add the awards of ``source`` to the running stats.

    ``source`` yields rows of (player_id, task_id, points, at). Awards committed out of order
    keep first/last correct; the task-wide row comes last because every player contends for
    it: as the main query of a statement, it reads no row before the CTEs ``after`` ran
    (``written_first``). With ``rows`` the source holds many awards, at most one per player
    and task, and an ``ord`` column, their order: the task-wide rows add them up per task in
    that order, and both upserts write in key order, so that two such writes take their
    locks in one order.
    """
    greatest, least = ("GREATEST", "LEAST") if vendor == "postgresql" else ("MAX", "MIN")
    ps = _table(PlayerTaskStats)
    ps_player, ps_task = _column(PlayerTaskStats, "player"), _column(PlayerTaskStats, "task")
    count, total = _column(PlayerTaskStats, "award_count"), _column(PlayerTaskStats, "points_total")
    first, last = (
        _column(PlayerTaskStats, "first_award_at"),
        _column(PlayerTaskStats, "last_award_at"),
    )
    previous = _column(PlayerTaskStats, "previous_award_at")
    player_stats = (
        f"INSERT INTO {ps} ({ps_player}, {ps_task}, {count}, {total}, "
        f"{first}, {last}, {previous}) "
        f"SELECT player_id, task_id, 1, points, at, at, NULL FROM ({source}) AS src WHERE true "
        f"{'ORDER BY player_id, task_id ' if rows else ''}"
        f"ON CONFLICT ({ps_player}, {ps_task}) DO UPDATE SET "
        f"{count} = {ps}.{count} + 1, "
        f"{total} = {ps}.{total} + excluded.{total}, "
        f"{first} = {least}({ps}.{first}, excluded.{first}), "
        f"{previous} = CASE WHEN excluded.{last} >= {ps}.{last} "
        f"THEN {ps}.{last} ELSE "
        f"{greatest}(COALESCE({ps}.{previous}, excluded.{last}), "
        f"excluded.{last}) END, "
        f"{last} = {greatest}({ps}.{last}, excluded.{last})"
    )
    ts = _table(TaskStats)
    ts_task = _column(TaskStats, "task")
    count, total = _column(TaskStats, "award_count"), _column(TaskStats, "points_total")
    first, last = _column(TaskStats, "first_award_at"), _column(TaskStats, "last_award_at")
    gate = written_first(after) if after else "true"
    added = (
        "SELECT task_id, COUNT(*), SUM(points ORDER BY ord), MIN(at), MAX(at) "
        f"FROM ({source}) AS src WHERE {gate} GROUP BY task_id ORDER BY task_id "
        if rows
        else f"SELECT task_id, 1, points, at, at FROM ({source}) AS src WHERE {gate} "
    )
    # Float addition is not associative: the total of many awards is folded in their order,
    # from the row's total, as one award at a time adds to it.
    added_total = (
        f"(SELECT SUM(v ORDER BY o) FROM (SELECT 0 AS o, {ts}.{total} AS v UNION ALL "
        f"SELECT ord, points FROM ({source}) AS awards WHERE awards.task_id = {ts}.{ts_task}) "
        "AS fold)"
        if rows
        else f"{ts}.{total} + excluded.{total}"
    )
    task_stats = (
        f"INSERT INTO {ts} "
        f"({ts_task}, {count}, {total}, {first}, {last}) "
        f"{added}"
        f"ON CONFLICT ({ts_task}) DO UPDATE SET "
        f"{count} = {ts}.{count} + {f'excluded.{count}' if rows else '1'}, "
        f"{total} = {added_total}, "
        f"{first} = {least}({ts}.{first}, excluded.{first}), "
        f"{last} = {greatest}({ts}.{last}, excluded.{last})"
    )
    return player_stats, task_stats


@cache
def award_store_postgres(webhooks: bool = False, achievements: WriteShape | None = None) -> str:
    """Return the one PostgreSQL statement that inserts an award and updates both stats rows
    and its leaderboard entries; it answers its transaction's id.

    Its parameters are ``award_insert_params(award)``, then the entry change's
    (``EntryChange.award_write_params()``), then the wallet's (``wallet_change_params``),
    then with ``webhooks`` those of ``webhook_outbox_params`` (the award's ``award.created``
    for its realm's endpoints), then with ``achievements`` those of
    ``AchievementWrite.params()``.
    """
    columns = award_insert_columns()
    placeholders = [
        "%s::jsonb" if is_json else "%s" for _attname, is_json in _award_insert_attributes()
    ]
    player, task = _column(Award, "player"), _column(Award, "task")
    points, created_at = _column(Award, "points"), _column(Award, "created_at")
    source = (
        f"SELECT {_as(player, 'player_id')}, {_as(task, 'task_id')}, {_as(points, 'points')}, "
        f"{_as(created_at, 'at')} FROM inserted"
    )
    player_stats, task_stats = stats_upserts(source, "postgresql", after=PLAYER_ROW_CTES)
    return (
        f"WITH inserted AS (INSERT INTO {_table(Award)} ({', '.join(columns)}) VALUES "
        f"({', '.join(placeholders)}) "
        f"RETURNING {player}, {task}, {points}, {created_at}), "
        f"player_stats AS ({player_stats} RETURNING 1), "
        f"{award_entry_ctes('inserted')}"
        f"{wallet_change_ctes('inserted', LedgerEntryKind.AWARD)}"
        f"{webhook_outbox_cte('inserted') if webhooks else ''}"
        f"{write_ctes('inserted', achievements) if achievements else ''} "
        f"{task_stats} RETURNING {TRANSACTION_ID}"
    )


@cache
def event_history(window_count: int, vendor: str = "postgresql") -> str:
    """Return the read of a player, the task's and the player's stats, and recent counts.

    Parameters: (task_id, window start) per recent window, then task_id, realm_id and
    external_user_id of the event. Answers one row: player id, task count/first/last, player
    count/first/last/previous, then one count per window.
    """
    p_id, p_realm = _column(Player, "id"), _column(Player, "realm")
    p_user = _column(Player, "external_user_id")
    ts_task, ps_task = _column(TaskStats, "task"), _column(PlayerTaskStats, "task")
    ps_player = _column(PlayerTaskStats, "player")
    recent_columns = "".join(
        f", {recent_count(player=f'p.{p_id}', task=None, vendor=vendor)}"
        for _ in range(window_count)
    )
    ts = [_column(TaskStats, name) for name in ("award_count", "first_award_at", "last_award_at")]
    ps = [
        _column(PlayerTaskStats, name)
        for name in ("award_count", "first_award_at", "last_award_at", "previous_award_at")
    ]
    return (
        f"SELECT p.{p_id}, {', '.join(f'ts.{c}' for c in ts)}, "
        f"{', '.join(f'ps.{c}' for c in ps)}"
        f"{recent_columns} "
        "FROM (SELECT CAST(%s AS BIGINT) AS task_id, CAST(%s AS BIGINT) AS realm_id, "
        "CAST(%s AS VARCHAR(255)) AS external_user_id) AS event "
        f"LEFT JOIN {_table(Player)} p "
        f"ON p.{p_realm} = event.realm_id AND p.{p_user} = event.external_user_id "
        f"LEFT JOIN {_table(TaskStats)} ts ON ts.{ts_task} = event.task_id "
        f"LEFT JOIN {_table(PlayerTaskStats)} ps "
        f"ON ps.{ps_task} = event.task_id AND ps.{ps_player} = p.{p_id}"
    )


@cache
def award_store_new_player_postgres(
    webhooks: bool = False, achievements: WriteShape | None = None
) -> str:
    """Return the one PostgreSQL statement that creates the player, inserts the award and
    updates both stats rows and its leaderboard entries; it answers its transaction's id.

    Parameters: realm id, external user id and created_at of the player, then
    ``award_insert_params(award)`` without the player id, then the entry change's
    (``EntryChange.award_write_params()``), then the wallet's (``wallet_change_params``), then
    with ``webhooks`` those of ``webhook_outbox_params``, then with ``achievements`` those
    of ``AchievementWrite.params()``. When the player already exists
    (another request created it since the read), nothing is written and no row is answered:
    ON CONFLICT DO NOTHING returns no id, and a DO UPDATE would add a dead row to every award.
    """
    player = _table(Player)
    p_id, p_realm = _column(Player, "id"), _column(Player, "realm")
    p_user, p_created = _column(Player, "external_user_id"), _column(Player, "created_at")
    columns = award_insert_columns()
    a_player = _column(Award, "player")
    values = [
        f"new_player.{p_id}" if name == "player" else ("%s::jsonb" if is_json else "%s")
        for name, (_attname, is_json) in zip(
            AWARD_INSERT_FIELDS, _award_insert_attributes(), strict=True
        )
    ]
    task, points, created_at = (
        _column(Award, "task"),
        _column(Award, "points"),
        _column(Award, "created_at"),
    )
    source = (
        f"SELECT {_as(a_player, 'player_id')}, {_as(task, 'task_id')}, "
        f"{_as(points, 'points')}, {_as(created_at, 'at')} FROM inserted"
    )
    player_stats, task_stats = stats_upserts(source, "postgresql", after=PLAYER_ROW_CTES)
    return (
        f"WITH new_player AS (INSERT INTO {player} ({p_realm}, {p_user}, {p_created}) "
        f"VALUES (%s, %s, %s) ON CONFLICT ({p_realm}, {p_user}) DO NOTHING RETURNING {p_id}), "
        f"inserted AS (INSERT INTO {_table(Award)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM new_player "
        f"RETURNING {a_player}, {task}, {points}, {created_at}), "
        f"player_stats AS ({player_stats} RETURNING 1), "
        f"{award_entry_ctes('inserted')}"
        f"{wallet_change_ctes('inserted', LedgerEntryKind.AWARD)}"
        f"{webhook_outbox_cte('inserted') if webhooks else ''}"
        f"{write_ctes('inserted', achievements) if achievements else ''} "
        f"{task_stats} RETURNING {TRANSACTION_ID}"
    )


#: What the set-based write takes per award besides the award's columns, with its type.
AWARD_ROWS_EXTRA_COLUMNS = (
    ("game_id", "BIGINT"),
    ("external_user_id", "VARCHAR(255)"),
    ("day_start", "DATE"),
    ("week_start", "DATE"),
    ("month_start", "DATE"),
    ("ledger_id", "UUID"),
)


@cache
def award_rows_store_postgres() -> str:
    """Return the one PostgreSQL statement that stores many awards, at most one per player,
    with what each award's own write does: the player when new, the award, both stats rows,
    the leaderboard entries, the ledger entry and the wallet.

    Its parameters are one array per column: ``award_rows_params``, then
    ``wallet_rows_change_params``. Each array has one element per award, so the statement's
    text (and its prepared plan) is the same for any number of awards. A player another
    request created since the read is not created and its award not inserted: the statement
    answers, per task, its transaction's id and the ids of the awards it inserted, for the
    caller to tell whether it stored them all (``scoring.batch`` rolls back a set it did
    not). Rows are written in key order, as every upsert of many rows here is, so that two
    such writes cannot deadlock.
    """
    from django.db import connection

    fields = [concrete_field(Award, name) for name in AWARD_INSERT_FIELDS]
    names = [field.attname for field in fields] + [name for name, _ in AWARD_ROWS_EXTRA_COLUMNS]
    types = [
        "TEXT" if isinstance(field, models.JSONField) else field.db_type(connection)
        for field in fields
    ] + [cast for _, cast in AWARD_ROWS_EXTRA_COLUMNS]
    arrays = ", ".join(f"CAST(%s AS {cast}[])" for cast in types)
    player = _table(Player)
    p_id, p_realm = _column(Player, "id"), _column(Player, "realm")
    p_user, p_created = _column(Player, "external_user_id"), _column(Player, "created_at")
    a_id, a_player = _column(Award, "id"), _column(Award, "player")
    a_task, a_points = _column(Award, "task"), _column(Award, "points")
    a_created = _column(Award, "created_at")
    attname = {field.name: field.attname for field in fields}
    values = [
        f"COALESCE(src.{attname['player']}, new_player.{p_id})"
        if field.name == "player"
        else (
            f"CAST(src.{field.attname} AS JSONB)"
            if isinstance(field, models.JSONField)
            else f"src.{field.attname}"
        )
        for field in fields
    ]
    source = (
        f"SELECT {_as(a_player, 'player_id')}, {_as(a_task, 'task_id')}, "
        f"{_as(a_points, 'points')}, {_as(a_created, 'at')}, ord FROM awarded"
    )
    player_stats, task_stats = stats_upserts(source, "postgresql", rows=True, after=PLAYER_ROW_CTES)
    game_upsert, task_upsert = entry_upserts("leaderboard_award", "postgresql", ordered=True)
    return (
        f"WITH src AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY "
        f"AS src({', '.join(names)}, ord)), "
        f"new_player AS (INSERT INTO {player} ({p_realm}, {p_user}, {p_created}) "
        f"SELECT src.{attname['realm']}, src.external_user_id, src.{attname['created_at']} "
        f"FROM src WHERE src.{attname['player']} IS NULL ORDER BY src.external_user_id "
        f"ON CONFLICT ({p_realm}, {p_user}) DO NOTHING RETURNING {p_id}, {p_user}), "
        f"inserted AS (INSERT INTO {_table(Award)} ({', '.join(award_insert_columns())}) "
        f"SELECT {', '.join(values)} FROM src LEFT JOIN new_player "
        f"ON new_player.{p_user} = src.external_user_id "
        f"WHERE COALESCE(src.{attname['player']}, new_player.{p_id}) IS NOT NULL "
        f"RETURNING {a_id}, {a_player}, {a_task}, {a_points}, {a_created}), "
        f"awarded AS (SELECT inserted.*, src.game_id, src.external_user_id, src.day_start, "
        f"src.week_start, src.month_start, src.ledger_id, src.ord "
        f"FROM inserted JOIN src ON src.{attname['id']} = inserted.{a_id}), "
        f"player_stats AS ({player_stats} RETURNING 1), "
        f"leaderboard_award AS (SELECT game_id, {_as(a_task, 'task_id')}, "
        f"{_as(a_player, 'player_id')}, external_user_id, {_as(a_points, 'points')}, "
        f"1 AS awards, day_start, week_start, month_start FROM awarded), "
        f"leaderboard_game AS ({game_upsert} RETURNING 1), "
        f"leaderboard_task AS ({task_upsert} RETURNING 1)"
        f"{wallet_change_ctes('awarded', LedgerEntryKind.AWARD, rows=True)} "
        f"{task_stats} RETURNING {TRANSACTION_ID}, "
        f"(SELECT array_agg({a_id}) FROM inserted)"
    )


def award_rows_params(rows: list[tuple[Award, list[Any]]]) -> list[list[Any]]:
    """Return the arrays of ``award_rows_store_postgres`` for ``rows``: each award (its
    player id None for a player to create) with its ``AWARD_ROWS_EXTRA_COLUMNS`` values."""
    columns = [award_insert_params(award) + extra for award, extra in rows]
    arrays = [list(values) for values in zip(*columns, strict=True)]
    # One element type per array: psycopg refuses a list of ints and floats.
    points = AWARD_INSERT_FIELDS.index("points")
    arrays[points] = [float(value) for value in arrays[points]]
    return arrays


def award_insert_params_without_player(award: Award) -> list[Any]:
    """Return ``award_insert_params(award)`` without the player id the statement creates."""
    params = award_insert_params(award)
    del params[AWARD_INSERT_FIELDS.index("player")]
    return params


#: The columns ``award_read`` answers before its recent counts, in order.
AWARD_READ_COLUMNS = (
    "game_id",
    "task_id",
    "strategy_id",
    "status",
    "player_id",
    "task_count",
    "task_first",
    "task_last",
    "count",
    "first",
    "last",
    "previous",
)
#: The columns of a stored answer ``award_read`` adds when asked to look for a replay.
REPLAY_COLUMNS = ("response_body", "task_id", "external_user_id")


@cache
def award_read(
    window_count: int,
    replay: bool,
    strategy_join: str = "",
    strategy_columns: tuple[str, ...] = (),
    vendor: str = "postgresql",
    achievement_columns: tuple[str, ...] = (),
    achievement_join: str = "",
) -> str:
    """Return the one read an award starts with: its task, player, stats and recent counts.

    Parameters: one window start per recent window, then the event's realm id, external user
    id, external game id and external task id, then those of ``strategy_join``, then the
    Idempotency-Key if ``replay``, then those of ``achievement_join``. Answers one row:
    ``AWARD_READ_COLUMNS``, one count per window, whether the realm has a webhook subscribed
    to ``award.created``, ``REPLAY_COLUMNS`` if ``replay``, then ``strategy_columns``, then
    ``achievement_columns``. A missing game or task
    answers NULL ids rather than no row, so that the caller can tell which is missing.
    """
    game, task, award = _table(Game), _table(Task), _table(Award)
    g_id, g_realm = _column(Game, "id"), _column(Game, "realm")
    g_external = _column(Game, "external_game_id")
    t_id, t_game = _column(Task, "id"), _column(Task, "game")
    t_external, t_strategy = _column(Task, "external_task_id"), _column(Task, "strategy_id")
    t_status = _column(Task, "status")
    a_player, a_task = _column(Award, "player"), _column(Award, "task")
    a_realm = _column(Award, "realm")
    a_key, a_body = _column(Award, "idempotency_key"), _column(Award, "response_body")
    p_id, p_realm = _column(Player, "id"), _column(Player, "realm")
    p_user = _column(Player, "external_user_id")
    ts_task, ps_task = _column(TaskStats, "task"), _column(PlayerTaskStats, "task")
    ps_player = _column(PlayerTaskStats, "player")
    ts = [_column(TaskStats, name) for name in ("award_count", "first_award_at", "last_award_at")]
    ps = [
        _column(PlayerTaskStats, name)
        for name in ("award_count", "first_award_at", "last_award_at", "previous_award_at")
    ]
    recent_columns = "".join(
        f", {recent_count(player=f'p.{p_id}', task=f't.{t_id}', vendor=vendor)}"
        for _ in range(window_count)
    )
    replay_columns = (
        f", replayed.{a_body}, replayed.{a_task}, replayed_player.{p_user}" if replay else ""
    )
    extra_columns = "".join(
        f", {expression}" for expression in (*strategy_columns, *achievement_columns)
    )
    replay_join = (
        f" LEFT JOIN {award} replayed "
        f"ON replayed.{a_realm} = event.realm_id AND replayed.{a_key} = %s "
        f"LEFT JOIN {_table(Player)} replayed_player "
        f"ON replayed_player.{p_id} = replayed.{a_player}"
        if replay
        else ""
    )
    return (
        f"SELECT g.{g_id}, t.{t_id}, t.{t_strategy}, t.{t_status}, p.{p_id}, "
        f"{', '.join(f'ts.{c}' for c in ts)}, {', '.join(f'ps.{c}' for c in ps)}"
        f"{recent_columns}, {webhook_subscribed(WebhookEventType.AWARD_CREATED, vendor)}"
        f"{replay_columns}{extra_columns} "
        "FROM (SELECT CAST(%s AS BIGINT) AS realm_id, "
        "CAST(%s AS VARCHAR(255)) AS external_user_id) AS event "
        f"LEFT JOIN {game} g ON g.{g_realm} = event.realm_id AND g.{g_external} = %s "
        f"LEFT JOIN {task} t ON t.{t_game} = g.{g_id} AND t.{t_external} = %s "
        f"LEFT JOIN {_table(Player)} p "
        f"ON p.{p_realm} = event.realm_id AND p.{p_user} = event.external_user_id "
        f"LEFT JOIN {_table(TaskStats)} ts ON ts.{ts_task} = t.{t_id} "
        f"LEFT JOIN {_table(PlayerTaskStats)} ps "
        f"ON ps.{ps_task} = t.{t_id} AND ps.{ps_player} = p.{p_id}"
        f"{' ' + strategy_join if strategy_join else ''}{replay_join}"
        f"{' ' + achievement_join if achievement_join else ''}"
    )


@cache
def webhook_outbox_cte(source: str) -> str:
    """Return a CTE, comma first, that writes ``award.created`` to the outbox of every
    endpoint of the realm subscribed to it, once per row of the CTE ``source`` (none when it
    wrote none).

    Its parameters are ``webhook_outbox_params``.
    """
    cte = webhook_outbox_insert(
        name="webhook_messages",
        rows=source,
        event_id="%s",
        event_type="%s",
        body="%s",
        subscribed="%s",
    )
    return f"{cte} "


def webhook_outbox_params(*, event: WebhookEvent, realm_id: int) -> list[Any]:
    """Return the parameters of ``webhook_outbox_cte`` for ``event`` of realm ``realm_id``."""
    return [
        event.id,
        event.type,
        event.body,
        event.created_at,
        event.expires_at,
        event.created_at,
        realm_id,
        json.dumps([event.type]),
    ]
