"""Request and response shapes of the custom-strategy API (camelCase on the wire)."""

from __future__ import annotations

from rest_framework import serializers

from scoring.strategy_types import StrategyKind
from strategies.models import StrategyDefinition, StrategyStatus


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
    createdBy = serializers.CharField(source="created_by.username", read_only=True, default=None)
    publishedAt = serializers.DateTimeField(source="published_at", read_only=True)
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
    parentStrategyId = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    astJson = serializers.JSONField(required=False, allow_null=True)
    blocklyXml = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    experimentTag = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class BundleSerializer(serializers.Serializer):
    format = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    parentStrategyId = serializers.CharField(allow_null=True)
    astJson = serializers.JSONField(allow_null=True)
    blocklyXml = serializers.CharField()
    experimentTag = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    status = serializers.CharField()
    sourceId = serializers.UUIDField()


class SimulateSerializer(serializers.Serializer):
    externalUserId = serializers.CharField(max_length=255, required=False, default="simulated-user")
    data = serializers.DictField(required=False, default=dict)
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
    fields = serializers.DictField()


class UsageItemSerializer(serializers.Serializer):
    externalGameId = serializers.CharField()
    externalTaskId = serializers.CharField(required=False)
    strategyId = serializers.CharField()
    inheritsStrategy = serializers.BooleanField(required=False)


class UsageSerializer(serializers.Serializer):
    strategyId = serializers.CharField()
    name = serializers.CharField()
    gameCount = serializers.IntegerField()
    taskCount = serializers.IntegerField()
    games = UsageItemSerializer(many=True)
    tasks = UsageItemSerializer(many=True)


class SwitchSerializer(StrategyDefinitionSerializer):
    """A version made live, with how many games and tasks followed it."""

    switchedGames = serializers.IntegerField(read_only=True)
    switchedTasks = serializers.IntegerField(read_only=True)

    class Meta(StrategyDefinitionSerializer.Meta):
        fields = [*StrategyDefinitionSerializer.Meta.fields, "switchedGames", "switchedTasks"]
