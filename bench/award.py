#!/usr/bin/env python
"""Throughput, latency and worker CPU of the award endpoint under gunicorn, on PostgreSQL.

Run through ``make bench-award`` (a throwaway, durable PostgreSQL on loopback) or with
``DATABASE_URL`` pointing at a PostgreSQL database you can wipe. Needs ``wrk`` as the load
generator (``apt-get install wrk``): it runs on the same machine, so its CPU is counted too.

For each history size (earlier awards on the benchmarked task, spread over 1,000 players) and
each concurrency, it prints awards/s, p50/p95/p99 latency of ``POST .../points`` with the
``default`` strategy, production settings (DEBUG off) and gunicorn's gthread workers, the load
average before the round, and each worker's CPU seconds in the round (from
``/proc/<pid>/stat``) with the workers' CPU per award.

``--batch N`` sends the same events to the current tree both ways, one per request and N per
request to the game's batch endpoint, alternating, and gives events/s for each.

``--experiment SHARE`` serves the current tree twice, with the task bound to a published
custom strategy (the ``default`` built-in's DSL twin) in both, and in one of them an
experiment giving SHARE of the players a candidate (DSL_EXTEND, doubled points): the ratio is
what an experiment costs an award.

``--achievements`` serves the current tree twice, the game of one with 3 levels, daily streaks
and 10 badges (conditions on the player's awards, points, level, streak, task count and the
event's data; half of them granted once), alternating: the ratio is what they cost an award.

``--compare REF`` also serves the tree of git revision REF (checked out with ``git worktree
add`` into a temporary directory, run with this Python) against a database of its own on the
same PostgreSQL server, migrated by REF, and alternates rounds between the two; the summary
gives both and their ratio per history and concurrency. Each tree starts gunicorn with its
own ``gunicorn.conf.py``; a tree whose configuration cannot turn the access log off gets the
empty access-log format its own bench used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TWIN = ROOT / "scoring" / "builtins" / "twins" / "default.json"
PLAYERS = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LUA_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%%d,"duration_us":%%d,"socket_errors":%%d,"non_2xx":%%d,' ..
    '"p50":%%d,"p95":%%d,"p99":%%d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
LUA = (
    """
local path = "%(path)s"
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
request = function()
  local user = "player-" .. math.random(1, %(players)d)
  local body = '{"externalUserId":"' .. user .. '","data":{"score":7}}'
  return wrk.format("POST", path, headers, body)
end
"""
    + LUA_DONE
)
#: The same events, ``%(batch)d`` to a request, on the game's batch endpoint.
LUA_BATCH = (
    """
local path = "%(path)s"
local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
request = function()
  local events = {}
  for i = 1, %(batch)d do
    local user = "player-" .. math.random(1, %(players)d)
    events[i] = '{"externalTaskId":"%(task)s","externalUserId":"' .. user ..
      '","data":{"score":7}}'
  end
  return wrk.format("POST", path, headers, '{"events":[' .. table.concat(events, ",") .. ']}')
end
"""
    + LUA_DONE
)


def seed(history: int) -> dict[str, str]:
    """In the tree on ``sys.path``: migrate, then create the realm, key, game and task with
    ``history`` earlier awards; return the award path and the key."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import DatabaseError, connection, transaction

    from gamification.models import Award, Player, PlayerTaskStats, Realm, Task, TaskStats
    from gamification.services import api_key_create, game_create, task_create

    call_command("migrate", verbosity=0)
    Realm.objects.filter(slug="bench").delete()
    realm = Realm.objects.create(slug="bench", name="Bench")
    _, key = api_key_create(realm=realm, name="bench")
    game = game_create(realm=realm, api_key=None, external_game_id="bench-game")
    task = task_create(game=game, api_key=None, external_task_id="bench-task")
    strategy = os.environ.get("BENCH_STRATEGY", "default")
    if strategy != "default":
        _strategy_seed(realm=realm, task=task, strategy=strategy)
    if os.environ.get("BENCH_ACHIEVEMENTS") == "1":
        _achievements_seed(game=game, task=task)
    Player.objects.bulk_create(
        Player(realm=realm, external_user_id=f"player-{n}") for n in range(1, PLAYERS + 1)
    )
    awards, players = Award._meta.db_table, Player._meta.db_table
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # The rows below reference the realm, task and players made above; checking each of
        # a million rows' three foreign keys (a trigger each) is most of the insert's time.
        # Only a superuser may skip them; anyone else pays the checks.
        with contextlib.suppress(DatabaseError), transaction.atomic():
            cursor.execute("SET LOCAL session_replication_role = replica")
        # A million inserts into the award table's secondary indexes, in the order of the
        # rows, cost several times building the same indexes afterwards from sorted input;
        # they are set aside (as defined by the migrations) and built again.
        cursor.execute(
            """
            SELECT i.indexname, i.indexdef FROM pg_indexes i
            WHERE i.schemaname = current_schema() AND i.tablename = %s
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = format('%%I', i.indexname)::regclass)
            """,
            [awards],
        )
        secondary_indexes = cursor.fetchall()
        for name, _ in secondary_indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # Earlier awards, one per second of the past, round-robin over the players; the
        # player ids are looked up once, as an array, not joined per row. Ascending ids (as
        # the application's time-ordered ones are) append to the primary key's index instead
        # of writing all over it.
        cursor.execute(
            f"""
            INSERT INTO {awards}
                (id, realm_id, player_id, task_id, points, case_name, callback_data, data,
                 strategy_id, strategy_version, created_at)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, %s,
                   ids.player_ids[1 + g %% {PLAYERS}], %s, 1,
                   'BasicEngagement', '{{}}', '{{}}', 'default', '0.0.2',
                   now() - make_interval(secs => %s - g)
            FROM (SELECT array_agg(id ORDER BY id) AS player_ids
                  FROM {players} WHERE realm_id = %s) AS ids,
                 generate_series(1, %s) AS g
            """,
            [realm.pk, task.pk, history + 3600, realm.pk, history],
        )
        for _, definition in secondary_indexes:
            cursor.execute(definition)
        cursor.execute(
            f"""
            INSERT INTO {PlayerTaskStats._meta.db_table}
                (player_id, task_id, award_count, points_total, first_award_at, last_award_at,
                 previous_award_at)
            SELECT player_id, task_id, count(*), sum(points), min(created_at), max(created_at),
                   (array_agg(created_at ORDER BY created_at DESC))[2]
            FROM {awards} WHERE task_id = %s GROUP BY player_id, task_id
            """,
            [task.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {TaskStats._meta.db_table}
                (task_id, award_count, points_total, first_award_at, last_award_at)
            SELECT task_id, count(*), sum(points), min(created_at), max(created_at)
            FROM {awards} WHERE task_id = %s GROUP BY task_id
            """,
            [task.pk],
        )
        cursor.execute("ANALYZE")
    seconds = time.perf_counter() - started
    assert Task.objects.get(pk=task.pk).stats.award_count == history
    connection.close()
    path = f"/api/v1/games/{game.external_game_id}/tasks/{task.external_task_id}/points"
    return {"path": path, "key": key, "seconds": f"{seconds:.1f}"}


def _strategy_seed(*, realm: Any, task: Any, strategy: str) -> None:
    """Bind the task to the ``default`` built-in's DSL twin, published (``custom``), and also
    run an experiment of its family against a draft that doubles the points for ``share`` of
    the players (``experiment:<share>``)."""
    from gamification.models import Task
    from gamification.strategy_ids import custom_strategy_id
    from strategies import services as strategy_services

    program = json.loads(TWIN.read_text())
    control = strategy_services.strategy_create(
        realm=realm, name="bench", type="DSL_FULL", ast_json=program
    )
    strategy_services.strategy_publish(strategy=control)
    Task.objects.filter(pk=task.pk).update(strategy_id=custom_strategy_id(control.pk))
    if strategy == "custom":
        return
    kind, _, share = strategy.partition(":")
    if kind != "experiment" or not share:
        raise SystemExit(f"unknown bench strategy {strategy!r}")
    doubled = {
        "type": "program",
        "rules": [],
        "post_rules": [
            {
                "type": "rule",
                "when": {"type": "literal", "value": True},
                "then": [
                    {
                        "type": "set_points",
                        "value": {
                            "type": "arith",
                            "op": "*",
                            "left": {"type": "field", "path": "parent.points"},
                            "right": {"type": "literal", "value": 2},
                        },
                    }
                ],
            }
        ],
    }
    candidate = strategy_services.strategy_edit(
        strategy=control,
        changes={"type": "DSL_EXTEND", "parent_strategy_id": "default", "ast_json": doubled},
    ).strategy
    strategy_services.experiment_start(
        strategy=control, candidate_id=candidate.pk, share=float(share), tag="bench"
    )


def _achievements_seed(*, game: Any, task: Any) -> None:
    """Give the game 3 levels, daily streaks and 10 badges, 6 of them granted once."""
    from gamification.achievements.services import badge_create, game_levels_set

    levels = [
        {"level": 1, "name": "Rookie", "min_points": 0},
        {"level": 2, "name": "Regular", "min_points": 50},
        {"level": 3, "name": "Veteran", "min_points": 500},
    ]
    game_levels_set(game=game, api_key=None, levels=levels, streak_period="day")

    def at_least(path: str, value: float) -> dict:
        return {
            "type": "compare",
            "op": ">=",
            "left": {"type": "field", "path": path},
            "right": {"type": "literal", "value": value},
        }

    badges = [
        *((f"awards-{n}", at_least("player.awards", n), False) for n in (1, 5, 25, 100)),
        ("points-1000", at_least("player.points", 1000), False),
        ("veteran", at_least("player.level", 3), False),
        ("week-streak", at_least("player.streak", 7), True),
        ("high-score", at_least("data.score", 10), True),
        ("task-1000", at_least(f"player.tasks.{task.external_task_id}.awards", 1000), True),
        (
            "steady",
            {"type": "and", "args": [at_least("player.streak", 2), at_least("data.score", 5)]},
            True,
        ),
    ]
    for badge_id, condition, repeatable in badges:
        badge_create(
            game=game,
            api_key=None,
            badge_id=badge_id,
            name=badge_id,
            condition=condition,
            repeatable=repeatable,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_named(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_recreate(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Tree:
    """A source tree to serve: this checkout or a git revision's worktree."""

    label: str
    root: Path
    database_url: str
    path: str = ""
    key: str = ""
    server: subprocess.Popen | None = None
    port: int = 0
    #: What the task scores with: ``default``, ``custom`` or ``experiment:<share>``.
    strategy: str = "default"
    #: Whether the game has levels, streaks and badges.
    achievements: bool = False

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "DJANGO_SETTINGS_MODULE": "gamification.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
            "PYTHONPATH": str(self.root),
            "BENCH_STRATEGY": self.strategy,
            "BENCH_ACHIEVEMENTS": "1" if self.achievements else "0",
        }
        env.pop("CELERY_BROKER_URL", None)
        return env

    def seed(self, history: int) -> None:
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--seed", str(history)],
            cwd=self.root,
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise SystemExit(f"seeding {self.label} failed:\n{completed.stderr}")
        seeded = json.loads(completed.stdout.strip().splitlines()[-1])
        self.path, self.key = seeded["path"], seeded["key"]
        print(f"  {self.label}: seeded {history:,} earlier awards in {seeded['seconds']} s")

    def start(self, workers: int, threads: int) -> None:
        self.port = free_port()
        env = {
            **self.environment(),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PORT": str(self.port),
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_ACCESS_LOG": "off",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_LOG_LEVEL": "warning",
            "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-prom-"),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
        if "GUNICORN_ACCESS_LOG" not in (self.root / "gunicorn.conf.py").read_text():
            command += ["--access-logfile", "-", "--access-logformat", ""]
        self.server = subprocess.Popen(
            [*command, "gamification.wsgi"], cwd=self.root, env=env, stdout=subprocess.DEVNULL
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                if len(self.worker_pids()) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn of {self.label} did not come up")

    def stop(self) -> None:
        if self.server is not None:
            self.server.send_signal(signal.SIGTERM)
            self.server.wait(timeout=30)
            self.server = None

    def worker_pids(self) -> list[int]:
        assert self.server is not None
        master = self.server.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        return sorted(int(pid) for pid in children.read_text().split())


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_wrk(port: int, path: str, key: str, concurrency: int, seconds: int, batch: int = 0) -> dict:
    """One wrk run of single awards on ``path``, or of batches of ``batch`` events on the
    batch endpoint of its game."""
    if batch:
        game, task = path.split("/")[4], path.split("/")[6]
        path = f"/api/v1/games/{game}/points/batch"
        script_text = LUA_BATCH % {
            "path": path,
            "key": key,
            "players": PLAYERS,
            "batch": batch,
            "task": task,
        }
    else:
        script_text = LUA % {"path": path, "key": key, "players": PLAYERS}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(script_text)
    threads = min(concurrency, 2)
    completed = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
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


@dataclass
class Load:
    """What one series of rounds sends to a tree: single awards, or batches of ``batch``."""

    label: str
    tree: Tree
    batch: int = 0
    rounds: dict[tuple[int, int], list[dict]] = field(default_factory=dict)


def measured_round(load: Load, concurrency: int, seconds: int) -> dict:
    """One wrk run of ``load``, with the load average before it and the workers' CPU."""
    tree = load.tree
    average = os.getloadavg()[0]
    pids = tree.worker_pids()
    before = {pid: cpu_seconds(pid) for pid in pids}
    result = run_wrk(tree.port, tree.path, tree.key, concurrency, seconds, load.batch)
    worker_cpu = [cpu_seconds(pid) - before[pid] for pid in pids]
    awards = result["requests"] * max(load.batch, 1)
    result |= {
        "load": average,
        "rps": awards / (result["duration_us"] / 1e6),
        "worker_cpu": worker_cpu,
        "cpu_ms_per_award": 1000 * sum(worker_cpu) / awards if awards else float("nan"),
    }
    return result


def round_line(label: str, history: int, concurrency: int, result: dict) -> str:
    split = " + ".join(f"{seconds:.1f}" for seconds in result["worker_cpu"])
    return (
        f"  {label:<8} history {history:>9,}  c={concurrency:<3} load {result['load']:5.2f}  "
        f"{result['rps']:8.1f} awards/s  p50 {result['p50'] / 1000:6.2f}  "
        f"p95 {result['p95'] / 1000:6.2f}  p99 {result['p99'] / 1000:6.2f} ms  "
        f"workers {split} s CPU, {result['cpu_ms_per_award']:.2f} ms/award  "
        f"errors {result['socket_errors']}  non-2xx {result['non_2xx']}"
    )


@contextlib.contextmanager
def revision_worktree(revision: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="bench-ref-"))
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(directory), revision],
        cwd=ROOT,
        check=True,
    )
    try:
        yield directory
    finally:
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(directory)], cwd=ROOT, check=False
        )
        shutil.rmtree(directory, ignore_errors=True)


def summary(loads: list[Load], histories: list[int], concurrencies: list[int]) -> None:
    print("\nsummary: median awards/s, median p99 ms (per request), mean worker CPU ms per award")
    for history in histories:
        for concurrency in concurrencies:
            cells, rates = [], []
            for load in loads:
                rounds = load.rounds.get((history, concurrency), [])
                if not rounds:
                    continue
                rps = statistics.median(r["rps"] for r in rounds)
                p99 = statistics.median(r["p99"] for r in rounds) / 1000
                cpu = statistics.fmean(r["cpu_ms_per_award"] for r in rounds)
                rates.append(rps)
                cells.append(f"{load.label}: {rps:7.1f} /s p99 {p99:6.2f} ms cpu {cpu:5.2f} ms")
            # The current tree against REF, or the batches against single awards.
            if len(loads) == 2 and loads[1].batch:
                rates.reverse()
            ratio = f"   ratio {rates[0] / rates[1]:.2f}x" if len(rates) == 2 and rates[1] else ""
            print(f"  history {history:>9,}  c={concurrency:<3} " + "   ".join(cells) + ratio)


def series(
    args: argparse.Namespace, database_url: str, stack: contextlib.ExitStack
) -> tuple[list[Tree], list[Load], str]:
    """The trees to serve and the loads to send them, alternately, and what is compared."""
    current = Tree("current", ROOT, database_url)
    if args.batch:
        loads = [Load("single", current), Load(f"batch{args.batch}", current, args.batch)]
        return [current], loads, f", single awards against batches of {args.batch}"
    if args.experiment:
        name = urlsplit(database_url).path.lstrip("/") + "_experiment"
        database_recreate(database_url, name)
        trees = [
            Tree(
                "experiment",
                ROOT,
                database_url_named(database_url, name),
                strategy=f"experiment:{args.experiment}",
            ),
            Tree("custom", ROOT, database_url, strategy="custom"),
        ]
        against = (
            f", a custom strategy with an experiment (share {args.experiment}) against the "
            "same without one"
        )
        return trees, [Load(tree.label, tree) for tree in trees], against
    if args.achievements:
        name = urlsplit(database_url).path.lstrip("/") + "_achievements"
        database_recreate(database_url, name)
        trees = [
            Tree(
                "achievements",
                ROOT,
                database_url_named(database_url, name),
                achievements=True,
            ),
            Tree("plain", ROOT, database_url),
        ]
        against = ", a game with 3 levels, daily streaks and 10 badges against one without"
        return trees, [Load(tree.label, tree) for tree in trees], against
    if args.compare:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", args.compare],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        name = urlsplit(database_url).path.lstrip("/") + "_ref"
        database_recreate(database_url, name)
        ref_root = stack.enter_context(revision_worktree(args.compare))
        reference = Tree(revision, ref_root, database_url_named(database_url, name))
        trees = [current, reference]
        loads = [Load(tree.label, tree) for tree in trees]
        return trees, loads, f", current tree against {revision}"
    return [current], [Load("current", current)], ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="rounds per tree and concurrency")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--compare", metavar="REF", help="also serve git revision REF")
    parser.add_argument(
        "--batch",
        type=int,
        metavar="N",
        help="also send the same events N to a request to the batch endpoint (current tree)",
    )
    parser.add_argument(
        "--experiment",
        type=float,
        metavar="SHARE",
        help="score with a custom strategy (the default twin) with and without an experiment "
        "giving SHARE of the players a candidate, alternating (current tree)",
    )
    parser.add_argument(
        "--achievements",
        action="store_true",
        help="score in a game with 3 levels, streaks and 10 badges and in one without, "
        "alternating (current tree)",
    )
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed is not None:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(seed(args.seed)))
        return
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must point at PostgreSQL (use `make bench-award`)")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required as the load generator: apt-get install wrk")

    if args.batch is not None and not 1 <= args.batch <= 1000:
        raise SystemExit("--batch takes 1 to 1000 events")
    if sum(map(bool, (args.batch, args.compare, args.experiment, args.achievements))) > 1:
        raise SystemExit(
            "--batch, --compare, --experiment and --achievements each compare two series; pick one"
        )
    if args.experiment is not None and not 0 < args.experiment < 1:
        raise SystemExit("--experiment takes a share strictly between 0 and 1")

    with contextlib.ExitStack() as stack:
        trees, loads, against = series(args, database_url, stack)
        print(
            f"award endpoint, gunicorn gthread {args.workers} workers x {args.threads} threads, "
            f"{os.cpu_count()} CPUs, {args.seconds} s per round, {args.rounds} round(s) each"
            + against
        )
        for history in args.histories:
            for tree in trees:
                tree.seed(history)
            try:
                for tree in trees:
                    tree.start(args.workers, args.threads)
                    run_wrk(tree.port, tree.path, tree.key, 8, 3)  # warm-up
                for concurrency in args.concurrency:
                    for number in range(args.rounds):
                        # Alternate which load goes first, so neither always follows the other.
                        order = loads if number % 2 == 0 else loads[::-1]
                        for load in order:
                            result = measured_round(load, concurrency, args.seconds)
                            load.rounds.setdefault((history, concurrency), []).append(result)
                            print(round_line(load.label, history, concurrency, result), flush=True)
            finally:
                for tree in trees:
                    tree.stop()
        summary(loads, args.histories, args.concurrency)


if __name__ == "__main__":
    main()
