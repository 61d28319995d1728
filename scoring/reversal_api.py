"""The endpoint that reverses an award."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from gamification.auth import request_api_key, request_realm
from scoring.reversals import award_reverse, reversal_data


class ReversalRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why the award is taken back.")


class ReversalSerializer(serializers.Serializer):
    """The compensating entry: the award's points negated, linked to the award."""

    id = serializers.UUIDField()
    awardId = serializers.UUIDField(help_text="The reversed award.")
    reversalOf = serializers.UUIDField(help_text="The reversed award (the same as awardId).")
    externalGameId = serializers.CharField()
    externalTaskId = serializers.CharField()
    externalUserId = serializers.CharField()
    points = serializers.FloatField(help_text="The award's points, negated.")
    reason = serializers.CharField()
    reversedBy = serializers.JSONField(help_text='{"type": "apiKey", "name", "prefix"}')
    awardCreatedAt = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    badgesTakenBack = serializers.ListField(
        child=serializers.CharField(), help_text="The badge ids the award had granted, taken back."
    )


@extend_schema(tags=["points"])
class AwardReverseView(generics.GenericAPIView):
    serializer_class = ReversalRequestSerializer

    @extend_schema(
        summary="Reverse an award",
        description="Takes the award's points back from its player's and task's totals, its "
        "eight leaderboard entries and the player's wallet in one transaction, and emits "
        "award.reversed. A reversed award no longer counts in the analytics strategies read "
        "(counts, points, recent windows); its timestamps stay in first/last.",
        request=ReversalRequestSerializer,
        responses={
            201: ReversalSerializer,
            404: OpenApiResponse(description="AWARD_NOT_FOUND (also another realm's award)"),
            409: OpenApiResponse(description="AWARD_ALREADY_REVERSED"),
        },
    )
    def post(self, request: Request, award_id: str) -> Response:
        body = ReversalRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = award_reverse(
            realm=request_realm(request),
            award_id=award_id,
            reason=body.validated_data["reason"],
            api_key=request_api_key(request),
        )
        return Response(reversal_data(outcome), status=status.HTTP_201_CREATED)
