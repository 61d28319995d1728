"""Wallets, the ledger and reversals in the admin: a realm's operators read its wallets and
post adjustments with a reason, reverse its awards, and reach nothing of another realm;
every step is recorded with the staff user and in History."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from gamification.models import Award, AwardReversal, LedgerEntry, Realm, TaskStats, Wallet
from scoring.services import award_points
from tests.factories import GameFactory, RealmFactory, TaskFactory, is_missing, member_client
from tests.gamification.leaderboard_helpers import points_strategy

pytestmark = pytest.mark.django_db


def _realm_with_an_award(slug: str) -> Award:
    realm = RealmFactory(slug=slug)
    strategy = points_strategy(realm)
    game = GameFactory(realm=realm, external_game_id="g1", strategy_id=strategy)
    task = TaskFactory(game=game, external_task_id="t1", strategy_id=strategy)
    award_points(
        realm=Realm.objects.get(pk=realm.pk),
        api_key=None,
        task=task,
        external_user_id=f"player-of-{slug}",
        data={"points": 12},
    )
    return Award.objects.get(realm=realm)


@pytest.fixture
def a() -> Award:
    return _realm_with_an_award("realm-a")


@pytest.fixture
def b() -> Award:
    return _realm_with_an_award("realm-b")


def _wallet(award: Award) -> Wallet:
    return Wallet.objects.get(player_id=award.player_id)


def test_an_operator_reads_the_wallets_and_ledger_of_their_realm_only(a, b):
    operator = member_client("operator-a", a.realm, "operator")

    wallets = operator.get(reverse("admin:gamification_wallet_changelist"))
    ledger = operator.get(reverse("admin:gamification_ledgerentry_changelist"))
    page = operator.get(reverse("admin:gamification_wallet_change", args=[_wallet(a).pk]))

    assert wallets.status_code == ledger.status_code == page.status_code == 200
    assert b"player-of-realm-a" in wallets.content
    assert b"player-of-realm-b" not in wallets.content + ledger.content
    assert b"Adjust" in page.content
    assert b"latest-entries" in page.content
    foreign = operator.get(reverse("admin:gamification_wallet_change", args=[_wallet(b).pk]))
    assert is_missing(foreign)
    assert is_missing(
        operator.get(reverse("admin:gamification_wallet_adjust", args=[_wallet(b).pk]))
    )


def test_an_adjustment_needs_a_reason_and_is_recorded_with_the_user(a):
    operator = member_client("operator-a", a.realm, "operator")
    url = reverse("admin:gamification_wallet_adjust", args=[_wallet(a).pk])

    assert operator.get(url).status_code == 200
    refused = operator.post(url, {"points": "5", "coins": "0", "reason": ""})
    nothing = operator.post(url, {"points": "0", "coins": "0", "reason": "why not"})
    done = operator.post(url, {"points": "-2.5", "coins": "3", "reason": "goodwill"})

    assert refused.status_code == nothing.status_code == 200
    assert b"changes points or coins" in nothing.content
    assert done.status_code == 302
    entry = LedgerEntry.objects.get(kind="adjustment")
    assert (entry.points, entry.coins, entry.reason) == (Decimal("-2.5"), 3, "goodwill")
    assert entry.actor_user.username == "operator-a"
    wallet = _wallet(a)
    assert (wallet.points_balance, wallet.coins_balance) == (Decimal("9.5"), 3)
    log = LogEntry.objects.get(object_id=str(wallet.pk))
    assert log.user.username == "operator-a"
    assert "goodwill" in log.get_change_message()


def test_an_adjustment_is_for_operators_only(a):
    designer = member_client("designer-a", a.realm, "designer")
    url = reverse("admin:gamification_wallet_adjust", args=[_wallet(a).pk])

    response = designer.post(url, {"points": "5", "coins": "0", "reason": "mine"})

    assert response.status_code in (403, 404)
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_an_operator_reverses_an_award_once_with_a_reason(a, b):
    operator = member_client("operator-a", a.realm, "operator")
    url = reverse("admin:gamification_award_reverse", args=[a.pk])

    page = operator.get(reverse("admin:gamification_award_change", args=[a.pk]))
    form = operator.get(url)
    done = operator.post(url, {"reason": "fraud"})
    again = operator.post(url, {"reason": "fraud"})

    assert b"Reverse" in page.content
    assert form.status_code == 200
    assert done.status_code == 302
    reversal = AwardReversal.objects.get(award=a)
    assert reversal.reversed_by.username == "operator-a"
    assert reversal.reason == "fraud"
    assert TaskStats.objects.get(task=a.task).award_count == 0
    assert _wallet(a).points_balance == 0
    assert again.status_code == 200
    assert b"reversed already" in again.content
    assert AwardReversal.objects.count() == 1
    log = LogEntry.objects.get(object_id=str(a.pk))
    assert (log.user.username, log.get_change_message()) == (
        "operator-a",
        "Reversed. Reason: fraud",
    )
    assert b"fraud" in operator.get(reverse("admin:gamification_award_change", args=[a.pk])).content
    assert is_missing(
        operator.post(reverse("admin:gamification_award_reverse", args=[b.pk]), {"reason": "x"})
    )
    assert not AwardReversal.objects.filter(award=b).exists()
