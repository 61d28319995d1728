"""The raw SQL of achievements in the award's read and write, names read from the models.

The award read (``scoring.sql.award_read``) takes ``read_columns``/``read_join`` as they are
and names its game ``g``, its player ``p`` and its event ``event``; the award write takes
``write_ctes`` over its CTE of the inserted award (player, task, points, created_at).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from gamification.models import (
    Award,
    Game,
    PlayerBadge,
    PlayerGameStats,
    PlayerTaskStats,
    Task,
    WebhookEventType,
)
from gamification.sql import column
from gamification.webhook_sql import webhook_outbox_insert, webhook_subscribed


@dataclass(frozen=True, slots=True)
class ReadShape:
    """What the award read asks about a game's achievements (a statement per shape)."""

    defined: bool = False
    streak: bool = False
    held_badges: bool = False
    task_count: int = 0
    badge_webhooks: bool = False
    level_webhooks: bool = False


@dataclass(frozen=True, slots=True)
class WriteShape:
    """What the award write adds: the streak upsert, badge grants and their outbox rows."""

    streak: bool = False
    badges: int = 0
    badge_webhooks: bool = False
    level_webhook: bool = False

    @property
    def empty(self) -> bool:
        return not (self.streak or self.badges or self.level_webhook)


_SUM_POINTS = "SUM(ach_pt.points_total)"
_SUM_AWARDS = "SUM(ach_pt.award_count)"


@cache
def _game_totals() -> str:
    """The FROM and WHERE of the player's points and awards in the game: the sum of their
    stats rows on its tasks, an index range by player or by the game's tasks whatever the
    statistics say. The game's all-time leaderboard entry holds the same, but two partial
    indexes lead with its columns, and on a table without statistics yet (a new one) the
    planner may pick the one without the player and read every entry of the game."""
    ps, t = PlayerTaskStats._meta.db_table, Task._meta.db_table
    assert column(PlayerTaskStats, "points_total") == "points_total", "named in _SUM_POINTS"
    assert column(PlayerTaskStats, "award_count") == "award_count", "named in _SUM_AWARDS"
    return (
        f"FROM {ps} ach_pt JOIN {t} ach_tt "
        f"ON ach_tt.{column(Task, 'id')} = ach_pt.{column(PlayerTaskStats, 'task')} "
        f"WHERE ach_pt.{column(PlayerTaskStats, 'player')} = p.id "
        f"AND ach_tt.{column(Task, 'game')} = g.id"
    )


@cache
def read_columns(shape: ReadShape, vendor: str) -> tuple[str, ...]:
    """Return the read's columns: the game's version, then what ``shape`` asks, in order:
    points and awards in the game, the streak row's three, the held badge ids, one award
    count per task, whether ``badge.earned`` and ``level.reached`` are listened to."""
    columns = [f"g.{column(Game, 'achievements_version')}"]
    if not shape.defined:
        return tuple(columns)
    if vendor == "postgresql":
        columns += ["ach_e.points", "ach_e.awards"]
    else:
        columns += [f"(SELECT {total} {_game_totals()})" for total in (_SUM_POINTS, _SUM_AWARDS)]
    if shape.streak:
        columns += [
            f"ach_s.{column(PlayerGameStats, name)}"
            for name in ("current_streak", "longest_streak", "streak_period_start")
        ]
    if shape.held_badges:
        pb = PlayerBadge._meta.db_table
        badge, player = column(PlayerBadge, "badge"), column(PlayerBadge, "player")
        game, once = column(PlayerBadge, "game"), column(PlayerBadge, "once")
        where = f"FROM {pb} pb WHERE pb.{player} = p.id AND pb.{game} = g.id AND pb.{once}"
        if vendor == "postgresql":
            columns.append(f"ARRAY(SELECT pb.{badge} {where})")
        else:
            columns.append(f"(SELECT group_concat(pb.{badge}) {where})")
    count = column(PlayerTaskStats, "award_count")
    columns += [f"ach_k{i}.{count}" for i in range(shape.task_count)]
    if shape.badge_webhooks:
        columns.append(webhook_subscribed(WebhookEventType.BADGE_EARNED, vendor))
    if shape.level_webhooks:
        columns.append(webhook_subscribed(WebhookEventType.LEVEL_REACHED, vendor))
    return tuple(columns)


def _lookup(vendor: str, alias: str, source: str, condition: str) -> str:
    """A LEFT JOIN of at most one row; on PostgreSQL a LATERAL subquery, so that its plan is
    an index lookup by every key whatever the statistics say (a young table has none, and
    a prepared statement keeps the plan it was first given)."""
    if vendor == "postgresql":
        return (
            f"LEFT JOIN LATERAL (SELECT {alias}.* FROM {source} WHERE {condition}) {alias} ON true"
        )
    return f"LEFT JOIN {source} ON {condition}"


@cache
def read_join(shape: ReadShape, vendor: str) -> str:
    """Return the read's joins for ``shape``; parameters: one external task id per task."""
    if not shape.defined:
        return ""
    joins = []
    if vendor == "postgresql":
        joins.append(
            f"LEFT JOIN LATERAL (SELECT {_SUM_POINTS} AS points, {_SUM_AWARDS} AS awards "
            f"{_game_totals()}) ach_e ON true"
        )
    if shape.streak:
        joins.append(
            _lookup(
                vendor,
                "ach_s",
                f"{PlayerGameStats._meta.db_table} ach_s",
                f"ach_s.{column(PlayerGameStats, 'game')} = g.id "
                f"AND ach_s.{column(PlayerGameStats, 'player')} = p.id",
            )
        )
    t, ps = Task._meta.db_table, PlayerTaskStats._meta.db_table
    k_task, k_player = column(PlayerTaskStats, "task"), column(PlayerTaskStats, "player")
    t_id, t_game = column(Task, "id"), column(Task, "game")
    t_external = column(Task, "external_task_id")
    for i in range(shape.task_count):
        if vendor == "postgresql":
            joins.append(
                _lookup(
                    vendor,
                    f"ach_k{i}",
                    f"{t} ach_t{i} JOIN {ps} ach_k{i} ON ach_k{i}.{k_task} = ach_t{i}.{t_id}",
                    f"ach_t{i}.{t_game} = g.id AND ach_t{i}.{t_external} = %s "
                    f"AND ach_k{i}.{k_player} = p.id",
                )
            )
        else:
            joins.append(
                f"LEFT JOIN {t} ach_t{i} ON ach_t{i}.{t_game} = g.id "
                f"AND ach_t{i}.{t_external} = %s "
                f"LEFT JOIN {ps} ach_k{i} ON ach_k{i}.{k_task} = ach_t{i}.{t_id} "
                f"AND ach_k{i}.{k_player} = p.id"
            )
    return " ".join(joins)


@cache
def streak_upsert(source: str, vendor: str) -> str:
    """Return the upsert of the player's streak row from ``source`` (rows of player_id).

    Parameters: game id, the award's period start, then the start of the period before it,
    twice.

    Under the row's lock: the period after the last adds one, a gap starts again at 1; an
    award in the last period or an older one changes nothing (and writes no row version).
    """
    s = PlayerGameStats._meta.db_table
    player, game = column(PlayerGameStats, "player"), column(PlayerGameStats, "game")
    current, longest = (
        column(PlayerGameStats, "current_streak"),
        column(PlayerGameStats, "longest_streak"),
    )
    start = column(PlayerGameStats, "streak_period_start")
    date = "CAST(%s AS DATE)" if vendor == "postgresql" else "%s"
    greatest = "GREATEST" if vendor == "postgresql" else "MAX"
    new_current = (
        f"CASE WHEN {s}.{start} >= excluded.{start} THEN {s}.{current} "
        f"WHEN {s}.{start} = {date} THEN {s}.{current} + 1 ELSE 1 END"
    )
    return (
        f"INSERT INTO {s} ({player}, {game}, {current}, {longest}, {start}) "
        f"SELECT src.player_id, src.game_id, 1, 1, src.period_start "
        f"FROM (SELECT player_id, CAST(%s AS BIGINT) AS game_id, {date} AS period_start "
        f"FROM {source}) AS src WHERE true "
        f"ON CONFLICT ({player}, {game}) DO UPDATE SET "
        f"{current} = {new_current}, "
        f"{longest} = {greatest}({s}.{longest}, {new_current}), "
        f"{start} = {greatest}({s}.{start}, excluded.{start}) "
        # An award in a period already counted (a race the read did not see) writes nothing.
        f"WHERE {s}.{start} IS NULL OR {s}.{start} < excluded.{start}"
    )


def _outbox(name: str, source: str, event_type: str, values: str) -> str:
    return webhook_outbox_insert(
        name=name,
        rows=f"{source} {values}",
        event_id="ev.event_id",
        event_type=f"'{event_type}'",
        body="ev.body",
        subscribed=f"'{json.dumps([event_type])}'",
    )


@cache
def write_ctes(inserted: str, shape: WriteShape) -> str:
    """Return the CTEs, comma first, that the award write adds for ``shape`` (PostgreSQL).

    ``inserted`` answers the award's player id.
    Parameters: ``AchievementWrite.params`` builds them in this order.
    """
    player = column(Award, "player")
    source = "achievement_award"
    ctes = [f", {source} AS (SELECT {player} AS player_id FROM {inserted})"]
    if shape.streak:
        ctes.append(f", achievement_streak AS ({streak_upsert(source, 'postgresql')} RETURNING 1)")
    if shape.badges:
        pb = PlayerBadge._meta.db_table
        cols = [
            column(PlayerBadge, name)
            for name in ("player", "badge", "game", "award", "once", "earned_at")
        ]
        rows = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BOOLEAN))"] * shape.badges)
        ctes.append(
            f", achievement_badges AS (INSERT INTO {pb} ({', '.join(cols)}) "
            f"SELECT src.player_id, v.badge_id, CAST(%s AS BIGINT), CAST(%s AS UUID), v.once, "
            f"CAST(%s AS TIMESTAMPTZ) FROM {source} AS src "
            f"CROSS JOIN (VALUES {rows}) AS v(badge_id, once) "
            f"ON CONFLICT ({cols[0]}, {cols[1]}) WHERE {cols[4]} DO NOTHING "
            f"RETURNING {cols[1]} AS badge_id)"
        )
        if shape.badge_webhooks:
            events = ", ".join(
                ["(CAST(%s AS BIGINT), CAST(%s AS UUID), CAST(%s AS TEXT))"] * shape.badges
            )
            ctes.append(
                _outbox(
                    "achievement_badge_messages",
                    "achievement_badges granted",
                    WebhookEventType.BADGE_EARNED,
                    f"JOIN (VALUES {events}) AS ev(badge_id, event_id, body) "
                    "ON ev.badge_id = granted.badge_id",
                )
            )
    if shape.level_webhook:
        ctes.append(
            _outbox(
                "achievement_level_messages",
                f"{inserted}",
                WebhookEventType.LEVEL_REACHED,
                "CROSS JOIN (VALUES (CAST(%s AS UUID), CAST(%s AS TEXT))) AS ev(event_id, body)",
            )
        )
    return "".join(ctes)
