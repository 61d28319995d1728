"""Request and response shapes of the custom-strategy API (camelCase on the wire)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gamification.models import ApiKey
from scoring.strategy_types import StrategyKind
from strategies.models import (
    Backtest,
    BacktestStatus,
    ExperimentStatus,
    StrategyDefinition,
    StrategyStatus,
)
from strategies.simulation import Simulation

if TYPE_CHECKING:
    from strategies.selectors import ExperimentReport
    from strategies.services import Promotion


class ActorType(models.TextChoices):
    USER = "user", "A staff user, in the admin"
    API_KEY = "apiKey", "An API key, through the API"


class ActorSerializer(serializers.Serializer):
    """Who did something: a staff user (in the admin) or an API key (through the API)."""

    type = serializers.ChoiceField(choices=ActorType.choices)
    name = serializers.CharField(help_text="The user's username, or the key's name.")
    prefix = serializers.CharField(
        required=False, help_text="The key's public prefix (API keys only)."
    )


def actor_body(user: Any, key: ApiKey | None) -> dict[str, str] | None:
    """Render the actor of a lifecycle step as ``ActorSerializer`` documents it."""
    if user is not None:
        return {"type": ActorType.USER, "name": user.get_username()}
    if key is not None:
        return {"type": ActorType.API_KEY, "name": key.name, "prefix": key.prefix}
    return None


@extend_schema_field(ActorSerializer(allow_null=True))
class ActorField(serializers.Field):
    """A read-only actor read from a user and an API key attribute of the row."""

    def __init__(self, *, user: str, key: str, **kwargs: Any) -> None:
        self.user_attr, self.key_attr = user, key
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: StrategyDefinition) -> dict[str, str] | None:
        return actor_body(getattr(value, self.user_attr), getattr(value, self.key_attr))


class StrategyDefinitionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(read_only=True)
    strategyId = serializers.CharField(
        source="strategy_id", read_only=True, help_text="What games and tasks bind to."
    )
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=StrategyKind.choices)
    parentStrategyId = serializers.CharField(
        source="parent_strategy_id",
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
    )
    astJson = serializers.JSONField(
        source="ast_json", required=False, allow_null=True, default=None
    )
    blocklyXml = serializers.CharField(
        source="blockly_xml", required=False, allow_blank=True, default=""
    )
    version = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=StrategyStatus.choices, read_only=True)
    createdBy = ActorField(
        user="created_by",
        key="api_key_used",
        help_text="Who created the version: a user, an API key, or null (unknown).",
    )
    publishedAt = serializers.DateTimeField(source="published_at", read_only=True)
    publishedBy = ActorField(
        user="published_by",
        key="published_by_key",
        help_text="Who last published the version (or rolled back to it); null if never.",
    )
    archivedAt = serializers.DateTimeField(source="archived_at", read_only=True)
    archivedBy = ActorField(
        user="archived_by",
        key="archived_by_key",
        help_text="Who archived the version (directly, or by publishing another); null "
        "unless it is archived.",
    )
    experimentTag = serializers.CharField(
        source="experiment_tag",
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
    )
    apiKeyUsed = serializers.CharField(source="api_key_used.prefix", read_only=True, default=None)
    validationErrors = serializers.JSONField(source="validation_errors", read_only=True)
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    updatedAt = serializers.DateTimeField(source="updated_at", read_only=True)

    class Meta:
        model = StrategyDefinition
        fields = [
            "id",
            "strategyId",
            "name",
            "description",
            "type",
            "parentStrategyId",
            "astJson",
            "blocklyXml",
            "version",
            "status",
            "createdBy",
            "publishedAt",
            "publishedBy",
            "archivedAt",
            "archivedBy",
            "experimentTag",
            "apiKeyUsed",
            "validationErrors",
            "createdAt",
            "updatedAt",
        ]


class StrategyUpdateSerializer(StrategyDefinitionSerializer):
    """PATCH: only the fields sent change (no defaults apply)."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    type = serializers.ChoiceField(choices=StrategyKind.choices, required=False)
    parentStrategyId = serializers.CharField(
        source="parent_strategy_id",
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
    )
    astJson = serializers.JSONField(source="ast_json", required=False, allow_null=True)
    blocklyXml = serializers.CharField(source="blockly_xml", required=False, allow_blank=True)
    experimentTag = serializers.CharField(
        source="experiment_tag", max_length=100, required=False, allow_null=True, allow_blank=True
    )


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1)


class DuplicateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)


class ImportSerializer(serializers.Serializer):
    """An exported bundle; ``name`` overrides the bundle's (import into another family)."""

    format = serializers.CharField(required=False)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=StrategyKind.choices)
    parentStrategyId = serializers.CharField(
        source="parent_strategy_id", required=False, allow_null=True, allow_blank=True
    )
    astJson = serializers.JSONField(source="ast_json", required=False, allow_null=True)
    blocklyXml = serializers.CharField(
        source="blockly_xml", required=False, allow_blank=True, allow_null=True
    )
    experimentTag = serializers.CharField(
        source="experiment_tag", required=False, allow_null=True, allow_blank=True
    )


class BundleSerializer(serializers.Serializer):
    """Render a ``selectors.Bundle``."""

    format = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    parentStrategyId = serializers.CharField(source="parent_strategy_id", allow_null=True)
    astJson = serializers.JSONField(source="ast_json", allow_null=True)
    blocklyXml = serializers.CharField(source="blockly_xml")
    experimentTag = serializers.CharField(source="experiment_tag", allow_null=True)
    version = serializers.IntegerField()
    status = serializers.CharField()
    sourceId = serializers.UUIDField(source="source_id")


class SimulateSerializer(serializers.Serializer):
    # Declared fields leave the class namespace (the metaclass collects them), so the wire names
    # ``data`` here and ``fields`` below do not shadow the serializer's properties of those names.
    externalUserId = serializers.CharField(max_length=255, required=False, default="simulated-user")
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    mockState = serializers.DictField(required=False, default=dict)
    externalGameId = serializers.CharField(max_length=255, required=False, allow_null=True)
    externalTaskId = serializers.CharField(max_length=255, required=False, allow_null=True)


class SimulateUnsavedSerializer(SimulateSerializer):
    type = serializers.ChoiceField(choices=StrategyKind.choices)
    parentStrategyId = serializers.CharField(
        max_length=100, required=False, allow_null=True, allow_blank=True, default=None
    )
    astJson = serializers.JSONField(allow_null=True)


class SimulationResultSerializer(serializers.Serializer):
    """Document the answer ``simulation_body`` renders."""

    type = serializers.CharField()
    parentStrategyId = serializers.CharField(allow_null=True)
    points = serializers.FloatField(allow_null=True)
    caseName = serializers.CharField(allow_null=True)
    callbackData = serializers.DictField()
    trace = serializers.ListField(child=serializers.DictField())
    status = serializers.CharField()
    errorCode = serializers.CharField(allow_null=True)
    message = serializers.CharField(allow_null=True)
    nodeId = serializers.CharField(allow_null=True)
    pointer = serializers.CharField(allow_null=True)
    durationMs = serializers.FloatField()
    nodesExecuted = serializers.IntegerField()
    fields = serializers.DictField()  # type: ignore[assignment]  # see SimulateSerializer


class GameUsageSerializer(serializers.Serializer):
    externalGameId = serializers.CharField(source="external_game_id")
    strategyId = serializers.CharField(source="strategy_id")


class TaskUsageSerializer(serializers.Serializer):
    externalGameId = serializers.CharField(source="external_game_id")
    externalTaskId = serializers.CharField(source="external_task_id")
    strategyId = serializers.CharField(source="strategy_id")
    inheritsStrategy = serializers.BooleanField(source="inherits_strategy")


class UsageSerializer(serializers.Serializer):
    """Render a ``selectors.Usage``."""

    strategyId = serializers.CharField(source="strategy_id")
    name = serializers.CharField()
    gameCount = serializers.IntegerField(source="game_count")
    taskCount = serializers.IntegerField(source="task_count")
    games = GameUsageSerializer(many=True)
    tasks = TaskUsageSerializer(many=True)


class SwitchSerializer(StrategyDefinitionSerializer):
    """Document a version made live, with how many games and tasks followed it."""

    switchedGames = serializers.IntegerField(read_only=True)
    switchedTasks = serializers.IntegerField(read_only=True)

    class Meta(StrategyDefinitionSerializer.Meta):
        fields = [*StrategyDefinitionSerializer.Meta.fields, "switchedGames", "switchedTasks"]


def simulation_body(simulation: Simulation) -> dict[str, Any]:
    """Render a simulation in its wire form.

    A function rather than ``SimulationResultSerializer``: points keep the number the run
    computed (a FloatField would turn 10 into 10.0) and the trace passes through as bounded.
    """
    outcome = simulation.outcome
    return {
        "type": simulation.type,
        "parentStrategyId": simulation.parent_strategy_id,
        "points": outcome["points"],
        "caseName": outcome["case_name"],
        "callbackData": outcome["callback_data"],
        "trace": simulation.trace,
        "status": outcome["status"],
        "errorCode": outcome["error_code"],
        "message": outcome["error_message"],
        "nodeId": outcome["error_node_id"],
        "pointer": outcome["error_pointer"],
        "durationMs": outcome["duration_ms"],
        "nodesExecuted": outcome["nodes_executed"],
        "fields": simulation.fields,
    }


class ExperimentStartSerializer(serializers.Serializer):
    candidateId = serializers.CharField(
        max_length=100, help_text="A DRAFT of the same family, as a UUID or custom:<uuid>."
    )
    share = serializers.FloatField(
        help_text="The part of the players the candidate scores for, strictly between 0 and 1."
    )
    tag = serializers.CharField(
        max_length=100, help_text="Written to both versions' experimentTag."
    )


class ExperimentVersionSerializer(serializers.Serializer):
    """One side of an experiment: a version of the family."""

    id = serializers.UUIDField()
    strategyId = serializers.CharField(source="strategy_id")
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=StrategyStatus.choices)


class ExperimentSerializer(serializers.Serializer):
    """Render a ``StrategyExperiment``: its arms, share and who started and ended it."""

    id = serializers.UUIDField()
    name = serializers.CharField(help_text="The family's name.")
    status = serializers.ChoiceField(choices=ExperimentStatus.choices)
    share = serializers.FloatField()
    tag = serializers.CharField()
    control = ExperimentVersionSerializer(help_text="The family's published version.")
    candidate = ExperimentVersionSerializer()
    startedAt = serializers.DateTimeField(source="started_at")
    startedBy = ActorField(user="started_by", key="started_by_key")
    stoppedAt = serializers.DateTimeField(source="stopped_at", allow_null=True)
    stoppedBy = ActorField(
        user="stopped_by",
        key="stopped_by_key",
        help_text="Who stopped or promoted it (also by archiving or publishing a version).",
    )


class IntervalSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()


class ArmFiguresSerializer(serializers.Serializer):
    """Render a ``selectors.ArmFigures``."""

    strategyId = serializers.CharField(source="strategy.strategy_id")
    version = serializers.IntegerField(source="strategy.version")
    awards = serializers.IntegerField(help_text="Awards stored for the arm (exact).")
    meanPoints = serializers.FloatField(
        source="mean_points", allow_null=True, help_text="Over the arm's awards (exact)."
    )
    meanPointsCi95 = IntervalSerializer(
        source="mean_points_ci95",
        allow_null=True,
        help_text="The t-based 95 % confidence interval of meanPoints (two awards or more).",
    )
    runs = serializers.FloatField(
        source="runs.runs",
        allow_null=True,
        default=None,
        help_text="Runs, estimated from the execution logs: every failure is logged, a "
        "sampled ok row stands for 1 / its sample rate.",
    )
    logRows = serializers.IntegerField(source="runs.rows", allow_null=True, default=None)
    errorRate = serializers.FloatField(
        source="runs.error_rate", allow_null=True, default=None, help_text="Sampling-corrected."
    )
    p95 = serializers.FloatField(
        source="runs.p95_ms",
        allow_null=True,
        default=None,
        help_text="The 95th percentile of run durations in ms, sampling-corrected.",
    )


class ExperimentArmsSerializer(serializers.Serializer):
    control = ArmFiguresSerializer()
    candidate = ArmFiguresSerializer()


class ComparisonSerializer(serializers.Serializer):
    """Welch's two-sided t-test of the mean points: candidate - control."""

    difference = serializers.FloatField()
    pValue = serializers.FloatField(source="p_value")
    tStatistic = serializers.FloatField(source="t_statistic")
    degreesOfFreedom = serializers.FloatField(source="degrees_of_freedom")


class ExperimentMetricsSerializer(serializers.Serializer):
    """Render the figures of a ``selectors.ExperimentReport`` (``experiment_report_body``)."""

    since = serializers.DateTimeField(help_text="The window of the figures: the start...")
    until = serializers.DateTimeField(help_text="...and the end, or now while it runs.")
    arms = ExperimentArmsSerializer(source="*")
    comparison = ComparisonSerializer(
        allow_null=True, help_text="Null until each arm has two awards."
    )


class ExperimentReportSerializer(ExperimentSerializer, ExperimentMetricsSerializer):
    """Document an experiment's state with its figures, as ``experiment_report_body`` renders."""


class PromotionSerializer(ExperimentSerializer):
    """Document a promoted experiment with how many games and tasks followed its candidate."""

    switchedGames = serializers.IntegerField()
    switchedTasks = serializers.IntegerField()


def experiment_report_body(report: ExperimentReport) -> dict[str, Any]:
    """Render a ``selectors.ExperimentReport`` as ``ExperimentReportSerializer`` documents it."""
    return {
        **ExperimentSerializer(report.experiment).data,
        **ExperimentMetricsSerializer(report).data,
    }


def promotion_body(promotion: Promotion) -> dict[str, Any]:
    """Render a ``services.Promotion`` as ``PromotionSerializer`` documents it."""
    return {
        **ExperimentSerializer(promotion.experiment).data,
        "switchedGames": promotion.switch.games,
        "switchedTasks": promotion.switch.tasks,
    }


class BacktestRequestSerializer(serializers.Serializer):
    """A backtest's window: the awards created in [since, until), at most maxEvents of them."""

    since = serializers.DateTimeField()
    until = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="Default: now."
    )
    maxEvents = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        help_text="The earliest events of the window run, at most BACKTEST_MAX_EVENTS "
        "(also the default).",
    )

    def validate_maxEvents(self, value: int | None) -> int | None:
        limit = settings.BACKTEST_MAX_EVENTS
        if value is not None and value > limit:
            raise serializers.ValidationError(
                f"Ensure this value is less than or equal to {limit}."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until")
        if until is None and attrs["since"] >= timezone.now():
            raise serializers.ValidationError({"since": ["since must be in the past."]})
        if until is not None and attrs["since"] >= until:
            raise serializers.ValidationError({"until": ["until must be after since."]})
        return attrs


class BacktestQueuedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=BacktestStatus.choices)


class MoverSerializer(serializers.Serializer):
    externalUserId = serializers.CharField()
    before = serializers.FloatField(help_text="The player's points awarded in the window.")
    after = serializers.FloatField(help_text="What the version would have given them.")


class PointsBinSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField(help_text="Equal to low: events of exactly that value.")
    before = serializers.IntegerField()
    after = serializers.IntegerField()


class CaseNamesSerializer(serializers.Serializer):
    before = serializers.DictField(child=serializers.IntegerField())
    after = serializers.DictField(child=serializers.IntegerField())


class BacktestErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class BacktestSerializer(serializers.Serializer):
    """Document the answer ``backtest_body`` renders (partial counts while it runs)."""

    id = serializers.UUIDField()
    strategyId = serializers.CharField(help_text="The version backtested, custom:<uuid>.")
    strategyVersion = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BacktestStatus.choices)
    progress = serializers.FloatField(min_value=0, max_value=1)
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    maxEvents = serializers.IntegerField()
    eventsTotal = serializers.IntegerField(
        allow_null=True, help_text="Events in the window, at most maxEvents; null until known."
    )
    tasks = serializers.IntegerField(help_text="Tasks bound to the strategy's family.")
    events = serializers.IntegerField(help_text="Events run so far.")
    changed = serializers.IntegerField(
        help_text="Events whose points or case name differ, or whose run failed."
    )
    pointsBefore = serializers.FloatField()
    pointsAfter = serializers.FloatField()
    errors = serializers.DictField(  # type: ignore[assignment]  # see SimulateSerializer
        child=serializers.IntegerField(), help_text="Failed runs by error code."
    )
    caseNames = CaseNamesSerializer()
    topMovers = MoverSerializer(many=True)
    pointsDistribution = PointsBinSerializer(many=True)
    error = BacktestErrorSerializer(allow_null=True, help_text="Why the backtest failed.")
    requestedBy = ActorSerializer(allow_null=True)
    createdAt = serializers.DateTimeField()
    startedAt = serializers.DateTimeField(allow_null=True)
    finishedAt = serializers.DateTimeField(allow_null=True)


def _moment(value: Any) -> str | None:
    return serializers.DateTimeField().to_representation(value) if value else None


def backtest_body(backtest: Backtest) -> dict[str, Any]:
    """Render a backtest in its wire form (a function, so that points keep their numbers)."""
    result = backtest.result or {}
    cases = result.get("case_names") or {}
    failed = backtest.status == BacktestStatus.FAILED
    return {
        "id": str(backtest.pk),
        "strategyId": backtest.strategy.strategy_id,
        "strategyVersion": backtest.strategy.version,
        "status": backtest.status,
        "progress": backtest.progress,
        "since": _moment(backtest.since),
        "until": _moment(backtest.until),
        "maxEvents": backtest.max_events,
        "eventsTotal": backtest.events_total,
        "tasks": result.get("tasks", 0),
        "events": result.get("events", 0),
        "changed": result.get("changed", 0),
        "pointsBefore": result.get("points_before", 0),
        "pointsAfter": result.get("points_after", 0),
        "errors": result.get("errors", {}),
        "caseNames": {"before": cases.get("before", {}), "after": cases.get("after", {})},
        "topMovers": [
            {"externalUserId": m["external_user_id"], "before": m["before"], "after": m["after"]}
            for m in result.get("top_movers", [])
        ],
        "pointsDistribution": result.get("points_distribution", []),
        "error": {"code": backtest.error_code, "detail": backtest.error_detail} if failed else None,
        "requestedBy": actor_body(backtest.requested_by, backtest.requested_by_key),
        "createdAt": _moment(backtest.created_at),
        "startedAt": _moment(backtest.started_at),
        "finishedAt": _moment(backtest.finished_at),
    }
