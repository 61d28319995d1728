from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from observability.services import execution_logs_purge


class Command(BaseCommand):
    help = "Delete execution logs older than the retention period, in bounded batches."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days (default: DSL_EXECUTION_LOG_RETENTION_DAYS).",
        )
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args: Any, days: int | None, batch_size: int | None, **options: Any) -> None:
        deleted = execution_logs_purge(
            older_than_days=days or settings.DSL_EXECUTION_LOG_RETENTION_DAYS,
            batch_size=batch_size or settings.DSL_EXECUTION_LOG_PURGE_BATCH_SIZE,
        )
        self.stdout.write(f"Deleted {deleted} execution log rows.")
