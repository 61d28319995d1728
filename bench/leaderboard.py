#!/usr/bin/env python
"""Latency of leaderboard reads on a board of a million players, on PostgreSQL and Redis.

Run through ``make bench-leaderboard`` (a throwaway PostgreSQL and Redis on loopback) or with
``DATABASE_URL`` pointing at a PostgreSQL database you can wipe and ``REDIS_URL`` (or
``REDIS_CACHE_URL``) at a Redis you can flush.

It seeds ``--players`` players and ``--awards`` awards on one task (straight into the tables
with ``generate_series``, within the last hour, round-robin over the players with points
from 1 to 20), then the leaderboard entries with ``leaderboards_rebuild`` (every board: the
game's and the task's, for all time, the day, the week and the month). Then it times, in
process, ``--reads`` reads of the game's all-time board for each of:

- the top 10,
- one player's rank (``?player=``) at random players, with the board's Redis set warm,
- the 10 entries around a random player (``?around=``), set warm,
- one player's rank counted in PostgreSQL (no Redis): a range as long as the rank,

and prints p50/p95/p99 in milliseconds with the load average before each round, and how
long the first rank read took to build the set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query in memory
    redis_url = os.environ.get("REDIS_CACHE_URL") or os.environ.get("REDIS_URL")
    if redis_url:
        os.environ["REDIS_CACHE_URL"] = redis_url
    import django

    django.setup()


def seed(*, players: int, awards: int) -> dict[str, float | int]:
    """Migrate, then create the realm, game, task, players, awards and entries."""
    from django.core.management import call_command
    from django.db import DatabaseError, connection, transaction

    from gamification.leaderboards.services import leaderboards_rebuild
    from gamification.models import Award, Game, LeaderboardEntry, Player, Realm, Task

    call_command("migrate", verbosity=0)
    Realm.objects.filter(slug="bench-leaderboard").delete()
    realm = Realm.objects.create(slug="bench-leaderboard", name="Bench", timezone="Europe/Paris")
    game = Game.objects.create(realm=realm, external_game_id="bench-game")
    task = Task.objects.create(game=game, external_task_id="bench-task", strategy_id="default")
    awards_table, players_table = Award._meta.db_table, Player._meta.db_table
    timings: dict[str, float | int] = {}
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # As bench/award.py: a superuser skips the foreign-key triggers of every row, and
        # the award table's secondary indexes are built once afterwards, from sorted input.
        with contextlib.suppress(DatabaseError), transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(
            f"INSERT INTO {players_table} (realm_id, external_user_id, created_at) "
            "SELECT %s, 'player-' || lpad(g::text, 7, '0'), now() "
            "FROM generate_series(1, %s) AS g",
            [realm.pk, players],
        )
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = format('%%I', i.indexname)::regclass)
            """,
            [awards_table],
        )
        secondary_indexes = cursor.fetchall()
        for name, _ in secondary_indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(
            f"""
            INSERT INTO {awards_table}
                (id, realm_id, player_id, task_id, points, case_name, callback_data, data,
                 strategy_id, strategy_version, created_at)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, %s,
                   ids.player_ids[1 + g %% %s], %s, 1 + ((g::bigint * 2654435761) %% 1000003) %% 20,
                   'Bench', '{{}}', '{{}}', 'default', '0.0.2',
                   now() - make_interval(secs => 3600.0 * (%s - g) / %s)
            FROM (SELECT array_agg(id ORDER BY id) AS player_ids
                  FROM {players_table} WHERE realm_id = %s) AS ids,
                 generate_series(1, %s) AS g
            """,
            [realm.pk, players, task.pk, awards, awards, realm.pk, awards],
        )
        for _, definition in secondary_indexes:
            cursor.execute(definition)
    timings["players and awards"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '512MB'")
    leaderboards_rebuild(game=Game.objects.select_related("realm").get(pk=game.pk))
    with connection.cursor() as cursor:
        cursor.execute("RESET work_mem")
        cursor.execute("VACUUM ANALYZE")
    timings["entries (leaderboards_rebuild, then VACUUM ANALYZE)"] = time.perf_counter() - started
    timings["entries"] = LeaderboardEntry.objects.filter(game=game).count()
    return timings


def _percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return (
        "  ".join(f"p{p} {cuts[p - 1] * 1000:7.2f} ms" for p in (50, 95, 99))
        + f"  (n={len(samples)})"
    )


def _timed(read: Callable[[str], object], users: list[str]) -> list[float]:
    samples = []
    for user in users:
        started = time.perf_counter()
        read(user)
        samples.append(time.perf_counter() - started)
    return samples


def measure(*, players: int, reads: int) -> None:
    from django.conf import settings
    from django.test.utils import override_settings

    from gamification.leaderboards.cache import Board, board_key, cache_enabled, cache_game_drop
    from gamification.leaderboards.periods import ALL_TIME_START, LeaderboardPeriod
    from gamification.leaderboards.selectors import leaderboard_read
    from gamification.models import Game

    game = Game.objects.select_related("realm").get(
        realm__slug="bench-leaderboard", external_game_id="bench-game"
    )
    rng = random.Random(7)
    users = [f"player-{rng.randrange(1, players + 1):07}" for _ in range(reads)]

    def read(**params: Any):
        return leaderboard_read(
            game=game,
            task=None,
            timezone=game.realm.timezone,
            period=LeaderboardPeriod.ALL,
            **params,
        )

    def report(name: str, samples: list[float]) -> None:
        load = " ".join(f"{n:.2f}" for n in os.getloadavg())
        print(f"{name:<34} {_percentiles(samples)}   load average {load}", flush=True)

    top = read(limit=10)
    print("top 3:", [(e.rank, e.external_user_id, e.points) for e in top.entries[:3]])
    if cache_enabled():
        cache_game_drop(game_id=game.pk)
        started = time.perf_counter()
        first = read(player=users[0])
        built = time.perf_counter() - started
        assert first.player is not None
        key = board_key(Board(game_id=game.pk, task_id=None, period="all", start=ALL_TIME_START))
        print(f"first rank read, building the set ({key}): {built:.2f} s")
        report("top 10", _timed(lambda _user: read(limit=10), users))
        report("player rank (?player=, Redis)", _timed(lambda user: read(player=user), users))
        report("around a player (Redis)", _timed(lambda user: read(around=user), users))
    else:
        print("No Redis configured (REDIS_URL / REDIS_CACHE_URL): PostgreSQL counts only.")
        report("top 10", _timed(lambda _user: read(limit=10), users))
    without_redis = {
        **settings.CACHES,
        "leaderboards": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=without_redis):
        report(
            "player rank (PostgreSQL counts)",
            _timed(lambda user: read(player=user), users[: max(20, reads // 4)]),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=1_000_000)
    parser.add_argument("--awards", type=int, default=10_000_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument(
        "--no-seed", action="store_true", help="Measure the data of an earlier run again."
    )
    args = parser.parse_args()
    _setup()
    if not args.no_seed:
        print(f"seeding {args.players:,} players and {args.awards:,} awards ...", flush=True)
        for name, value in seed(players=args.players, awards=args.awards).items():
            print(f"  {name}: " + (f"{value:.1f} s" if isinstance(value, float) else f"{value:,}"))
    measure(players=args.players, reads=args.reads)


if __name__ == "__main__":
    main()
