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


AWARD_BATCH_MAX_EVENTS = 1000


class AwardBatchEventSerializer(AwardRequestSerializer):
    """One event of a batch: an award request with its task and its own Idempotency-Key."""

    # Taken as the single endpoint takes the task id from its URL: verbatim.
    externalTaskId = serializers.CharField(max_length=255, trim_whitespace=False)
    idempotencyKey = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )


class AwardBatchRequestSerializer(serializers.Serializer):
    """Up to 1,000 events of one game, each validated, scored and stored on its own."""

    events = serializers.ListField(
        child=AwardBatchEventSerializer(), min_length=1, max_length=AWARD_BATCH_MAX_EVENTS
    )


class AwardBatchEvent(TypedDict):
    externalTaskId: str
    idempotencyKey: str | None
    award: AwardRequest


def award_batch_events(document: Any) -> list[Any]:
    """Return the events of a batch request, refusing a document that is not a batch."""
    events = document.get("events") if type(document) is dict else None
    if type(events) is not list or not 1 <= len(events) <= AWARD_BATCH_MAX_EVENTS:
        raise serializers.ValidationError(
            {"events": [f"Expected a list of 1 to {AWARD_BATCH_MAX_EVENTS} events."]}
        )
    return events


def award_batch_event_validated(event: Any) -> AwardBatchEvent:
    """Return one batch event's values, as ``AwardBatchEventSerializer`` gives them.

    As for a single award, the common well-formed event is checked by hand and anything else
    goes through the serializer, whose ValidationError is then the event's 400 body.
    """
    if type(event) is dict:
        task_id = event.get("externalTaskId")
        key = event.get("idempotencyKey")
        if (
            type(task_id) is str
            and 0 < len(task_id) <= 255
            and task_id.strip()
            and (key is None or (type(key) is str and len(key) <= 255))
        ):
            return {
                "externalTaskId": task_id,
                "idempotencyKey": key or None,
                "award": award_request_validated(event),
            }
    serializer = AwardBatchEventSerializer(data=event)
    serializer.is_valid(raise_exception=True)
    validated = serializer.validated_data
    return {
        "externalTaskId": validated["externalTaskId"],
        "idempotencyKey": validated.get("idempotencyKey") or None,
        "award": {
            "externalUserId": validated["externalUserId"],
            "data": validated["data"],
            "dryRun": validated["dryRun"],
        },
    }


class AwardLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    changed = serializers.BooleanField(help_text="Whether this award changed the level.")


class AwardStreakSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    longest = serializers.IntegerField()


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
    level = AwardLevelSerializer(
        required=False, help_text="The player's level after the award, when the game has levels."
    )
    streak = AwardStreakSerializer(
        required=False, help_text="The player's streak after the award, when the game counts them."
    )
    badgesEarned = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="The badges this award earned, when the game has badges.",
    )


class AwardBatchResultSerializer(serializers.Serializer):
    """One event's outcome: the status and body the single award endpoint would answer."""

    index = serializers.IntegerField()
    status = serializers.IntegerField()
    body = serializers.JSONField(help_text="An award answer, or an error {code, detail, ...}.")


class AwardBatchResponseSerializer(serializers.Serializer):
    results = AwardBatchResultSerializer(many=True)


class BuiltinStrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    aliases = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    version = serializers.CharField()
    versionHash = serializers.CharField()
    variables = serializers.DictField()
