#!/usr/bin/env python
"""Events per second of a backtest of a ``default``-like program over 1,000,000 awards.

Run through ``make bench-backtest`` (a throwaway PostgreSQL on loopback) or with
``DATABASE_URL`` pointing at a PostgreSQL database you can wipe. It seeds one task bound to
a published DSL_FULL strategy (the ``default`` built-in's twin, which reads every
analytics value but the recent-window count) with ``--awards`` earlier awards over
``--players`` players (``generate_series``, secondary indexes built after the insert, as
``bench/award.py`` does), then backtests a draft of the same family over all of them, in
process (Celery eager) as the worker would. Each round prints the load average before it,
the events run, the wall time, events/s and the process's CPU seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TWIN = ROOT / "scoring" / "builtins" / "twins" / "default.json"


def seed(*, awards: int, players: int):
    """Migrate, then create the realm, the strategy, its task and ``awards`` earlier awards;
    return a draft of the strategy's family and the window's start."""
    from django.core.management import call_command
    from django.db import DatabaseError, connection, transaction
    from django.utils import timezone

    from gamification.models import Award, Player, Realm
    from gamification.services import game_create, task_create
    from strategies import services

    call_command("migrate", verbosity=0)
    Realm.objects.filter(slug="bench").delete()
    realm = Realm.objects.create(slug="bench", name="Bench")
    program = json.loads(TWIN.read_text())
    live = services.strategy_create(realm=realm, name="pace", type="DSL_FULL", ast_json=program)
    live = services.strategy_publish(strategy=live).strategy
    draft = services.strategy_edit(strategy=live, changes={"description": "bench"}).strategy
    game = game_create(
        realm=realm, api_key=None, external_game_id="bench-game", strategy_id=live.strategy_id
    )
    task = task_create(game=game, api_key=None, external_task_id="bench-task")
    Player.objects.bulk_create(
        Player(realm=realm, external_user_id=f"player-{n}") for n in range(1, players + 1)
    )
    table, player_table = Award._meta.db_table, Player._meta.db_table
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        with contextlib.suppress(DatabaseError), transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = format('%%I', i.indexname)::regclass)
            """,
            [table],
        )
        secondary_indexes = cursor.fetchall()
        for name, _ in secondary_indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # One award every 7 seconds of the past, round-robin over the players, each with a
        # small event payload: every player's pace differs from the task's.
        cursor.execute(
            f"""
            INSERT INTO {table}
                (id, realm_id, player_id, task_id, points, case_name, callback_data, data,
                 strategy_id, strategy_version, created_at)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, %s,
                   ids.player_ids[1 + (g::bigint * 7919) %% {players}], %s, 1, 'default', '{{}}',
                   jsonb_build_object('score', g %% 10, 'level', g %% 3), %s, '1',
                   now() - make_interval(secs => 7 * (%s - g))
            FROM (SELECT array_agg(id ORDER BY id) AS player_ids
                  FROM {player_table} WHERE realm_id = %s) AS ids,
                 generate_series(1, %s) AS g
            """,
            [realm.pk, task.pk, live.strategy_id, awards + 60, realm.pk, awards],
        )
        for _, definition in secondary_indexes:
            cursor.execute(definition)
        cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
    since = timezone.now() - timedelta(seconds=7 * (awards + 120))
    print(f"seeded {awards:,} awards over {players:,} players in {seconds:.1f} s", flush=True)
    return draft, since


def measured_round(draft, since, *, max_events: int | None) -> None:
    from strategies import backtests
    from strategies.models import Backtest

    load = os.getloadavg()[0]
    cpu = time.process_time()
    started = time.perf_counter()
    # No broker: the task runs in this process after the request's commit.
    backtest = backtests.backtest_request(strategy=draft, since=since, max_events=max_events)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    backtest = Backtest.objects.get(pk=backtest.pk)
    if backtest.status != "done":
        raise SystemExit(
            f"backtest {backtest.status}: {backtest.error_code} {backtest.error_detail}"
        )
    events = backtest.result["events"]
    print(
        f"  load {load:5.2f}  {events:>9,} events in {wall:6.2f} s  "
        f"{events / wall:9,.0f} events/s  process CPU {cpu:6.2f} s  "
        f"changed {backtest.result['changed']:,}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awards", type=int, default=1_000_000)
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--max-events", type=int, default=None)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (use `make bench-backtest`)")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("BACKTEST_MAX_EVENTS", str(max(args.awards, 1)))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    draft, since = seed(awards=args.awards, players=args.players)
    print(
        f"backtest of the default twin (DSL_FULL), {os.cpu_count()} CPUs, {args.rounds} round(s)",
        flush=True,
    )
    for _ in range(args.rounds):
        measured_round(draft, since, max_events=args.max_events)


if __name__ == "__main__":
    main()
