"""The scale-out shape: web and workers reach PostgreSQL through PgBouncer in transaction mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DIRECT = "postgres://gamification:${POSTGRES_PASSWORD:-gamification}@postgres:5432/gamification"
POOLED = "postgres://gamification:${POSTGRES_PASSWORD:-gamification}@pgbouncer:6432/gamification"


def _settings_under(
    expression: str = "settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS')",
    **environ: str,
) -> subprocess.CompletedProcess:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({expression}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gamification.settings",
        "DEBUG": "true",
        "DATABASE_URL": "postgres://u@db.example:6432/app",
        **environ,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_behind_pgbouncer_server_side_cursors_are_off():
    pooled = _settings_under(DATABASE_POOLER="pgbouncer")
    direct = _settings_under(DATABASE_POOLER="")

    assert json.loads(pooled.stdout) is True, pooled.stderr
    assert json.loads(direct.stdout) is False, direct.stderr


OPTIONS = "settings.DATABASES['default'].get('OPTIONS', {})"


def test_statements_are_prepared_on_a_direct_connection_and_not_behind_pgbouncer():
    direct = _settings_under(OPTIONS, DATABASE_POOLER="")
    pooled = _settings_under(OPTIONS, DATABASE_POOLER="pgbouncer")
    tracked = _settings_under(
        OPTIONS, DATABASE_POOLER="pgbouncer", DATABASE_PREPARED_STATEMENTS="true"
    )
    unprepared = _settings_under(OPTIONS, DATABASE_PREPARED_STATEMENTS="false")
    sooner = _settings_under(OPTIONS, DATABASE_PREPARE_THRESHOLD="1")

    on = {"server_side_binding": True, "prepare_threshold": 5}
    assert json.loads(direct.stdout) == on, direct.stderr
    assert "server_side_binding" not in json.loads(pooled.stdout), pooled.stderr
    assert json.loads(tracked.stdout) == on, tracked.stderr
    assert "server_side_binding" not in json.loads(unprepared.stdout), unprepared.stderr
    assert json.loads(sooner.stdout)["prepare_threshold"] == 1, sooner.stderr


def test_an_unknown_pooler_stops_the_start():
    completed = _settings_under(DATABASE_POOLER="pgpool")

    assert completed.returncode != 0
    assert "DATABASE_POOLER must be unset or 'pgbouncer'" in completed.stderr


def test_compose_puts_pgbouncer_in_transaction_mode_between_the_apps_and_postgres():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    pgbouncer = services["pgbouncer"]["environment"]
    assert pgbouncer["POOL_MODE"] == "transaction"
    assert pgbouncer["DATABASE_URL"] == DIRECT
    assert pgbouncer["LISTEN_PORT"] == "6432"
    for name in ("web", "worker", "beat"):
        environment = services[name]["environment"]
        assert environment["DATABASE_URL"] == POOLED, name
        assert environment["DATABASE_POOLER"] == "pgbouncer", name
        assert "pgbouncer" in services[name]["depends_on"], name
    # Migrations run once, straight on PostgreSQL.
    assert services["migrate"]["environment"]["DATABASE_URL"] == DIRECT
    assert services["migrate"]["environment"]["DATABASE_POOLER"] == ""
