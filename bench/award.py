#!/usr/bin/env python
"""Throughput and latency of the award endpoint under gunicorn, on PostgreSQL.

Run through ``make bench-award`` (a throwaway, durable PostgreSQL on loopback) or with
``DATABASE_URL`` pointing at a PostgreSQL database you can wipe. Needs ``wrk`` as the load
generator (``apt-get install wrk``): it runs on the same machine, so its CPU is counted too.

For each history size (earlier awards on the benchmarked task, spread over 1,000 players) and
each concurrency, it prints requests/s and p50/p95/p99 latency of ``POST .../points`` with the
``default`` strategy, production settings (DEBUG off) and gunicorn's gthread workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret")

PLAYERS = 1000
LUA = """
local path = "%(path)s"
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
request = function()
  local user = "player-" .. math.random(1, %(players)d)
  local body = '{"externalUserId":"' .. user .. '","data":{"score":7}}'
  return wrk.format("POST", path, headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"non_2xx":%%d,' ..
    '"p50":%%d,"p95":%%d,"p99":%%d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(history: int) -> tuple[str, str]:
    """Create the realm, key, game and task, with ``history`` earlier awards; return (path, key)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from gamification.models import Award, Player, PlayerTaskStats, Realm, Task, TaskStats
    from gamification.services import api_key_create, game_create, task_create

    call_command("migrate", verbosity=0)
    Realm.objects.filter(slug="bench").delete()
    realm = Realm.objects.create(slug="bench", name="Bench")
    _, key = api_key_create(realm=realm, name="bench")
    game = game_create(realm=realm, api_key=None, external_game_id="bench-game")
    task = task_create(game=game, api_key=None, external_task_id="bench-task")
    Player.objects.bulk_create(
        Player(realm=realm, external_user_id=f"player-{n}") for n in range(1, PLAYERS + 1)
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Earlier awards, one per second of the past, round-robin over the players.
        cursor.execute(
            f"""
            INSERT INTO {Award._meta.db_table}
                (id, realm_id, player_id, task_id, points, case_name, callback_data, data,
                 strategy_id, strategy_version, created_at)
            SELECT gen_random_uuid(), %s, p.id, %s, 1, 'BasicEngagement', '{{}}', '{{}}',
                   'default', '0.0.2', now() - make_interval(secs => %s - g)
            FROM generate_series(1, %s) AS g
            JOIN {Player._meta.db_table} p
              ON p.realm_id = %s AND p.external_user_id = 'player-' || (1 + g %% {PLAYERS})
            """,
            [realm.pk, task.pk, history + 3600, history, realm.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {PlayerTaskStats._meta.db_table}
                (player_id, task_id, award_count, points_total, first_award_at, last_award_at,
                 previous_award_at)
            SELECT player_id, task_id, count(*), sum(points), min(created_at), max(created_at),
                   (array_agg(created_at ORDER BY created_at DESC))[2]
            FROM {Award._meta.db_table} WHERE task_id = %s GROUP BY player_id, task_id
            """,
            [task.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {TaskStats._meta.db_table}
                (task_id, award_count, points_total, first_award_at, last_award_at)
            SELECT task_id, count(*), sum(points), min(created_at), max(created_at)
            FROM {Award._meta.db_table} WHERE task_id = %s GROUP BY task_id
            """,
            [task.pk],
        )
        cursor.execute("ANALYZE")
    print(f"  seeded {history:,} earlier awards in {time.perf_counter() - started:.1f} s")
    assert Task.objects.get(pk=task.pk).stats.award_count == history
    connection.close()
    return f"/api/v1/games/{game.external_game_id}/tasks/{task.external_task_id}/points", key


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORT": str(port),
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_BROKER_URL", None)
    multiproc = tempfile.mkdtemp(prefix="bench-prom-")
    env["PROMETHEUS_MULTIPROC_DIR"] = multiproc
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--access-logfile",
            "-",
            "--access-logformat",
            "",
            "gamification.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not come up")


def run_wrk(port: int, path: str, key: str, concurrency: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"path": path, "key": key, "players": PLAYERS})
    threads = min(concurrency, 2)
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (use `make bench-award`)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required as the load generator: apt-get install wrk")

    print(
        f"award endpoint, gunicorn gthread {args.workers} workers x {args.threads} threads, "
        f"{os.cpu_count()} CPUs, {args.seconds} s per run"
    )
    rows = []
    for history in args.histories:
        path, key = prepare(history)
        port = free_port()
        server = start_server(port, args.workers, args.threads)
        try:
            run_wrk(port, path, key, 8, 3)  # warm-up: connections, caches, JIT-free Python
            for concurrency in args.concurrency:
                result = run_wrk(port, path, key, concurrency, args.seconds)
                rps = result["requests"] / (result["duration_us"] / 1e6)
                rows.append((history, concurrency, rps, result))
                print(
                    f"  history {history:>9,}  c={concurrency:<3} {rps:8.1f} req/s  "
                    f"p50 {result['p50'] / 1000:6.2f} ms  p95 {result['p95'] / 1000:6.2f} ms  "
                    f"p99 {result['p99'] / 1000:6.2f} ms  errors {result['socket_errors']}  "
                    f"non-2xx {result['non_2xx']}",
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    print("\nsummary (req/s, p99 ms)")
    for concurrency in args.concurrency:
        cells = [
            f"{history:>9,}: {rps:7.1f} /s {r['p99'] / 1000:6.2f} ms"
            for history, c, rps, r in rows
            if c == concurrency
        ]
        print(f"  c={concurrency:<3} " + "   ".join(cells))


if __name__ == "__main__":
    main()
