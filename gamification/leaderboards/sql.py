"""The raw SQL of leaderboards, with table and column names read from the models.

An award adds itself to its eight entries (the game's board and the task's, each for all
time, its day, its week and its month) with two upserts, one per partial unique index. They
take their rows from a *source* (a FROM item) of one row per award or reversal:
``ENTRY_SOURCE_COLUMNS``. The update is ``points + points, awards + awards``, so a reversal
is the same statement over a source with the award's points and count negated.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from gamification.leaderboards.periods import ALL_TIME_START, LeaderboardPeriod
from gamification.models import Award, AwardReversal, LeaderboardEntry, Player, Task
from gamification.sql import column

#: What an entry source yields per award: its boards, its player, and what it adds.
ENTRY_SOURCE_COLUMNS = (
    "game_id",
    "task_id",
    "player_id",
    "external_user_id",
    "points",
    "awards",
    "day_start",
    "week_start",
    "month_start",
)

_INSERTED = (
    "game",
    "task",
    "period",
    "period_start",
    "player",
    "external_user_id",
    "points",
    "awards",
)


def _table() -> str:
    return LeaderboardEntry._meta.db_table


def _as(name: str, alias: str) -> str:
    return name if name == alias else f"{name} AS {alias}"


def _date_literal(vendor: str) -> str:
    text = f"'{ALL_TIME_START.isoformat()}'"
    return f"DATE {text}" if vendor == "postgresql" else text


def _date_param(vendor: str) -> str:
    return "CAST(%s AS DATE)" if vendor == "postgresql" else "%s"


@cache
def one_entry_source(vendor: str) -> str:
    """Return a source of one row from parameters in ``ENTRY_SOURCE_COLUMNS`` order."""
    casts = ("BIGINT", "BIGINT", "BIGINT", "VARCHAR(255)", "DOUBLE PRECISION", "BIGINT")
    values = [
        f"CAST(%s AS {cast}) AS {name}"
        for cast, name in zip(casts, ENTRY_SOURCE_COLUMNS[:6], strict=True)
    ]
    values += [f"{_date_param(vendor)} AS {name}" for name in ENTRY_SOURCE_COLUMNS[6:]]
    return f"(SELECT {', '.join(values)})"


@cache
def entry_upserts(source: str, vendor: str, ordered: bool = False) -> tuple[str, str]:
    """Return the upserts of the game's entries and of the task's from ``source``'s rows.

    Each source row becomes four entries (all time, day, week, month), always in that order,
    so that two writes of one player take the rows' locks in the same order. ``ordered``
    sorts many rows by player too, so that two writes of many players take their locks in
    one order (``source`` then has at most one row per player).
    """
    e = _table()
    c = {name: column(LeaderboardEntry, name) for name in _INSERTED}
    periods = " UNION ALL ".join(
        f"SELECT '{period}'{' AS period' if i == 0 else ''}"
        + (f", {i}{' AS position' if i == 0 else ''}" if ordered else "")
        for i, period in enumerate(LeaderboardPeriod.values)
    )
    start = (
        "CASE b.period "
        f"WHEN '{LeaderboardPeriod.DAY}' THEN src.day_start "
        f"WHEN '{LeaderboardPeriod.WEEK}' THEN src.week_start "
        f"WHEN '{LeaderboardPeriod.MONTH}' THEN src.month_start "
        f"ELSE {_date_literal(vendor)} END"
    )
    points, awards = c["points"], c["awards"]
    update = (
        f"DO UPDATE SET {points} = {e}.{points} + excluded.{points}, "
        f"{awards} = {e}.{awards} + excluded.{awards}"
    )
    statements = []
    for scope, task in (("game", "NULL"), ("task", "src.task_id")):
        condition = "IS NULL" if scope == "game" else "IS NOT NULL"
        statements.append(
            f"INSERT INTO {e} ({', '.join(c.values())}) "
            f"SELECT src.game_id, {task}, b.period, {start}, src.player_id, "
            f"src.external_user_id, src.points, src.awards "
            f"FROM {source} AS src CROSS JOIN ({periods}) AS b WHERE true "
            f"{'ORDER BY src.player_id, b.position ' if ordered else ''}"
            f"ON CONFLICT ({c[scope]}, {c['period']}, {c['period_start']}, {c['player']}) "
            f"WHERE {c['task']} {condition} {update}"
        )
    return statements[0], statements[1]


@cache
def award_entry_ctes(inserted: str) -> str:
    """Return the CTEs that add the award of CTE ``inserted`` to its entries (PostgreSQL).

    ``inserted`` answers the award's task_id, player_id and points. Parameters, in order: the
    game id, the player's external user id, and the local dates starting the award's day, week
    and month. The statement appends them to its WITH list.
    """
    date = _date_param("postgresql")
    player, task = column(Award, "player"), column(Award, "task")
    points = column(Award, "points")
    source = (
        f"SELECT CAST(%s AS BIGINT) AS game_id, {_as(task, 'task_id')}, "
        f"{_as(player, 'player_id')}, CAST(%s AS VARCHAR(255)) AS external_user_id, "
        f"{_as(points, 'points')}, 1 AS awards, "
        f"{date} AS day_start, {date} AS week_start, {date} AS month_start FROM {inserted}"
    )
    game_upsert, task_upsert = entry_upserts("leaderboard_award", "postgresql")
    return (
        f"leaderboard_award AS ({source}), "
        f"leaderboard_game AS ({game_upsert} RETURNING 1), "
        f"leaderboard_task AS ({task_upsert} RETURNING 1)"
    )


#: What the award write answers on PostgreSQL: its transaction's id, to tell the leaderboard
#: cache whether a board built meanwhile holds the award (``cache.board_build``).
TRANSACTION_ID = "CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"


@cache
def entries_rebuild_postgres() -> str:
    """Return the statement that sets a game's entries to what its awards add up to.

    Reversed awards count on no board. Parameters: the realm's time zone, then the game id
    four times. It corrects each entry by the difference between the awards and the entry,
    both as of the statement's snapshot; the correction is added to the row as it is when
    written (an award committed meanwhile keeps its share), so it is safe while awards
    arrive. Answers how many entries backed by awards it corrected; entries no award backs
    are left with zero awards and zero points, for the caller to delete.
    """
    e, a, t, p = _table(), Award._meta.db_table, Task._meta.db_table, Player._meta.db_table
    r, r_award = AwardReversal._meta.db_table, column(AwardReversal, "award")
    a_id = column(Award, "id")
    c = {name: column(LeaderboardEntry, name) for name in _INSERTED}
    a_task, a_player = column(Award, "task"), column(Award, "player")
    a_points, a_created = column(Award, "points"), column(Award, "created_at")
    t_id, t_game = column(Task, "id"), column(Task, "game")
    p_id, p_user = column(Player, "id"), column(Player, "external_user_id")
    all_time = _date_literal("postgresql")
    # GROUPING(week, month, day) has a 1 bit for each of them a grouping set leaves out.
    period = (
        f"CASE GROUPING(week, month, day) WHEN 7 THEN '{LeaderboardPeriod.ALL}' "
        f"WHEN 6 THEN '{LeaderboardPeriod.DAY}' WHEN 3 THEN '{LeaderboardPeriod.WEEK}' "
        f"WHEN 5 THEN '{LeaderboardPeriod.MONTH}' END"
    )
    task_of_board = "CASE WHEN GROUPING(task_id) = 0 THEN task_id END"
    start = (
        "CASE WHEN GROUPING(day) = 0 THEN day WHEN GROUPING(week) = 0 THEN week "
        f"WHEN GROUPING(month) = 0 THEN month ELSE {all_time} END"
    )
    joined = (
        "COALESCE(wanted.task_id, 0) = COALESCE(kept.task_id, 0) "
        "AND wanted.period = kept.period AND wanted.period_start = kept.period_start "
        "AND wanted.player_id = kept.player_id"
    )
    kept_columns = ", ".join(
        f"{c[name]} AS {alias}"
        for name, alias in (
            ("task", "task_id"),
            ("period", "period"),
            ("period_start", "period_start"),
            ("player", "player_id"),
            ("external_user_id", "external_user_id"),
            ("points", "points"),
            ("awards", "awards"),
        )
    )
    correction = (
        "SELECT CAST(%s AS BIGINT) AS game_id, COALESCE(wanted.task_id, kept.task_id) AS task_id, "
        "COALESCE(wanted.period, kept.period) AS period, "
        "COALESCE(wanted.period_start, kept.period_start) AS period_start, "
        "COALESCE(wanted.player_id, kept.player_id) AS player_id, "
        "COALESCE(wanted.external_user_id, kept.external_user_id) AS external_user_id, "
        "COALESCE(wanted.points, 0) - COALESCE(kept.points, 0) AS points, "
        "COALESCE(wanted.awards, 0) - COALESCE(kept.awards, 0) AS awards, "
        "wanted.player_id IS NULL AS stray "
        f"FROM wanted FULL JOIN kept ON {joined} "
        "WHERE wanted.player_id IS NULL OR kept.player_id IS NULL "
        "OR wanted.points <> kept.points OR wanted.awards <> kept.awards "
        "OR wanted.external_user_id <> kept.external_user_id"
    )
    upserts = []
    for scope, condition in (("game", "IS NULL"), ("task", "IS NOT NULL")):
        upserts.append(
            f"INSERT INTO {e} ({', '.join(c.values())}) "
            "SELECT game_id, task_id, period, period_start, player_id, external_user_id, "
            f"points, awards FROM correction WHERE task_id {condition} "
            f"ON CONFLICT ({c[scope]}, {c['period']}, {c['period_start']}, {c['player']}) "
            f"WHERE {c['task']} {condition} DO UPDATE SET "
            f"{c['points']} = {e}.{c['points']} + excluded.{c['points']}, "
            f"{c['awards']} = {e}.{c['awards']} + excluded.{c['awards']}, "
            f"{c['external_user_id']} = excluded.{c['external_user_id']} RETURNING 1"
        )
    return (
        "WITH local AS ("
        f"SELECT a.{a_task} AS task_id, a.{a_player} AS player_id, "
        f"CAST(a.{a_created} AT TIME ZONE %s AS DATE) AS day, "
        f"SUM(a.{a_points}) AS points, COUNT(*) AS awards "
        f"FROM {a} a WHERE a.{a_task} IN (SELECT {t_id} FROM {t} WHERE {t_game} = %s) "
        f"AND NOT EXISTS (SELECT 1 FROM {r} r WHERE r.{r_award} = a.{a_id}) "
        "GROUP BY 1, 2, 3), "
        "daily AS (SELECT task_id, player_id, day, "
        "CAST(date_trunc('week', CAST(day AS TIMESTAMP)) AS DATE) AS week, "
        "CAST(date_trunc('month', CAST(day AS TIMESTAMP)) AS DATE) AS month, "
        "points, awards FROM local), "
        f"sums AS (SELECT {task_of_board} AS task_id, {period} AS period, "
        f"{start} AS period_start, player_id, SUM(points) AS points, SUM(awards) AS awards "
        "FROM daily GROUP BY player_id, GROUPING SETS ((), (day), (week), (month), "
        "(task_id), (task_id, day), (task_id, week), (task_id, month))), "
        f"wanted AS (SELECT sums.*, p.{p_user} AS external_user_id FROM sums "
        f"JOIN {p} p ON p.{p_id} = sums.player_id), "
        # By game for the game's boards, by task for the tasks': the indexes are partial.
        f"kept AS (SELECT {kept_columns} FROM {e} "
        f"WHERE {c['game']} = %s AND {c['task']} IS NULL UNION ALL "
        f"SELECT {kept_columns} FROM {e} "
        f"WHERE {c['task']} IN (SELECT {t_id} FROM {t} WHERE {t_game} = %s)), "
        f"correction AS ({correction}), "
        f"game_fixed AS ({upserts[0]}), task_fixed AS ({upserts[1]}) "
        "SELECT COUNT(*) FROM correction WHERE NOT stray"
    )


@cache
def task_entries_subtract() -> str:
    """Return the update taking a task's entries out of its game's (before the task goes).

    The task's boards hold exactly what its awards added to the game's, period by period.
    Parameter: the task id.
    """
    e = _table()
    c = {name: column(LeaderboardEntry, name) for name in _INSERTED}
    same = " AND ".join(
        f"{e}.{c[name]} = t.{c[name]}" for name in ("game", "period", "period_start", "player")
    )
    return (
        f"UPDATE {e} SET {c['points']} = {e}.{c['points']} - t.{c['points']}, "
        f"{c['awards']} = {e}.{c['awards']} - t.{c['awards']} "
        f"FROM {e} t WHERE t.{c['task']} = %s AND {e}.{c['task']} IS NULL AND {same}"
    )


@dataclass(frozen=True, slots=True)
class BoardReads:
    """The reads of one kind of board (a game's or a task's), all index ranges.

    Every statement starts with the board's parameters (``board_params``); rows are
    (external user id, points, awards). The two-part ones (ties of the entry, then the rest)
    answer up to ``limit`` rows of each part, unordered: the caller sorts and cuts.
    """

    #: + limit, offset: rows in board order.
    page: str
    #: + points, external user id, limit, (board), points, limit: from the entry on.
    starting: str
    #: Same parameters as ``starting``: just after the entry.
    after: str
    #: Same parameters as ``starting``: just before the entry.
    before: str
    #: + points: how many entries have more.
    above: str
    #: + points, external user id: how many entries tie and come first.
    ties_before: str
    #: + realm id, external user id: one player's entry.
    player_entry: str


@cache
def board_reads(*, game_board: bool) -> BoardReads:
    e, p = _table(), Player._meta.db_table
    c = {name: column(LeaderboardEntry, name) for name in _INSERTED}
    p_id, p_realm = column(Player, "id"), column(Player, "realm")
    p_user = column(Player, "external_user_id")
    scope = f"e.{c['game']} = %s AND e.{c['task']} IS NULL" if game_board else f"e.{c['task']} = %s"
    board = f"{scope} AND e.{c['period']} = %s AND e.{c['period_start']} = %s"
    points, user = f"e.{c['points']}", f"e.{c['external_user_id']}"
    rows = f"SELECT {user}, {points}, e.{c['awards']} FROM {e} e WHERE {board}"
    down, up = f"{points} DESC, {user}", f"{points}, {user} DESC"

    def two_parts(ties: str, order: str, rest: str, rest_order: str) -> str:
        return (
            f"SELECT * FROM ({rows} AND {points} = %s AND {user} {ties} %s "
            f"ORDER BY {user}{order} LIMIT %s) AS ties UNION ALL "
            f"SELECT * FROM ({rows} AND {points} {rest} %s ORDER BY {rest_order} LIMIT %s) "
            "AS rest"
        )

    return BoardReads(
        page=f"{rows} ORDER BY {down} LIMIT %s OFFSET %s",
        starting=two_parts(">=", "", "<", down),
        after=two_parts(">", "", "<", down),
        before=two_parts("<", " DESC", ">", up),
        above=f"SELECT COUNT(*) FROM {e} e WHERE {board} AND {points} > %s",
        ties_before=(f"SELECT COUNT(*) FROM {e} e WHERE {board} AND {points} = %s AND {user} < %s"),
        player_entry=(
            f"SELECT {user}, {points}, e.{c['awards']} FROM {e} e "
            f"JOIN {p} p ON p.{p_id} = e.{c['player']} "
            f"WHERE {board} AND p.{p_realm} = %s AND p.{p_user} = %s"
        ),
    )
