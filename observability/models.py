"""Execution logs: one row per kept strategy run (every failure, a sample of successes)."""

from __future__ import annotations

from typing import Any

from django.db import models

from gamification.ids import uuid7
from gamification.strategy_ids import strategy_uuid
from scoring.strategy_types import StrategyKind

#: Columns the dashboard aggregates read (covering indexes).
AGGREGATED = [
    "realm_id",
    "status",
    "sampled",
    "sample_rate",
    "duration_ms",
    "nodes_executed",
    "points",
    "error_code",
    "case_name",
]


class ExecutionStatus(models.TextChoices):
    OK = "ok", "ok"
    ERROR = "error", "error"
    TIMEOUT = "timeout", "timeout"
    LIMIT = "limit", "limit"


class StrategyExecutionLog(models.Model):
    """One kept strategy run, with what a post-mortem needs to replay it.

    ``strategy_id`` is the id the task is bound to (``custom:<uuid>`` or a built-in id) and
    is a plain string, not a foreign key, so that deleting a strategy keeps its history;
    ``definition_id`` pins the exact custom version that ran. Realm and API key are foreign
    keys without database constraints for the same reason, and so that the worker's bulk
    insert never fails on a row deleted in between.
    """

    #: Made by the observer, so a redelivered batch inserts nothing twice.
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField()
    realm = models.ForeignKey(
        "gamification.Realm",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        # Served by the composite indexes below; a lone realm index only misleads the planner.
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    api_key_used = models.ForeignKey(
        "gamification.ApiKey",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        # Served by the composite indexes below; a lone realm index only misleads the planner.
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    strategy_id = models.CharField(max_length=100)
    strategy_version = models.CharField(max_length=64)
    strategy_type = models.CharField(max_length=16, choices=StrategyKind)
    definition_id = models.UUIDField(null=True, blank=True)
    parent_strategy_id = models.CharField(max_length=100, null=True, blank=True)
    external_game_id = models.CharField(max_length=255, blank=True, default="")
    external_task_id = models.CharField(max_length=255, blank=True, default="")
    external_user_id = models.CharField(max_length=255, blank=True, default="")
    correlation_id = models.CharField(
        max_length=255, null=True, blank=True, help_text="Idempotency key or request id."
    )
    status = models.CharField(max_length=8, choices=ExecutionStatus)
    error_code = models.CharField(max_length=64, null=True, blank=True)
    error_node_id = models.CharField(max_length=100, null=True, blank=True)
    points = models.FloatField(null=True, blank=True)
    case_name = models.CharField(max_length=200, null=True, blank=True)
    callback_data = models.JSONField(null=True, blank=True)
    duration_ms = models.FloatField()
    nodes_executed = models.IntegerField(default=0)
    #: The event's input, so that the run can be replayed.
    data = models.JSONField(default=dict, blank=True)
    #: The precomputed field values a DSL program read, after its own writes (for display;
    #: rows without ``analytics`` replay with their analytics values).
    fields = models.JSONField(default=dict, blank=True)
    #: Every analytics value the run was given, built-in or parent included, as
    #: ``{"values": {path: value}, "windows": {"<seconds>": count}}``: a replay answers them
    #: again. Null on rows logged before they were recorded.
    analytics = models.JSONField(null=True, blank=True)
    #: The event data a DSL_EXTEND program handed its parent built-in (after ``set_data``);
    #: null when the parent did not run.
    parent_data = models.JSONField(null=True, blank=True)
    trace = models.JSONField(null=True, blank=True)
    #: True when kept by the sampler, false when kept because the run failed.
    sampled = models.BooleanField()
    #: The ok-run sample rate in force; an ok row stands for ``1 / sample_rate`` runs.
    sample_rate = models.FloatField(default=1.0)
    notes = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dashboard aggregates read only these columns: with them in the index a
            # strategy's window is an index-only scan, however many other strategies'
            # rows are interleaved with it on the heap. The runbook's "last failures of X"
            # walks the same index newest first and filters on the included status. (A
            # narrower (strategy, status, time) index would lure the planner into bitmap
            # heap scans for the aggregates: ten times slower over a 30-day window.)
            models.Index(
                fields=["definition_id", "-created_at"],
                include=AGGREGATED,
                name="execlog_definition_time",
            ),
            models.Index(
                fields=["strategy_id", "-created_at"],
                include=AGGREGATED,
                name="execlog_strategy_time",
            ),
            models.Index(fields=["realm", "-created_at"], name="execlog_realm_time"),
            # Plus, on PostgreSQL only, a BRIN index on created_at (migration 0002): rows
            # arrive in time order, so it is tiny and turns the retention purge into a range
            # scan. It lives in a migration because SQLite (the demo) has no BRIN.
        ]

    def __str__(self) -> str:
        return f"{self.strategy_id} v{self.strategy_version} {self.status} at {self.created_at}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.definition_id = self.definition_id or strategy_uuid(self.strategy_id)
        super().save(*args, **kwargs)

    @property
    def weight(self) -> float:
        """Return how many runs this row stands for."""
        if self.sampled and self.sample_rate > 0:
            return 1.0 / self.sample_rate
        return 1.0


class DeadLetterReason(models.TextChoices):
    UNDECODABLE = "undecodable", "payload is not JSON"
    INVALID_ROW = "invalid_row", "row does not match the log's fields"
    REFUSED_BY_DATABASE = "refused_by_database", "refused by the database"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted", "the worker died on it repeatedly"
    UNEXPECTED_ERROR = "unexpected_error", "unexpected error"


class ExecutionLogDeadLetter(models.Model):
    """Execution-log rows (or a whole batch) that the worker could not persist.

    Kept so that nothing the web side produced disappears unseen: the worker moves what it
    cannot process here with the reason, counts it in
    ``execution_log_rows_dead_lettered_total{reason}`` and goes on with the next batch.
    ``payload`` is the JSON text as received (cut past ``DSL_EXECUTION_LOG_DEAD_LETTER_BYTES``),
    a text column because it may not even be JSON.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reason = models.CharField(max_length=32, choices=DeadLetterReason)
    detail = models.TextField(blank=True, default="")
    batch_id = models.CharField(max_length=64, blank=True, default="")
    #: The row's id when a single row was refused; null for a whole batch.
    row_id = models.UUIDField(null=True, blank=True)
    row_count = models.IntegerField(default=1)
    realm = models.ForeignKey(
        "gamification.Realm",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    payload = models.TextField()
    payload_bytes = models.IntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} at {self.created_at} ({self.row_count} rows)"
