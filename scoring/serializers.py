from __future__ import annotations

from rest_framework import serializers


class AwardRequestSerializer(serializers.Serializer):
    externalUserId = serializers.CharField(max_length=255)
    # The stubs see this field shadow Serializer.data; the metaclass moves declared fields off
    # the class, so the property stays.
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    dryRun = serializers.BooleanField(required=False, default=False)


class AwardResponseSerializer(serializers.Serializer):
    """The award answer's shape for the schema; ``scoring.renderers.award_render`` writes it."""

    points = serializers.FloatField()
    caseName = serializers.CharField(allow_null=True)
    callbackData = serializers.DictField()
    strategyId = serializers.CharField()
    strategyVersion = serializers.CharField()
    externalUserId = serializers.CharField()
    playerCreated = serializers.BooleanField()
    awardId = serializers.UUIDField(allow_null=True)
    createdAt = serializers.DateTimeField(allow_null=True)
    dryRun = serializers.BooleanField(required=False)


class BuiltinStrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    version = serializers.CharField()
    versionHash = serializers.CharField()
    variables = serializers.DictField()
