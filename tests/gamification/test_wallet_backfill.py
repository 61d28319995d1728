"""The migration that adds wallets fills them from the awards made before: every award gets
its ledger entry and every player a wallet holding their sum."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.utils import timezone

from gamification.models import LedgerEntry, Wallet
from tests.factories import GameFactory, PlayerFactory, RealmFactory, TaskFactory, award_history

MIGRATION = importlib.import_module("gamification.migrations.0008_wallet_ledger_reversal")


class _Editor:
    """What the migration uses of its schema editor (SQLite's refuses to open in a test's
    transaction)."""

    connection = connection

    def execute(self, sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


@pytest.mark.django_db
def test_the_backfill_gives_every_earlier_award_its_entry_and_every_player_a_wallet():
    realm = RealmFactory(slug="old")
    task = TaskFactory(game=GameFactory(realm=realm))
    alice, bob = PlayerFactory(realm=realm), PlayerFactory(realm=realm)
    now = timezone.now()
    award_history(task=task, player=alice, timestamps=[now, now], points=2.25)
    award_history(task=task, player=bob, timestamps=[now], points=0.1)
    assert not Wallet.objects.exists()  # awards made outside the award path write no wallet

    MIGRATION.wallets_backfill(apps, _Editor())

    balances = dict(Wallet.objects.values_list("player_id", "points_balance"))
    assert balances == {alice.pk: Decimal("4.5"), bob.pk: Decimal("0.1")}
    assert LedgerEntry.objects.filter(kind="award").count() == 3
    assert set(LedgerEntry.objects.values_list("award_id", flat=True)) == set(
        task.awards.values_list("pk", flat=True)
    )
