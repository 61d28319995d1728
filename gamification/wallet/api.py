"""Wallet endpoints of a player: balances and ledger, and conversions of points into coins."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from gamification.auth import request_api_key, request_realm
from gamification.models import LedgerEntry
from gamification.selectors import player_get
from gamification.wallet.selectors import ledger_entries, wallet_read
from gamification.wallet.serializers import (
    ConversionRequestSerializer,
    ConversionSerializer,
    LedgerEntrySerializer,
    LedgerQuerySerializer,
    WalletSerializer,
)
from gamification.wallet.services import wallet_convert

WALLET_TAG = ["wallet"]
IDEMPOTENCY_HEADER = "Idempotency-Key"
_NOT_FOUND = OpenApiResponse(description="PLAYER_NOT_FOUND (also another realm's player)")


@extend_schema(tags=WALLET_TAG)
class WalletView(generics.GenericAPIView):
    serializer_class = WalletSerializer
    queryset = LedgerEntry.objects.none()  # for the schema; the page is the player's ledger

    @extend_schema(
        summary="A player's wallet",
        description="Points and coins balances, the realm's conversion rate (points per "
        "coin), the latest ledger entries and a page of the ledger (?page=&pageSize=, "
        "?kind= for one kind of entry), newest first; .../wallet/ledger pages through the "
        "ledger alone.",
        parameters=[
            LedgerQuerySerializer,
            OpenApiParameter("page", OpenApiTypes.INT, OpenApiParameter.QUERY),
            OpenApiParameter("pageSize", OpenApiTypes.INT, OpenApiParameter.QUERY),
        ],
        responses={200: WalletSerializer, 404: _NOT_FOUND},
    )
    def get(self, request: Request, external_user_id: str) -> Response:
        query = LedgerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        player = player_get(realm=request_realm(request), external_user_id=external_user_id)
        body = WalletSerializer(wallet_read(player=player)).data
        entries = ledger_entries(player=player, kind=query.validated_data.get("kind"))
        page = self.paginate_queryset(entries)
        ledger = self.get_paginated_response(LedgerEntrySerializer(page, many=True).data)
        return Response({**body, "ledger": ledger.data})


@extend_schema(tags=WALLET_TAG)
class LedgerView(generics.ListAPIView):
    serializer_class = LedgerEntrySerializer
    queryset = LedgerEntry.objects.none()  # for the schema; get_queryset scopes to the player

    @extend_schema(
        summary="A player's ledger, newest first",
        parameters=[LedgerQuerySerializer],
        responses={200: LedgerEntrySerializer(many=True), 404: _NOT_FOUND},
    )
    def get(self, request: Request, *args: object, **kwargs: object) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = LedgerQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        player = player_get(
            realm=request_realm(self.request), external_user_id=self.kwargs["external_user_id"]
        )
        return ledger_entries(player=player, kind=query.validated_data.get("kind"))


@extend_schema(tags=WALLET_TAG)
class ConversionView(generics.GenericAPIView):
    serializer_class = ConversionRequestSerializer

    @extend_schema(
        summary="Convert points into coins",
        description="At the named game's rate when it has one, else the realm's, in one "
        "transaction. The same Idempotency-Key again answers 200 with the stored body; with "
        "another player, amount or game it is a 409 IDEMPOTENCY_KEY_REUSED.",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False
            )
        ],
        request=ConversionRequestSerializer,
        responses={
            201: ConversionSerializer,
            200: OpenApiResponse(ConversionSerializer, description="a replay of the key"),
            404: OpenApiResponse(description="PLAYER_NOT_FOUND, GAME_NOT_FOUND"),
            409: OpenApiResponse(
                description="INSUFFICIENT_POINTS, CONVERSION_RATE_NOT_SET, IDEMPOTENCY_KEY_REUSED"
            ),
            422: OpenApiResponse(description="CONVERSION_NOT_WHOLE_COINS"),
        },
    )
    def post(self, request: Request, external_user_id: str) -> HttpResponse:
        body = ConversionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        key = request.headers.get(IDEMPOTENCY_HEADER) or None
        if key is not None and len(key) > 255:
            raise serializers.ValidationError({IDEMPOTENCY_HEADER: ["At most 255 characters."]})
        realm = request_realm(request)
        player = player_get(realm=realm, external_user_id=external_user_id)
        outcome = wallet_convert(
            realm=realm,
            player=player,
            points=body.validated_data["points"],
            external_game_id=body.validated_data.get("externalGameId"),
            idempotency_key=key,
            api_key=request_api_key(request),
        )
        return HttpResponse(
            outcome.body, status=201 if outcome.created else 200, content_type="application/json"
        )
