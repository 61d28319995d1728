"""Celery tasks of the execution log: persist a batch from the sink, purge old rows."""

from __future__ import annotations

import logging
import os
import random
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from observability import metrics
from observability.services import execution_logs_persist, execution_logs_purge
from observability.sink import TASK_NAME

logger = logging.getLogger(__name__)


@shared_task(
    name=TASK_NAME,
    bind=True,
    # Acknowledged after the insert: a worker killed mid-batch leaves the message to be
    # redelivered, and the observer-made primary keys make the second insert a no-op.
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,
)
def execution_logs_persist_task(self: Any, rows: list[dict[str, Any]]) -> int:
    """Insert one batch of execution-log rows; retry with backoff while the database is down."""
    try:
        inserted = execution_logs_persist(rows=rows)
    except (OperationalError, InterfaceError) as error:
        metrics.log_batches_failed.labels("database_unavailable").inc()
        connection.close()
        retries = self.request.retries
        if retries >= settings.DSL_EXECUTION_LOG_PERSIST_MAX_RETRIES:
            logger.error("Giving up on an execution-log batch of %d rows: %r", len(rows), error)
            raise
        ceiling = min(settings.DSL_EXECUTION_LOG_RETRY_BACKOFF_MAX, 2**retries)
        raise self.retry(exc=error, countdown=random.uniform(ceiling / 2, ceiling)) from None
    except DatabaseError:
        # A row the database refuses (bad data) must not sink its whole batch forever.
        metrics.log_batches_failed.labels("invalid_rows").inc()
        logger.exception("Execution-log batch refused; inserting its rows one by one")
        inserted = 0
        for row in rows:
            try:
                inserted += execution_logs_persist(rows=[row])
            except (OperationalError, InterfaceError):
                raise
            except DatabaseError:
                logger.exception("Execution-log row %s refused", row.get("id"))
    metrics.log_rows_persisted.inc(inserted)
    return inserted


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
