from __future__ import annotations

from typing import Any, TypedDict

from rest_framework import serializers

from gamification.models import ExperimentArm


class AwardRequestSerializer(serializers.Serializer):
    """The award request's rules and the schema's source; :func:`award_request_validated`
    applies the same rules without building it for every request."""

    externalUserId = serializers.CharField(max_length=255)
    # The stubs see this field shadow Serializer.data; the metaclass moves declared fields off
    # the class, so the property stays.
    data = serializers.DictField(required=False, default=dict)  # type: ignore[assignment]
    dryRun = serializers.BooleanField(required=False, default=False)


EXTERNAL_USER_ID_MAX_LENGTH = 255


class AwardRequest(TypedDict):
    externalUserId: str
    data: dict[str, Any]
    dryRun: bool


def _external_user_id_accepted(value: Any) -> str | None:
    """Return the id as CharField(max_length=255) would clean it, or None to let it decide."""
    if type(value) is not str:
        return None
    cleaned = value.strip()
    if not cleaned or len(cleaned) > EXTERNAL_USER_ID_MAX_LENGTH or "\x00" in cleaned:
        return None
    if not cleaned.isascii():
        try:
            cleaned.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate, which the serializer refuses
            return None
    return cleaned


def award_request_validated(payload: Any) -> AwardRequest:
    """Return the award request's validated values, as ``AwardRequestSerializer`` gives them.

    Building and running the serializer costs more than the rest of an award's Python, so
    the common well-formed request is checked here by hand. Whatever this check does not
    accept at once (a wrong type, a blank or long id, "yes" for a boolean...) goes through the
    serializer itself, which accepts it or raises its own ValidationError: the accepted values
    and every 400 body are the serializer's by construction.
    """
    if type(payload) is dict:
        external_user_id = _external_user_id_accepted(payload.get("externalUserId"))
        data = payload.get("data", {})
        dry_run = payload.get("dryRun", False)
        if external_user_id is not None and type(data) is dict and type(dry_run) is bool:
            return {"externalUserId": external_user_id, "data": dict(data), "dryRun": dry_run}
    serializer = AwardRequestSerializer(data=payload)
    serializer.is_valid(raise_exception=True)
    validated = serializer.validated_data
    return {
        "externalUserId": validated["externalUserId"],
        "data": validated["data"],
        "dryRun": validated["dryRun"],
    }


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
    experimentArm = serializers.ChoiceField(
        choices=ExperimentArm.choices,
        required=False,
        help_text="The player's arm while the strategy's family runs an experiment; absent "
        "otherwise. strategyVersion is the version of that arm.",
    )
    dryRun = serializers.BooleanField(required=False)


class BuiltinStrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    version = serializers.CharField()
    versionHash = serializers.CharField()
    variables = serializers.DictField()
