#!/usr/bin/env python
"""Cost of execution logging: sink overhead on awards, worker insert rate, dashboard latency.

Run with ``.ci/with-services .venv/bin/python bench/sink.py`` (a throwaway PostgreSQL and
Redis; it migrates and fills the database of ``DATABASE_URL``, so never point it at one you
keep). It prints:

1. award throughput and p50/p99 latency, in-process (``award_points`` plus the observer, as
   the award endpoint calls them), with execution logging at 0 %, 5 % and 100 % sampling and
   the sink publishing to the real Redis; and the observer's own p99 (the sink overhead);
2. the Celery worker's persisted rows per second (a real ``celery worker`` subprocess,
   draining batches already queued in Redis);
3. the latency of ``GET /api/v1/strategies/custom/{id}/metrics`` for a 30-day window over
   1,000,000 log rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def bench_awards(redis_url: str, awards: int) -> None:
    from django.conf import settings

    from gamification.models import Realm
    from gamification.services import api_key_create, game_create, task_create
    from observability.observer import ExecutionObserver, observer_set
    from observability.sink import ExecutionLogSink
    from scoring.builtins.base import ScoringEvent
    from scoring.services import award_points

    realm = Realm.objects.get(slug="bench-sink")
    api_key, _ = api_key_create(realm=realm, name="bench")
    game = game_create(realm=realm, api_key=None, external_game_id="bench-game")
    task = task_create(game=game, api_key=None, external_task_id="bench-task")

    print(f"1. awards, in-process, {awards} per rate, sink publishing to Redis")
    print(
        f"   {'sampling':>8}  {'awards/s':>9}  {'p50 ms':>7}  {'p99 ms':>7}  {'observe p99 ms':>15}"
    )
    for rate in (0.0, 0.05, 1.0):
        settings.DSL_EXECUTION_LOG_SAMPLE_RATE = rate
        sink = ExecutionLogSink(broker_url=redis_url)
        observer = ExecutionObserver(sink=sink)
        observer_set(observer)
        latencies, observe = [], []
        started = time.perf_counter()
        for n in range(awards):
            t0 = time.perf_counter()
            traced = observer.trace_wanted()
            data = {"score": 7}
            outcome = award_points(
                realm=realm,
                api_key=api_key,
                task=task,
                external_user_id=f"player-{n % 500}",
                data=data,
            )
            t1 = time.perf_counter()
            observer.run_observe(
                run=outcome.run,
                traced=traced,
                realm=realm,
                event=ScoringEvent("bench-game", "bench-task", f"player-{n % 500}", data),
                api_key=api_key,
                correlation_id=None,
            )
            t2 = time.perf_counter()
            latencies.append((t2 - t0) * 1000)
            observe.append((t2 - t1) * 1000)
        elapsed = time.perf_counter() - started
        sink.shutdown(5)
        print(
            f"   {rate * 100:>7.0f}%  {awards / elapsed:>9.0f}  {pct(latencies, 50):>7.2f}  "
            f"{pct(latencies, 99):>7.2f}  {pct(observe, 99):>15.3f}"
        )


def bench_worker(redis_url: str, rows: int) -> None:
    import redis
    from django.db import connection

    from gamification.celery import app
    from gamification.ids import uuid7
    from gamification.models import Realm
    from observability.models import StrategyExecutionLog
    from observability.sink import TASK_NAME

    redis.Redis.from_url(redis_url).flushdb()
    StrategyExecutionLog.objects.all().delete()
    realm = Realm.objects.get(slug="bench-sink")
    trace = [{"nodeId": f"p.rule.{i}", "type": "literal", "value": i} for i in range(30)]
    batch_size = 50
    with app.connection_for_write(url=redis_url) as conn:
        for _ in range(rows // batch_size):
            batch = [
                {
                    "id": str(uuid7()),
                    "created_at": "2030-01-01T00:00:00+00:00",
                    "realm_id": realm.pk,
                    "strategy_id": "custom:bench",
                    "strategy_version": "1",
                    "strategy_type": "DSL_FULL",
                    "external_user_id": "u",
                    "status": "ok",
                    "points": 10,
                    "duration_ms": 2.5,
                    "nodes_executed": 30,
                    "data": {"score": 7},
                    "fields": {"user.measurements_count": 3},
                    "trace": trace,
                    "sampled": True,
                    "sample_rate": 0.05,
                }
                for _ in range(batch_size)
            ]
            app.send_task(TASK_NAME, args=[batch], connection=conn)
    env = {**os.environ, "CELERY_BROKER_URL": redis_url, "LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gamification",
            "worker",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            count = StrategyExecutionLog.objects.count()
            if count and first is None:
                first = (time.perf_counter(), count)
            if count >= rows:
                break
            time.sleep(0.05)
        end = time.perf_counter()
        done = StrategyExecutionLog.objects.count()
        rate = (done - first[1]) / (end - first[0]) if first and end > first[0] else 0
        print(f"2. worker (prefork, concurrency 2, batches of {batch_size}, 30-entry traces)")
        print(f"   {done} rows persisted, {rate:,.0f} rows/s")
    finally:
        worker.terminate()
        worker.wait(30)
        connection.close()


def bench_metrics(rows: int, queries: int) -> None:
    from django.db import connection
    from django.test import Client

    from gamification.models import Realm
    from gamification.services import api_key_create
    from observability.models import StrategyExecutionLog

    realm = Realm.objects.get(slug="bench-sink")
    _, key = api_key_create(realm=realm, name="bench-metrics")
    StrategyExecutionLog.objects.all().delete()
    strategies = [str(uuid.uuid4()) for _ in range(10)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Thirty days of rows in time order; the benchmarked strategy owns one row in ten
        # unless --single; failures are 1 % of runs (about 17 % of the rows at 5 % sampling).
        cursor.execute(
            f"""
            INSERT INTO {StrategyExecutionLog._meta.db_table}
              (id, created_at, realm_id, strategy_id, strategy_version, strategy_type,
               definition_id, external_game_id, external_task_id, external_user_id, status,
               error_code, points, case_name, duration_ms, nodes_executed, data, fields, trace,
               sampled, sample_rate)
            SELECT gen_random_uuid(),
                   now() - interval '30 days' + (n * interval '30 days' / %(rows)s),
                   %(realm)s, 'custom:' || s.id, '1', 'DSL_FULL', s.id::uuid, 'g', 't',
                   'u' || (n %% 1000),
                   CASE WHEN n %% 6 = 0 THEN 'error' ELSE 'ok' END,
                   CASE WHEN n %% 6 = 0 THEN 'DSL_ARITH_DIV_BY_ZERO' END,
                   CASE WHEN n %% 6 = 0 THEN NULL ELSE (n %% 50) END,
                   CASE WHEN n %% 6 = 0 THEN NULL ELSE 'case' || (n %% 4) END,
                   1 + (n %% 997) / 50.0, 5 + n %% 40, '{{"score": 7}}', '{{}}', NULL,
                   n %% 6 <> 0, CASE WHEN n %% 6 = 0 THEN 1.0 ELSE 0.05 END
            FROM generate_series(1, %(rows)s) AS n
            JOIN (SELECT row_number() OVER () - 1 AS k, id
                  FROM unnest(%(strategies)s::text[]) AS id) s ON s.k = n %% %(spread)s
            """,
            {"rows": rows, "realm": realm.pk, "strategies": strategies, "spread": 10},
        )
    # What autovacuum does to an insert-only table (PostgreSQL 13+): set the visibility map,
    # which the dashboard's index-only scans rely on.
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE, FREEZE) {StrategyExecutionLog._meta.db_table}")
        cursor.execute(
            "SELECT relallvisible::float / GREATEST(relpages, 1) FROM pg_class WHERE relname = %s",
            [StrategyExecutionLog._meta.db_table],
        )
        visible = cursor.fetchone()[0]
    print(
        f"3. metrics endpoint, {rows:,} rows over 30 days (filled in "
        f"{time.perf_counter() - started:.0f} s, {visible:.0%} of pages all-visible)"
    )
    client = Client(HTTP_X_API_KEY=key, HTTP_HOST="localhost")
    target = strategies[0]
    owned = StrategyExecutionLog.objects.filter(definition_id=target).count()
    for label, window in (("30d", "30d"), ("7d", "7d"), ("24h", "24h")):
        timings = []
        for _ in range(queries):
            t0 = time.perf_counter()
            response = client.get(f"/api/v1/strategies/custom/{target}/metrics", {"window": window})
            timings.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.content
        body = response.json()
        print(
            f"   window {label:>3}: {body['rows']:>7,} rows of this strategy "
            f"(of {owned:,}), median {statistics.median(timings):6.0f} ms, "
            f"max {max(timings):6.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--awards", type=int, default=2000)
    parser.add_argument("--worker-rows", type=int, default=20_000)
    parser.add_argument("--log-rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--parts", default="1,2,3", help="which measurements, e.g. 3")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url or not os.environ.get("DATABASE_URL"):
        sys.exit("Run under .ci/with-services (needs DATABASE_URL and REDIS_URL).")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    parts = set(args.parts.split(","))
    from gamification.models import Realm

    Realm.objects.get_or_create(slug="bench-sink", defaults={"name": "Bench sink"})
    if "1" in parts:
        bench_awards(redis_url, args.awards)
    if "2" in parts:
        bench_worker(redis_url, args.worker_rows)
    if "3" in parts:
        bench_metrics(args.log_rows, args.queries)


if __name__ == "__main__":
    main()
