"""Strategies authored by game designers: versioned DSL programs addressed as ``custom:<uuid>``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from gamification.ids import uuid7
from gamification.models import Realm, by_api_key, by_user
from gamification.strategy_ids import custom_strategy_id
from scoring.strategy_types import StrategyKind

#: Format tag of exported strategy bundles.
BUNDLE_FORMAT = "gamification.strategy/v1"


class StrategyStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    PUBLISHED = "PUBLISHED", "Published"
    ARCHIVED = "ARCHIVED", "Archived"


class StrategyDefinition(models.Model):
    """One version of a realm's custom strategy; the versions sharing a name form its family.

    Only the PUBLISHED version of a family scores in production; every version id of the
    family resolves to it. Rows change only through ``strategies.services``. ``published_*``
    and ``archived_*`` record the latest publish and archive of the version: who (a staff
    user or an API key) and when; a version that goes live again drops its ``archived_*``.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="strategies")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    type = models.CharField(max_length=20, choices=StrategyKind, default=StrategyKind.DSL_FULL)
    parent_strategy_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="The built-in a DSL_EXTEND program wraps.",
    )
    ast_json = models.JSONField(null=True, blank=True, verbose_name="AST (JSON)")
    blockly_xml = models.TextField(blank=True, default="", verbose_name="Blockly XML")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=20, choices=StrategyStatus, default=StrategyStatus.DRAFT)
    validation_errors = models.JSONField(
        default=list, blank=True, help_text="Issues found when the program was last saved."
    )
    created_by = by_user()
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = by_user()
    published_by_key = by_api_key(verbose_name="published by API key")
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = by_user()
    archived_by_key = by_api_key(verbose_name="archived by API key")
    experiment_tag = models.CharField(max_length=100, null=True, blank=True)
    api_key_used = by_api_key(
        help_text="The API key that created the version or last edited the draft."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["realm", "name", "-version"]
        verbose_name = "strategy definition"
        constraints = [
            models.UniqueConstraint(
                fields=["realm", "name", "version"], name="strategy_version_unique_per_family"
            ),
            # The award path resolves a family to this row through the same (partial) index.
            models.UniqueConstraint(
                fields=["realm", "name"],
                condition=Q(status="PUBLISHED"),
                name="strategy_one_published_per_family",
            ),
            models.CheckConstraint(
                condition=~Q(type="DSL_EXTEND") | Q(parent_strategy_id__isnull=False),
                name="strategy_extend_has_parent",
            ),
            models.CheckConstraint(
                condition=~Q(type="DSL_FULL") | Q(parent_strategy_id__isnull=True),
                name="strategy_full_has_no_parent",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="strategy_version_positive"),
        ]
        permissions = [
            ("publish_strategydefinition", "Can publish a strategy definition"),
            ("archive_strategydefinition", "Can archive a strategy definition"),
            ("rollback_strategydefinition", "Can roll back a strategy definition"),
            ("simulate_strategydefinition", "Can simulate a strategy definition"),
            ("backtest_strategydefinition", "Can backtest a strategy definition"),
            ("view_dashboard", "Can view strategy dashboards"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"

    @property
    def strategy_id(self) -> str:
        """The id games and tasks bind to."""
        return custom_strategy_id(self.pk)

    @property
    def is_published(self) -> bool:
        return self.status == StrategyStatus.PUBLISHED


class ExperimentStatus(models.TextChoices):
    RUNNING = "running", "Running"
    STOPPED = "stopped", "Stopped"
    PROMOTED = "promoted", "Promoted"


class StrategyExperiment(models.Model):
    """An A/B test of a family: its published version (control) against a draft (candidate).

    While it runs, each player of the family's games scores with the candidate when the hash
    of realm, family and player falls below ``share`` (``strategies.assignment``), with the
    control otherwise. ``started_*`` and ``stopped_*`` record who (a staff user or an API key)
    started it and who stopped or promoted it, and when. Rows change only through
    ``strategies.services``.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="experiments")
    name = models.CharField(max_length=200, help_text="The family's name.")
    control = models.ForeignKey(
        StrategyDefinition, on_delete=models.RESTRICT, related_name="+", db_index=False
    )
    candidate = models.ForeignKey(StrategyDefinition, on_delete=models.RESTRICT, related_name="+")
    share = models.FloatField(help_text="The part of the players the candidate scores for.")
    tag = models.CharField(max_length=100)
    status = models.CharField(
        max_length=16, choices=ExperimentStatus, default=ExperimentStatus.RUNNING
    )
    started_at = models.DateTimeField()
    started_by = by_user()
    started_by_key = by_api_key(verbose_name="started by API key")
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = by_user()
    stopped_by_key = by_api_key(verbose_name="stopped by API key")

    class Meta:
        ordering = ["realm", "name", "-started_at"]
        constraints = [
            # The award read joins a family's running experiment through this (partial) index.
            models.UniqueConstraint(
                fields=["realm", "name"],
                condition=Q(status="running"),
                name="experiment_one_running_per_family",
            ),
            models.CheckConstraint(
                condition=Q(share__gt=0) & Q(share__lt=1), name="experiment_share_between_0_and_1"
            ),
            models.CheckConstraint(
                condition=~Q(control=models.F("candidate")),
                name="experiment_candidate_is_not_control",
            ),
            models.CheckConstraint(
                condition=Q(status="running", stopped_at__isnull=True)
                | (~Q(status="running") & Q(stopped_at__isnull=False)),
                name="experiment_stopped_at_iff_not_running",
            ),
        ]
        indexes = [models.Index(fields=["realm", "name", "-started_at"], name="experiment_family")]

    def __str__(self) -> str:
        return f"{self.name}: {self.tag} ({self.status})"

    @property
    def is_running(self) -> bool:
        return self.status == ExperimentStatus.RUNNING


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Backtest(models.Model):
    """A run of one strategy version over the stored awards of a time window.

    The program is copied from the version when the backtest is requested, so an edit of a
    draft while the backtest waits in the queue does not change what it measures. Rows
    change only through ``strategies.backtests``; ``heartbeat_at`` moves with every chunk of
    events, so a run whose worker died is told apart from a slow one.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    realm = models.ForeignKey(Realm, on_delete=models.CASCADE, related_name="backtests")
    strategy = models.ForeignKey(
        StrategyDefinition, on_delete=models.CASCADE, related_name="backtests"
    )
    type = models.CharField(max_length=20, choices=StrategyKind)
    parent_strategy_id = models.CharField(max_length=100, null=True, blank=True)
    ast_json = models.JSONField(verbose_name="AST (JSON)")
    since = models.DateTimeField()
    until = models.DateTimeField()
    max_events = models.PositiveIntegerField()
    requested_by = by_user()
    requested_by_key = by_api_key(verbose_name="requested by API key")
    status = models.CharField(max_length=10, choices=BacktestStatus, default=BacktestStatus.QUEUED)
    progress = models.FloatField(default=0)
    events_total = models.PositiveIntegerField(
        null=True, blank=True, help_text="Events in the window (at most max_events)."
    )
    result = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The admin lists a family's latest backtests; the API reads one by id.
            models.Index(fields=["strategy", "-created_at"], name="backtest_strategy_recent"),
            # The sweep of runs whose worker died reads only unfinished rows.
            models.Index(
                fields=["status", "heartbeat_at"],
                condition=Q(status__in=["queued", "running"]),
                name="backtest_unfinished",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(since__lt=models.F("until")), name="backtest_window_ordered"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=1), name="backtest_progress_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest of {self.strategy_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (BacktestStatus.DONE, BacktestStatus.FAILED)
