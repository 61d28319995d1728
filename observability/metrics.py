"""Every Prometheus metric of strategy runs and of their execution logs.

Labels stay low-cardinality: realm slug, strategy type (BUILT_IN, DSL_FULL, DSL_EXTEND),
status and error code; never a strategy id. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR``
makes prometheus_client write these to per-process files that ``/metrics`` sums.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUN_LABELS = ("realm", "strategy_type", "status")

#: Includes 0.25 s, the latency objective of a scoring event.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

execution_duration = Histogram(
    "dsl_execution_duration_seconds",
    "Wall-clock duration of a strategy run, analytics included.",
    RUN_LABELS,
    buckets=DURATION_BUCKETS,
)
execution_nodes = Counter(
    "dsl_execution_nodes",
    "DSL nodes executed by strategy runs.",
    RUN_LABELS,
)
execution_errors = Counter(
    "dsl_execution_errors",
    "Failed strategy runs by error code.",
    (*RUN_LABELS, "code"),
)
log_dropped = Counter(
    "dsl_execution_log_dropped",
    "Execution-log rows that were to be kept but never reached the broker or database.",
    ("reason", "realm", "strategy_type"),
)
log_published = Counter(
    "dsl_execution_log_published_rows",
    "Execution-log rows handed to the broker (or run in-process without a broker).",
)
log_queue_size = Gauge(
    "dsl_execution_log_queue_size",
    "Execution-log rows waiting in this process's buffer.",
    multiprocess_mode="livesum",
)
log_rows_persisted = Counter(
    "dsl_execution_log_rows_persisted",
    "Execution-log rows inserted by the worker (redelivered duplicates excluded).",
)
log_batches_failed = Counter(
    "dsl_execution_log_batches_failed",
    "Execution-log batches whose insert failed (each retry counts once).",
    ("reason",),
)
log_rows_dead_lettered = Counter(
    "execution_log_rows_dead_lettered",
    "Execution-log rows the worker could not persist and moved to the dead-letter table.",
    ("reason",),
)
log_batches_redelivered = Counter(
    "execution_log_batches_redelivered",
    "Outbox batches announced again by the worker's watchdog (lost message, dead worker, "
    "database down).",
)
log_rows_purged = Counter(
    "dsl_execution_log_rows_purged",
    "Execution-log rows deleted by the retention purge.",
)


def run_observe_metrics(
    *,
    realm: str,
    strategy_type: str,
    status: str,
    duration_seconds: float,
    nodes_executed: int,
    error_code: str | None,
) -> None:
    """Record one strategy run."""
    execution_duration.labels(realm, strategy_type, status).observe(duration_seconds)
    if nodes_executed:
        execution_nodes.labels(realm, strategy_type, status).inc(nodes_executed)
    if status != "ok":
        execution_errors.labels(realm, strategy_type, status, error_code or "DSL_UNEXPECTED").inc()


def log_dropped_inc(*, reason: str, realm: str, strategy_type: str, amount: int = 1) -> None:
    """Count execution-log rows lost for ``reason``."""
    log_dropped.labels(reason, realm, strategy_type).inc(amount)
