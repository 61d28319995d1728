"""Wallet requests and answers at the API edge (camelCase)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from gamification.models import LedgerEntry, LedgerEntryKind
from gamification.wallet.render import ledger_entry_json, points_json, rate_json
from gamification.wallet.selectors import WalletView


class LedgerActorSerializer(serializers.Serializer):
    """Who made an entry: a staff user (adjustments, reversals in the admin) or an API key."""

    type = serializers.ChoiceField(choices=["user", "apiKey"])
    name = serializers.CharField()
    prefix = serializers.CharField(required=False)


class LedgerEntrySerializer(serializers.Serializer):
    """One change of a wallet; points and coins are signed (negative: taken out)."""

    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=LedgerEntryKind.choices)
    points = serializers.FloatField()
    coins = serializers.IntegerField()
    awardId = serializers.UUIDField(
        allow_null=True, help_text="The award an award or reversal entry comes from."
    )
    reason = serializers.CharField(allow_blank=True)
    actor = LedgerActorSerializer(allow_null=True)
    createdAt = serializers.DateTimeField()

    def to_representation(self, instance: LedgerEntry) -> dict[str, Any]:
        return ledger_entry_json(instance)


class LedgerPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LedgerEntrySerializer(many=True)


class WalletSerializer(serializers.Serializer):
    externalUserId = serializers.CharField()
    pointsBalance = serializers.FloatField()
    coinsBalance = serializers.IntegerField()
    conversionRate = serializers.FloatField(
        allow_null=True, help_text="The realm's points per coin; null: conversions refused."
    )
    updatedAt = serializers.DateTimeField(allow_null=True)
    latestEntries = LedgerEntrySerializer(many=True)
    ledger = LedgerPageSerializer(help_text="A page of the ledger, newest first.")

    def to_representation(self, instance: WalletView) -> dict[str, Any]:
        return {
            "externalUserId": instance.external_user_id,
            "pointsBalance": points_json(instance.points_balance),
            "coinsBalance": instance.coins_balance,
            "conversionRate": rate_json(instance.conversion_rate),
            "updatedAt": (
                serializers.DateTimeField().to_representation(instance.updated_at)
                if instance.updated_at is not None
                else None
            ),
            "latestEntries": [ledger_entry_json(entry) for entry in instance.latest_entries],
        }


class LedgerQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=LedgerEntryKind.choices, required=False)


class ConversionRequestSerializer(serializers.Serializer):
    points = serializers.DecimalField(
        max_digits=38,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        help_text="Points to convert: a whole number of coins at the rate.",
    )
    externalGameId = serializers.CharField(
        max_length=255,
        required=False,
        help_text="Convert at this game's rate (when it has one) instead of the realm's.",
    )


class ConversionSerializer(serializers.Serializer):
    entry = LedgerEntrySerializer()
    externalUserId = serializers.CharField()
    conversionRate = serializers.FloatField()
    pointsBalance = serializers.FloatField()
    coinsBalance = serializers.IntegerField()
