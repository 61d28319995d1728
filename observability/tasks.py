"""Celery tasks of the execution log: persist a batch from the sink, purge old rows."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from observability import metrics
from observability.services import (
    execution_log_outbox_batch_persist,
    execution_log_rows_persist,
    execution_logs_purge,
)
from observability.sink import TASK_NAME
from observability.watchdog import watchdog_start, watchdog_stop

logger = logging.getLogger(__name__)


@shared_task(
    name=TASK_NAME,
    bind=True,
    # Acknowledged after the insert: a worker killed mid-batch leaves the message to be
    # redelivered, and the observer-made primary keys make the second insert a no-op.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def execution_logs_persist_task(self: Any, batch: str | list[Any]) -> int:
    """Persist one outbox batch (by id); a list is the rows themselves (older web processes)."""
    if isinstance(batch, list):
        try:
            inserted = execution_log_rows_persist(rows=batch)
        except (OperationalError, InterfaceError) as error:
            connection.close()
            metrics.log_batches_failed.labels("database_unavailable").inc()
            ceiling = min(settings.DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX, 2**self.request.retries)
            raise self.retry(exc=error, countdown=ceiling, max_retries=None) from None
        metrics.log_rows_persisted.inc(inserted)
        return inserted
    return execution_log_outbox_batch_persist(batch_id=str(batch))


@shared_task(name="observability.tasks.execution_logs_purge_task", ignore_result=True)
def execution_logs_purge_task() -> int:
    """Delete execution logs older than ``DSL_EXECUTION_LOG_RETENTION_DAYS``."""
    deleted = execution_logs_purge(
        older_than_days=settings.DSL_EXECUTION_LOG_RETENTION_DAYS,
        batch_size=settings.DSL_EXECUTION_LOG_PURGE_BATCH_SIZE,
    )
    metrics.log_rows_purged.inc(deleted)
    return deleted


@worker_ready.connect
def _worker_watchdog_start(**_: Any) -> None:
    watchdog_start()


@worker_shutdown.connect
def _worker_watchdog_stop(**_: Any) -> None:
    watchdog_stop()


@worker_ready.connect
def _worker_metrics_serve(**_: Any) -> None:
    """Serve the worker's metrics (all pool processes summed) when a port is configured."""
    port = os.environ.get("CELERY_WORKER_METRICS_PORT")
    if not port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = None
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(int(port), registry=registry)
    else:
        start_http_server(int(port))


@worker_process_shutdown.connect
def _worker_metrics_mark_dead(pid: int | None = None, **_: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
