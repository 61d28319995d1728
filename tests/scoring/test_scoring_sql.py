"""The raw SQL of scoring: built from the models, and the statements it has always sent.

The expected texts are the statements the award path has always sent; a change to them is a
change of the SQL PostgreSQL and SQLite run, and deserves a look at its plan.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from gamification.models import Award
from scoring import sql

AWARD_STORE_POSTGRES = (
    "WITH inserted AS (INSERT INTO gamification_award (id, realm_id, player_id, task_id, "
    "points, case_name, callback_data, data, strategy_id, strategy_version, "
    "idempotency_key, response_body, api_key_used_id, created_at, experiment_arm) VALUES (%s, "
    "%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s) RETURNING "
    "player_id, task_id, "
    "points, created_at), player_stats AS (INSERT INTO gamification_playertaskstats "
    "(player_id, task_id, award_count, points_total, first_award_at, last_award_at, "
    "previous_award_at) SELECT player_id, task_id, 1, points, at, at, NULL FROM (SELECT "
    "player_id, task_id, points, created_at AS at FROM inserted) AS src WHERE true ON "
    "CONFLICT (player_id, task_id) DO UPDATE SET award_count = "
    "gamification_playertaskstats.award_count + 1, points_total = "
    "gamification_playertaskstats.points_total + excluded.points_total, first_award_at = "
    "LEAST(gamification_playertaskstats.first_award_at, excluded.first_award_at), "
    "previous_award_at = CASE WHEN excluded.last_award_at >= "
    "gamification_playertaskstats.last_award_at THEN "
    "gamification_playertaskstats.last_award_at ELSE "
    "GREATEST(COALESCE(gamification_playertaskstats.previous_award_at, "
    "excluded.last_award_at), excluded.last_award_at) END, last_award_at = "
    "GREATEST(gamification_playertaskstats.last_award_at, excluded.last_award_at) "
    "RETURNING 1) INSERT INTO gamification_taskstats (task_id, award_count, points_total, "
    "first_award_at, last_award_at) SELECT task_id, 1, points, at, at FROM (SELECT "
    "player_id, task_id, points, created_at AS at FROM inserted) AS src WHERE true ON "
    "CONFLICT (task_id) DO UPDATE SET award_count = gamification_taskstats.award_count + "
    "1, points_total = gamification_taskstats.points_total + excluded.points_total, "
    "first_award_at = LEAST(gamification_taskstats.first_award_at, "
    "excluded.first_award_at), last_award_at = "
    "GREATEST(gamification_taskstats.last_award_at, excluded.last_award_at)"
)

#: What the award write adds to the statement of old: the award's eight leaderboard entries.
LEADERBOARD_CTES = (
    "leaderboard_award AS (SELECT CAST(%s AS BIGINT) AS game_id, task_id, player_id, "
    "CAST(%s AS VARCHAR(255)) AS external_user_id, points, 1 AS awards, CAST(%s AS DATE) "
    "AS day_start, CAST(%s AS DATE) AS week_start, CAST(%s AS DATE) AS month_start FROM "
    "inserted), leaderboard_game AS (INSERT INTO gamification_leaderboardentry (game_id, "
    "task_id, period, period_start, player_id, external_user_id, points, awards) SELECT "
    "src.game_id, NULL, b.period, CASE b.period WHEN 'day' THEN src.day_start WHEN 'week'"
    " THEN src.week_start WHEN 'month' THEN src.month_start ELSE DATE '0001-01-01' END, "
    "src.player_id, src.external_user_id, src.points, src.awards FROM leaderboard_award "
    "AS src CROSS JOIN (SELECT 'all' AS period UNION ALL SELECT 'day' UNION ALL SELECT "
    "'week' UNION ALL SELECT 'month') AS b WHERE true ON CONFLICT (game_id, period, "
    "period_start, player_id) WHERE task_id IS NULL DO UPDATE SET points = "
    "gamification_leaderboardentry.points + excluded.points, awards = "
    "gamification_leaderboardentry.awards + excluded.awards RETURNING 1), "
    "leaderboard_task AS (INSERT INTO gamification_leaderboardentry (game_id, task_id, "
    "period, period_start, player_id, external_user_id, points, awards) SELECT "
    "src.game_id, src.task_id, b.period, CASE b.period WHEN 'day' THEN src.day_start WHEN"
    " 'week' THEN src.week_start WHEN 'month' THEN src.month_start ELSE DATE '0001-01-01'"
    " END, src.player_id, src.external_user_id, src.points, src.awards FROM "
    "leaderboard_award AS src CROSS JOIN (SELECT 'all' AS period UNION ALL SELECT 'day' "
    "UNION ALL SELECT 'week' UNION ALL SELECT 'month') AS b WHERE true ON CONFLICT "
    "(task_id, period, period_start, player_id) WHERE task_id IS NOT NULL DO UPDATE SET "
    "points = gamification_leaderboardentry.points + excluded.points, awards = "
    "gamification_leaderboardentry.awards + excluded.awards RETURNING 1)"
)

PLAYER_STATS_ONE_AWARD_SQLITE = (
    "INSERT INTO gamification_playertaskstats (player_id, task_id, award_count, "
    "points_total, first_award_at, last_award_at, previous_award_at) SELECT player_id, "
    "task_id, 1, points, at, at, NULL FROM (SELECT CAST(%s AS BIGINT) AS player_id, "
    "CAST(%s AS BIGINT) AS task_id, CAST(%s AS DOUBLE PRECISION) AS points, %s AS at) AS "
    "src WHERE true ON CONFLICT (player_id, task_id) DO UPDATE SET award_count = "
    "gamification_playertaskstats.award_count + 1, points_total = "
    "gamification_playertaskstats.points_total + excluded.points_total, first_award_at = "
    "MIN(gamification_playertaskstats.first_award_at, excluded.first_award_at), "
    "previous_award_at = CASE WHEN excluded.last_award_at >= "
    "gamification_playertaskstats.last_award_at THEN "
    "gamification_playertaskstats.last_award_at ELSE "
    "MAX(COALESCE(gamification_playertaskstats.previous_award_at, "
    "excluded.last_award_at), excluded.last_award_at) END, last_award_at = "
    "MAX(gamification_playertaskstats.last_award_at, excluded.last_award_at)"
)

TASK_STATS_ONE_AWARD_SQLITE = (
    "INSERT INTO gamification_taskstats (task_id, award_count, points_total, "
    "first_award_at, last_award_at) SELECT task_id, 1, points, at, at FROM (SELECT "
    "CAST(%s AS BIGINT) AS player_id, CAST(%s AS BIGINT) AS task_id, CAST(%s AS DOUBLE "
    "PRECISION) AS points, %s AS at) AS src WHERE true ON CONFLICT (task_id) DO UPDATE "
    "SET award_count = gamification_taskstats.award_count + 1, points_total = "
    "gamification_taskstats.points_total + excluded.points_total, first_award_at = "
    "MIN(gamification_taskstats.first_award_at, excluded.first_award_at), last_award_at = "
    "MAX(gamification_taskstats.last_award_at, excluded.last_award_at)"
)

#: A recent-window count: the player's awards on the task in the window less those reversed.
RECENT_WINDOW = (
    "(SELECT (SELECT COUNT(*) FROM gamification_award a WHERE a.player_id = p.id AND "
    "a.task_id = w.task_id AND a.created_at > w.since) - (SELECT COUNT(*) FROM "
    "gamification_awardreversal r WHERE r.player_id = p.id AND r.task_id = w.task_id AND "
    "r.award_created_at > w.since) FROM (SELECT CAST(%s AS BIGINT) AS task_id, "
    "CAST(%s AS TIMESTAMP WITH TIME ZONE) AS since) w)"
)
EVENT_HISTORY_TWO_WINDOWS = (
    "SELECT p.id, ts.award_count, ts.first_award_at, ts.last_award_at, ps.award_count, "
    f"ps.first_award_at, ps.last_award_at, ps.previous_award_at, {RECENT_WINDOW}, "
    f"{RECENT_WINDOW} FROM (SELECT CAST(%s AS BIGINT) AS task_id, "
    "CAST(%s AS BIGINT) AS realm_id, CAST(%s AS VARCHAR(255)) AS external_user_id) AS "
    "event LEFT JOIN gamification_player p ON p.realm_id = event.realm_id AND "
    "p.external_user_id = event.external_user_id LEFT JOIN gamification_taskstats ts ON "
    "ts.task_id = event.task_id LEFT JOIN gamification_playertaskstats ps ON ps.task_id = "
    "event.task_id AND ps.player_id = p.id"
)
#: The award's ledger entry and wallet upsert.
WALLET_CTES = (
    ", wallet_ledger AS (INSERT INTO gamification_ledgerentry (id, realm_id, player_id, kind, "
    "points, coins, award_id, reason, created_at, actor_user_id, actor_key_id) SELECT %s, "
    "CAST(%s AS BIGINT), src.player_id, 'award', ROUND(CAST(src.points AS NUMERIC(38, 6)), 6), "
    "0, %s, %s, src.created_at, %s, %s FROM inserted src RETURNING 1), wallet_balance AS "
    "(INSERT INTO gamification_wallet (realm_id, player_id, points_balance, coins_balance, "
    "updated_at) SELECT CAST(%s AS BIGINT), src.player_id, ROUND(CAST(src.points AS "
    "NUMERIC(38, 6)), 6), 0, src.created_at FROM inserted src ON CONFLICT (player_id) DO "
    "UPDATE SET points_balance = gamification_wallet.points_balance + "
    "excluded.points_balance, updated_at = GREATEST(gamification_wallet.updated_at, "
    "excluded.updated_at) RETURNING 1)"
)


def test_the_award_insert_writes_every_concrete_column_of_the_award_model():
    assert sql.award_insert_columns() == [field.column for field in Award._meta.concrete_fields]


def test_the_award_insert_params_follow_its_columns():
    award = Award(
        id=uuid.UUID("0190a8c4-0000-7000-8000-000000000002"),
        realm_id=1,
        player_id=2,
        task_id=3,
        points=4.5,
        case_name="Case",
        callback_data={"a": 1},
        data={"score": 2},
        strategy_id="default",
        strategy_version="0.0.2",
        idempotency_key="k",
        response_body="{}",
        api_key_used_id=5,
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        experiment_arm="candidate",
    )

    assert sql.award_insert_params(award) == [
        award.pk,
        1,
        2,
        3,
        4.5,
        "Case",
        json.dumps({"a": 1}),
        json.dumps({"score": 2}),
        "default",
        "0.0.2",
        "k",
        "{}",
        5,
        award.created_at,
        "candidate",
    ]
    # Then the game id, the external user id and the starts of the day, week and month, then
    # the wallet's: the entry's id, realm, award, reason, actor user and key, the realm again.
    assert sql.award_store_postgres().count("%s") == len(sql.award_insert_columns()) + 5 + 7


def test_the_award_write_is_the_statement_of_old_with_the_leaderboard_entries():
    """The same statement, with the entries and the wallet, whose task-wide stats row is
    locked last: its source reads no row before the player's rows are written."""
    stats, task_stats = AWARD_STORE_POSTGRES.split(" INSERT INTO gamification_taskstats ")
    written = (
        "(SELECT COUNT(*) FROM (SELECT 1 FROM player_stats UNION ALL SELECT 1 FROM "
        "leaderboard_game UNION ALL SELECT 1 FROM leaderboard_task UNION ALL SELECT 1 FROM "
        "wallet_ledger UNION ALL SELECT 1 FROM wallet_balance) AS written) >= 0"
    )
    assert task_stats.count(" WHERE true ") == 1
    assert sql.award_store_postgres() == (
        f"{stats}, {LEADERBOARD_CTES}{WALLET_CTES} INSERT INTO gamification_taskstats "
        f"{task_stats.replace(' WHERE true ', f' WHERE {written} ')} "
        "RETURNING CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)"
    )


def test_the_stats_upserts_are_the_statements_of_old_on_both_backends():
    player_stats, task_stats = sql.stats_upserts(sql.ONE_AWARD, "sqlite")
    assert (player_stats, task_stats) == (
        PLAYER_STATS_ONE_AWARD_SQLITE,
        TASK_STATS_ONE_AWARD_SQLITE,
    )
    postgres = sql.stats_upserts(sql.ONE_AWARD, "postgresql")
    assert postgres == (
        player_stats.replace("MIN(", "LEAST(").replace("MAX(", "GREATEST("),
        task_stats.replace("MIN(", "LEAST(").replace("MAX(", "GREATEST("),
    )
    source = "SELECT player_id, task_id, points, created_at AS at FROM inserted"
    for statement in sql.stats_upserts(source, "postgresql"):
        assert statement in AWARD_STORE_POSTGRES


def test_the_event_history_read_is_the_statement_of_old():
    assert sql.event_history(2) == EVENT_HISTORY_TWO_WINDOWS
    window = f", {RECENT_WINDOW}"
    assert sql.event_history(0) == EVENT_HISTORY_TWO_WINDOWS.replace(window, "")


def test_the_award_write_with_a_webhook_adds_one_outbox_cte_and_its_parameters():
    outbox = sql.webhook_outbox_cte("inserted")
    task_stats = "RETURNING 1) INSERT INTO gamification_taskstats"
    with_outbox = f"RETURNING 1){outbox} INSERT INTO gamification_taskstats"

    for plain, with_webhook in (
        (sql.award_store_postgres(), sql.award_store_postgres(True)),
        (sql.award_store_new_player_postgres(), sql.award_store_new_player_postgres(True)),
    ):
        assert plain.count(task_stats) == 1
        assert with_webhook == plain.replace(task_stats, with_outbox)
        assert with_webhook.count("%s") == plain.count("%s") + 8
    assert outbox.startswith(", webhook_messages AS (INSERT INTO gamification_webhookmessage ")
    assert "FROM inserted, gamification_webhookendpoint we WHERE we.realm_id = %s" in outbox


def test_the_award_read_asks_whether_a_webhook_listens_on_both_backends():
    postgres, sqlite = sql.award_read(0, False), sql.award_read(0, False, "", (), "sqlite")

    assert "EXISTS (SELECT 1 FROM gamification_webhookendpoint we" in postgres
    assert "we.events @> '[\"award.created\"]'::jsonb" in postgres
    assert "json_each(we.events)" in sqlite
    assert postgres.count("%s") == sqlite.count("%s") == 4
