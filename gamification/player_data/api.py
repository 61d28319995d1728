"""The player data endpoints: ``GET /api/v1/players/{id}/export`` and ``DELETE
/api/v1/players/{id}``, scoped to the key's realm."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gamification.auth import request_api_key, request_realm
from gamification.models import Player, PlayerDataRequest, Realm
from gamification.player_data.core import iso
from gamification.player_data.selectors import player_export_sections, player_for_request
from gamification.player_data.services import (
    player_erase,
    player_export_finish,
    player_export_record,
)

TAGS = ["players"]
#: Bytes gathered before a piece of the export is handed to the server.
STREAM_PIECE_BYTES = 64 * 1024


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _item(item: dict[str, Any]) -> str:
    """An item in its wire form: camelCase keys at its top level, values (event data) as stored."""
    return _json({camel(key): value for key, value in item.items()})


def export_stream(*, realm: Realm, player: Player, record: PlayerDataRequest) -> Iterator[bytes]:
    """Yield the export as JSON text in pieces of about ``STREAM_PIECE_BYTES``.

    Sections are read a chunk of rows at a time as the client takes the pieces, so memory
    holds one chunk, whatever the player's history. The record gets the counts at the end.
    """
    head = {
        "externalUserId": player.external_user_id,
        "createdAt": iso(player.created_at),
        "exportedAt": iso(timezone.now()),
    }
    buffer = [_json(head)[:-1]]
    size = len(buffer[0])
    counts: dict[str, int] = {}
    for name, items in player_export_sections(realm=realm, player=player):
        buffer.append(f",{_json(camel(name))}:[")
        count = 0
        for item in items:
            text = _item(item) if count == 0 else "," + _item(item)
            buffer.append(text)
            size += len(text)
            count += 1
            if size >= STREAM_PIECE_BYTES:
                yield "".join(buffer).encode()
                buffer, size = [], 0
        buffer.append("]")
        counts[camel(name)] = count
    buffer.append("}")
    yield "".join(buffer).encode()
    player_export_finish(request=record, rows=counts)


@extend_schema(tags=TAGS)
class PlayerExportView(APIView):
    @extend_schema(
        summary="Everything stored about a player in the realm",
        description=(
            "A JSON document streamed in pieces (read a chunk of rows at a time, so a player "
            "with a long history costs the server one chunk of memory): externalUserId, "
            "createdAt, exportedAt, then one array per section: awards, taskStats, "
            "leaderboardEntries, webhookMessages, backtestMentions, executionLogs. The "
            "request is recorded (who, when, for which player)."
        ),
        responses={
            200: inline_serializer(
                "PlayerExport",
                {
                    "externalUserId": serializers.CharField(),
                    "createdAt": serializers.DateTimeField(),
                    "exportedAt": serializers.DateTimeField(),
                    "awards": serializers.ListField(child=serializers.DictField()),
                    "taskStats": serializers.ListField(child=serializers.DictField()),
                    "leaderboardEntries": serializers.ListField(child=serializers.DictField()),
                    "webhookMessages": serializers.ListField(child=serializers.DictField()),
                    "backtestMentions": serializers.ListField(child=serializers.DictField()),
                    "executionLogs": serializers.ListField(child=serializers.DictField()),
                },
            ),
            404: OpenApiResponse(description="PLAYER_NOT_FOUND (also another realm's player)"),
        },
    )
    def get(self, request: Request, external_user_id: str) -> StreamingHttpResponse:
        realm = request_realm(request)
        player = player_for_request(realm=realm, external_user_id=external_user_id)
        record = player_export_record(realm=realm, player=player, api_key=request_api_key(request))
        return StreamingHttpResponse(
            export_stream(realm=realm, player=player, record=record),
            content_type="application/json",
        )


@extend_schema(tags=TAGS)
class PlayerDetailView(APIView):
    @extend_schema(
        summary="Erase a player's personal data",
        description=(
            "Replaces the external id by a tombstone (erased:<uuid>) everywhere and scrubs "
            "awards' data, callback data, stored answers and idempotency keys, execution "
            "logs' inputs, traces and analytics, and webhook bodies; points, stats and "
            "leaderboards stay consistent. All or nothing, in one transaction; recorded. A "
            "later award for the same id creates a new player."
        ),
        responses={
            204: None,
            404: OpenApiResponse(description="PLAYER_NOT_FOUND (also another realm's player)"),
        },
    )
    def delete(self, request: Request, external_user_id: str) -> Response:
        player_erase(
            realm=request_realm(request),
            external_user_id=external_user_id,
            api_key=request_api_key(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
