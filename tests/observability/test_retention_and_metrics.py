"""Retention purge, and /metrics summed over several processes (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from observability.models import StrategyExecutionLog
from observability.tasks import execution_logs_purge_task
from tests.observability.conftest import log_make

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_purge_deletes_only_rows_past_retention_in_batches(realm, settings):
    settings.DSL_EXECUTION_LOG_RETENTION_DAYS = 30
    settings.DSL_EXECUTION_LOG_PURGE_BATCH_SIZE = 7
    now = timezone.now()
    for days in (31, 40, 45):
        for _ in range(10):
            log_make(realm=realm, created_at=now - timedelta(days=days))
    keep = [log_make(realm=realm, created_at=now - timedelta(days=d)).pk for d in (0, 29)]

    assert execution_logs_purge_task() == 30
    assert sorted(StrategyExecutionLog.objects.values_list("pk", flat=True)) == sorted(keep)


@pytest.mark.django_db
def test_purge_command_takes_a_retention(realm):
    now = timezone.now()
    log_make(realm=realm, created_at=now - timedelta(days=3))
    log_make(realm=realm, created_at=now)
    out = StringIO()
    call_command("purge_execution_logs", "--days", "2", stdout=out)
    assert "Deleted 1 execution log rows." in out.getvalue()
    assert StrategyExecutionLog.objects.count() == 1


def test_beat_schedules_the_purge(settings):
    from gamification.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["purge-execution-logs"]
    assert entry["task"] == execution_logs_purge_task.name
    assert entry["task"] in app.tasks


WRITER = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gamification.settings")
os.environ.setdefault("SECRET_KEY", "x")
django.setup()
from observability import metrics
metrics.run_observe_metrics(realm="mp", strategy_type="DSL_FULL", status="error",
    duration_seconds=0.3, nodes_executed=5, error_code="DSL_TIMEOUT")
metrics.log_dropped_inc(reason="queue_full", realm="mp", strategy_type="DSL_FULL", amount=2)
"""


def test_metrics_endpoint_sums_every_worker_process(tmp_path, client, monkeypatch):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    for _ in range(3):  # three gunicorn workers
        subprocess.run([sys.executable, "-c", WRITER], env=env, check=True, cwd=ROOT)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    body = client.get("/metrics").content.decode()

    assert (
        'dsl_execution_errors_total{code="DSL_TIMEOUT",realm="mp",status="error",'
        'strategy_type="DSL_FULL"} 3.0' in body
    )
    assert (
        'dsl_execution_log_dropped_total{realm="mp",reason="queue_full",'
        'strategy_type="DSL_FULL"} 6.0' in body
    )
    assert (
        'dsl_execution_duration_seconds_bucket{le="0.5",realm="mp",status="error",'
        'strategy_type="DSL_FULL"} 3.0' in body
    )
